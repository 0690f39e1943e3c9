"""Putting a transaction on hold: what transfers and records share."""

from __future__ import annotations

from govchain.dag.tx import Transaction
from govchain.state.audit import AuditKind
from govchain.state.holds import Hold
from govchain.state.receipts import Outcome
from govchain.state.registry import TxContext


class HoldTarget:
    """What a held transaction would do: pay amount to `to` (b"" and 0 for a record)."""

    __slots__ = ("amount", "to")

    def __init__(self, to: bytes = b"", amount: int = 0) -> None:
        self.to = to
        self.amount = amount


NOTHING = HoldTarget()


def hold(ctx: TxContext, tx: Transaction, sender: bytes, target: HoldTarget, o: Outcome) -> None:
    """Record a hold for outcome o (status held) and its audit entry."""
    if o.reason is None:
        raise ValueError("a hold needs its reason")  # our bug: every held outcome names one
    ctx.stores.holds.add(
        Hold(
            tx.id,
            tx.body.kind,
            sender,
            target.to,
            target.amount,
            ctx.height,
            o.reason,
            o.rule,
            o.governance_ref,
        )
    )
    why = o.reason if o.rule is None else f"{o.reason} {o.rule}"
    ctx.audit.append(
        ctx.height, AuditKind.HOLD, sender, f"tx:{tx.id.hex()}", o.governance_ref or "", why
    )
