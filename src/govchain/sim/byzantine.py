"""Byzantine validators: honest cores whose outgoing messages are rewritten.

Colluding Byzantine nodes share one Collusion: the same split of honest nodes
into sides A and B, and the alternative checkpoint offered to side B.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from govchain.consensus.messages import NIL, Proposal, Vote, VoteKind, sign_proposal, sign_vote
from govchain.crypto.keys import SigningKey
from govchain.replica.messages import Message, ProposalMsg, VoteMsg

BEHAVIOURS = ("equivocate", "double-vote", "withhold", "twins", "amnesia")
# With two or more Byzantine validators they collude: each equivocates when it
# leads and votes both ways, splitting honest nodes into the same two sides.


@dataclass(slots=True)
class Collusion:
    """What Byzantine nodes agree on between themselves."""

    side_a: frozenset[str]
    side_b: frozenset[str]
    alt: dict[tuple[int, int], bytes] = field(default_factory=dict)


def _alt_proposal(key: SigningKey, p: Proposal, valid_round: int) -> Proposal:
    """A second, different but valid-looking checkpoint for the same slot."""
    cp = p.checkpoint
    alt_cp = msgspec.structs.replace(cp, tips=cp.tips[:-1], time_ms=cp.time_ms + 1)
    return sign_proposal(key, p.height, p.round, alt_cp, valid_round)


def _amnesia(key: SigningKey, msg: Message, collusion: Collusion) -> Message:
    """Forget our lock: propose a fresh value every time, and prevote for it."""
    if isinstance(msg, ProposalMsg) and msg.proposal.proposer == key.public_key:
        alt = _alt_proposal(key, msg.proposal, -1)
        collusion.alt[(alt.height, alt.round)] = alt.checkpoint.hash
        return ProposalMsg(alt)
    if isinstance(msg, VoteMsg) and msg.vote.voter == key.public_key:
        v = msg.vote
        alt_value = collusion.alt.get((v.height, v.round))
        if alt_value is not None and v.value != alt_value:
            kind = VoteKind(v.kind)
            return VoteMsg(sign_vote(key, v.chain_id, kind, v.height, v.round, alt_value))
    return msg


def rewrite(
    behaviour: str,
    key: SigningKey,
    sends: list[tuple[str, Message]],
    collusion: Collusion,
) -> list[tuple[str, Message]]:
    """Turn an honest replica's sends into a Byzantine node's sends."""
    out: list[tuple[str, Message]] = []
    for dst, msg in sends:
        if behaviour == "withhold" and isinstance(msg, ProposalMsg | VoteMsg):
            continue
        if behaviour == "amnesia":
            out.append((dst, _amnesia(key, msg, collusion)))
            continue
        if dst not in collusion.side_b or behaviour not in ("equivocate", "double-vote", "collude"):
            out.append((dst, msg))
            continue
        own_proposal = isinstance(msg, ProposalMsg) and msg.proposal.proposer == key.public_key
        if behaviour in ("equivocate", "collude") and own_proposal:
            assert isinstance(msg, ProposalMsg)
            alt = _alt_proposal(key, msg.proposal, msg.proposal.valid_round)
            collusion.alt[(alt.height, alt.round)] = alt.checkpoint.hash
            out.append((dst, ProposalMsg(alt)))
        elif (
            behaviour in ("double-vote", "collude")
            and isinstance(msg, VoteMsg)
            and msg.vote.voter == key.public_key
        ):
            out.append((dst, VoteMsg(_conflicting_vote(key, msg.vote, collusion))))
        else:
            out.append((dst, msg))
    return out


def _conflicting_vote(key: SigningKey, v: Vote, collusion: Collusion) -> Vote:
    alt = collusion.alt.get((v.height, v.round))
    if alt is not None and alt != v.value:
        value = alt
    elif v.value != NIL:
        value = NIL
    else:
        return v
    return sign_vote(key, v.chain_id, VoteKind(v.kind), v.height, v.round, value)
