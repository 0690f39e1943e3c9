"""`govchain wr`: every transition of a warehouse receipt's life, and the warehouse's reads.

Each transition command sends one `wr` transaction signed with --key (docs/warehouse.md
has the table of who opens and who signs). A transition with several parties opens an
offer whose id is its transaction id; the output names it and who must still sign
(`govchain wr sign OFFER`). Amounts are exact: quantities in t, kg or g, money in yuan
(up to 2 decimals) or fen, prices in yuan a tonne, rates in % or bp; never a float.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from govchain.apps.warehouse.commitment import (
    SALT_BYTES,
    TAGS_COUNT_MAX,
    CommitmentError,
    Spec,
    check_spec,
    commitment_of,
)
from govchain.apps.warehouse.env import number_ok
from govchain.apps.warehouse.financing import DAY_MAX
from govchain.apps.warehouse.ops import (
    AddBin,
    AddCollateral,
    Adjust,
    AnyOp,
    Decline,
    Endorse,
    Enforce,
    Inspect,
    Intake,
    Issue,
    Merge,
    OpenWarehouse,
    Pledge,
    PostPrice,
    RegisterDevice,
    Release,
    Repay,
    Sign,
    Split,
    Withdraw,
    op_name,
)
from govchain.apps.warehouse.readings import DEVICE_ID_CHARS_MAX, DeviceKind
from govchain.apps.warehouse.records import ReceiptStatus
from govchain.apps.warehouse.units import (
    BP_PER_ONE,
    FEN_PER_YUAN,
    G_PER_KG,
    G_PER_TONNE,
    LOAN_FEN_MAX,
    PRICE_FEN_PER_TONNE_MAX,
    QUANTITY_G_MAX,
)
from govchain.apps.warehouse.valuation import Source
from govchain.codec import HASH_BYTES
from govchain.crypto.keys import PUBLIC_KEY_BYTES, SigningKey, point_is_acceptable
from govchain.sdk.errors import SdkError

from .common import (
    json_option,
    key_option,
    load_key,
    node_client,
    node_option,
    parse_address,
    reported,
    resolve_tx_id,
    timeout_option,
    wait_option,
)
from .output import EXIT_FAILURE, EXIT_USAGE, CliError, emit_json, example, rejection
from .wr_view import (
    show_alarms,
    show_bins,
    show_doc,
    show_prices,
    show_receipt,
    show_receipts,
    show_sent,
)

if TYPE_CHECKING:
    from govchain.sdk.client import Client

DIGITS_MAX = 20  # digits of one amount: more than any limit below needs
HEIGHT_MAX = 2**62
LIST_LIMIT_MAX = 1_000  # receipts one `wr receipts` asks for (the API's bound)
LIST_LIMIT_DEFAULT = 100
STATUSES = tuple(s.value for s in ReceiptStatus)
PROOF_TIMEOUT_S = 10.0  # per history step: a checkpoint or two after it is final
CHINA_TIME = timedelta(hours=8)  # oracles date prices by the business day in China
_DECIMAL = re.compile(rf"(\d{{1,{DIGITS_MAX}}})(?:\.(\d{{1,2}}))?")
_QUANTITY = re.compile(rf"(\d{{1,{DIGITS_MAX}}})\s*(t|kg|g)")
_QUANTITY_UNITS = {"t": G_PER_TONNE, "kg": G_PER_KG, "g": 1}
_HEX = frozenset("0123456789abcdef")
MULTI_PARTY = (OpenWarehouse, RegisterDevice, Issue, Endorse, Pledge, Adjust, Enforce, Withdraw)
WAIT_RULE = (
    "With --wait: blocks until the transaction is final and prints its record; exits 0"
    " when it is executed (a multi-party transition: its offer is open), 1 when it is"
    " final as rejected (the reason is printed)."
)
K = "--key op.key"  # examples' key files
OFFER = "3f9a2c1d"  # examples' offer id prefix


def _usage(code: str, message: str) -> CliError:
    return CliError(code, message, EXIT_USAGE)


# -- exact units ---------------------------------------------------------------------------
def parse_grams(text: str, what: str, zero_ok: bool = False) -> int:
    """A quantity such as "1000t", "2500kg" or "123g" in grams (t = 1,000,000 g)."""
    m = _QUANTITY.fullmatch(text.strip().lower())
    if m is None:
        raise _usage(
            "bad_quantity",
            f"{what} {text!r} is not a quantity: whole numbers with a unit, as 1000t, "
            "2500kg or 123g",
        )
    grams = int(m.group(1)) * _QUANTITY_UNITS[m.group(2)]
    if grams > QUANTITY_G_MAX or (grams == 0 and not zero_ok):
        least = "0 g" if zero_ok else "1 g"
        raise _usage(
            "bad_quantity", f"{what} must lie in {least}..{QUANTITY_G_MAX // G_PER_TONNE:,} t"
        )
    return grams


def _hundredths(text: str) -> int | None:
    """ "6650000.5" as 665000050: a decimal with up to 2 places, times 100; None if not one."""
    m = _DECIMAL.fullmatch(text)
    if m is None:
        return None
    return int(m.group(1)) * 100 + int((m.group(2) or "").ljust(2, "0"))


def parse_fen(text: str, what: str) -> int:
    """Money: yuan with up to 2 decimals ("6650000.50") or whole fen ("665000050fen")."""
    t = text.strip().lower()
    fen = int(t[:-3]) if t.endswith("fen") and t[:-3].isdigit() else _hundredths(t)
    if fen is None or len(t) > DIGITS_MAX + 3:
        raise _usage(
            "bad_money",
            f"{what} {text!r} is not money: yuan with up to 2 decimals (6650000.50) or "
            "whole fen (665000050fen)",
        )
    if not 0 < fen <= LOAN_FEN_MAX:
        raise _usage("bad_money", f"{what} must lie in 0.01..{LOAN_FEN_MAX // FEN_PER_YUAN:,} yuan")
    return fen


def parse_price(text: str, what: str = "price") -> int:
    """A price in yuan a tonne with up to 2 decimals ("80000", "70123.45"), in fen a tonne."""
    t = text.strip().lower().removesuffix("/t")
    fen = _hundredths(t)
    if fen is None:
        raise _usage(
            "bad_price", f"{what} {text!r} is not a price: yuan a tonne with up to 2 decimals"
        )
    if not 0 < fen <= PRICE_FEN_PER_TONNE_MAX:
        top = PRICE_FEN_PER_TONNE_MAX // FEN_PER_YUAN
        raise _usage("bad_price", f"{what} must lie in 0.01..{top:,} yuan a tonne")
    return fen


def parse_bp(text: str, what: str) -> int:
    """A rate as "5%" (up to 2 decimals) or "500bp", in basis points below 100%."""
    t = text.strip().lower()
    if t.endswith("bp") and t[:-2].isdigit() and len(t) <= DIGITS_MAX:
        bp: int | None = int(t[:-2])
    elif t.endswith("%"):
        bp = _hundredths(t[:-1])
    else:
        bp = None
    if bp is None:
        raise _usage("bad_rate", f"{what} {text!r} is not a rate: give it as 5% or 500bp")
    if not 0 <= bp < BP_PER_ONE:
        raise _usage("bad_rate", f"{what} must lie in 0%..99.99%")
    return bp


def parse_day(text: str | None, today: date | None = None) -> int:
    """A business day as YYYY-MM-DD or its number (days since 1970-01-01); default today."""
    if text is None:
        today = today or (datetime.now(UTC) + CHINA_TIME).date()
        return (today - date(1970, 1, 1)).days
    t = text.strip()
    if t.isascii() and t.isdigit() and len(t) <= len(str(DAY_MAX)) and int(t) <= DAY_MAX:
        return int(t)
    try:
        day = date.fromisoformat(t)
    except ValueError:
        raise _usage(
            "bad_day", f"--day {text!r} is not a day: YYYY-MM-DD, or days since 1970-01-01"
        ) from None
    days = (day - date(1970, 1, 1)).days
    if not 0 <= days <= DAY_MAX:
        raise _usage("bad_day", f"--day must lie in 1970-01-01..day {DAY_MAX:,}")
    return days


# -- ids, hashes, lists ---------------------------------------------------------------------
def parse_name(text: str, what: str, chars_max: int = 64) -> str:
    """A receipt number, lot id, bin code or device id: [A-Za-z0-9][A-Za-z0-9_.-]*."""
    if not number_ok(text) or len(text) > chars_max:
        raise _usage(
            f"bad_{what.replace(' ', '_')}",
            f"{what} {text!r} must be 1-{chars_max} of letters, digits, '_', '.', '-', "
            "starting with a letter or digit",
        )
    return text


def parse_hash(text: str, what: str) -> bytes:
    """A 32-byte hash in hex (0x and any case accepted)."""
    t = text.strip().lower().removeprefix("0x")
    if len(t) != HASH_BYTES * 2 or not set(t) <= _HEX:
        raise _usage(
            f"bad_{what.replace(' ', '_')}", f"{what} must be {HASH_BYTES * 2} hex characters"
        )
    return bytes.fromhex(t)


def document_hash(hex_text: str | None, path: Path | None, what: str) -> bytes:
    """A document's hash: given in hex, or the SHA-256 of a file; exactly one of them."""
    if (hex_text is None) == (path is None):
        raise _usage("bad_usage", f"give exactly one of --{what} HASH or --{what}-file FILE")
    if hex_text is not None:
        return parse_hash(hex_text, what)
    assert path is not None
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").digest()  # what sha256sum prints
    except OSError as exc:
        raise _usage("bad_file", f"cannot read {path}: {exc.strerror}") from None


