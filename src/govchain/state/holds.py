"""Held transactions, the escrow that holds their funds, and how each hold ended.

A held transfer's amount leaves the sender at once and sits in escrow, so the
supply stays whole: total supply = sum of balances + escrow. `release`
pays the recipient from escrow; `intercept` returns the amount to the sender.
An emergency interception is provisional: the funds stay in escrow until the
committee ratifies it, because a lapse must be able to put the hold back as it
was, and the sender could have spent returned funds in between.

`Moves` collects the final movements of value a height makes (trace/movements.py),
each with both ends' balances right after it: a hold's amount leaving escrow
when a decision releases or intercepts it for good; transfers add theirs and
a held transfer's entry into escrow (the transfer debits the sender and knows
the balance it leaves). Holds owns it because escrow is the one place value
rests between two movements. It is no part of the state hash: the movements
follow from what the hash already commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from govchain.state.accounts import Account
from govchain.state.receipts import Status
from govchain.trace.movements import Movement, MovementKind, escrow_of

_TRANSFER = MovementKind.TRANSFER.value
_ESCROW = MovementKind.ESCROW.value
_RELEASE = MovementKind.RELEASE.value
_INTERCEPT = MovementKind.INTERCEPT.value
_EXECUTED = Status.EXECUTED.value


class Resolution(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """How a hold ended: executed (released) or rejected (intercepted), when, by whom."""

    status: str
    height: int
    proposal: str
    reason: str | None = None
    provisional: bool = False  # an emergency interception awaiting ratification


class Hold(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A transaction final as held: what it would do and why it waits."""

    tx_id: bytes
    kind: str
    sender: bytes
    to: bytes  # the transfer's recipient; b"" for a record
    amount: int  # in escrow while unresolved; 0 for a record
    height: int
    reason: str
    rule: str | None
    governance_ref: str | None
    resolution: Resolution | None = None

    @property
    def escrowed(self) -> bool:
        """True while the amount sits in escrow (unresolved or provisionally intercepted)."""
        return self.resolution is None or self.resolution.provisional

    @property
    def status(self) -> str:
        """The transaction's status now: held, executed or rejected."""
        return "held" if self.resolution is None else self.resolution.status


class Moves:
    """This height's movements of value so far, in final order.

    The ledger says where execution is (at: the transaction's position and id,
    or an end-of-height decision's); each movement recorded there takes the
    next seq. take() hands the height's movements over and starts afresh.
    """

    __slots__ = ("_height", "_out", "_position", "_seq", "_tx_id")

    def __init__(self) -> None:
        self._out: list[Movement] = []
        self._height = 0
        self._position = 0
        self._seq = 0
        self._tx_id = b""

    def at(self, height: int, position: int, tx_id: bytes) -> None:
        """Movements from now on belong to this height, position and causing transaction."""
        self._height, self._position, self._tx_id, self._seq = height, position, tx_id, 0

    def add(
        self, src: bytes, dst: bytes, amount: int, kind: str, src_after: int, dst_after: int
    ) -> None:
        """One movement of amount (> 0) from src to dst, at the current place, with
        both ends' balances after it (the caller has moved the value already)."""
        if src_after < 0 or dst_after < 0 or (src == dst and src_after != dst_after):
            raise ValueError(f"balances after a movement: {src_after}, {dst_after}")  # our bug
        self._out.append(
            Movement(
                self._height,
                self._position,
                self._seq,
                self._tx_id,
                src,
                dst,
                amount,
                kind,
                src_after,
                dst_after,
            )
        )
        self._seq += 1

    def transfer(self, src: bytes, dst: bytes, amount: int, src_after: int, dst_after: int) -> None:
        """An executed transfer, after both balances changed."""
        self.add(src, dst, amount, _TRANSFER, src_after, dst_after)

    def escrow(self, sender: bytes, tx_id: bytes, amount: int, sender_after: int) -> None:
        """A held transfer's amount into its own escrow account (which then holds just it)."""
        self.add(sender, escrow_of(tx_id), amount, _ESCROW, sender_after, amount)

    def take(self) -> tuple[Movement, ...]:
        """The movements recorded since the last take, in final order."""
        out, self._out = self._out, []
        return tuple(out)


class Holds:
    """Every hold ever made, by transaction id, and the escrow total."""

    def __init__(self) -> None:
        self.by_tx: dict[bytes, Hold] = {}
        self.escrow = 0
        self._dirty: set[bytes] = set()
        self.moves = Moves()

    def get(self, tx_id: bytes) -> Hold | None:
        """The hold of a transaction, resolved or not."""
        return self.by_tx.get(tx_id)

    def add(self, hold: Hold) -> None:
        """A new hold; its amount enters escrow (the caller debited the sender and
        records the movement: Moves.escrow)."""
        assert hold.tx_id not in self.by_tx and hold.resolution is None
        self.by_tx[hold.tx_id] = hold
        self.escrow += hold.amount
        self._dirty.add(hold.tx_id)

    def resolve(
        self,
        tx_id: bytes,
        resolution: Resolution | None,
        accounts: Mapping[bytes, Account] | None = None,
    ) -> Hold:
        """Set (or clear, None) the resolution; escrow follows. Returns the new hold.

        accounts: when the amount leaves escrow for good, the balances with the
        payee already credited (the movement records the payee's balance after it).
        """
        old = self.by_tx[tx_id]
        new = msgspec.structs.replace(old, resolution=resolution)
        self.escrow += (new.escrowed - old.escrowed) * old.amount
        assert self.escrow >= 0
        self.by_tx[tx_id] = new
        self._dirty.add(tx_id)
        if old.amount and old.escrowed and not new.escrowed:
            # Out of escrow for good: the escrow account is empty after it.
            released = new.status == _EXECUTED
            payee = old.to if released else old.sender
            if accounts is None or payee not in accounts:
                raise ValueError("a hold leaving escrow needs the payee credited")  # our bug
            kind = _RELEASE if released else _INTERCEPT
            self.moves.add(escrow_of(tx_id), payee, old.amount, kind, 0, accounts[payee].balance)
        return new

    def writes(self) -> list[Any]:
        """Holds changed this height, sorted by id (state hash)."""
        if not self._dirty:
            return []
        out = [self.by_tx[t] for t in sorted(self._dirty)]
        self._dirty.clear()
        return out
