"""Gossip slices whose signatures the verify workers check, admitted in the order taken.

With verify workers (node/verify_pool.py) the node's admitter does not admit
a backlog slice at once: it hands up to INFLIGHT_SLICES_MAX slices to the
workers and admits each, oldest first, once its answer is in, while the
workers check the next ones. A slice taken from the backlog and not admitted
yet still holds back the proposals that arrived after it (oldest_seq), and a
blamed peer's slices are dropped, not admitted.

No I/O of its own: the pool and the backlog are handed in, and the node
admits what next_ready() gives it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from govchain.node.backlog import Backlog
from govchain.node.verify_pool import VerifyPool

# Two slices a worker keep each busy while the loop admits; with the bound, at
# most this many backlog slices (BacklogLimits.slice_bytes_max each) are out of
# the backlog's budget at once.
INFLIGHT_SLICES_PER_WORKER = 2
INFLIGHT_SLICES_MAX = 16


@dataclass(slots=True)
class CheckedSlice:
    """A gossip slice taken from the backlog whose signatures a worker checks."""

    peer: str
    wires: tuple[bytes, ...]
    seq: int  # the backlog sequence number of its oldest message (proposals wait for it)
    verified: asyncio.Future[list[bytes]]  # the ids whose signatures verified
    dropped: bool = False  # its peer was blamed since: not admitted


class CheckedGossip:
    """The slices out with the verify workers, oldest first."""

    def __init__(self) -> None:
        self._slices: deque[CheckedSlice] = deque()

    def __bool__(self) -> bool:
        return bool(self._slices)

    def dispatch(self, backlog: Backlog, pool: VerifyPool, answered: Callable[[], None]) -> int:
        """Hand backlog slices to the workers up to the bound; answered() runs as each is.

        Returns how many wires the workers had no room for (checked inline).
        """
        inline = 0
        inflight_max = min(INFLIGHT_SLICES_MAX, INFLIGHT_SLICES_PER_WORKER * pool.size)
        while backlog and len(self._slices) < inflight_max:
            taken = backlog.take_slice()
            assert taken is not None
            peer, wires, seq = taken
            verified = pool.submit(wires)
            if verified is None:  # the workers have enough queued: checked inline
                inline += len(wires)
                verified = asyncio.get_running_loop().create_future()
                verified.set_result([])
            verified.add_done_callback(lambda _: answered())
            self._slices.append(CheckedSlice(peer, wires, seq, verified))
        return inline

    def next_ready(self) -> CheckedSlice | None:
        """The oldest slice, taken out, once its answer is in (None: it is still out)."""
        if not self._slices or not self._slices[0].verified.done():
            return None
        return self._slices.popleft()

    def oldest_seq(self) -> int | None:
        """The backlog sequence number of the oldest message still out (None: none)."""
        return min((s.seq for s in self._slices), default=None)

    def drop(self, peer: str) -> None:
        """A blamed peer's slices are not admitted when their answers come."""
        for s in self._slices:
            if s.peer == peer:
                s.dropped = True
