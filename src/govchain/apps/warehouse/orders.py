"""wr-freeze and wr-unfreeze: governance freezes a receipt, citing the order behind it.

A frozen receipt is an overlay: it stays valid and keeps its holder, controller and
pledge, but no transition moves it (endorse, pledge, split, merge, withdraw,
enforce) until wr-unfreeze passes. The freeze appends a version to the receipt's
history naming the proposal and the order's hash, so `wr show` tells why.
"""

from __future__ import annotations

from govchain.apps.warehouse.book import NAMESPACE, VERSIONS_MAX, WarehouseBook
from govchain.apps.warehouse.env import number_ok
from govchain.apps.warehouse.records import ReceiptStatus, Version
from govchain.codec import HASH_BYTES
from govchain.state.args import ArgError, CliOptions, hex_arg, only
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, no_op

AUDIT_FREEZE = "wr_freeze"
AUDIT_UNFREEZE = "wr_unfreeze"


class WrFreeze(ActionArgs, frozen=True, tag="wr-freeze"):
    """Freeze a warehouse receipt under a court or regulator's order (its hash)."""

    number: str
    order_hash: bytes


class WrUnfreeze(ActionArgs, frozen=True, tag="wr-unfreeze"):
    """Lift a receipt's freeze."""

    number: str


def _number_error(number: str) -> str | None:
    return None if number_ok(number) else "number must be [A-Za-z0-9][A-Za-z0-9_.-]{0,63}"


def _freeze_check(a: WrFreeze, _params: Params) -> str | None:
    if len(a.order_hash) != HASH_BYTES:
        return "order_hash must be 32 bytes (the order's SHA-256)"
    return _number_error(a.number)


def _book(st: Stores) -> WarehouseBook:
    return st.namespace(NAMESPACE, WarehouseBook)


def _note(st: Stores, p: Proposal, height: int, number: str, transition: str, note: str) -> None:
    """Append the governance step to the receipt's history (the caller found it valid)."""
    book = _book(st)
    r = book.receipts[number]
    if len(r.versions) < VERSIONS_MAX:  # the freeze holds even when the history is full
        r.versions.append(
            Version(
                len(r.versions) + 1,
                height,
                bytes.fromhex(p.id),
                transition,
                (),
                r.holder,
                r.controller,
                r.status,
                note=note,
            )
        )
    book.touch_receipt(r)


def _freeze(a: WrFreeze, p: Proposal, height: int, st: Stores) -> Effect:
    r = _book(st).receipts.get(a.number)
    if r is None or r.status != ReceiptStatus.VALID:
        return no_op(f"receipt {a.number} is not a valid receipt")
    if r.frozen_by:
        return no_op(f"receipt {a.number} is frozen already by proposal {r.frozen_by}")
    r.frozen_by = p.id
    _note(st, p, height, a.number, "freeze", f"order {a.order_hash.hex()}; proposal {p.id}")
    return Effect(AUDIT_FREEZE, f"receipt frozen under order {a.order_hash.hex()}")


def _unfreeze(a: WrUnfreeze, p: Proposal, height: int, st: Stores) -> Effect:
    r = _book(st).receipts.get(a.number)
    if r is None or not r.frozen_by:
        return no_op(f"receipt {a.number} is not frozen")
    was = r.frozen_by
    r.frozen_by = ""
    _note(st, p, height, a.number, "unfreeze", f"lifts proposal {was}")
    return Effect(AUDIT_UNFREEZE, f"freeze of proposal {was} lifted")


def _freeze_cli(args: tuple[str, ...], opts: CliOptions) -> WrFreeze:
    if opts.order_hash is None:
        raise ArgError("bad_order_hash", "wr-freeze needs --order-hash (the order's SHA-256)")
    return WrFreeze(only(args), hex_arg(opts.order_hash, HASH_BYTES, "order_hash"))


FREEZE = ActionSpec(
    args=WrFreeze,
    cli_args=("RECEIPT",),
    from_cli=_freeze_cli,
    check=_freeze_check,
    subject=lambda a: f"receipt:{a.number}",
    enact=_freeze,
    cli_options=frozenset({"order_hash"}),
    doc=ActionDoc(
        "receipt number, order hash (32 bytes)",
        "number form, hash length",
        "no transition moves the receipt until wr-unfreeze",
    ),
)
UNFREEZE = ActionSpec(
    args=WrUnfreeze,
    cli_args=("RECEIPT",),
    from_cli=lambda args, _opts: WrUnfreeze(only(args)),
    check=lambda a, _params: _number_error(a.number),
    subject=lambda a: f"receipt:{a.number}",
    enact=_unfreeze,
    doc=ActionDoc("receipt number", "number form", "the receipt's freeze is lifted"),
)
