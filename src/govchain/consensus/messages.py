"""Checkpoints, proposals, votes and certificates, with their signing rules."""

from __future__ import annotations

from enum import IntEnum

import msgspec

from govchain.codec import digest, encode
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey, verify

CHECKPOINT_DOMAIN = b"govchain:checkpoint:v1:"
PROPOSAL_DOMAIN = b"govchain:proposal:v1:"
VOTE_DOMAIN = b"govchain:vote:v1:"
NIL = b""


class Checkpoint(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """What consensus decides at one height.

    state_hash and receipts_root are the results of executing height - 1: a
    checkpoint is proposed before its own cone is executed.
    """

    chain_id: str
    height: int
    previous: bytes
    time_ms: int
    tips: tuple[bytes, ...]
    state_hash: bytes
    receipts_root: bytes
    audit_head: bytes
    validator_set_hash: bytes

    @property
    def hash(self) -> bytes:
        """The checkpoint's id, what votes sign."""
        return digest(CHECKPOINT_DOMAIN, encode(self))


class VoteKind(IntEnum):
    """The two voting steps of a round."""

    PREVOTE = 1
    PRECOMMIT = 2


class Proposal(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A proposer's value for (height, round); valid_round is -1 or a round it saw a polka."""

    height: int
    round: int
    checkpoint: Checkpoint
    valid_round: int
    proposer: bytes
    signature: bytes

    def signing_bytes(self) -> bytes:
        """Bytes the proposer signs."""
        return PROPOSAL_DOMAIN + encode(
            [
                self.checkpoint.chain_id,
                self.height,
                self.round,
                self.checkpoint.hash,
                self.valid_round,
            ]
        )

    def verify(self) -> bool:
        """True when the proposer's signature holds."""
        return verify(self.proposer, self.signing_bytes(), self.signature)


class Vote(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A prevote or precommit for a checkpoint hash, or for nothing (NIL)."""

    chain_id: str
    kind: int
    height: int
    round: int
    value: bytes
    voter: bytes
    signature: bytes

    def signing_bytes(self) -> bytes:
        """Bytes the voter signs."""
        return vote_signing_bytes(self.chain_id, self.kind, self.height, self.round, self.value)

    def verify(self) -> bool:
        """True when the voter's signature holds."""
        return verify(self.voter, self.signing_bytes(), self.signature)


def vote_signing_bytes(chain_id: str, kind: int, height: int, round_: int, value: bytes) -> bytes:
    """Domain-separated canonical bytes of a vote."""
    return VOTE_DOMAIN + encode([chain_id, kind, height, round_, value])


def sign_proposal(
    key: SigningKey, height: int, round_: int, checkpoint: Checkpoint, valid_round: int
) -> Proposal:
    """A signed proposal."""
    unsigned = Proposal(height, round_, checkpoint, valid_round, key.public_key, b"")
    return msgspec.structs.replace(unsigned, signature=key.sign(unsigned.signing_bytes()))


def sign_vote(
    key: SigningKey, chain_id: str, kind: VoteKind, height: int, round_: int, value: bytes
) -> Vote:
    """A signed vote."""
    sig = key.sign(vote_signing_bytes(chain_id, int(kind), height, round_, value))
    return Vote(chain_id, int(kind), height, round_, value, key.public_key, sig)


class Certificate(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """2f+1 precommit signatures over one checkpoint: (member index, signature), ascending."""

    height: int
    round: int
    value: bytes
    signatures: tuple[tuple[int, bytes], ...]


def certificate_error(
    cert: Certificate, checkpoint: Checkpoint, valset: ValidatorSet
) -> str | None:
    """Why cert does not finalize checkpoint under valset, or None when it does."""
    if cert.height != checkpoint.height or cert.value != checkpoint.hash:
        return "certificate names another checkpoint"
    if checkpoint.validator_set_hash != valset.hash:
        return "checkpoint names another validator set"
    weight = 0
    last = -1
    for index, sig in cert.signatures:
        if index <= last:
            return "signers must be distinct and ascending"
        if index >= len(valset.members):
            return "signer outside the validator set"
        last = index
        member = valset.members[index]
        data = vote_signing_bytes(
            checkpoint.chain_id, VoteKind.PRECOMMIT, cert.height, cert.round, cert.value
        )
        if not verify(member.public_key, data, sig):
            return f"bad signature from member {index}"
        weight += member.weight
    if weight < valset.quorum:
        return f"signed weight {weight} is below the quorum {valset.quorum}"
    return None
