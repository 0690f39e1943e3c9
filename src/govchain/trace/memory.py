"""An in-memory MovementSource, for tests and the docs' examples."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator

from govchain.trace.movements import Movement


class MemorySource:
    """Movements held in a list, served per account in final order."""

    def __init__(self, movements: Iterable[Movement] = (), top_height: int | None = None) -> None:
        self.movements = sorted(movements, key=lambda m: m.order)
        orders = [m.order for m in self.movements]
        if len(set(orders)) != len(orders):
            raise ValueError("two movements share one place in final order")
        self._top = top_height
        self._by_account: dict[bytes, list[Movement]] = {}
        for m in self.movements:
            self._by_account.setdefault(m.src, []).append(m)
            if m.dst != m.src:
                self._by_account.setdefault(m.dst, []).append(m)
        self._heights = {a: [m.height for m in ms] for a, ms in self._by_account.items()}

    def movements_of(self, account: bytes, from_height: int, to_height: int) -> Iterator[Movement]:
        """Movements into or out of account within the heights, in final order."""
        for m in self._by_account.get(account, []):
            if from_height <= m.height <= to_height:
                yield m

    def last_before(self, account: bytes, height: int) -> Movement | None:
        """The account's last movement at a height below `height` (None: none)."""
        i = bisect_left(self._heights.get(account, []), height)
        return self._by_account[account][i - 1] if i else None

    def top_height(self) -> int:
        """The given top height, else the highest height held (0 when empty)."""
        if self._top is not None:
            return self._top
        return self.movements[-1].height if self.movements else 0
