"""A store's movement index frozen at one moment, readable from a worker thread.

A trace reads thousands of movements; on the node's event loop that would
stall consensus for as long. The store hands out a snapshot instead: reads
see the index as it was (up to `top`), whatever the node commits meanwhile,
and the trace runs on a worker thread. Close it when done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from govchain.trace.movements import Movement


class _Reads(Protocol):
    def movements_of(
        self, account: bytes, from_height: int, to_height: int
    ) -> Iterator[Movement]: ...

    def last_before(self, account: bytes, height: int) -> Movement | None: ...


class MovementSnapshot:
    """A MovementSource over reads that see one moment; heights above top are never asked."""

    def __init__(self, reads: _Reads, top: int, close: Callable[[], None] = lambda: None) -> None:
        self._reads = reads
        self._top = top
        self._close = close

    def movements_of(self, account: bytes, from_height: int, to_height: int) -> Iterator[Movement]:
        """Movements into or out of account within the heights (clipped to top), in order."""
        return self._reads.movements_of(account, from_height, min(to_height, self._top))

    def last_before(self, account: bytes, height: int) -> Movement | None:
        """The account's last movement below height (and at or below top)."""
        return self._reads.last_before(account, min(height, self._top + 1))

    def top_height(self) -> int:
        """The last height executed when the snapshot was taken."""
        return self._top

    def close(self) -> None:
        """Release what the snapshot holds (a read transaction); idempotent."""
        close, self._close = self._close, lambda: None
        close()
