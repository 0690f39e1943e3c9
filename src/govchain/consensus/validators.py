"""Weighted validator sets, quorums and the rotating proposer."""

from __future__ import annotations

from functools import cached_property

import msgspec

from govchain.codec import digest, encode
from govchain.crypto.keys import PUBLIC_KEY_BYTES, point_on_curve

VALSET_DOMAIN = b"govchain:valset:v1:"
VALIDATORS_COUNT_MAX = 128
WEIGHT_MAX = 1_000_000


class Validator(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """One member: its public key and voting weight."""

    public_key: bytes
    weight: int


class ValidatorSet(
    msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True, dict=True
):
    """Members sorted by public key; weights are small positive integers."""

    members: tuple[Validator, ...]

    def __post_init__(self) -> None:
        keys = [m.public_key for m in self.members]
        if not 1 <= len(keys) <= VALIDATORS_COUNT_MAX:
            raise ValueError(f"a validator set has 1..{VALIDATORS_COUNT_MAX} members")
        if keys != sorted(set(keys)):
            raise ValueError("validators must be distinct and sorted by public key")
        for m in self.members:
            if len(m.public_key) != PUBLIC_KEY_BYTES or not point_on_curve(m.public_key):
                raise ValueError("a validator key is not an acceptable Ed25519 curve point")
            if not 1 <= m.weight <= WEIGHT_MAX:
                raise ValueError(f"validator weight must lie in 1..{WEIGHT_MAX}")

    @classmethod
    def of(cls, weights: dict[bytes, int]) -> ValidatorSet:
        """Build a set from public key -> weight."""
        return cls(tuple(Validator(k, w) for k, w in sorted(weights.items())))

    @cached_property
    def total(self) -> int:
        """Sum of all weights."""
        return sum(m.weight for m in self.members)

    @cached_property
    def quorum(self) -> int:
        """Smallest weight strictly above two thirds of the total (2f+1)."""
        return self.total * 2 // 3 + 1

    @cached_property
    def skip(self) -> int:
        """Smallest weight strictly above one third (f+1): at least one honest member."""
        return self.total // 3 + 1

    @cached_property
    def index(self) -> dict[bytes, int]:
        """Public key -> position in members."""
        return {m.public_key: i for i, m in enumerate(self.members)}

    @cached_property
    def hash(self) -> bytes:
        """Commitment that checkpoints carry."""
        return digest(VALSET_DOMAIN, encode(self))

    def weight_of(self, public_key: bytes) -> int:
        """Weight of a member; 0 for a non-member."""
        i = self.index.get(public_key)
        return 0 if i is None else self.members[i].weight

    def proposer(self, height: int, round_: int) -> bytes:
        """Weighted rotation: slot (height + round) mod total picks the member owning it."""
        slot = (height + round_) % self.total
        for m in self.members:
            if slot < m.weight:
                return m.public_key
            slot -= m.weight
        raise AssertionError("slot beyond total weight")
