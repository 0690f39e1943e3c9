"""The soak's transaction building: each sender's chain built ahead.

The loader shares two cores with four nodes, and at 1,000 tx/s building was
its largest cost. dag.tx.build used to find the stamp by re-encoding the whole
body for every candidate (~256 of them at 8 bits); it now hashes the body's
fixed prefix once (the soak found that, and moved it there), and
tests/test_soak_build.py checks the bytes are those of the plain search.

SenderChain keeps one sender's next transactions built ahead: transfer n+1
names transfer n as its parent, and both are known locally, so they can be
signed before n is even sent. It may name a second parent, another sender's
recent transaction (`merge`), as a wallet names the tips its node shows:
without it, 1,000 senders make a DAG 1,000 chains wide, a checkpoint covers
at most 64 tips then (DagLimits.tips_per_checkpoint_max, 256 since), and the chain, not the
CPU, held the soak to about 450 tx/s.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from govchain.crypto.keys import SigningKey
from govchain.dag.tx import Transaction, build

# (kind, payload) of a sender's next transaction, given its nonce.
NextPayload = Callable[[int], tuple[str, bytes]]


class SenderChain:
    """One sender's transactions, each naming the one before as parent, built ahead.

    `ahead` transactions stay built: take() hands out the next and builds one
    more. valid_until is asked of `valid_until()` when a transaction is built.
    """

    def __init__(
        self,
        key: SigningKey,
        chain_id: str,
        first_parent: bytes,
        next_payload: NextPayload,
        valid_until: Callable[[], int],
        stamp_bits_min: int,
        ahead: int = 1,
        merge: Callable[[], bytes | None] | None = None,
    ) -> None:
        self.key = key
        self.chain_id = chain_id
        self.next_payload = next_payload
        self.valid_until = valid_until
        self.stamp_bits_min = stamp_bits_min
        self.ahead = max(1, ahead)
        self.merge = merge
        self.nonce = 0  # of the next transaction to build
        self.parent = first_parent
        self.built: deque[Transaction] = deque()
        self.fill()

    def fill(self) -> None:
        """Build until `ahead` transactions wait."""
        while len(self.built) < self.ahead:
            kind, payload = self.next_payload(self.nonce)
            other = self.merge() if self.merge is not None else None
            parents = sorted({self.parent, other}) if other is not None else [self.parent]
            tx = build(
                self.key,
                chain_id=self.chain_id,
                kind=kind,
                nonce=self.nonce,
                parents=parents,
                valid_until=self.valid_until(),
                payload=payload,
                stamp_bits_min=self.stamp_bits_min,
            )
            self.built.append(tx)
            self.parent, self.nonce = tx.id, self.nonce + 1

    def take(self) -> Transaction:
        """The next transaction of the chain (built already); builds its successor."""
        tx = self.built.popleft()
        self.fill()
        return tx
