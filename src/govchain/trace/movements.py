"""A final movement of value: what the index stores and the trace engine reads.

Every final movement of value, in final order: the checkpoint's height, then
the transaction's position in that checkpoint's order, then the movement's
place within the transaction (a held transfer moves value twice: into escrow
when it is final, out of escrow when a decision releases or intercepts it; that
second movement belongs to the decision's height and position).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Protocol

import msgspec

# The account escrow is booked under in movements (never a real address: real
# ones are 20 bytes, this one is 20 zero bytes, which no key hashes to in practice).
ESCROW = bytes(20)


class MovementKind(StrEnum):
    """Why value moved."""

    TRANSFER = "transfer"  # sender -> recipient, executed
    ESCROW = "escrow"  # sender -> ESCROW: a held transfer
    RELEASE = "release"  # ESCROW -> recipient: a hold released
    INTERCEPT = "intercept"  # ESCROW -> sender: a hold intercepted (funds returned)


class Movement(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """One final movement of `amount` from `src` to `dst` (addresses, 20 bytes)."""

    height: int  # the checkpoint that made it final
    position: int  # the causing transaction's index in that checkpoint's final order
    seq: int  # its place among that transaction's movements (0, 1, ...)
    tx_id: bytes  # the transaction that caused it (for a release: the deciding one)
    src: bytes
    dst: bytes
    amount: int  # > 0
    kind: str  # a MovementKind

    @property
    def order(self) -> tuple[int, int, int]:
        """Final order: height, then position in the checkpoint, then seq."""
        return (self.height, self.position, self.seq)


class MovementSource(Protocol):
    """Where the engine reads movements: the store's index (or any other implementation)."""

    def movements_of(self, account: bytes, from_height: int, to_height: int) -> Iterator[Movement]:
        """Movements into or out of account within the heights, in final order."""
        ...

    def top_height(self) -> int:
        """The highest height indexed (the snapshot a trace reads)."""
        ...
