"""Clients for the simulator: chained transfers, double spends and spam."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.kinds import Kind
from govchain.dag.tx import Transaction, TxWire, build
from govchain.replica.view import ChainView
from govchain.state.payloads import TransferPayload

SPAM_KINDS = ("bad-signature", "wrong-chain", "missing-parents", "oversized")
PARENTS_MAX = 8  # DagLimits.parents_count_max
AFTER_MAX = PARENTS_MAX - 1  # a transaction's dependencies, besides its sender's previous one


@dataclass(slots=True)
class Client:
    """One funded account that chains its own transactions through their parents."""

    key: SigningKey
    nonce: int = 0
    last: bytes | None = None
    last_sent_ms: int = 0

    def sent(self, tx: Transaction, now_ms: int) -> None:
        """A node admitted tx: the next one takes the next nonce and names it."""
        self.nonce = tx.body.nonce + 1
        self.last = tx.id
        self.last_sent_ms = now_ms


class Workload:
    """Builds transactions for clients against a node's current view."""

    def __init__(self, rng: random.Random, clients: list[Client], stamp_bits_min: int) -> None:
        self.rng = rng
        self.clients = clients
        self.stamp_bits_min = stamp_bits_min

    def transfer(
        self, client: Client, node: ChainView, now_ms: int, nonce: int | None = None
    ) -> Transaction:
        """A transfer to another client, naming the client's previous tx and node tips."""
        to = self.rng.choice([c for c in self.clients if c is not client]).key.address
        payload = encode(TransferPayload(to, self.rng.randint(1, 5_000)))
        return self.build(client, node, now_ms, Kind.TRANSFER, payload, nonce)

    def build(
        self,
        client: Client,
        node: ChainView,
        now_ms: int,
        kind: str,
        payload: bytes,
        nonce: int | None = None,
        after: Sequence[bytes] = (),
    ) -> Transaction:
        """Any transaction of client's, chained to its previous one, to node's tips and to
        the transactions it depends on (after: at most AFTER_MAX, always named)."""
        addr = client.key.address
        if (
            client.last is not None
            and not node.has_vertex(client.last)
            and (now_ms - client.last_sent_ms > 1_500)
        ):
            # Our last transaction never reached this node: resynchronise from final state.
            client.nonce = node.account(addr).nonce
            client.last = None
        parents = set(node.client_tips(2))
        if client.last is not None:
            parents.add(client.last)
        chosen = sorted(parents)
        if after:
            if len(after) > AFTER_MAX:
                raise ValueError(f"at most {AFTER_MAX} transactions to depend on")
            # What it depends on and its own previous one first: the tips may be dropped.
            must = set(after) | (parents & {client.last})
            chosen = sorted(must) + sorted(parents - must)
        return build(
            client.key,
            chain_id=node.chain_id,
            kind=kind,
            nonce=client.nonce if nonce is None else nonce,
            parents=chosen[:PARENTS_MAX],
            # Every third one is valid for 3 heights only: once final, the DAG
            # forgets its id within the run and must ask the store about it.
            valid_until=node.dag_height + (3 if client.nonce % 3 == 0 else 40),
            payload=payload,
            stamp_bits_min=self.stamp_bits_min,
        )

    def spam(self, kind: str, client: Client, node: ChainView) -> bytes:
        """A transaction that admission must refuse (or park as an orphan)."""
        parents = node.client_tips(2)
        chain = node.chain_id
        payload = encode(TransferPayload(client.key.address, 1))
        if kind == "wrong-chain":
            chain = chain + "-other"
        if kind == "missing-parents":
            parents = [self.rng.randbytes(32)]
        if kind == "oversized":
            payload = self.rng.randbytes(node.payload_bytes_max + 1)
        tx = build(
            client.key,
            chain_id=chain,
            kind=Kind.RECORD if kind == "oversized" else Kind.TRANSFER,
            nonce=10**9 + self.rng.randint(0, 10**6),
            parents=parents,
            valid_until=node.dag_height + 40,
            payload=payload,
            stamp_bits_min=self.stamp_bits_min,
        )
        signature = tx.signature
        if kind == "bad-signature":
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        return encode(TxWire(tx.body_bytes, signature, tx.payload))
