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
from typing import Protocol, cast

import msgspec

from govchain.codec import digest

ADDRESS_BYTES = 20
ESCROW_DOMAIN = b"govchain/escrow/v1"
# Genesis balances enter the books as movements at height 0 from this account
# (20 zero bytes: no key hashes to it in practice), so every account's history
# is complete and an opening balance is never guessed.
GENESIS = bytes(ADDRESS_BYTES)


def escrow_of(tx_id: bytes) -> bytes:
    """The account a held transaction's amount waits in: one per hold, never a key's.

    One escrow account per hold, not one for all: a release pays out exactly
    the money its own hold took in, so a trace through escrow never mixes holds.
    """
    return digest(ESCROW_DOMAIN, tx_id)[:ADDRESS_BYTES]


class MovementKind(StrEnum):
    """Why value moved."""

    TRANSFER = "transfer"  # sender -> recipient, executed
    ESCROW = "escrow"  # sender -> escrow_of(held tx): a held transfer
    RELEASE = "release"  # escrow_of(held tx) -> recipient: a hold released
    INTERCEPT = "intercept"  # escrow_of(held tx) -> sender: a hold intercepted (returned)
    GENESIS = "genesis"  # GENESIS -> account at height 0: a genesis balance


# A balance after a movement that was not recorded (movements stored before
# balances were, or built by hand): the engine then infers what it needs.
UNKNOWN = -1


class Movement(
    msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True, omit_defaults=True
):
    """One final movement of `amount` from `src` to `dst` (addresses, 20 bytes).

    src_after and dst_after are both ends' balances right after it (a hold's
    escrow account: what it holds; GENESIS: the genesis balances not yet
    served), so an account's balance just before a movement follows from the
    movement alone. They come last with UNKNOWN as default, so rows written
    before them decode, and encode again as they were (trailing defaults omitted).
    """

    height: int  # the checkpoint that made it final
    position: int  # the causing transaction's index in that checkpoint's final order
    seq: int  # its place among that transaction's movements (0, 1, ...)
    tx_id: bytes  # the transaction that caused it (a release: the deciding one; genesis: b"")
    src: bytes
    dst: bytes
    amount: int  # > 0
    kind: str  # a MovementKind
    src_after: int = UNKNOWN  # src's balance after it (a transfer to oneself: both the same)
    dst_after: int = UNKNOWN  # dst's balance after it

    @property
    def order(self) -> tuple[int, int, int]:
        """Final order: height, then position in the checkpoint, then seq."""
        return (self.height, self.position, self.seq)


def balance_before(account: bytes, m: Movement) -> int:
    """The account's balance just before m (one of its ends), or UNKNOWN if unrecorded."""
    if m.src == account:
        after = m.src_after
        return UNKNOWN if after < 0 else after + m.amount - (m.amount if m.dst == account else 0)
    after = m.dst_after
    return UNKNOWN if after < 0 else after - m.amount


def balance_after(account: bytes, m: Movement) -> int:
    """The account's balance right after m (one of its ends), or UNKNOWN if unrecorded."""
    return m.src_after if m.src == account else m.dst_after


class MovementSource(Protocol):
    """Where the engine reads movements: the store's index (or any other implementation)."""

    def movements_of(self, account: bytes, from_height: int, to_height: int) -> Iterator[Movement]:
        """Movements into or out of account within the heights, in final order."""
        ...

    def top_height(self) -> int:
        """The highest height indexed (the snapshot a trace reads)."""
        ...


class LastBefore(Protocol):
    """A source that can also answer an account's last movement before a height.

    Optional: the engine asks for it only for the balance of a seed account
    that does not move in the window; a source without it is read instead.
    """

    def last_before(self, account: bytes, height: int) -> Movement | None:
        """The account's last movement at a height below `height` (None: none)."""
        ...


def last_before(source: MovementSource, account: bytes, height: int) -> Movement | None:
    """The account's last movement below height: the source's own look-up where it
    has one, else the last of its movements read from height 0."""
    if hasattr(source, "last_before"):
        return cast(LastBefore, source).last_before(account, height)
    last = None
    for m in source.movements_of(account, 0, height - 1):
        last = m
    return last
