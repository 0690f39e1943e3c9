"""Proposals and votes: the committee, tallies, and the proposal status table.

A proposal's life is one table (TRANSITIONS) checked by one function
(`transition`). Tallies are decided after every vote; what a decision does to
the rest of the state happens at the end of the height (the action's module,
through the registry, called by the ledger), so that every transaction of a
height sees the same governance state and a decision governs from the next
height on.

Governance owns no audit log and no parameters: each call hands back the
audit notes it made, in order, for the ledger (the one writer) to append, and
the ledger hands in the parameter values in force (`GovernanceParams`) at the
end of every height.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

import msgspec

from govchain.state.audit import AuditKind, AuditNote
from govchain.state.payload_base import ActionArgs, action_name

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
    action: ActionArgs
    reason: str
    evidence: bytes
    emergency: bool
    created_height: int
    expires_height: int
    status: str = ProposalStatus.OPEN.value  # a ProposalStatus
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


class GovernanceParams(NamedTuple):
    """The parameter values governance needs, as in force for the current height."""

    proposal_ttl_heights: int
    emergency_ttl_heights: int
    participation_min: int


class Decision(StrEnum):
    """What the end of a height must do with a decided proposal."""

    ENACT = "enact"
    EMERGENCY = "emergency"
    LAPSE = "lapse"


class Queued(NamedTuple):
    """A decision for the end of the height, in the order the height took it."""

    decision: Decision
    proposal_id: str


class Opened(NamedTuple):
    """What a new proposal carries, checked by the gov.propose kind."""

    action: ActionArgs
    subject: str  # what the action is about, as audit entries name it
    reason: str
    evidence: bytes
    emergency: bool


class Governance:
    """The committee's proposals; end-of-height work is queued for the ledger."""

    def __init__(
        self,
        committee: tuple[tuple[bytes, int], ...],
        threshold: int,
        params: GovernanceParams,
    ) -> None:
        self.members: dict[bytes, int] = dict(committee)  # public key -> weight
        self.threshold = threshold
        self.total_weight = sum(self.members.values())
        self.params = params
        self.proposals: dict[str, Proposal] = {}
        self.open: dict[str, None] = {}  # ids of open proposals, in creation order
        self.queue: list[Queued] = []
        self._dirty: set[str] = set()

    # -- reads ---------------------------------------------------------------
    def is_provisional(self, proposal_id: str) -> bool:
        """True for an emergency measure still awaiting ratification."""
        p = self.proposals.get(proposal_id)
        return p is not None and p.emergency and p.status == ProposalStatus.OPEN

    def is_full(self) -> bool:
        """True when no more proposals may open."""
        return len(self.open) >= PROPOSALS_OPEN_MAX

    # -- transactions --------------------------------------------------------------
    def propose(
        self, pid: str, proposer: bytes, weight: int, o: Opened, height: int
    ) -> list[AuditNote]:
        """Open a checked proposal (its proposer's yes counted); returns its audit notes."""
        ttl = self.params.emergency_ttl_heights if o.emergency else self.params.proposal_ttl_heights
        p = Proposal(
            id=pid,
            proposer=proposer,
            action=o.action,
            reason=o.reason,
            evidence=o.evidence,
            emergency=o.emergency,
            created_height=height,
            expires_height=height + ttl,
            yes_weight=weight,
            votes=((proposer, True),),
        )
        self.open[p.id] = None
        name = p.action_name + (" (emergency)" if p.emergency else "")
        notes = [
            AuditNote(
                AuditKind.PROPOSAL, proposer, o.subject, p.id, f"{name}: {p.reason}", p.evidence
            )
        ]
        p = self._decide(p, height, notes)
        if p.emergency and p.status == ProposalStatus.OPEN:
            self.queue.append(Queued(Decision.EMERGENCY, p.id))
        return notes

    def vote(
        self, p: Proposal, voter: bytes, weight: int, yes: bool, height: int
    ) -> list[AuditNote]:
        """Count an open proposal's vote by a member who has not voted; returns audit notes."""
        p = msgspec.structs.replace(
            p,
            yes_weight=p.yes_weight + weight * yes,
            no_weight=p.no_weight + weight * (not yes),
            votes=(*p.votes, (voter, yes)),
        )
        reason = "yes" if yes else "no"
        notes = [AuditNote(AuditKind.VOTE, voter, f"proposal:{p.id}", p.id, reason)]
        self._decide(p, height, notes)
        return notes

    def _decide(self, p: Proposal, height: int, notes: list[AuditNote]) -> Proposal:
        """Store p after a tally change, passing or rejecting it when the votes say so."""
        participation = self.params.participation_min
        if p.yes_weight >= self.threshold and p.yes_weight + p.no_weight >= participation:
            p = transition(p, ProposalStatus.PASSED, height)
            self.queue.append(Queued(Decision.ENACT, p.id))
        elif self.total_weight - p.no_weight < self.threshold:
            p = transition(p, ProposalStatus.REJECTED, height)
            notes.append(
                AuditNote(AuditKind.PROPOSAL_REJECTED, b"", f"proposal:{p.id}", p.id, "outvoted")
            )
            if p.emergency:
                self.queue.append(Queued(Decision.LAPSE, p.id))
        self._store(p)
        return p

    # -- end of height ---------------------------------------------------------------
    def take_queue(self) -> list[Queued]:
        """This height's decisions, in order, for the ledger to carry out."""
        out, self.queue = self.queue, []
        return out

    def enacted(self, proposal_id: str, height: int, outcome: str) -> None:
        """Record that a passed proposal's action was applied (or was a no-op)."""
        p = self.proposals[proposal_id]
        assert p.status == ProposalStatus.PASSED and p.enacted_height is None
        self._store(msgspec.structs.replace(p, enacted_height=height, outcome=outcome))

    def expire(self, height: int) -> list[tuple[Proposal, AuditNote]]:
        """Expire every open proposal whose last height has passed, with its audit note."""
        due = [pid for pid in self.open if self.proposals[pid].expires_height <= height]
        out = []
        for pid in sorted(due, key=lambda i: (self.proposals[i].expires_height, i)):
            p = transition(self.proposals[pid], ProposalStatus.EXPIRED, height)
            self._store(p)
            note = AuditNote(AuditKind.EXPIRY, b"", f"proposal:{pid}", pid, "not decided in time")
            out.append((p, note))
        return out

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