def parse_tags(text: str) -> tuple[str, ...]:
    """--tags: a file with one tag per line, or a comma-separated list (blank entries skipped)."""
    path = Path(text)
    try:
        is_file = path.is_file()
    except OSError:  # a long list is no file name (ENAMETOOLONG)
        is_file = False
    try:
        raw = path.read_text().splitlines() if is_file else text.split(",")
    except (OSError, UnicodeDecodeError) as exc:
        raise _usage("bad_file", f"cannot read the tags in {path}: {exc}") from None
    tags = tuple(t.strip() for t in raw if t.strip())
    if not tags:
        raise _usage("bad_tags", "--tags names no tag: give a file (one a line) or a,b,c")
    if len(tags) > TAGS_COUNT_MAX:
        raise _usage("bad_tags", f"--tags lists {len(tags)} tags, more than {TAGS_COUNT_MAX}")
    return tags


def parse_lot_amount(text: str) -> tuple[str, int]:
    """LOT:QUANTITY, e.g. LOT-1:1000t."""
    lot, sep, amount = text.rpartition(":")
    if not sep:
        raise _usage("bad_lot", f"{text!r}: give LOT:QUANTITY, e.g. LOT-1:1000t")
    return parse_name(lot, "lot id"), parse_grams(amount, f"the quantity of {lot}")


