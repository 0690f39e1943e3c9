"""Gossip waiting for admission: one queue per peer, taken in turn, within byte budgets.

Received `TxMsg`s are not admitted where they arrive: signature checks take
about 60 µs a transaction, and a peer can send tens of thousands. They wait
here and the node admits one slice at a time (at most `slice_txs_max`
transactions and `slice_bytes_max` bytes), yielding to the event loop between
slices, so that nothing else waits more than a few milliseconds.

Slices are taken from the peers in turn: a peer that floods waits behind its
own backlog, not in front of everyone else's. Its share (`bytes_per_peer_max`)
and the budget of all peers together (`bytes_max`) are what the node's reading
obeys: above either, that peer's connection stops reading until its part is
down to half (`Backlog.over` / `Backlog.has_room`). A spent budget also refuses
clients (the node's back-pressure); one peer can hold at most half of it.

No I/O and no clock here: the node owns the event loop and the futures that
pause a connection.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

# What a queued wire costs beyond its bytes: the bytes object's header and its
# slot in the message's tuple (CPython 3.12).
WIRE_UPKEEP_BYTES = 48


@dataclass(frozen=True, slots=True)
class BacklogLimits:
    """Limits of the gossip backlog, units last; relations are checked here."""

    bytes_max: int = 64 * 1024 * 1024  # all peers together
    bytes_per_peer_max: int = 8 * 1024 * 1024  # one peer's share
    slice_txs_max: int = 64  # transactions admitted before the loop runs anything else
    slice_bytes_max: int = 256 * 1024  # ... and their bytes (large payloads cost hashing)
    # A proposal waits at most this long for the gossip that arrived before it
    # (which most likely holds its tips) to be admitted, then goes to consensus.
    proposal_wait_ms: int = 100
    # Beyond these a proposal goes to consensus at once (an honest one is a few
    # KiB: at most 256 tips; a frame may hold 4 MiB).
    proposals_waiting_max: int = 16
    proposals_waiting_bytes_max: int = 256 * 1024

    def __post_init__(self) -> None:
        if (
            min(
                self.slice_txs_max,
                self.slice_bytes_max,
                self.proposals_waiting_max,
                self.proposals_waiting_bytes_max,
            )
            < 1
        ):
            raise ValueError("slice sizes and the proposals' wait limits must be positive")
        if self.proposal_wait_ms < 0:
            raise ValueError("proposal_wait_ms must not be negative")
        if not 0 < 2 * self.bytes_per_peer_max <= self.bytes_max:
            raise ValueError("bytes_per_peer_max must be positive and at most half of bytes_max")


def wire_cost_bytes(wires: tuple[bytes, ...]) -> int:
    """What queued wires are charged."""
    return sum(len(w) for w in wires) + WIRE_UPKEEP_BYTES * len(wires)


class Backlog:
    """Per-peer queues of received wires; every message gets a sequence number on arrival."""

    def __init__(self, limits: BacklogLimits) -> None:
        self.limits = limits
        # Peers with something queued, in the order they get their next slice.
        self._queues: dict[str, deque[tuple[int, tuple[bytes, ...]]]] = {}
        self._bytes_of: dict[str, int] = {}
        self.bytes = 0
        self.txs = 0
        self.next_seq = 0  # the number the next message will get

    def __bool__(self) -> bool:
        return bool(self._queues)

    def bytes_of(self, peer: str) -> int:
        """What peer's queued wires are charged."""
        return self._bytes_of.get(peer, 0)

    def push(self, peer: str, wires: tuple[bytes, ...]) -> None:
        """Queue a message's wires behind peer's earlier ones."""
        cost = wire_cost_bytes(wires)
        self._queues.setdefault(peer, deque()).append((self.next_seq, wires))
        self.next_seq += 1
        self._bytes_of[peer] = self._bytes_of.get(peer, 0) + cost
        self.bytes += cost
        self.txs += len(wires)

    def take(self) -> tuple[str, tuple[bytes, ...]] | None:
        """One slice from the next peer in turn (None: nothing queued)."""
        taken = self.take_slice()
        return None if taken is None else (taken[0], taken[1])

    def take_slice(self) -> tuple[str, tuple[bytes, ...], int] | None:
        """As take(), with the sequence number of the oldest message the slice holds wires of.

        A slice whose signatures are checked elsewhere first is not yet admitted:
        the node keeps this number so that proposals still wait for it.
        """
        if not self._queues:
            return None
        peer = next(iter(self._queues))
        queue = self._queues.pop(peer)
        first_seq = queue[0][0]
        limits = self.limits
        taken: list[bytes] = []
        size = 0
        while queue and len(taken) < limits.slice_txs_max and size < limits.slice_bytes_max:
            seq, wires = queue[0]
            n = 0
            for w in wires:
                if len(taken) >= limits.slice_txs_max or size >= limits.slice_bytes_max:
                    break
                taken.append(w)
                size += len(w) + WIRE_UPKEEP_BYTES
                n += 1
            if n == len(wires):
                queue.popleft()
            else:
                queue[0] = (seq, wires[n:])
        if queue:
            self._queues[peer] = queue  # to the back of the line
        self._uncharge(peer, size, len(taken))
        return peer, tuple(taken), first_seq

    def drop(self, peer: str) -> None:
        """Forget everything peer queued (it was blamed: its gossip is not worth checking)."""
        queue = self._queues.pop(peer, None)
        if queue is not None:
            self._uncharge(peer, self._bytes_of.get(peer, 0), sum(len(w) for _, w in queue))

    def _uncharge(self, peer: str, size: int, count: int) -> None:
        left = self._bytes_of[peer] - size
        if left:
            self._bytes_of[peer] = left
        else:
            del self._bytes_of[peer]
        self.bytes -= size
        self.txs -= count

    def oldest_seq(self) -> int | None:
        """The sequence number of the oldest message not yet wholly admitted."""
        return min((q[0][0] for q in self._queues.values()), default=None)

    def over(self, peer: str) -> bool:
        """True when peer's connection should stop reading: its share or the budget is spent."""
        limits = self.limits
        return self.bytes_of(peer) > limits.bytes_per_peer_max or self.bytes > limits.bytes_max

    def has_room(self, peer: str) -> bool:
        """True when a paused peer may be read again: its part and the total are down to half."""
        limits = self.limits
        return (
            self.bytes_of(peer) <= limits.bytes_per_peer_max // 2
            and self.bytes <= limits.bytes_max // 2
        )

    def full(self) -> bool:
        """True while the budget of all peers is spent: clients are refused too."""
        return self.bytes >= self.limits.bytes_max
