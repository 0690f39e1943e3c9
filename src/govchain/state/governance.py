"""Proposals and votes: the committee, tallies, and the proposal status table.

A proposal's life is one table (TRANSITIONS) checked by one function
(`transition`). Tallies are decided after every vote; what a decision does to
the rest of the state happens at the end of the height (state/actions.py via
the ledger), so that every transaction of a height sees the same governance
state and a decision governs from the next height on.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import msgspec

from govchain.codec import HASH_BYTES, DecodeError, decode_canonical, encode
from govchain.dag.tx import Transaction
from govchain.state import actions
from govchain.state.audit import AuditKind, AuditLog
from govchain.state.params import Params
from govchain.state.payloads import (
    EMERGENCY_ACTIONS,
    PROPOSE_DECODER,
    VOTE_DECODER,
    Action,
    action_name,
)
from govchain.state.receipts import Outcome, Reason, rejected

PROPOSALS_OPEN_MAX = 256
REASON_BYTES_MAX = 1_024  # a proposal's reason text, UTF-8


class ProposalStatus(StrEnum):
    """Where a proposal stands."""

    OPEN = "open"
    PASSED = "passed"
    REJECTED = "rejected"
    EXPIRED = "expired"


TRANSITIONS: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    ProposalStatus.OPEN: frozenset(
        {ProposalStatus.PASSED, ProposalStatus.REJECTED, ProposalStatus.EXPIRED}
    ),
    ProposalStatus.PASSED: frozenset(),
    ProposalStatus.REJECTED: frozenset(),
    ProposalStatus.EXPIRED: frozenset(),
}


class Proposal(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A proposal as it stands; id = hex of the proposing transaction's id.

    expires_height: the last height at which it can still pass; still open at
    the end of that height, it expires. enacted_height: the height at whose end
    its action was applied; it governs transactions of later heights.
    """

    id: str
    proposer: bytes  # address
    action: Action
    reason: str
    evidence: bytes
    emergency: bool
    created_height: int
    expires_height: int
    status: str = ProposalStatus.OPEN.value
    yes_weight: int = 0
    no_weight: int = 0
    votes: tuple[tuple[bytes, bool], ...] = ()  # (address, yes) in the order cast
    decided_height: int | None = None
    enacted_height: int | None = None
    outcome: str = ""  # what enactment did, or why it was a no-op

    @property
    def action_name(self) -> str:
        """The contract's action name."""
        return action_name(self.action)


def transition(p: Proposal, to: ProposalStatus, height: int) -> Proposal:
    """The one place a status changes; an illegal change is our bug."""
    assert to in TRANSITIONS[ProposalStatus(p.status)], (p.id, p.status, to)
    return msgspec.structs.replace(p, status=to.value, decided_height=height)


