"""One account's books under each policy: how taint sits in a balance and how it leaves.

A parcel is what a movement carries: segments (amount, seed index) in unit
order, covering the whole amount; seed index CLEAN marks untainted units.
Integer arithmetic only.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from govchain.trace.case import Policy

CLEAN = -1
Segment = tuple[int, int]  # (amount, seed index or CLEAN)
Parcel = list[Segment]


class BookError(RuntimeError):
    """An account spent more than it held: the movement source broke its own invariant."""


class Book(Protocol):
    """An account's balance and the taint in it."""

    balance: int

    def credit(self, parcel: Parcel) -> None:
        """Money arrives."""
        ...

    def debit(self, amount: int) -> Parcel:
        """Money leaves; which units leave is the policy."""
        ...

    def taint_newest(self, amount: int, index: int) -> int:
        """Taint up to amount of the newest clean units as seed index; the amount tainted."""
        ...

    def tainted(self) -> dict[int, int]:
        """Taint held now, per seed index."""
        ...

    def cap(self) -> int:
        """The most a freeze may claim here under the policy."""
        ...


def parcel_taint(parcel: Parcel) -> int:
    """Tainted units in a parcel."""
    return sum(amount for amount, index in parcel if index != CLEAN)


def _push(segments: deque[list[int]], amount: int, index: int) -> None:
    if amount <= 0:
        return
    if segments and segments[-1][1] == index:
        segments[-1][0] += amount
    else:
        segments.append([amount, index])


class FifoBook:
    """First in, first out lots (Clayton's case): units leave in the order they arrived."""

    def __init__(self, balance: int) -> None:
        self.balance = balance
        self.segments: deque[list[int]] = deque()
        _push(self.segments, balance, CLEAN)

    def credit(self, parcel: Parcel) -> None:
        """Append the parcel's segments, in order, behind what the account holds."""
        for amount, index in parcel:
            _push(self.segments, amount, index)
            self.balance += amount

    def debit(self, amount: int) -> Parcel:
        """Take amount units from the front: the oldest leave first."""
        if amount > self.balance:
            raise BookError(f"debit of {amount} from a balance of {self.balance}")
        self.balance -= amount
        out: Parcel = []
        while amount:
            head = self.segments[0]
            take = min(amount, head[0])
            out.append((take, head[1]))
            head[0] -= take
            amount -= take
            if head[0] == 0:
                self.segments.popleft()
        return out

    def taint_newest(self, amount: int, index: int) -> int:
        """Retag the newest clean units, walking from the back."""
        kept: list[list[int]] = []
        left = amount
        for seg_amount, seg_index in reversed(self.segments):
            if left and seg_index == CLEAN:
                take = min(left, seg_amount)
                left -= take
                kept.append([take, index])
                if seg_amount > take:
                    kept.append([seg_amount - take, CLEAN])
            else:
                kept.append([seg_amount, seg_index])
        self.segments = deque()
        for seg_amount, seg_index in reversed(kept):
            _push(self.segments, seg_amount, seg_index)
        return amount - left

    def tainted(self) -> dict[int, int]:
        """Tainted units per seed index."""
        out: dict[int, int] = {}
        for amount, index in self.segments:
            if index != CLEAN:
                out[index] = out.get(index, 0) + amount
        return out

    def cap(self) -> int:
        """Under FIFO all the taint held is claimable."""
        return sum(self.tainted().values())


class LibrBook(FifoBook):
    """FIFO lots, with the lowest intermediate balance since the taint arrived capping the claim.

    The window opens when the account goes from no taint to some, and closes
    when the taint is gone; later deposits never raise the low-water mark.
    """

    def __init__(self, balance: int) -> None:
        super().__init__(balance)
        self.low: int | None = None

    def _watch(self) -> None:
        if not any(index != CLEAN for _, index in self.segments):
            self.low = None
        elif self.low is None:
            self.low = self.balance
        else:
            self.low = min(self.low, self.balance)

    def credit(self, parcel: Parcel) -> None:
        """As FIFO; the window may open."""
        super().credit(parcel)
        self._watch()

    def debit(self, amount: int) -> Parcel:
        """As FIFO; the low-water mark may fall."""
        out = super().debit(amount)
        self._watch()
        return out

    def taint_newest(self, amount: int, index: int) -> int:
        """As FIFO; the window may open."""
        done = super().taint_newest(amount, index)
        self._watch()
        return done

    def cap(self) -> int:
        """min(taint held, lowest balance since the taint arrived)."""
        held = super().cap()
        return held if self.low is None else min(held, self.low)