def parse_child(text: str) -> tuple[str, tuple[tuple[str, int], ...]]:
    """NUMBER=LOT:QUANTITY[,LOT:QUANTITY...]: one child of a split."""
    number, sep, lots = text.partition("=")
    if not sep or not lots:
        raise _usage("bad_child", f"{text!r}: give NUMBER=LOT:QUANTITY[,LOT:QUANTITY...]")
    return parse_name(number, "receipt number"), tuple(
        parse_lot_amount(item) for item in lots.split(",")
    )


def parse_bin(text: str) -> tuple[str, int]:
    """CODE:CAPACITY, e.g. A1:2000t."""
    code, sep, capacity = text.rpartition(":")
    if not sep:
        raise _usage("bad_bin", f"{text!r}: give CODE:CAPACITY, e.g. A1:2000t")
    return parse_name(code, "bin code"), parse_grams(capacity, f"the capacity of bin {code}")


def parse_public_key(text: str | None, path: Path | None) -> bytes:
    """A device's Ed25519 public key: 64 hex characters, or read from a key file."""
    if (text is None) == (path is None):
        raise _usage("bad_usage", "give exactly one of PUBLIC_KEY or --device-key FILE")
    if path is not None:
        text = _key_file_public_key(path)
    assert text is not None
    t = text.strip().lower().removeprefix("0x")
    raw = bytes.fromhex(t) if len(t) == PUBLIC_KEY_BYTES * 2 and set(t) <= _HEX else b""
    if not point_is_acceptable(raw):
        raise _usage(
            "bad_public_key",
            f"the device's public key must be {PUBLIC_KEY_BYTES * 2} hex characters of an "
            "acceptable Ed25519 point",
        )
    return raw


def _key_file_public_key(path: Path) -> str:
    """The public key in a key file (`govchain keys new`), a keys-show JSON, or bare hex."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise _usage("bad_file", f"cannot read {path}: {exc}") from None
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    if isinstance(doc, dict) and isinstance(doc.get("public_key"), str):
        return str(doc["public_key"])
    if isinstance(doc, dict) and "seed" in doc:
        return load_key(path).public_key.hex()
    raise _usage("bad_file", f"{path} holds no public_key")


def parse_height(text: str, now: Callable[[], int]) -> int:
    """A height, or +N: N heights after the node's current one."""
    t = text.strip()
    relative = t.startswith("+")
    digits = t[1:] if relative else t
    if not (digits.isascii() and digits.isdigit() and len(digits) <= DIGITS_MAX):
        raise _usage("bad_height", f"{text!r} is not a height: give H or +N (N heights from now)")
    height = now() + int(digits) if relative else int(digits)
    if height > HEIGHT_MAX:
        raise _usage("bad_height", f"{text!r} is beyond any height")
    return height


def _names(values: Iterable[str], what: str) -> tuple[str, ...]:
    return tuple(parse_name(v, what) for v in values)


# -- sending ---------------------------------------------------------------------------------
@dataclass
class Signer:
    """The signing key and the node, each opened on first use (arguments are parsed first)."""

    key_path: Path | None
    node_url: str | None
    as_json: bool
    _key: SigningKey | None = None
    _client: Client | None = None

    @property
    def key(self) -> SigningKey:
        """The --key file's key."""
        if self._key is None:
            self._key = load_key(self.key_path)
        return self._key

    @property
    def client(self) -> Client:
        """The node's client."""
        if self._client is None:
            self._client = node_client(self.node_url)
        return self._client

    def height(self) -> int:
        """The node's executed height."""
        return int(self.client.status()["height"])

    def close(self) -> None:
        """Close the node's connections, if any were opened."""
        if self._client is not None:
            self._client.close()


@dataclass(frozen=True)
class Plan:
    """A transition to send, and what to print with its result (a lot's salt, ...)."""

    op: AnyOp
    extra: dict[str, Any] = field(default_factory=dict)
    offer_seen: dict[str, Any] | None = None  # the offer a sign names, as it was before


