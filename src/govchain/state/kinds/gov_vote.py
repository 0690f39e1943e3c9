"""gov.vote: a committee member's vote on an open proposal."""

from __future__ import annotations

import msgspec

from govchain.codec import HASH_BYTES, DecodeError, decode_canonical
from govchain.dag.kinds import Kind
from govchain.dag.tx import Transaction
from govchain.state.accounts import Account
from govchain.state.governance import ProposalStatus
from govchain.state.payload_base import Payload
from govchain.state.receipts import Outcome, Reason, rejected
from govchain.state.registry import KindSpec, TxContext


class VotePayload(Payload, frozen=True):
    """A committee member's vote on a proposal (its 32-byte id)."""

    proposal: bytes
    yes: bool


VOTE_DECODER = msgspec.msgpack.Decoder(VotePayload)


def run(ctx: TxContext, tx: Transaction, voter: bytes, _acct: Account) -> Outcome | None:
    """Count a vote; None when it counted."""
    gov = ctx.stores.governance
    weight = gov.members.get(tx.body.sender)
    if weight is None:
        return rejected(Reason.NOT_AUTHORIZED)
    try:
        v = decode_canonical(tx.payload, VOTE_DECODER)
    except DecodeError:
        return rejected(Reason.MALFORMED_PAYLOAD)
    if len(v.proposal) != HASH_BYTES:
        return rejected(Reason.BAD_ARGUMENT)
    p = gov.proposals.get(v.proposal.hex())
    if p is None:
        return rejected(Reason.UNKNOWN_PROPOSAL)
    if p.status != ProposalStatus.OPEN:
        return rejected(Reason.PROPOSAL_CLOSED, p.id)
    if any(a == voter for a, _ in p.votes):
        return rejected(Reason.DUPLICATE_VOTE, p.id)
    for note in gov.vote(p, voter, weight, v.yes, ctx.height):
        ctx.audit.note(ctx.height, note)
    return None


SPEC = KindSpec(
    kind=Kind.GOV_VOTE,
    payload=VotePayload,
    run=run,
    doc_payload="`VotePayload(proposal, yes)`; proposal = the 32-byte id",
    doc_who="committee members",
    committee=True,
    restrictable=False,
)