class HaircutBook:
    """Proportional: each outflow carries each seed's share of the balance, rounded down.

    The remainder of the floor division stays in the account, so taint is
    conserved exactly and an account that is emptied passes on all of it;
    where several seeds' remainders would outgrow the balance left, the excess
    leaves too (lowest seed index first): taint never exceeds the balance.
    """

    def __init__(self, balance: int) -> None:
        self.balance = balance
        self.taint: dict[int, int] = {}

    def credit(self, parcel: Parcel) -> None:
        """Add the parcel's taint and amount."""
        for amount, index in parcel:
            self.balance += amount
            if index != CLEAN:
                self.taint[index] = self.taint.get(index, 0) + amount

    def debit(self, amount: int) -> Parcel:
        """Each seed's share: floor(taint * amount / balance); then, if the remainders
        would be more taint than the balance left, the excess too (lowest seed first)."""
        if amount > self.balance:
            raise BookError(f"debit of {amount} from a balance of {self.balance}")
        shares: dict[int, int] = {}
        for index in sorted(self.taint):
            share = self.taint[index] * amount // self.balance
            if share:
                self.taint[index] -= share
                shares[index] = share
        self.balance -= amount
        # Two seeds' remainders, each rounded down on its own, can add up to more
        # than the balance left: taint may never exceed the money that holds it.
        excess = sum(self.taint.values()) - self.balance
        for index in sorted(self.taint):
            if excess <= 0:
                break
            take = min(excess, self.taint[index])
            self.taint[index] -= take
            shares[index] = shares.get(index, 0) + take
            excess -= take
        self.taint = {i: t for i, t in self.taint.items() if t}
        out: Parcel = [(shares[i], i) for i in sorted(shares)]
        rest = amount - parcel_taint(out)
        if rest:
            out.append((rest, CLEAN))
        return out

    def taint_newest(self, amount: int, index: int) -> int:
        """Taint up to the clean part of the balance (order does not matter here)."""
        done = min(amount, self.balance - sum(self.taint.values()))
        if done:
            self.taint[index] = self.taint.get(index, 0) + done
        return done

    def tainted(self) -> dict[int, int]:
        """Taint per seed index."""
        return dict(self.taint)

    def cap(self) -> int:
        """Scoring only: nothing is claimable on a proportional score."""
        return 0


class PoisonBook:
    """Once taint arrives, the whole account and everything it sends is tainted.

    Not conservative (taint multiplies); a parcel carries the lowest seed index
    among those that reached the account.
    """

    def __init__(self, balance: int) -> None:
        self.balance = balance
        self.seeds: set[int] = set()

    def credit(self, parcel: Parcel) -> None:
        """Any tainted unit poisons the account."""
        for amount, index in parcel:
            self.balance += amount
            if index != CLEAN:
                self.seeds.add(index)

    def debit(self, amount: int) -> Parcel:
        """All or nothing."""
        if amount > self.balance:
            raise BookError(f"debit of {amount} from a balance of {self.balance}")
        self.balance -= amount
        return [(amount, min(self.seeds) if self.seeds else CLEAN)]

    def taint_newest(self, amount: int, index: int) -> int:
        """Poison the account if it holds anything."""
        done = min(amount, self.balance)
        if done:
            self.seeds.add(index)
        return done

    def tainted(self) -> dict[int, int]:
        """The whole balance, under the lowest seed index."""
        return {min(self.seeds): self.balance} if self.seeds and self.balance else {}

    def cap(self) -> int:
        """Scoring only."""
        return 0


def open_book(policy: str, balance: int) -> Book:
    """A fresh book holding balance clean units."""
    if policy == Policy.FIFO:
        return FifoBook(balance)
    if policy == Policy.LIBR:
        return LibrBook(balance)
    if policy == Policy.HAIRCUT:
        return HaircutBook(balance)
    return PoisonBook(balance)