class Governance:
    """The committee's proposals; end-of-height work is queued for the ledger."""

    def __init__(
        self,
        committee: tuple[tuple[bytes, int], ...],
        threshold: int,
        params: Params,
        audit: AuditLog,
    ) -> None:
        self.members: dict[bytes, int] = dict(committee)  # public key -> weight
        self.threshold = threshold
        self.total_weight = sum(self.members.values())
        self.params = params
        self.audit = audit
        self.proposals: dict[str, Proposal] = {}
        self.open: dict[str, None] = {}  # ids of open proposals, in creation order
        # ("enact" | "emergency" | "lapse", id) in the order the height decided them.
        self.queue: list[tuple[str, str]] = []
        self._dirty: set[str] = set()

    # -- reads ---------------------------------------------------------------
    def is_provisional(self, proposal_id: str) -> bool:
        """True for an emergency measure still awaiting ratification."""
        p = self.proposals.get(proposal_id)
        return p is not None and p.emergency and p.status == ProposalStatus.OPEN

    # -- transactions --------------------------------------------------------------
    def propose(self, tx: Transaction, proposer: bytes, height: int) -> Outcome | None:
        """A gov.propose transaction; None when it created the proposal."""
        weight = self.members.get(tx.body.sender)
        if weight is None:
            return rejected(Reason.NOT_AUTHORIZED)
        try:
            payload = PROPOSE_DECODER.decode(tx.payload)
        except msgspec.ValidationError:
            # Well-formed msgpack that does not fit: an unknown action, an
            # argument of the wrong type, a content rule out of its bounds.
            return rejected(Reason.BAD_ARGUMENT)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return rejected(Reason.MALFORMED_PAYLOAD)
        if encode(payload) != tx.payload:
            return rejected(Reason.MALFORMED_PAYLOAD)  # only the canonical encoding counts
        if payload.emergency and not isinstance(payload.action, EMERGENCY_ACTIONS):
            return rejected(Reason.EMERGENCY_NOT_ALLOWED)
        if (
            not 1 <= len(payload.reason.encode()) <= REASON_BYTES_MAX
            or len(payload.evidence) not in (0, HASH_BYTES)
            or actions.argument_error(payload.action, self.params) is not None
        ):
            return rejected(Reason.BAD_ARGUMENT)
        if len(self.open) >= PROPOSALS_OPEN_MAX:
            return rejected(Reason.LIMIT_REACHED)
        ttl_param = "emergency_ttl_heights" if payload.emergency else "proposal_ttl_heights"
        ttl = self.params.get(ttl_param)
        assert ttl is not None
        p = Proposal(
            id=tx.id.hex(),
            proposer=proposer,
            action=payload.action,
            reason=payload.reason,
            evidence=payload.evidence,
            emergency=payload.emergency,
            created_height=height,
            expires_height=height + ttl,
            yes_weight=weight,
            votes=((proposer, True),),
        )
        self.open[p.id] = None
        name = p.action_name + (" (emergency)" if p.emergency else "")
        self.audit.append(
            height,
            AuditKind.PROPOSAL,
            proposer,
            actions.subject_of(p.action),
            p.id,
            f"{name}: {p.reason}",
            p.evidence,
        )
        p = self._decide(p, height)
        if p.emergency and p.status == ProposalStatus.OPEN:
            self.queue.append(("emergency", p.id))
        return None

    def vote(self, tx: Transaction, voter: bytes, height: int) -> Outcome | None:
        """A gov.vote transaction; None when the vote counted."""
        weight = self.members.get(tx.body.sender)
        if weight is None:
            return rejected(Reason.NOT_AUTHORIZED)
        try:
            v = decode_canonical(tx.payload, VOTE_DECODER)
        except DecodeError:
            return rejected(Reason.MALFORMED_PAYLOAD)
        if len(v.proposal) != HASH_BYTES:
            return rejected(Reason.BAD_ARGUMENT)
        p = self.proposals.get(v.proposal.hex())
        if p is None:
            return rejected(Reason.UNKNOWN_PROPOSAL)
        if p.status != ProposalStatus.OPEN:
            return rejected(Reason.PROPOSAL_CLOSED, p.id)
        if any(a == voter for a, _ in p.votes):
            return rejected(Reason.DUPLICATE_VOTE, p.id)
        p = msgspec.structs.replace(
            p,
            yes_weight=p.yes_weight + weight * v.yes,
            no_weight=p.no_weight + weight * (not v.yes),
            votes=(*p.votes, (voter, v.yes)),
        )
        reason = "yes" if v.yes else "no"
        self.audit.append(height, AuditKind.VOTE, voter, f"proposal:{p.id}", p.id, reason)
        self._decide(p, height)
        return None

    def _decide(self, p: Proposal, height: int) -> Proposal:
        """Store p after a tally change, passing or rejecting it when the votes say so."""
        participation = self.params.get("participation_min")
        assert participation is not None
        if p.yes_weight >= self.threshold and p.yes_weight + p.no_weight >= participation:
            p = transition(p, ProposalStatus.PASSED, height)
            self.queue.append(("enact", p.id))
        elif self.total_weight - p.no_weight < self.threshold:
            p = transition(p, ProposalStatus.REJECTED, height)
            self.audit.append(
                height, AuditKind.PROPOSAL_REJECTED, b"", f"proposal:{p.id}", p.id, "outvoted"
            )
            if p.emergency:
                self.queue.append(("lapse", p.id))
        self._store(p)
        return p

    # -- end of height ---------------------------------------------------------------
    def take_queue(self) -> list[tuple[str, str]]:
        """This height's decisions, in order, for the ledger to carry out."""
        out, self.queue = self.queue, []
        return out

    def enacted(self, proposal_id: str, height: int, outcome: str) -> None:
        """Record that a passed proposal's action was applied (or was a no-op)."""
        p = self.proposals[proposal_id]
        assert p.status == ProposalStatus.PASSED and p.enacted_height is None
        self._store(msgspec.structs.replace(p, enacted_height=height, outcome=outcome))

    def expire(self, height: int) -> Iterator[Proposal]:
        """Expire every open proposal whose last height has passed; yields them."""
        due = [pid for pid in self.open if self.proposals[pid].expires_height <= height]
        for pid in sorted(due, key=lambda i: (self.proposals[i].expires_height, i)):
            p = transition(self.proposals[pid], ProposalStatus.EXPIRED, height)
            self._store(p)
            self.audit.append(
                height, AuditKind.EXPIRY, b"", f"proposal:{pid}", pid, "not decided in time"
            )
            yield p

    def _store(self, p: Proposal) -> None:
        self.proposals[p.id] = p
        if p.status != ProposalStatus.OPEN:
            self.open.pop(p.id, None)
        self._dirty.add(p.id)

    def writes(self) -> list[Any]:
        """Proposals changed this height, sorted by id (state hash)."""
        if not self._dirty:
            return []
        out = [self.proposals[i] for i in sorted(self._dirty)]
        self._dirty.clear()
        return out