def _found(read: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """A read's document, or None when the node cannot say (shown as unknown)."""
    try:
        return read()
    except SdkError:
        return None


def _supervisor(client: Client, warehouse: str | None) -> str | None:
    if warehouse is None:
        return None
    doc = _found(lambda: client.wr_warehouse(bytes.fromhex(warehouse)))
    return None if doc is None else str(doc["supervisor"])


def _warehouse_of(client: Client, number: str) -> str | None:
    doc = _found(lambda: client.wr_receipt(number))
    return None if doc is None else str(doc["warehouse"])


def _others(client: Client, op: AnyOp, sender: str) -> list[str] | None:
    """Who else must sign an offer op opens, as the node's state says now (None: unknown)."""
    found: list[str | None]
    if isinstance(op, OpenWarehouse):
        found = [op.supervisor.hex()]
    elif isinstance(op, Endorse):
        found = [op.to.hex()]
    elif isinstance(op, Pledge):
        found = [op.bank.hex()]
    elif isinstance(op, Enforce):
        found = [op.buyer.hex()]
    elif isinstance(op, RegisterDevice):
        found = [_supervisor(client, sender)]
    elif isinstance(op, Issue):
        found = [_supervisor(client, sender), op.holder.hex()]
    elif isinstance(op, Withdraw):
        found = [_warehouse_of(client, op.number)]
    elif isinstance(op, Adjust):
        pledge = _found(lambda: client.wr_pledge(op.pledge)) or {}
        numbers = [*pledge.get("receipts", []), *op.add]
        houses = {_warehouse_of(client, n) for n in numbers}
        found = [_supervisor(client, w) for w in houses] or [None]
    else:
        return []
    if any(f is None for f in found):
        return None
    return sorted({f for f in found if f is not None})


def _offer_fields(signer: Signer, plan: Plan, tx_id: str, final: bool) -> dict[str, Any]:
    """The offer a plan opens, signs or declines: its id, status and who must still sign.

    final: the transaction is final and executed (--wait). must_sign is None when
    it cannot be known yet (the node does not show the offer).
    """
    op, client = plan.op, signer.client
    me = signer.key.address.hex()
    if isinstance(op, Sign | Decline):
        offer_id = op.offer.hex()
    elif isinstance(op, MULTI_PARTY):
        offer_id = tx_id
    else:
        return {}
    fields: dict[str, Any] = {"offer": offer_id, "offer_status": "open", "must_sign": None}
    seen = plan.offer_seen
    if isinstance(op, Decline):
        if final:
            fields.update(offer_status="declined", must_sign=[])
    elif isinstance(op, Sign) and final and seen is not None and seen["waiting_for"] == [me]:
        # An executed last signature executed the transition (else it is refused).
        fields.update(offer_status="executed", must_sign=[])
    elif final or isinstance(op, Sign):
        doc = _found(lambda: client.wr_offer(offer_id))
        if doc is not None:
            status = str(doc["status"])
            left = sorted(set(doc["waiting_for"]) - {me}) if status == "open" else []
            fields.update(offer_status=status, must_sign=left)
        elif final:
            fields.update(offer_status="closed", must_sign=[])  # executed or declined since
    else:
        fields.update(offer_status="pending", must_sign=_others(client, op, me))
    return fields


def send(signer: Signer, plan: Plan, wait: bool, timeout_s: float, as_json: bool) -> None:
    """Sign and submit the plan's transition; print the result (the --wait rule)."""
    name = op_name(plan.op)
    client = signer.client
    tx_id = client.submit(client.wr(signer.key, plan.op))
    rec = client.wait_final(tx_id, timeout_s) if wait else {"tx_id": tx_id, "status": "pending"}
    doc: dict[str, Any] = {**rec, "transition": name, **plan.extra}
    if isinstance(plan.op, Pledge):
        doc["pledge"] = tx_id  # a pledge's id is its opening transaction's (repay, release...)
    err = rejection(doc, f"the wr {name} transaction")
    if err is None:
        doc.update(_offer_fields(signer, plan, tx_id, wait))
    else:
        doc["error"] = err
    if as_json:
        emit_json(doc)
    else:
        show_sent(doc)
    if err is not None:
        if not as_json:
            click.echo(f"error: {err['message']}", err=True)
        sys.exit(EXIT_FAILURE)  # the --wait rule: the record is printed either way


def _with_params(
    target: Callable[..., Any], own: list[Any], common: Iterable[Callable[[Any], Any]]
) -> Callable[..., Any]:
    """target with the common options after the command's own in --help (own listed first)."""
    target.__click_params__ = []  # type: ignore[attr-defined]
    for option in common:
        target = option(target)
    shared: list[Any] = getattr(target, "__click_params__", [])
    # Click lists parameters in the reverse order they were attached.
    target.__click_params__ = shared + own  # type: ignore[attr-defined]
    return target


@click.group(
    "wr", epilog=example("govchain wr show WR-2026-0001", "govchain wr bins $(cat op.addr)")
)
def wr() -> None:
    """Warehouse receipts: every transition of a receipt's life, bins, pledges and prices."""


def transition(name: str, *examples: str) -> Callable[[Callable[..., Plan | None]], click.Command]:
    """A `wr NAME` command: the function parses its arguments into a Plan, which is sent.

    A function may answer None instead: it printed a read (`wr pledge ID`).
    """

    def wrap(build: Callable[..., Plan | None]) -> click.Command:
        def run(
            key_path: Path | None,
            node_url: str | None,
            wait: bool,
            timeout_s: float,
            as_json: bool,
            **args: Any,
        ) -> None:
            signer = Signer(key_path, node_url, as_json)
            try:
                plan = build(signer, **args)
                if plan is not None:
                    send(signer, plan, wait, timeout_s, as_json)
            finally:
                signer.close()

        run.__doc__, run.__name__ = build.__doc__, build.__name__
        common = (json_option, timeout_option, wait_option, node_option, key_option)
        target = _with_params(reported(run), getattr(build, "__click_params__", []), common)
        epilog = WAIT_RULE + "\n\n" + example(*examples)
        return wr.command(name, epilog=epilog)(target)

    return wrap


def reader(name: str, *examples: str) -> Callable[[Callable[..., None]], click.Command]:
    """A `wr NAME` read: the function gets the node's client, --json and its arguments."""

    def wrap(fn: Callable[..., None]) -> click.Command:
        def run(node_url: str | None, as_json: bool, **args: Any) -> None:
            with node_client(node_url) as client:
                fn(client, as_json, **args)

        run.__doc__, run.__name__ = fn.__doc__, fn.__name__
        own = getattr(fn, "__click_params__", [])
        target = _with_params(reported(run), own, (json_option, node_option))
        return wr.command(name, epilog=example(*examples))(target)

    return wrap


# -- warehouses, bins, devices ------------------------------------------------------------------
@transition(
    "open-warehouse",
    f'govchain wr open-warehouse "Qingdao No.1" --supervisor $(cat sup.addr) --bin A1:2000t {K}',
)
@click.argument("name")
@click.option("--supervisor", required=True, help="the supervisor's address (it signs the offer)")
@click.option("--bin", "bins", multiple=True, required=True, help="CODE:CAPACITY, e.g. A1:2000t")
def open_warehouse(_s: Signer, name: str, supervisor: str, bins: tuple[str, ...]) -> Plan:
    """Open a warehouse at the key's address (role warehouse); its supervisor signs."""
    parsed = tuple(parse_bin(b) for b in bins)
    if len({code for code, _ in parsed}) != len(parsed):
        raise _usage("bad_bin", "a bin code is given twice")
    return Plan(OpenWarehouse(name, parse_address(supervisor), parsed))


@transition("add-bin", f"govchain wr add-bin B2 --capacity 500t {K}")
@click.argument("code")
@click.option("--capacity", required=True, help="the bin's capacity: 500t, 2500kg, ...")
def add_bin(_s: Signer, code: str, capacity: str) -> Plan:
    """Add a bin to the key's warehouse, or change a bin's capacity."""
    return Plan(AddBin(parse_name(code, "bin code"), parse_grams(capacity, "--capacity")))


@transition(
    "register-device",
    f"govchain wr register-device scale-1 --device-key scale.key --kind weighbridge --bin A1 \\\n"
    f"    --calibrated-until +100000 --firmware 5e1f...9a {K}",
)
@click.argument("device")
@click.argument("public_key", required=False)
@click.option(
    "--device-key",
    type=click.Path(path_type=Path),
    default=None,
    help="read the public key from this file instead (a key file or `keys show` JSON)",
)
@click.option(
    "--kind",
    "device_kind",
    type=click.Choice([k.value for k in DeviceKind]),
    required=True,
    help="what the device measures",
)
@click.option("--bin", "bin_code", required=True, help="the bin it is on")
@click.option(
    "--calibrated-until",
    required=True,
    help="the last height its calibration covers: H, or +N heights from now",
)
@click.option("--firmware", required=True, help="hash of the firmware it must run (64 hex)")
def register_device(
    s: Signer,
    device: str,
    public_key: str | None,
    device_key: Path | None,
    device_kind: str,
    bin_code: str,
    calibrated_until: str,
    firmware: str,
) -> Plan:
    """Register (or recalibrate) DEVICE with its public key on a bin; the supervisor signs."""
    name = parse_name(device, "device id", DEVICE_ID_CHARS_MAX)
    code, key = parse_name(bin_code, "bin code"), parse_public_key(public_key, device_key)
    firmware_hash = parse_hash(firmware, "firmware")
    until = parse_height(calibrated_until, s.height)  # +N asks the node: after every check
    return Plan(RegisterDevice(name, device_kind, code, key, until, firmware_hash))


# -- lots and receipts ---------------------------------------------------------------------------
@transition(
    "intake",
    "govchain wr intake LOT-1 --bin A1 --tags tags.txt --commodity copper_cathode --brand JCC \\\n"
    "    --grade Cu-CATH-1 --pieces 400 --gross 1001t --tare 1t --weighbridge scale-1 " + K,
)
@click.argument("lot")
@click.option("--bin", "bin_code", required=True, help="the bin the goods are in")
@click.option("--tags", required=True, help="the pieces' tags: a file (one a line) or a,b,c")
@click.option("--commodity", required=True, help="e.g. copper_cathode")
@click.option("--brand", required=True, help="the producer's registered brand")
@click.option("--grade", required=True, help="e.g. Cu-CATH-1")
@click.option("--pieces", required=True, help="how many bundles, coils, ingots")
@click.option("--gross", required=True, help="gross weight as weighed: 1001t, 2500kg, ...")
@click.option("--tare", default="0g", show_default=True, help="packaging and pallets")
@click.option("--net", default=None, help="net weight (default: gross - tare; checked if given)")
@click.option("--salt", default=None, help="32-byte salt in hex (default: random; printed)")
@click.option("--certificate", default=None, help="hash of the quality certificate (64 hex)")
@click.option("--weighbridge", required=True, help="the weighbridge whose reading weighed it")
def intake(
    s: Signer,
    lot: str,
    bin_code: str,
    tags: str,
    commodity: str,
    brand: str,
    grade: str,
    pieces: str,
    gross: str,
    tare: str,
    net: str | None,
    salt: str | None,
    certificate: str | None,
    weighbridge: str,
) -> Plan:
    """Book goods weighed in as lot LOT, with the weighbridge's reading as evidence.

    The goods commitment hides the goods behind a salt: keep the printed salt
    with the lot's documents (it proves what the commitment covers).
    """
    gross_g, tare_g = parse_grams(gross, "--gross"), parse_grams(tare, "--tare", zero_ok=True)
    net_g = gross_g - tare_g if net is None else parse_grams(net, "--net")
    if not (pieces.isascii() and pieces.isdigit() and len(pieces) <= DIGITS_MAX):
        raise _usage("bad_pieces", f"--pieces {pieces!r} is not a whole number")
    spec = Spec(commodity, brand, grade, int(pieces), gross_g, tare_g, net_g)
    problem = check_spec(spec)
    if problem is not None:
        raise _usage("bad_spec", f"the goods' specification: {problem.replace('_', ' ')}")
    salt_b = secrets.token_bytes(SALT_BYTES) if salt is None else parse_hash(salt, "salt")
    cert = b"" if certificate is None else parse_hash(certificate, "certificate")
    tag_list, code = parse_tags(tags), parse_name(bin_code, "bin code")
    try:
        commitment = commitment_of(s.key.address, code, tag_list, spec, salt_b)
    except CommitmentError as exc:
        raise _usage("bad_goods", f"the goods: {str(exc).replace('_', ' ')}") from None
    op = Intake(
        parse_name(lot, "lot id"),
        code,
        tag_list,
        spec,
        salt_b,
        cert,
        parse_name(weighbridge, "device id", DEVICE_ID_CHARS_MAX),
    )
    extra = {"lot": lot, "salt": salt_b.hex(), "commitment": commitment.hex(), "net_g": net_g}
    return Plan(op, extra)


@transition(
    "issue",
    "govchain wr issue WR-2026-0001 --holder $(cat depositor.addr) --lot LOT-1:1000t \\\n"
    f"    --document-file receipt.pdf {K}",
)
@click.argument("number")
@click.option("--holder", required=True, help="the depositor's address (it signs the offer)")
@click.option("--lot", "lots", multiple=True, required=True, help="LOT:QUANTITY, e.g. LOT-1:1000t")
@click.option("--document", default=None, help="hash of the receipt document (64 hex)")
@click.option(
    "--document-file",
    type=click.Path(path_type=Path),
    default=None,
    help="the receipt document: its SHA-256 is the hash",
)
def issue(
    _s: Signer,
    number: str,
    holder: str,
    lots: tuple[str, ...],
    document: str | None,
    document_file: Path | None,
) -> Plan:
    """Issue receipt NUMBER on lots; the supervisor and the holder sign."""
    parsed = tuple(parse_lot_amount(x) for x in lots)
    op = Issue(
        parse_name(number, "receipt number"),
        parse_address(holder),
        parsed,
        document_hash(document, document_file, "document"),
    )
    return Plan(op, {"number": number})


@transition("endorse", f"govchain wr endorse WR-2026-0001 --to $(cat buyer.addr) {K}")
@click.argument("number")
@click.option("--to", "to", required=True, help="the transferee's address (it signs the offer)")
def endorse(_s: Signer, number: str, to: str) -> Plan:
    """Transfer title of receipt NUMBER (its holder's key); the transferee signs."""
    return Plan(Endorse(parse_name(number, "receipt number"), parse_address(to)))


@transition(
    "split",
    "govchain wr split WR-2026-0001 --child WR-2026-0002=LOT-1:600t \\\n"
    f"    --child WR-2026-0003=LOT-1:400t {K}",
)
@click.argument("number")
@click.option(
    "--child",
    "children",
    multiple=True,
    required=True,
    help="NUMBER=LOT:QUANTITY[,LOT:QUANTITY...], one per child",
)
def split(_s: Signer, number: str, children: tuple[str, ...]) -> Plan:
    """Split receipt NUMBER into children whose lots sum to its own (the warehouse's key)."""
    parsed = tuple(parse_child(c) for c in children)
    return Plan(Split(parse_name(number, "receipt number"), parsed))


@transition("merge", f"govchain wr merge WR-2026-0002 WR-2026-0003 --into WR-2026-0004 {K}")
@click.argument("numbers", nargs=-1, required=True)
@click.option("--into", required=True, help="the merged receipt's new number")
def merge(_s: Signer, numbers: tuple[str, ...], into: str) -> Plan:
    """Merge receipts of one holder, controller and pledge into one (the warehouse's key)."""
    return Plan(Merge(_names(numbers, "receipt number"), parse_name(into, "receipt number")))


@transition("withdraw", "govchain wr withdraw WR-2026-0001 --key depositor.key")
@click.argument("number")
def withdraw(_s: Signer, number: str) -> Plan:
    """Order receipt NUMBER's goods out (the controller's key); the warehouse signs."""
    return Plan(Withdraw(parse_name(number, "receipt number")))


@transition(
    "inspect",
    "govchain wr inspect $(cat op.addr) A1 --found 1000t --report-file report.pdf "
    "--key inspector.key",
)
@click.argument("warehouse")
@click.argument("bin_code", metavar="BIN")
@click.option("--found", required=True, help="the quantity the inspector found: 1000t, ...")
@click.option("--report", default=None, help="hash of the inspection report (64 hex)")
@click.option(
    "--report-file",
    type=click.Path(path_type=Path),
    default=None,
    help="the inspection report: its SHA-256 is the hash",
)
def inspect(
    _s: Signer,
    warehouse: str,
    bin_code: str,
    found: str,
    report: str | None,
    report_file: Path | None,
) -> Plan:
    """Record an inspection of a bin (role inspector): it clears the bin's alarms."""
    op = Inspect(
        parse_address(warehouse),
        parse_name(bin_code, "bin code"),
        parse_grams(found, "--found", zero_ok=True),
        document_hash(report, report_file, "report"),
    )
    return Plan(op)


# -- pledges ------------------------------------------------------------------------------------
def _pledge_id(s: Signer, text: str) -> str:
    """A pledge's id (its opening transaction's id), from 8+ hex characters of it."""
    return resolve_tx_id(s.client, text)


@transition(
    "pledge",
    "govchain wr pledge WR-2026-0001 --bank $(cat bank.addr) --loan 53200000 --haircut 5% "
    "--key depositor.key",
    "govchain wr pledge 3f9a2c1d      # show pledge 3f9a2c1d...",
)
@click.argument("numbers", nargs=-1, required=True, metavar="NUMBER... | ID")
@click.option("--bank", default=None, help="the bank's address (it signs and pays the loan)")
@click.option("--loan", default=None, help="the loan: yuan (53200000.00) or fen (...fen)")
@click.option("--haircut", default=None, help="the bank's haircut: 5% or 500bp")
def pledge(
    s: Signer, numbers: tuple[str, ...], bank: str | None, loan: str | None, haircut: str | None
) -> Plan | None:
    """Pledge receipts (the holder's key) to a bank for a loan; the bank signs and pays out.

    Without --bank, --loan and --haircut: show the pledge whose id is the one
    argument (8+ hex of it): loan outstanding, LTV and band, calls, marks.
    """
    given = {"--bank": bank, "--loan": loan, "--haircut": haircut}
    if all(v is None for v in given.values()):
        if len(numbers) != 1:
            raise _usage("bad_usage", "show one pledge (wr pledge ID), or give --bank, --loan, ...")
        pid = _pledge_id(s, numbers[0])
        _print(s.client.wr_pledge(pid), s.as_json, lambda d: show_doc(d, f"pledge {pid}"))
        return None
    missing = [name for name, v in given.items() if v is None]
    if missing:
        raise _usage("bad_usage", f"a pledge also needs {', '.join(missing)}")
    assert bank is not None and loan is not None and haircut is not None
    op = Pledge(
        _names(numbers, "receipt number"),
        parse_address(bank),
        parse_fen(loan, "--loan"),
        parse_bp(haircut, "--haircut"),
    )
    return Plan(op)


@transition(
    "add-collateral", "govchain wr add-collateral 3f9a2c1d WR-2026-0009 --key depositor.key"
)
@click.argument("pledge_id", metavar="PLEDGE")
@click.argument("numbers", nargs=-1, required=True)
def add_collateral(s: Signer, pledge_id: str, numbers: tuple[str, ...]) -> Plan:
    """Pledge more receipts under PLEDGE (the borrower's key): a cure by collateral."""
    names = _names(numbers, "receipt number")
    return Plan(AddCollateral(_pledge_id(s, pledge_id), names))


@transition("repay", "govchain wr repay 3f9a2c1d --amount 6650000 --key depositor.key")
@click.argument("pledge_id", metavar="PLEDGE")
@click.option("--amount", required=True, help="yuan (6650000.50) or fen (665000050fen)")
def repay(s: Signer, pledge_id: str, amount: str) -> Plan:
    """Repay part or all of PLEDGE's loan to the bank (the borrower's key)."""
    fen = parse_fen(amount, "--amount")
    return Plan(Repay(_pledge_id(s, pledge_id), fen))


@transition(
    "adjust", "govchain wr adjust 3f9a2c1d --remove WR-2026-0003 --add WR-2026-0007 --key bank.key"
)
@click.argument("pledge_id", metavar="PLEDGE")
@click.option("--add", "add", multiple=True, help="a receipt to pledge in (repeatable)")
@click.option("--remove", "remove", multiple=True, help="a receipt to release (repeatable)")
def adjust(s: Signer, pledge_id: str, add: tuple[str, ...], remove: tuple[str, ...]) -> Plan:
    """Partial release or substitution under PLEDGE (the bank's key); the supervisors sign."""
    if not add and not remove:
        raise _usage("bad_usage", "give --add NUMBER or --remove NUMBER (or both)")
    added, removed = _names(add, "receipt number"), _names(remove, "receipt number")
    return Plan(Adjust(_pledge_id(s, pledge_id), added, removed))


@transition("release", "govchain wr release 3f9a2c1d --key bank.key")
@click.argument("pledge_id", metavar="PLEDGE")
def release(s: Signer, pledge_id: str) -> Plan:
    """Release a repaid PLEDGE (the bank's key): control returns to the holder."""
    return Plan(Release(_pledge_id(s, pledge_id)))


@transition(
    "enforce",
    "govchain wr enforce 3f9a2c1d --buyer $(cat buyer.addr) --price 49000000 --key bank.key",
)
@click.argument("pledge_id", metavar="PLEDGE")
@click.option("--buyer", required=True, help="the buyer's address (it signs and pays)")
@click.option("--price", "price", required=True, help="the sale price: yuan or ...fen")
def enforce(s: Signer, pledge_id: str, buyer: str, price: str) -> Plan:
    """Sell an enforceable PLEDGE's goods (the bank's key); the buyer signs and pays."""
    buyer_b, fen = parse_address(buyer), parse_fen(price, "--price")
    return Plan(Enforce(_pledge_id(s, pledge_id), buyer_b, fen))


@transition(
    "price",
    "govchain wr price copper_cathode 80000 --source settlement --day 2026-03-02 --key o.key",
)
@click.argument("commodity")
@click.argument("price")
@click.option(
    "--source",
    type=click.Choice([s.value for s in Source]),
    required=True,
    help="the exchange's settlement price or the spot index",
)
@click.option("--day", default=None, help="business day: YYYY-MM-DD or its number (default: today)")
def price(_s: Signer, commodity: str, price: str, source: str, day: str | None) -> Plan:
    """Post COMMODITY's PRICE in yuan a tonne for a business day (role oracle)."""
    op = PostPrice(commodity, source, parse_price(price, "PRICE"), parse_day(day))
    return Plan(op, {"fen_per_tonne": op.fen_per_tonne, "day": op.day})


# -- offers -------------------------------------------------------------------------------------
@transition("sign", f"govchain wr sign {OFFER} --key sup.key")
@click.argument("offer")
def sign(s: Signer, offer: str) -> Plan:
    """Sign the open OFFER (8+ hex of its id); the last signature executes it."""
    oid = resolve_tx_id(s.client, offer)
    seen = _found(lambda: s.client.wr_offer(oid))
    extra = {} if seen is None else {"signs": seen["transition"]}
    return Plan(Sign(bytes.fromhex(oid)), extra, seen)


@transition("decline", f"govchain wr decline {OFFER} --key sup.key")
@click.argument("offer")
def decline(s: Signer, offer: str) -> Plan:
    """End the open OFFER unexecuted (any of its parties)."""
    return Plan(Decline(bytes.fromhex(resolve_tx_id(s.client, offer))))


# -- reads --------------------------------------------------------------------------------------
def _verified(client: Client, tx_id: str, timeout_s: float, genesis_path: Path | None) -> Any:
    """{"verified", "anchor"|"error"}: the step's receipt proof, checked offline."""
    from govchain.node.files import read_genesis  # noqa: PLC0415 (only --proofs needs it)
    from govchain.sdk.proof import ProofError, verify_proof  # noqa: PLC0415

    from .genesis_lookup import find_genesis  # noqa: PLC0415

    try:
        doc = client.wait_proof(tx_id, 0, timeout_s)
    except SdkError as exc:
        return {"verified": False, "error": exc.message or exc.code}
    genesis = read_genesis(find_genesis(doc, Path.cwd() / "wr-show", genesis_path))
    try:
        result = verify_proof(doc, genesis)
    except ProofError as exc:
        return {"verified": False, "error": str(exc)}
    if result["tx_id"] != tx_id or result["status"] != "executed":
        return {"verified": False, "error": f"the proof is of {result['tx_id']} {result['status']}"}
    return {"verified": True, "anchor": result["anchor"]}


@reader("show", "govchain wr show WR-2026-0001", "govchain wr show WR-2026-0001 --proofs")
@click.argument("number", metavar="RECEIPT")
@click.option("--proofs", is_flag=True, help="fetch and verify each version's receipt proof")
@click.option(
    "--genesis",
    "genesis_path",
    type=click.Path(path_type=Path),
    default=None,
    help="the genesis to verify proofs from (default: the devnet's)",
)
@click.option(
    "--timeout",
    "timeout_s",
    default=PROOF_TIMEOUT_S,
    show_default=True,
    help="seconds to wait for each proof",
)
def show(
    client: Client,
    as_json: bool,
    number: str,
    proofs: bool,
    genesis_path: Path | None,
    timeout_s: float,
) -> None:
    """A receipt: status, holder, controller, lots, pledges, LTV, and every version."""
    doc = client.wr_receipt(parse_name(number, "receipt number"))
    if proofs:
        for step in doc.get("history", []):
            step["proof"] = _verified(client, str(step["tx"]), timeout_s, genesis_path)
    _print(doc, as_json, show_receipt)


@reader("bins", "govchain wr bins $(cat op.addr)")
@click.argument("warehouse")
def bins(client: Client, as_json: bool, warehouse: str) -> None:
    """Goods match receipts per bin: sensed, book, receipted, tolerance, alarms."""
    _print(client.wr_bins(parse_address(warehouse)), as_json, show_bins)


def _print(doc: dict[str, Any], as_json: bool, people: Callable[[dict[str, Any]], None]) -> None:
    """The API's document as it is (--json), or for people."""
    if as_json:
        emit_json(doc)
    else:
        people(doc)


@reader("receipts", "govchain wr receipts --holder $(cat depositor.addr)")
@click.option("--holder", default=None, help="only receipts this address holds")
@click.option("--status", default=None, help=f"only receipts in this status: {', '.join(STATUSES)}")
@click.option(
    "--limit", default=str(LIST_LIMIT_DEFAULT), show_default=True, help="at most this many"
)
def receipts(
    client: Client, as_json: bool, holder: str | None, status: str | None, limit: str
) -> None:
    """Receipts, newest first (all, or by holder or status)."""
    if status is not None and status not in STATUSES:
        raise _usage("bad_status", f"--status is one of {', '.join(STATUSES)}")
    if not (limit.isascii() and limit.isdigit() and 1 <= int(limit[:6]) <= LIST_LIMIT_MAX):
        raise _usage("bad_limit", f"--limit must lie in 1..{LIST_LIMIT_MAX}")
    owner = None if holder is None else parse_address(holder)
    _print(
        client.wr_receipts(holder=owner, status=status, limit=int(limit)), as_json, show_receipts
    )


@reader("device", "govchain wr device scale-1")
@click.argument("device")
def device(client: Client, as_json: bool, device: str) -> None:
    """A device: its bin, key, calibration, firmware and latest reading."""
    name = parse_name(device, "device id", DEVICE_ID_CHARS_MAX)
    _print(client.wr_device(name), as_json, lambda d: show_doc(d, f"device {name}"))


@reader("lot", "govchain wr lot LOT-1")
@click.argument("lot")
def lot(client: Client, as_json: bool, lot: str) -> None:
    """A lot: its goods, tags, commitment, stock and intake evidence."""
    name = parse_name(lot, "lot id")
    _print(client.wr_lot(name), as_json, lambda d: show_doc(d, f"lot {name}"))


@reader("offer", f"govchain wr offer {OFFER}")
@click.argument("offer_id", metavar="OFFER")
def offer(client: Client, as_json: bool, offer_id: str) -> None:
    """An open offer: its transition, who must sign, who signed, when it lapses."""
    oid = resolve_tx_id(client, offer_id)
    _print(client.wr_offer(oid), as_json, lambda d: show_doc(d, f"offer {oid}"))


@reader("alarms", "govchain wr alarms")
def alarms(client: Client, as_json: bool) -> None:
    """Alarms in force, on every bin, newest first."""
    _print(client.wr_alarms(), as_json, show_alarms)


@reader("prices", "govchain wr prices")
def prices(client: Client, as_json: bool) -> None:
    """The newest price of each commodity from each source."""
    _print(client.wr_prices(), as_json, show_prices)
