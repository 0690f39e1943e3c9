"""What every target shares: a fixed chain (keys, genesis), an input reader, invariants.

Keys come from labels and nothing reads a clock or a random source, so a
target answers one input the same way every time: a finding replays.
"""

from __future__ import annotations

import hashlib

from govchain.consensus.messages import Certificate, Checkpoint, VoteKind, vote_signing_bytes
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import Transaction, build
from govchain.state.genesis import Genesis

CHAIN = "fuzz-chain"
ROOT = hashlib.sha256(b"fuzz: any parent").digest()
ALICE = SigningKey.from_label("fuzz-alice")
BOB = SigningKey.from_label("fuzz-bob")
VALIDATORS = tuple(SigningKey.from_label(f"fuzz-validator-{i}") for i in range(4))
REGULATORS = tuple(SigningKey.from_label(f"fuzz-regulator-{i}") for i in range(3))
KEYS_BY_PUBLIC = {k.public_key: k for k in VALIDATORS}
GENESIS = Genesis(
    chain_id=CHAIN,
    time_ms=0,
    balances=tuple(sorted([(ALICE.address, 1_000_000), (BOB.address, 500)])),
    validators=ValidatorSet.of({k.public_key: 1 for k in VALIDATORS}),
    committee=tuple(sorted((k.public_key, 1) for k in REGULATORS)),
    threshold=2,
    typed_audit=True,
)
LENGTH_BYTES = 2  # of a chunk's length prefix (Reader.chunk, join)


class BrokenInvariantError(AssertionError):
    """The code under test answered, but not as it promises: a finding, like a crash."""


def check(condition: bool, what: str) -> None:
    """Raise BrokenInvariantError (a finding) unless condition holds."""
    if not condition:
        raise BrokenInvariantError(what)


class Reader:
    """Takes an input apart: single bytes, length-prefixed chunks, then the rest.

    Past the end it gives zeros and empty chunks, so every input is a case.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        """The next byte (0 past the end)."""
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def chunk(self) -> bytes:
        """A chunk: a 2-byte big-endian length, then that many bytes (fewer at the end)."""
        n = int.from_bytes(self.data[self.pos : self.pos + LENGTH_BYTES], "big")
        self.pos += LENGTH_BYTES
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def rest(self) -> bytes:
        """Everything not taken yet."""
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out


def join(*chunks: bytes) -> bytes:
    """The input Reader.chunk takes chunks from, in order (for seeds)."""
    return b"".join(len(c).to_bytes(LENGTH_BYTES, "big") + c for c in chunks)


def signed_tx(
    key: SigningKey, nonce: int, kind: str, payload: bytes, *, stamp_bits_min: int = 0
) -> Transaction:
    """A transaction of the fuzz chain, as a client builds it."""
    return build(
        key,
        chain_id=CHAIN,
        kind=kind,
        nonce=nonce,
        parents=[ROOT],
        valid_until=10_000,
        payload=payload,
        stamp_bits_min=stamp_bits_min,
    )


def certificate(cp: Checkpoint, valset: ValidatorSet, round_: int = 0) -> Certificate:
    """Every member's precommit over cp, as a certificate (members are fuzz validators)."""
    data = vote_signing_bytes(cp.chain_id, VoteKind.PRECOMMIT, cp.height, round_, cp.hash)
    sigs = tuple((i, KEYS_BY_PUBLIC[m.public_key].sign(data)) for i, m in enumerate(valset.members))
    return Certificate(cp.height, round_, cp.hash, sigs)
