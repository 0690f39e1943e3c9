"""The decided checkpoints with their certificates: the newest in memory, older ones stored.

A replica reads decided heights by index (height h is item h - 1): to serve
commits to a peer behind it, to check a receipt proof or a redaction against
the chain, to execute what it has decided. Keeping them all in memory cost
1.2 KB a height for ever, ~110 MB a day on an idle devnet (one empty
checkpoint a second), whatever the state. So only the newest `kept` heights
stay; an older one is read from the store. A height leaves memory only once
the replica has released it: loaded from the store, or handed to the shell
in a ready() before the last one (the shell commits what ready() gives
before any other input), so the store has it whenever it is read.

Without a source (a replica with no store behind it) every height stays.
Pure: the source is the store's read, handed in like the replica's others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, overload

from govchain.consensus.messages import Certificate, Checkpoint

Decided = tuple[Checkpoint, Certificate]
DecidedSource = Callable[[int], Decided | None]

# Decided heights kept in memory by default: far more than one step decides (a
# catch-up reply carries at most commits_per_reply_max), so a height is stored
# before it leaves; ~1.2 MB.
DECIDED_KEPT = 1_024


class MissingDecidedError(LookupError):
    """A decided height neither in memory nor in the store (the store lost it)."""


class DecidedLog(Sequence[Decided]):
    """Decided (checkpoint, certificate) pairs, height 1 first, the newest `kept` in memory."""

    __slots__ = ("_first", "_kept", "_released", "_source", "_tail")

    def __init__(
        self,
        source: DecidedSource | None = None,
        kept: int = DECIDED_KEPT,
        items: Iterable[Decided] = (),
    ) -> None:
        if kept < 1:
            raise ValueError("kept must be positive")
        self._source = source
        self._kept = kept
        self._first = 1  # the height of _tail[0]
        self._released = 0  # heights up to this one may leave memory
        self._tail: list[Decided] = []
        self.extend(items)

    def append(self, item: Decided) -> None:
        """Add the next decided height."""
        self._tail.append(item)
        self._trim()

    def release(self, height: int) -> None:
        """Heights up to height are stored: they may leave memory."""
        self._released = max(self._released, height)
        self._trim()

    def _trim(self) -> None:
        # In halves, not one at a time: a list's front is costly to cut.
        if self._source is None or len(self._tail) < 2 * self._kept:
            return
        cut = min(len(self._tail) - self._kept, self._released + 1 - self._first)
        if cut > 0:
            del self._tail[:cut]
            self._first += cut

    def extend(self, items: Iterable[Decided]) -> None:
        """Add decided heights in order."""
        for item in items:
            self.append(item)

    def __len__(self) -> int:
        return self._first - 1 + len(self._tail)

    @overload
    def __getitem__(self, index: int) -> Decided: ...

    @overload
    def __getitem__(self, index: slice) -> list[Decided]: ...

    def __getitem__(self, index: int | slice) -> Decided | list[Decided]:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"no decided height {index + 1}")
        return self._at(index)

    def _at(self, index: int) -> Decided:
        height = index + 1
        if height >= self._first:
            return self._tail[height - self._first]
        assert self._source is not None  # heights leave memory only with a source
        found = self._source(height)
        if found is None:
            raise MissingDecidedError(f"decided height {height} is neither in memory nor stored")
        return found

    def __iter__(self) -> Iterator[Decided]:
        for index in range(len(self)):
            yield self._at(index)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, DecidedLog | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def in_memory(self) -> int:
        """How many heights are held in memory (the rest are read from the store)."""
        return len(self._tail)
