"""Shared helpers for execution tests: keys, a genesis with a committee, transaction builders.

The committee is three regulators of weight 1 with threshold 2, as on a devnet.
A `Chain` wraps a Ledger with per-key nonces, so a test reads like a transcript:
`chain.run(transfer(ALICE, BOB, 5))`, `chain.decide(FreezeIdentity(...))`.
"""

from __future__ import annotations

import hashlib

from govchain.codec import encode
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import Transaction, build
from govchain.state.genesis import Genesis, GenesisIdentity
from govchain.state.governance import Proposal
from govchain.state.ledger import Executed, Ledger
from govchain.state.payloads import (
    Action,
    ProposePayload,
    RecordPayload,
    TransferPayload,
    VotePayload,
)
from govchain.state.receipts import Receipt

CHAIN = "test-chain"
ROOT = hashlib.sha256(b"any parent").digest()
ALICE = SigningKey.from_label("alice")
BOB = SigningKey.from_label("bob")
CAROL = SigningKey.from_label("carol")
REGULATORS = [SigningKey.from_label(f"regulator-{i}") for i in range(3)]
R0, R1, R2 = REGULATORS
VALIDATORS = [SigningKey.from_label(f"validator-{i}") for i in range(4)]
EVIDENCE = hashlib.sha256(b"the case file").digest()


def valset(keys: list[SigningKey]) -> ValidatorSet:
    return ValidatorSet.of({k.public_key: 1 for k in keys})


def genesis(
    balances: dict[SigningKey, int] | None = None,
    identities: tuple[GenesisIdentity, ...] = (),
    threshold: int = 2,
) -> Genesis:
    balances = {ALICE: 100, BOB: 50} if balances is None else balances
    return Genesis(
        chain_id=CHAIN,
        time_ms=0,
        balances=tuple(sorted((k.address, v) for k, v in balances.items())),
        validators=valset(VALIDATORS),
        committee=tuple(sorted((k.public_key, 1) for k in REGULATORS)),
        threshold=threshold,
        identities=identities,
    )


def tx(
    key: SigningKey, nonce: int, kind: str, payload: bytes, valid_until: int = 10_000
) -> Transaction:
    return build(
        key,
        chain_id=CHAIN,
        kind=kind,
        nonce=nonce,
        parents=[ROOT],
        valid_until=valid_until,
        payload=payload,
        stamp_bits_min=0,
    )


def outcomes(result: Executed) -> list[str]:
    """Each receipt as 'executed', 'held:<reason>' or its rejection reason."""
    out = []
    for r in result.receipts:
        if r.status == "held":
            out.append(f"held:{r.reason}")
        else:
            out.append(r.reason or r.status)
    return out


def record_payload(data: bytes, service: str = "", media_type: str = "text/plain") -> bytes:
    return encode(RecordPayload(service, media_type, data))


class Chain:
    """A Ledger, a nonce per key, and one height per run()."""

    def __init__(self, g: Genesis | None = None) -> None:
        self.ledger = Ledger(g or genesis())
        self.nonces: dict[bytes, int] = {}

    def tx(self, key: SigningKey, kind: str, payload: object) -> Transaction:
        """The key's next transaction (payload: bytes as they are, else encoded)."""
        n = self.nonces.get(key.public_key, 0)
        self.nonces[key.public_key] = n + 1
        data = payload if isinstance(payload, bytes) else encode(payload)
        return tx(key, n, kind, data)

    def transfer(self, key: SigningKey, to: SigningKey, amount: int) -> Transaction:
        return self.tx(key, "transfer", TransferPayload(to.address, amount))

    def record(
        self, key: SigningKey, data: bytes, service: str = "", media: str = "text/plain"
    ) -> Transaction:
        return self.tx(key, "record", RecordPayload(service, media, data))

    def propose(
        self,
        key: SigningKey,
        action: Action,
        reason: str = "a reason",
        emergency: bool = False,
        evidence: bytes = b"",
    ) -> Transaction:
        return self.tx(key, "gov.propose", ProposePayload(action, reason, evidence, emergency))

    def vote(self, key: SigningKey, proposal: Transaction | bytes, yes: bool = True) -> Transaction:
        pid = proposal.id if isinstance(proposal, Transaction) else proposal
        return self.tx(key, "gov.vote", VotePayload(pid, yes))

    def run(self, *txs: Transaction, known: dict[bytes, Receipt] | None = None) -> Executed:
        """Execute txs as the next height."""
        return self.ledger.execute(self.ledger.height + 1, list(txs), known)

    def idle(self, heights: int) -> None:
        """Execute empty heights."""
        for _ in range(heights):
            self.run()

    def decide(self, action: Action, emergency: bool = False) -> Proposal:
        """R0 proposes, R1 agrees, in one height; returns the enacted proposal."""
        p = self.propose(R0, action, emergency=emergency)
        result = self.run(p, self.vote(R1, p))
        assert outcomes(result) == ["executed", "executed"], outcomes(result)
        found = self.ledger.proposal(p.id.hex())
        assert found is not None
        return found
