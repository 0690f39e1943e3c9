"""Fund-tracing measures' state: liens on part of a balance, and watched accounts.

One registered namespace ("funds") for freeze-amount, unfreeze-amount, watch
and unwatch (state/actions/). It is committed into the state root only at
heights where it changes, so a chain that never uses these actions hashes
exactly as before they existed.

Liens keep their history: each `Lien` is a segment in force from the end of
height `start` until the end of height `end` (open: None). A partial lift
ends a segment and opens its remainder right after it in the address's list,
so the list stays in the order the liens were first imposed and "newest
first" means from the end of the list. `frozen_at(address, h)` is what was
in force after executing h, which the trace engine reads at its snapshot
height so a trace result stays reproducible after later freezes.

Watches are kept while in force; one whose `until` has passed governs
nothing (transfers compare `until` with their height), and the watch and
unwatch enactments drop such entries, so no per-height sweep is needed.

The transfer hot path reads one dict, `guards` (address -> Guard), which
holds only addresses with a lien in force or a watch.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

NAMESPACE = "funds"
LIEN_RECORDS_MAX = 100_000  # lien segments kept on the chain, history included
LIEN_RECORDS_PER_ADDRESS_MAX = 256  # bounds frozen_at's work per account
WATCHES_MAX = 256  # watches in force
WATCH_ADDRESSES_MAX = 64  # addresses of one watch
TRACE_CASE_BYTES_MAX = 4_096  # a freeze-amount's cited trace case, canonical msgpack
CASE_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
CASE_ID_RULE = "case id must be [A-Za-z0-9_.:-]{1,64}"

# Audit kinds of the enactments (the ledger writes the entry from the Effect).
AUDIT_LIEN = "lien"
AUDIT_LIEN_LIFTED = "lien_lifted"
AUDIT_WATCH = "watch"
AUDIT_WATCH_ENDED = "watch_ended"


def case_id_error(case: str, optional: bool = False) -> str | None:
    """Why a case id is bad, or None (optional: the empty string is allowed)."""
    if optional and case == "":
        return None
    return None if CASE_ID_PATTERN.fullmatch(case) else CASE_ID_RULE


def case_subject(case: str) -> str:
    """A case as audit entries name it."""
    return f"case:{case}"


class Lien(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A segment of a lien: amount frozen from the end of `start` to the end of `end`.

    since: the height the lien was first in force (a remainder keeps it).
    """

    amount: int
    proposal: str
    since: int
    start: int
    end: int | None = None

    def in_force_at(self, height: int) -> bool:
        """True when in force after executing height."""
        return self.start <= height and (self.end is None or height < self.end)


