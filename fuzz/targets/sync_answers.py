"""State-sync answers (node/sync_wire.py), as `govchain node --state-sync` reads a peer's.

The bytes as a heights page, followed from the fuzz chain's genesis
(node/state_sync.py ChainFollower: certificates, audit heads, receipt
roots), and as a sync image. SyncError is the one acceptable refusal. A page
the follower accepts must have grown the chain by exactly its heights.
"""

from __future__ import annotations

import contextlib

from govchain.codec import encode
from govchain.node.state_sync import ChainFollower
from govchain.node.sync_wire import SyncError, SyncHeight, decode_heights, decode_image
from targets._docs import History
from targets._kit import GENESIS, certificate, check

ACCEPTED: tuple[type[BaseException], ...] = (SyncError,)
KEEP = 3  # the fuzz chain's "sync height": its executions up to here are handed over


def test_one_input(data: bytes) -> None:
    """Follow one page and decode one image; only SyncError may come out."""
    with contextlib.suppress(SyncError):  # the image's refusals end only that half
        decode_image(data)
    page = decode_heights(data)
    follower = ChainFollower(GENESIS, keep=KEEP)
    added = 0
    for sh in page:
        more = follower.add(sh)
        added += 1
        if not more:
            break
    decided, synced = follower.take()
    check(follower.height == len(decided) == added, "a follower that lost count")
    check(
        all(cp.height == h for h, (cp, _) in enumerate(decided, 1)),
        "heights out of order accepted",
    )
    check(
        all(s.height == h and s.certifying.height == h + 1 for h, s in enumerate(synced, 1)),
        "executions out of order accepted",
    )


def seeds() -> dict[str, bytes]:
    """The fuzz chain's heights 1..4 (a validator change at 1), whole and cut short."""
    history = History()
    heights = []
    for h in (1, 2, 3, 4):
        cp = history.checkpoint(h)
        vs = history.ledger.validator_set(h)
        assert vs is not None
        ex = history.executed.get(h)
        receipts = list(ex.receipts) if ex else []
        audit = [e.canonical for e in ex.audit] if ex else []
        heights.append(SyncHeight(cp, certificate(cp, vs), ex is not None, receipts, audit))
    return {"heights-1-4": encode(heights), "heights-1-2": encode(heights[:2])}
