"""One account's movements in the window, with its FIFO unit numbering.

Under first in, first out, the k-th unit to leave an account is the k-th to
arrive. Number the units in arrival order (the opening balance first, then
each credit's units in final order); each credit covers an arrival interval
and each debit a departure interval of the same numbering.
"""

from __future__ import annotations

from bisect import bisect_right

from govchain.trace.movements import (
    Movement,
    MovementSource,
    balance_after,
    balance_before,
    last_before,
)


def delta(account: bytes, m: Movement) -> int:
    """What the movement does to the account's balance."""
    return (m.amount if m.dst == account else 0) - (m.amount if m.src == account else 0)


def opening_balance(account: bytes, movements: list[Movement]) -> int:
    """The least opening balance that keeps every running balance non-negative."""
    running = low = 0
    for m in movements:
        if m.src == account:  # debit first: a transfer to oneself still needs the money
            low = min(low, running - m.amount)
        running += delta(account, m)
        low = min(low, running)
    return -low


def window(account: bytes, movements: list[Movement], lo: int) -> tuple[int, list[Movement]]:
    """The balance at the start of height lo, and the movements from lo on, inferred.

    For movements stored without the balances after them (balance_at_start
    reads those). movements: the account's whole history up to the snapshot. A
    source that holds it from genesis (trace/genesis.py) makes the opening
    exact; one that starts later gets the least opening balance that keeps it
    non-negative.
    Under first in, first out the money held at lo's start is the oldest, so
    the window's books open with it as one lot.
    """
    opening = opening_balance(account, movements)
    cut = 0
    while cut < len(movements) and movements[cut].height < lo:
        opening += delta(account, movements[cut])
        cut += 1
    return opening, movements[cut:]


def balance_at_start(
    source: MovementSource, account: bytes, lo: int, movements: list[Movement]
) -> tuple[int, int]:
    """The account's balance at the start of height lo from the balances movements
    record (UNKNOWN where unrecorded), and how many more movements that read (0 or 1).

    movements: the account's movements from lo on. Their first gives the balance
    just before it; with none, the last movement before lo gives the balance after it.
    """
    if movements:
        return balance_before(account, movements[0]), 0
    if lo <= 0:
        return 0, 0  # nothing moves before height 0
    last = last_before(source, account, lo)
    if last is None:
        return 0, 0
    return balance_after(account, last), 1  # one movement, however the source finds it


class History:
    """An account's movements, opening balance and unit intervals."""

    def __init__(self, account: bytes, movements: list[Movement], opening: int) -> None:
        self.account = account
        self.movements = movements
        self.opening = opening
        self.arrival: dict[int, int] = {}  # movement index -> first unit it credits
        self.departure: dict[int, int] = {}  # movement index -> first unit it debits
        self.credits: list[int] = []  # arrival starts, ascending
        self.credit_index: list[int] = []  # the movement index of each
        arrived, departed = self.opening, 0
        for i, m in enumerate(movements):
            if m.src == account:
                self.departure[i] = departed
                departed += m.amount
            if m.dst == account:
                self.arrival[i] = arrived
                self.credits.append(arrived)
                self.credit_index.append(i)
                arrived += m.amount

    def units_at_end_of(self, height: int) -> tuple[int, int]:
        """The unit interval the account holds after every movement up to height."""
        arrived, departed = self.opening, 0
        for m in self.movements:
            if m.height > height:
                break
            arrived += m.amount if m.dst == self.account else 0
            departed += m.amount if m.src == self.account else 0
        return departed, arrived

    def sources(self, start: int, end: int) -> tuple[int, list[tuple[int, int, int]]]:
        """Where units [start, end) came from: (units of the opening balance, [(movement
        index, first offset in it, last offset + 1)] for each credit they overlap)."""
        opening = max(0, min(end, self.opening) - start)
        out: list[tuple[int, int, int]] = []
        k = max(0, bisect_right(self.credits, start) - 1)
        while k < len(self.credits) and self.credits[k] < end:
            i = self.credit_index[k]
            first = self.credits[k]
            last = first + self.movements[i].amount
            lo, hi = max(start, first), min(end, last)
            if lo < hi:
                out.append((i, lo - first, hi - first))
            k += 1
        return opening, out
