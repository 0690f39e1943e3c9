"""Consensus messages (consensus/messages.py) past their signatures, into a replica.

As peer_message, but each proposal, vote and commit is signed again before it
is delivered: a proposal by the validator its step's extra byte names, a vote
likewise, a commit's certificate by the members it lists. The fuzzer cannot
forge Ed25519, so without this it would never get past the signature checks
to what the consensus core does with heights, rounds, values and certificates.
"""

from __future__ import annotations

import msgspec

from govchain.codec import DecodeError
from govchain.consensus.messages import (
    Certificate,
    VoteKind,
    sign_proposal,
    vote_signing_bytes,
)
from govchain.replica.messages import CommitMsg, Message, ProposalMsg, VoteMsg
from targets._kit import VALIDATORS
from targets._replica import drive, seed_scripts

ACCEPTED: tuple[type[BaseException], ...] = (DecodeError,)


def _signed(msg: Message, extra: int) -> Message:
    """msg with its signatures made good (by the validators it names, or extra picks)."""
    key = VALIDATORS[extra % len(VALIDATORS)]
    if isinstance(msg, ProposalMsg):
        p = msg.proposal
        return ProposalMsg(sign_proposal(key, p.height, p.round, p.checkpoint, p.valid_round))
    if isinstance(msg, VoteMsg):
        v = msg.vote
        sig = key.sign(vote_signing_bytes(v.chain_id, v.kind, v.height, v.round, v.value))
        return VoteMsg(msgspec.structs.replace(v, voter=key.public_key, signature=sig))
    if isinstance(msg, CommitMsg):
        c = msg.certificate
        data = vote_signing_bytes(
            msg.checkpoint.chain_id, VoteKind.PRECOMMIT, c.height, c.round, c.value
        )
        sigs = tuple(
            (i, VALIDATORS[i].sign(data) if 0 <= i < len(VALIDATORS) else s)
            for i, s in c.signatures
        )
        cert: Certificate = msgspec.structs.replace(c, signatures=sigs)
        return CommitMsg(msg.checkpoint, cert)
    return msg


def test_one_input(data: bytes) -> None:
    """Run one script with every signature made good; only DecodeError may come out."""
    drive(data, _signed)


def seeds() -> dict[str, bytes]:
    """The honest scripts of peer_message (their signatures are already good)."""
    return seed_scripts()
