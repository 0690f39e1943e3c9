"""The replica's bookkeeping that peers feed, each within a byte budget and a per-source share.

Entries here have a fixed size, so their bytes are a count times what one
entry costs in memory (measured with tracemalloc on CPython 3.12, rounded up).
A source is a peer name: cheap to multiply in tests and the simulator, bounded
by `NetLimits.connections_max` in a node. So both a per-source share and a
budget for all sources together apply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

# A wanted id: its key, its Want, and its place in its source's ordered set.
WANTED_ENTRY_BYTES = 400
# A catch-up stamp: the (peer, height) key, its time, and the dict slots.
CATCHUP_ENTRY_BYTES = 256


@dataclass(slots=True)
class Want:
    """One id to fetch: when it was last asked for, how often, and since when."""

    asked_ms: int
    tries: int  # requests so far: the next waits fetch_retry_ms << tries (capped)
    first_ms: int
    # The source whose orphan needs this id as a parent, or None when this
    # replica needs it itself (a proposal's or a decided checkpoint's tip).
    source: str | None


class Wanted:
    """Ids being fetched: peers' shares are bounded, and this replica's own needs come first.

    A peer's orphans can only want so much (`bytes_per_source_max`); all of
    it together stays within `bytes_max`. When the budget is spent, an id
    this replica itself needs takes the place of the oldest id wanted for the
    source that holds the most: consensus is never starved by gossip.
    The replica reads it like a dict (`in`, `pop`, `len`).
    """

    def __init__(self, bytes_max: int, bytes_per_source_max: int) -> None:
        self.count_max = bytes_max // WANTED_ENTRY_BYTES
        self.count_per_source_max = bytes_per_source_max // WANTED_ENTRY_BYTES
        self._wants: dict[bytes, Want] = {}
        self._ids_of: dict[str | None, dict[bytes, None]] = {}

    def __contains__(self, vid: object) -> bool:
        return vid in self._wants

    def __len__(self) -> int:
        return len(self._wants)

    def get(self, vid: bytes) -> Want | None:
        """The entry for vid, if it is wanted."""
        return self._wants.get(vid)

    def items(self) -> Iterator[tuple[bytes, Want]]:
        """Every wanted id with its entry, oldest first (a snapshot: safe to change meanwhile)."""
        return iter(list(self._wants.items()))

    def pop(self, vid: bytes, default: Want | None = None) -> Want | None:
        """Stop wanting vid (it arrived, or it is no longer needed)."""
        want = self._wants.pop(vid, None)
        if want is None:
            return default
        ids = self._ids_of[want.source]
        del ids[vid]
        if not ids:
            del self._ids_of[want.source]
        return want

    def add(self, vid: bytes, want: Want) -> bool:
        """Want vid, charged to want.source; False when its share or the budget has no room."""
        if vid in self._wants:
            return True
        source = want.source
        if source is not None and len(self._ids_of.get(source, ())) >= self.count_per_source_max:
            return False
        if len(self._wants) >= self.count_max and not self._evict_for(source):
            return False
        self._wants[vid] = want
        self._ids_of.setdefault(source, {})[vid] = None
        return True

    def _evict_for(self, source: str | None) -> bool:
        """Make room for one of this replica's own needs; peers' entries never evict."""
        if source is not None:
            return False
        peers = [(len(ids), s) for s, ids in self._ids_of.items() if s is not None]
        if not peers:
            return False
        _, victim = max(peers)
        self.pop(next(iter(self._ids_of[victim])))
        return True

    def used_bytes(self) -> int:
        """What the wanted ids cost in memory."""
        return len(self._wants) * WANTED_ENTRY_BYTES

    def most_bytes_per_source(self) -> int:
        """What the peer with the most wanted ids has them cost."""
        counts = [len(ids) for s, ids in self._ids_of.items() if s is not None]
        return max(counts, default=0) * WANTED_ENTRY_BYTES


class SentBook:
    """When catch-up help last went to (peer, height): a rate limit that forgets old stamps.

    A stamp older than `interval_ms` allows the next help anyway, so it is
    dropped; the fresh ones are bounded per peer and in all. When there is no
    room, no help is sent: a peer that floods requests gets nothing more.
    """

    def __init__(self, interval_ms: int, bytes_max: int, bytes_per_source_max: int) -> None:
        self.interval_ms = interval_ms
        self.count_max = bytes_max // CATCHUP_ENTRY_BYTES
        self.count_per_source_max = bytes_per_source_max // CATCHUP_ENTRY_BYTES
        # Oldest first: a stamp is moved to the end when renewed.
        self._sent: dict[tuple[str, int], int] = {}
        self._count_of: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._sent)

    def allow(self, peer: str, height: int, now_ms: int) -> bool:
        """True, and stamped, when (peer, height) may be helped now."""
        key = (peer, height)
        last = self._sent.get(key)
        if last is not None and now_ms - last < self.interval_ms:
            return False
        self.forget_old(now_ms)
        if key in self._sent:
            self._remove(key)
        if (
            self._count_of.get(peer, 0) >= self.count_per_source_max
            or len(self._sent) >= self.count_max
        ):
            return False
        self._sent[key] = now_ms
        self._count_of[peer] = self._count_of.get(peer, 0) + 1
        return True

    def forget_old(self, now_ms: int) -> None:
        """Drop the stamps that no longer hold anything back (oldest first)."""
        while self._sent:
            key, at = next(iter(self._sent.items()))
            if now_ms - at < self.interval_ms:
                return  # a clock stepping back only delays forgetting
            self._remove(key)

    def _remove(self, key: tuple[str, int]) -> None:
        del self._sent[key]
        left = self._count_of[key[0]] - 1
        if left:
            self._count_of[key[0]] = left
        else:
            del self._count_of[key[0]]

    def used_bytes(self) -> int:
        """What the stamps cost in memory."""
        return len(self._sent) * CATCHUP_ENTRY_BYTES

    def most_bytes_per_source(self) -> int:
        """What the peer with the most stamps has them cost."""
        return max(self._count_of.values(), default=0) * CATCHUP_ENTRY_BYTES


class Claim(NamedTuple):
    """The height a validator's message named, and when it arrived."""

    height: int
    at_ms: int


class PeerHeights:
    """The highest height each validator's messages named lately: is this replica behind?

    Fed only from peers that are validators of the current set, so it holds at
    most one entry per validator; a claim counts for `window_ms`. One validator
    cannot make a replica think it is behind: that takes validators with more
    than a third of the weight (one of them honest).
    """

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self._seen: dict[bytes, Claim] = {}  # by public key

    def saw(self, key: bytes, height: int, now_ms: int) -> None:
        """The validator with this key sent a message for height."""
        old = self._seen.get(key)
        if old is None or height >= old.height or now_ms - old.at_ms >= self.window_ms:
            self._seen[key] = Claim(height, now_ms)

    def highest(self, now_ms: int) -> tuple[bytes, int] | None:
        """The validator that named the highest height within the window, and that height."""
        live = [(h, k) for k, (h, t) in self._seen.items() if now_ms - t < self.window_ms]
        if not live:
            return None
        height, key = max(live)
        return key, height

    def ahead_weight(self, height: int, weight_of: Callable[[bytes], int], now_ms: int) -> int:
        """The weight of validators that named height or above within the window."""
        return sum(
            weight_of(k)
            for k, (h, t) in self._seen.items()
            if h >= height and now_ms - t < self.window_ms
        )
