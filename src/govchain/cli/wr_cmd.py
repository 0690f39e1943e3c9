"""`govchain wr`: every transition of a warehouse receipt's life, and the warehouse's reads.

Each transition command sends one `wr` transaction signed with --key (docs/warehouse.md
has the table of who opens and who signs). A transition with several parties opens an
offer whose id is its transaction id; the output names it and who must still sign
(`govchain wr sign OFFER`). Amounts are exact: quantities in t, kg or g, money in yuan
(up to 2 decimals) or fen, prices in yuan a tonne, rates in % or bp; never a float.
Here: the group and the transitions; argument forms in wr_args.py, sending and
offers in wr_send.py, the reads in wr_reads.py, printing in wr_view.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from govchain.apps.warehouse.commitment import (
    SALT_BYTES,
    CommitmentError,
    Spec,
    check_spec,
    commitment_of,
)
from govchain.apps.warehouse.ops import (
    AddBin,
    AddCollateral,
    Adjust,
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
)
from govchain.apps.warehouse.readings import DEVICE_ID_CHARS_MAX, DeviceKind
from govchain.apps.warehouse.valuation import Source

from .common import (
    json_option,
    key_option,
    node_option,
    parse_address,
    reported,
    resolve_tx_id,
    timeout_option,
    wait_option,
)
from .output import example
from .wr_args import (
    DIGITS_MAX,
    document_hash,
    parse_bin,
    parse_bp,
    parse_child,
    parse_day,
    parse_fen,
    parse_grams,
    parse_hash,
    parse_height,
    parse_lot_amount,
    parse_name,
    parse_names,
    parse_price,
    parse_public_key,
    parse_tags,
    usage,
    with_params,
)
from .wr_reads import OFFER, READS
from .wr_send import Plan, Signer, read_or_none, send

WAIT_RULE = (
    "With --wait: blocks until the transaction is final and prints its record; exits 0"
    " when it is executed (a multi-party transition: its offer is open), 1 when it is"
    " final as rejected (the reason is printed)."
)
K = "--key op.key"  # examples' key files


@click.group(
    "wr", epilog=example("govchain wr show WR-2026-0001", "govchain wr bins $(cat op.addr)")
)
def wr() -> None:
    """Warehouse receipts: every transition of a receipt's life, bins, pledges and prices."""


for _read in READS:
    wr.add_command(_read)


def transition(name: str, *examples: str) -> Callable[[Callable[..., Plan]], click.Command]:
    """A `wr NAME` command: the function parses its arguments into a Plan, which is sent."""

    def wrap(build: Callable[..., Plan]) -> click.Command:
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
                send(signer, build(signer, **args), wait, timeout_s, as_json)
            finally:
                signer.close()

        run.__doc__, run.__name__ = build.__doc__, build.__name__
        common = (json_option, timeout_option, wait_option, node_option, key_option)
        target = with_params(reported(run), getattr(build, "__click_params__", []), common)
        epilog = WAIT_RULE + "\n\n" + example(*examples)
        return wr.command(name, epilog=epilog)(target)

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
        raise usage("bad_bin", "a bin code is given twice")
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
        raise usage("bad_pieces", f"--pieces {pieces!r} is not a whole number")
    spec = Spec(commodity, brand, grade, int(pieces), gross_g, tare_g, net_g)
    problem = check_spec(spec)
    if problem is not None:
        raise usage("bad_spec", f"the goods' specification: {problem.replace('_', ' ')}")
    salt_b = secrets.token_bytes(SALT_BYTES) if salt is None else parse_hash(salt, "salt")
    cert = b"" if certificate is None else parse_hash(certificate, "certificate")
    tag_list, code = parse_tags(tags), parse_name(bin_code, "bin code")
    try:
        commitment = commitment_of(s.key.address, code, tag_list, spec, salt_b)
    except CommitmentError as exc:
        raise usage("bad_goods", f"the goods: {str(exc).replace('_', ' ')}") from None
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
    return Plan(Merge(parse_names(numbers, "receipt number"), parse_name(into, "receipt number")))


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
)
@click.argument("numbers", nargs=-1, required=True, metavar="NUMBER...")
@click.option("--bank", default=None, help="the bank's address (it signs and pays the loan)")
@click.option("--loan", default=None, help="the loan: yuan (53200000.00) or fen (...fen)")
@click.option("--haircut", default=None, help="the bank's haircut: 5% or 500bp")
def pledge(
    _s: Signer, numbers: tuple[str, ...], bank: str | None, loan: str | None, haircut: str | None
) -> Plan:
    """Pledge receipts (the holder's key) to a bank for a loan; the bank signs and pays out.

    --bank, --loan and --haircut are all needed. The pledge's id is this
    transaction's id: `govchain wr pledges ID` shows the pledge.
    """
    # Checked here rather than by Click, so that a missing one is a --json usage error too.
    if bank is None or loan is None or haircut is None:
        given = {"--bank": bank, "--loan": loan, "--haircut": haircut}
        missing = ", ".join(name for name, v in given.items() if v is None)
        if bank is None and loan is None and haircut is None:
            hint = "to show a pledge: govchain wr pledges ID"
            raise usage("bad_usage", f"a pledge needs {missing} ({hint})")
        raise usage("bad_usage", f"a pledge also needs {missing}")
    op = Pledge(
        parse_names(numbers, "receipt number"),
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
    names = parse_names(numbers, "receipt number")
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
        raise usage("bad_usage", "give --add NUMBER or --remove NUMBER (or both)")
    added, removed = parse_names(add, "receipt number"), parse_names(remove, "receipt number")
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
    seen = read_or_none(lambda: s.client.wr_offer(oid))
    extra = {} if seen is None else {"signs": seen["transition"]}
    return Plan(Sign(bytes.fromhex(oid)), extra, seen)


@transition("decline", f"govchain wr decline {OFFER} --key sup.key")
@click.argument("offer")
def decline(s: Signer, offer: str) -> Plan:
    """End the open OFFER unexecuted (any of its parties)."""
    return Plan(Decline(bytes.fromhex(resolve_tx_id(s.client, offer))))
