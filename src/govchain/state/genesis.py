"""The genesis document: chain id, time, initial balances, validators, authority."""

from __future__ import annotations

import msgspec

from govchain.codec import digest, encode
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import ADDRESS_BYTES, PUBLIC_KEY_BYTES, point_on_curve

GENESIS_DOMAIN = b"govchain:genesis:v1:"
SUPPLY_MAX = 2**63 - 1


class Genesis(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Everything height 0 is made of. Its hash is the DAG's root vertex id.

    authority: the key that may change the validator set until on-chain
    governance takes that role over.
    """

    chain_id: str
    time_ms: int
    balances: tuple[tuple[bytes, int], ...]
    validators: ValidatorSet
    authority: bytes

    def __post_init__(self) -> None:
        if not 1 <= len(self.chain_id) <= 64:
            raise ValueError("chain_id must be 1..64 characters")
        addrs = [a for a, _ in self.balances]
        if addrs != sorted(set(addrs)) or any(len(a) != ADDRESS_BYTES for a in addrs):
            raise ValueError("genesis balances need distinct sorted 20-byte addresses")
        if any(v <= 0 for _, v in self.balances) or self.supply > SUPPLY_MAX:
            raise ValueError("genesis balances must be positive and within the supply bound")
        if len(self.authority) != PUBLIC_KEY_BYTES or not point_on_curve(self.authority):
            raise ValueError("authority must be an acceptable Ed25519 public key")

    @property
    def supply(self) -> int:
        """Total of all balances, conserved by every transfer."""
        return sum(v for _, v in self.balances)

    @property
    def hash(self) -> bytes:
        """The genesis id: root of the DAG and 'previous' of height 1."""
        return digest(GENESIS_DOMAIN, encode(self))
