"""`govchain wr`'s reads: receipts, bins, pledges, devices, lots, offers, alarms and prices.

Each read asks the node's /v1/wr API through the SDK and prints its document
unchanged with --json, or for people (cli/wr_view.py). Arguments are checked
before any request; ids take a unique prefix of 8+ hex characters.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from govchain.apps.warehouse.financing import ACTIVE, ENFORCEABLE, ENFORCED, RELEASED
from govchain.apps.warehouse.readings import DEVICE_ID_CHARS_MAX
from govchain.apps.warehouse.records import ReceiptStatus
from govchain.sdk.errors import SdkError

from .common import json_option, node_client, node_option, parse_address, reported, resolve_tx_id
from .output import emit_json, example
from .wr_args import (
    LIST_LIMIT_DEFAULT,
    parse_limit,
    parse_name,
    parse_status,
    usage,
    with_params,
)
from .wr_view import (
    show_alarms,
    show_bins,
    show_doc,
    show_pledges,
    show_prices,
    show_receipt,
    show_receipts,
)

if TYPE_CHECKING:
    from govchain.sdk.client import Client

RECEIPT_STATUSES = tuple(s.value for s in ReceiptStatus)
PLEDGE_STATUSES = (ACTIVE, ENFORCEABLE, RELEASED, ENFORCED)
PROOF_TIMEOUT_S = 10.0  # per history step: a checkpoint or two after it is final
OFFER = "3f9a2c1d"  # examples' offer id prefix
READS: list[click.Command] = []  # every read command, for the `wr` group to add


def reader(name: str, *examples: str) -> Callable[[Callable[..., None]], click.Command]:
    """A `wr NAME` read: the function gets the node's client, --json and its arguments."""

    def wrap(fn: Callable[..., None]) -> click.Command:
        def run(node_url: str | None, as_json: bool, **args: Any) -> None:
            with node_client(node_url) as client:
                fn(client, as_json, **args)

        run.__doc__, run.__name__ = fn.__doc__, fn.__name__
        own = getattr(fn, "__click_params__", [])
        target = with_params(reported(run), own, (json_option, node_option))
        command = click.command(name, epilog=example(*examples))(target)
        READS.append(command)
        return command

    return wrap


def print_doc(doc: dict[str, Any], as_json: bool, people: Callable[[dict[str, Any]], None]) -> None:
    """The API's document as it is (--json), or for people."""
    if as_json:
        emit_json(doc)
    else:
        people(doc)


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
    print_doc(doc, as_json, show_receipt)


@reader("bins", "govchain wr bins $(cat op.addr)")
@click.argument("warehouse")
def bins(client: Client, as_json: bool, warehouse: str) -> None:
    """Goods match receipts per bin: sensed, book, receipted, tolerance, alarms."""
    print_doc(client.wr_bins(parse_address(warehouse)), as_json, show_bins)


@reader("receipts", "govchain wr receipts --holder $(cat depositor.addr)")
@click.option("--holder", default=None, help="only receipts this address holds")
@click.option(
    "--status", default=None, help=f"only receipts in this status: {', '.join(RECEIPT_STATUSES)}"
)
@click.option(
    "--limit", default=str(LIST_LIMIT_DEFAULT), show_default=True, help="at most this many"
)
def receipts(
    client: Client, as_json: bool, holder: str | None, status: str | None, limit: str
) -> None:
    """Receipts, newest first (all, or by holder or status)."""
    wanted, count = parse_status(status, RECEIPT_STATUSES), parse_limit(limit)
    owner = None if holder is None else parse_address(holder)
    print_doc(client.wr_receipts(holder=owner, status=wanted, limit=count), as_json, show_receipts)


@reader(
    "pledges",
    "govchain wr pledges --bank $(cat bank.addr) --status active",
    f"govchain wr pledges {OFFER}      # one pledge: loan, LTV and band, calls, marks",
)
@click.argument("pledge_id", metavar="[ID]", required=False)
@click.option("--bank", default=None, help="only pledges to this bank (the list)")
@click.option("--borrower", default=None, help="only pledges of this borrower (the list)")
@click.option(
    "--status",
    default=None,
    help=f"only pledges in this status (the list): {', '.join(PLEDGE_STATUSES)}",
)
@click.option(
    "--limit",
    default=str(LIST_LIMIT_DEFAULT),
    show_default=True,
    help="at most this many (the list)",
)
def pledges(
    client: Client,
    as_json: bool,
    pledge_id: str | None,
    bank: str | None,
    borrower: str | None,
    status: str | None,
    limit: str,
) -> None:
    """Pledges, newest first (all, or by bank, borrower or status); with ID, one in full.

    ID is the pledge's id (its opening transaction's) or 8+ hex of it: its loan,
    outstanding, LTV and band at today's prices, calls, daily marks and proceeds.
    """
    ctx = click.get_current_context()
    given = [
        f"--{name}"
        for name in ("bank", "borrower", "status", "limit")
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    ]
    if pledge_id is not None:
        if given:
            raise usage("bad_usage", f"{', '.join(given)} filter the list: give no ID with them")
        pid = resolve_tx_id(client, pledge_id)
        print_doc(client.wr_pledge(pid), as_json, lambda d: show_doc(d, f"pledge {pid}"))
        return
    wanted, count = parse_status(status, PLEDGE_STATUSES), parse_limit(limit)
    by_bank = None if bank is None else parse_address(bank)
    by_borrower = None if borrower is None else parse_address(borrower)
    found = client.wr_pledges(bank=by_bank, borrower=by_borrower, status=wanted, limit=count)
    print_doc(found, as_json, show_pledges)


@reader("device", "govchain wr device scale-1")
@click.argument("device")
def device(client: Client, as_json: bool, device: str) -> None:
    """A device: its bin, key, calibration, firmware and latest reading."""
    name = parse_name(device, "device id", DEVICE_ID_CHARS_MAX)
    print_doc(client.wr_device(name), as_json, lambda d: show_doc(d, f"device {name}"))


@reader("lot", "govchain wr lot LOT-1")
@click.argument("lot")
def lot(client: Client, as_json: bool, lot: str) -> None:
    """A lot: its goods, tags, commitment, stock and intake evidence."""
    name = parse_name(lot, "lot id")
    print_doc(client.wr_lot(name), as_json, lambda d: show_doc(d, f"lot {name}"))


@reader("offer", f"govchain wr offer {OFFER}")
@click.argument("offer_id", metavar="OFFER")
def offer(client: Client, as_json: bool, offer_id: str) -> None:
    """An open offer: its transition, who must sign, who signed, when it lapses."""
    oid = resolve_tx_id(client, offer_id)
    print_doc(client.wr_offer(oid), as_json, lambda d: show_doc(d, f"offer {oid}"))


@reader("alarms", "govchain wr alarms")
def alarms(client: Client, as_json: bool) -> None:
    """Alarms in force, on every bin, newest first."""
    print_doc(client.wr_alarms(), as_json, show_alarms)


@reader("prices", "govchain wr prices")
def prices(client: Client, as_json: bool) -> None:
    """The newest price of each commodity from each source."""
    print_doc(client.wr_prices(), as_json, show_prices)
