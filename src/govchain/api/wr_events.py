"""WS /v1/events "wr" events: what one height did to receipts, bins and pledges.

A bank watching its collateral wants to hear the moment a margin call opens, a
bin's alarm fires or a receipt changes hands, without polling every document.
The book's records carry the height of each change (an alarm's, a version's,
a call's opening and cure, an inspection's), so a height's event is read off the
book after it executed, and only at heights where the namespace may have
changed: an executed `wr` or `wr.readings` transaction, or a warehouse
governance action (audit kinds wr_*), or a height the book lists as having
raised an alarm (a device_offline alarm needs no transaction). Everything else
costs one pass over the height's receipts. A height whose only warehouse
transactions are readings can only raise alarms: the bins alone are read then.

The event: {"type": "wr", "height", "alarms_raised": [alarm + warehouse, bin],
"alarms_cleared": [{"warehouse", "bin", "seqs", "inspector"}], "receipts":
[{"number", "transition", "version", "status"}], "calls_opened": [{"pledge",
"day", "deadline_day", "repay_fen", "more_g"}], "calls_cured": [{"pledge",
"day"}], "enforceable": [pledge ids], "more"}; None when the height changed
none of these. Each list holds at most EVENT_ITEMS_MAX items (`more` says when
one was cut). Execution and this read run on the node's one event loop, after
the height committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from govchain.apps.warehouse.book import NAMESPACE, WarehouseBook
from govchain.apps.warehouse.ops import KIND_READINGS, KIND_WR
from govchain.apps.warehouse.views import alarm_json
from govchain.dag.tx import Transaction
from govchain.replica.execution import Execution
from govchain.replica.view import ChainView
from govchain.state.audit import AuditEntry
from govchain.state.receipts import Receipt, Status

EVENT_ITEMS_MAX = 1_000  # items of one list of one event
AUDIT_PREFIX = "wr_"  # the warehouse's governance actions (orders.py: wr_freeze, wr_unfreeze)
ENFORCEMENT_FREEZE = "enforcement-freeze"  # the version financing.mark_day appends


class _Lists:
    """The event's lists, each bounded."""

    def __init__(self) -> None:
        self.lists: dict[str, list[Any]] = {
            k: []
            for k in (
                "alarms_raised",
                "alarms_cleared",
                "receipts",
                "calls_opened",
                "calls_cured",
                "enforceable",
            )
        }
        self.more = False

    def add(self, key: str, item: Any) -> None:
        items = self.lists[key]
        if len(items) >= EVENT_ITEMS_MAX:
            self.more = True
        else:
            items.append(item)


def changed_at(
    txs: Sequence[Transaction], receipts: Sequence[Receipt], audit: Sequence[AuditEntry]
) -> tuple[bool, bool]:
    """(the namespace may have changed, by more than readings) at a height."""
    kinds = {tx.id: tx.body.kind for tx in txs}
    readings = transitions = False
    for r in receipts:
        if r.status != Status.EXECUTED.value:
            continue
        kind = kinds.get(r.tx_id)
        if kind == KIND_WR:
            transitions = True
            break
        readings = readings or kind == KIND_READINGS
    transitions = transitions or any(e.kind.startswith(AUDIT_PREFIX) for e in audit)
    return readings or transitions, transitions


def _bins(book: WarehouseBook, height: int, out: _Lists) -> None:
    for b in book.bins.values():
        for a in b.alarms:
            if a.height == height:
                where = {"warehouse": b.warehouse.hex(), "bin": b.code}
                out.add("alarms_raised", {**alarm_json(a), **where})
        for i in reversed(b.inspections):
            if i.height < height:
                break
            if i.height == height:
                where = {"warehouse": b.warehouse.hex(), "bin": b.code}
                cleared = {"seqs": list(i.cleared), "inspector": i.inspector.hex()}
                out.add("alarms_cleared", {**where, **cleared})


def _receipts(book: WarehouseBook, height: int, out: _Lists) -> None:
    enforceable: dict[str, None] = {}
    for r in book.receipts.values():
        # Versions are appended in height order: the newest few are all there is to read,
        # and most receipts did not change at all (one comparison each).
        if not r.versions or r.versions[-1].height < height:
            continue
        at = []
        for v in reversed(r.versions):
            if v.height < height:
                break
            if v.height == height:
                at.append(v)
        for v in reversed(at):
            out.add(
                "receipts",
                {
                    "number": r.number,
                    "transition": v.transition,
                    "version": v.version,
                    "status": str(v.status),
                },
            )
            if v.transition == ENFORCEMENT_FREEZE:
                enforceable[v.note] = None
    for pledge in enforceable:
        out.add("enforceable", pledge)


def _pledges(book: WarehouseBook, height: int, out: _Lists) -> None:
    for p in book.pledges.values():
        calls = p.calls
        # Only the last call opens or is cured now, unless it opened now and the one
        # before it was cured in the same height: one look at most pledges.
        if not calls or height not in (calls[-1].height, calls[-1].cured_height):
            continue
        for c in calls[-2:]:
            if c.cured_height == height:
                out.add("calls_cured", {"pledge": p.id, "day": c.day})
            if c.height == height:
                opened = {"day": c.day, "deadline_day": c.deadline_day, "repay_fen": c.repay_fen}
                out.add("calls_opened", {"pledge": p.id, **opened, "more_g": c.more_g})


def wr_event(
    book: WarehouseBook | None,
    height: int,
    txs: Sequence[Transaction],
    receipts: Sequence[Receipt],
    audit: Sequence[AuditEntry],
) -> dict[str, Any] | None:
    """The height's "wr" event, or None when it changed nothing an event reports."""
    if book is None:
        return None
    changed, transitions = changed_at(txs, receipts, audit)
    # A height hook (device_offline) may raise an alarm with no warehouse transaction.
    if not changed and height not in book.alarm_heights:
        return None
    out = _Lists()
    _bins(book, height, out)
    if transitions:
        _receipts(book, height, out)
        _pledges(book, height, out)
    if not any(out.lists.values()):
        return None
    return {"type": "wr", "height": height, **out.lists, "more": out.more}


def wr_event_of(view: ChainView, ex: Execution) -> dict[str, Any] | None:
    """The "wr" event of one executed checkpoint on a node's chain (None: none, or no warehouse)."""
    ns = view.namespace(NAMESPACE)
    book = ns if isinstance(ns, WarehouseBook) else None
    return wr_event(book, ex.checkpoint.height, ex.txs, ex.result.receipts, ex.result.audit)