class Watch(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Outgoing transfers of addresses are held through height `until`."""

    proposal: str
    case: str
    until: int
    addresses: tuple[bytes, ...]
    since: int  # the height at whose end it took effect


class Guard:
    """What a transfer of one address must respect: liens in force and watches."""

    __slots__ = ("frozen", "lien_ref", "watches")

    def __init__(self) -> None:
        self.frozen = 0  # sum of the liens in force
        self.lien_ref: str | None = None  # the newest lien's proposal
        self.watches: list[tuple[int, str]] = []  # (until, proposal), in enactment order

    def watch_ref(self, height: int) -> str | None:
        """The newest watch in force at height (its proposal), or None."""
        for until, proposal in reversed(self.watches):
            if height <= until:
                return proposal
        return None


class Funds:
    """The namespace: lien history by address, watches by proposal, guards."""

    def __init__(self) -> None:
        self.liens: dict[bytes, list[Lien]] = {}
        self.watches: dict[str, Watch] = {}  # in enactment order
        self.guards: dict[bytes, Guard] = {}
        self.records = 0
        self._dirty_liens: set[bytes] = set()
        self._dirty_watches: set[str] = set()

    # -- reads --------------------------------------------------------------------
    def frozen(self, address: bytes) -> int:
        """The liens in force on address now."""
        g = self.guards.get(address)
        return g.frozen if g is not None else 0

    def frozen_at(self, address: bytes, height: int) -> int:
        """The liens in force on address after executing height."""
        return sum(s.amount for s in self.liens.get(address, ()) if s.in_force_at(height))

    def liens_in_force(self, address: bytes) -> list[Lien]:
        """The open segments of address, oldest lien first."""
        return [s for s in self.liens.get(address, ()) if s.end is None]

    def watches_of(self, address: bytes, height: int) -> list[Watch]:
        """Watches of address that govern transfers after executing height, oldest first."""
        return [w for w in self.watches.values() if w.until > height and address in w.addresses]

    def lien_room(self, address: bytes, segments: int = 1) -> str | None:
        """Why `segments` more lien records cannot be kept, or None."""
        if self.records + segments > LIEN_RECORDS_MAX:
            return f"the lien book is full ({LIEN_RECORDS_MAX} records)"
        if len(self.liens.get(address, ())) + segments > LIEN_RECORDS_PER_ADDRESS_MAX:
            return f"the address has {LIEN_RECORDS_PER_ADDRESS_MAX} lien records, the most kept"
        return None

    # -- liens --------------------------------------------------------------------
    def add_lien(self, address: bytes, amount: int, proposal: str, height: int) -> None:
        """A new lien in force from the end of height (the caller checked room and balance)."""
        self.liens.setdefault(address, []).append(Lien(amount, proposal, height, height))
        self.records += 1
        self._changed(address)

    def lift_splits(self, address: bytes, amount: int) -> bool:
        """True when lifting amount, newest first, would end a lien only in part."""
        left = amount
        for s in reversed(self.liens_in_force(address)):
            if left <= s.amount:
                return left < s.amount
            left -= s.amount
        return False

    def lift(self, address: bytes, amount: int, height: int) -> list[str]:
        """Lift amount of address's liens, newest first, at the end of height.

        The caller checked amount <= frozen(address) and room for one record.
        Returns the proposals of the liens it lifted (in part or whole).
        """
        segments = self.liens[address]
        lifted: list[str] = []
        left = amount
        for i in range(len(segments) - 1, -1, -1):
            s = segments[i]
            if s.end is not None:
                continue
            if left == 0:
                break
            segments[i] = msgspec.structs.replace(s, end=height)
            lifted.append(s.proposal)
            if s.amount > left:
                rest = Lien(s.amount - left, s.proposal, s.since, height)
                segments.insert(i + 1, rest)
                self.records += 1
                left = 0
            else:
                left -= s.amount
        self._changed(address)
        return lifted

    def end_liens_of(self, address: bytes, proposal: str, height: int) -> int:
        """End what is left of proposal's lien on address; returns the amount ended."""
        segments = self.liens.get(address, [])
        ended = 0
        for i, s in enumerate(segments):
            if s.end is None and s.proposal == proposal:
                segments[i] = msgspec.structs.replace(s, end=height)
                ended += s.amount
        if ended:
            self._changed(address)
        return ended

    # -- watches ------------------------------------------------------------------
    def add_watch(self, watch: Watch) -> None:
        """A new watch (the caller checked the list's room and its until)."""
        self.watches[watch.proposal] = watch
        self._dirty_watches.add(watch.proposal)
        for a in watch.addresses:
            self._reguard(a)

    def end_watch(self, proposal: str) -> Watch | None:
        """End the watch of proposal; returns it, or None when none is in the list."""
        watch = self.watches.pop(proposal, None)
        if watch is not None:
            self._dirty_watches.add(proposal)
            for a in watch.addresses:
                self._reguard(a)
        return watch

    def end_case(self, case: str) -> list[Watch]:
        """End every watch of a case; returns them in enactment order."""
        ended = [w for w in self.watches.values() if w.case == case]
        for w in ended:
            self.end_watch(w.proposal)
        return ended

    def drop_expired(self, height: int) -> None:
        """Drop watches that govern no transfer after height (until <= height)."""
        for w in [w for w in self.watches.values() if w.until <= height]:
            self.end_watch(w.proposal)

    # -- bookkeeping --------------------------------------------------------------
    def _changed(self, address: bytes) -> None:
        self._dirty_liens.add(address)
        self._reguard(address)

    def _reguard(self, address: bytes) -> None:
        """Recompute address's guard from its liens and the watches naming it."""
        g = Guard()
        open_ = self.liens_in_force(address)
        g.frozen = sum(s.amount for s in open_)
        g.lien_ref = open_[-1].proposal if open_ else None
        g.watches = [(w.until, w.proposal) for w in self.watches.values() if address in w.addresses]
        if g.frozen or g.watches:
            self.guards[address] = g
        else:
            self.guards.pop(address, None)

    def writes(self) -> list[Any] | None:
        """[[address, segments]...], [[proposal, watch or None]...] when changed, else None."""
        if not self._dirty_liens and not self._dirty_watches:
            return None
        liens = [[a, self.liens[a]] for a in sorted(self._dirty_liens)]
        watches = [[p, self.watches.get(p)] for p in sorted(self._dirty_watches)]
        self._dirty_liens.clear()
        self._dirty_watches.clear()
        return [liens, watches]

    def status(self) -> dict[str, Any]:
        """Nothing for `govchain status`: liens and watches show on accounts."""
        return {}
