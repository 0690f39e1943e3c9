"""Tendermint BFT (Buchman, Kwon, Milosevic, arXiv 1807.04938) as a sans-I/O state machine.

Rule numbers in comments (L22, L28, ...) are the line numbers of Algorithm 1 in
the paper. Inputs: start, tick, on_proposal, on_vote, on_commit, recheck, each
with the caller's clock. Outputs come from ready(): the hard state to persist,
then the messages to broadcast, then the decisions, and the checkpoints whose
vertices the app lacks (to fetch). The caller must persist the hard state
before sending the messages: it holds the double-sign guard. The app
(ConsensusApp) is only queried: it judges and proposes without changing state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Protocol

import msgspec

from govchain.codec import encode
from govchain.consensus.config import ConsensusConfig
from govchain.consensus.messages import (
    NIL,
    Certificate,
    Checkpoint,
    Proposal,
    Vote,
    VoteKind,
    certificate_error,
    sign_proposal,
    sign_vote,
)
from govchain.consensus.validators import ValidatorSet
from govchain.consensus.votebook import Added, VoteBook
from govchain.crypto.keys import SigningKey


def future_cost_bytes(msg: Proposal | Vote) -> int:
    """What a queued next-height message is charged in future_bytes_max."""
    # Its decoded objects take about twice its encoded size; 256 for the entries.
    return 2 * len(encode(msg)) + 256


class Step(IntEnum):
    """Steps of a round, in order."""

    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


class Verdict(Enum):
    """The application's judgement of a proposed checkpoint."""

    VALID = "valid"
    INVALID = "invalid"
    PENDING = "pending"  # execution has not reached it: ask again after recheck()
    # Valid as far as the app can tell, but it lacks vertices the checkpoint
    # names: Ready.wanted carries it so that the caller fetches them, and
    # recheck() asks again once they are here.
    MISSING = "missing"


class Relation(Enum):
    """Where a message's height stands against ours; the caller helps laggards."""

    PAST = "past"
    CURRENT = "current"
    FUTURE = "future"
    IGNORED = "ignored"


class ConsensusApp(Protocol):
    """What consensus needs from the ledger and execution."""

    def validator_set(self, height: int) -> ValidatorSet | None:
        """The set that certifies height; None until execution has gone far enough."""
        ...

    def propose(self, height: int, previous: Checkpoint | None, now_ms: int) -> Checkpoint | None:
        """A new checkpoint to propose, or None while not ready (execution behind)."""
        ...

    def check(self, checkpoint: Checkpoint, previous: Checkpoint | None, now_ms: int) -> Verdict:
        """Judge a proposed checkpoint, changing nothing; MISSING until every tip is held."""
        ...


class HardState(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """What must survive a crash: locks, and every message signed at this height."""

    height: int
    round: int
    step: int
    locked_round: int = -1
    locked_value: Checkpoint | None = None
    valid_round: int = -1
    valid_value: Checkpoint | None = None
    proposals: tuple[Proposal, ...] = ()
    votes: tuple[Vote, ...] = ()
    polka: tuple[Vote, ...] = ()  # prevotes that justify valid_value, re-sent with it


@dataclass(slots=True)
class Ready:
    """Outputs in the order the caller must act on them."""

    hard_state: HardState | None = None
    messages: list[Proposal | Vote] = field(default_factory=list)
    decided: list[tuple[Checkpoint, Certificate]] = field(default_factory=list)
    # Checkpoints judged MISSING: the caller fetches what they name, then rechecks.
    wanted: list[Checkpoint] = field(default_factory=list)

    def empty(self) -> bool:
        """Nothing to persist, send, fetch or apply."""
        return (
            self.hard_state is None and not self.messages and not self.decided and not self.wanted
        )


class _Timer(IntEnum):
    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


class Tendermint:
    """One validator's (or observer's) consensus state; no I/O inside."""

    def __init__(
        self,
        chain_id: str,
        genesis_hash: bytes,
        app: ConsensusApp,
        key: SigningKey | None,
        config: ConsensusConfig,
        last_decided: Checkpoint | None,
        hard_state: HardState | None = None,
    ) -> None:
        self.chain_id = chain_id
        self.genesis_hash = genesis_hash
        self.app = app
        self.key = key
        self.config = config
        self.previous = last_decided
        self.height = (last_decided.height if last_decided else 0) + 1
        self.equivocations = 0
        self.rejected_messages = 0
        self._ready = Ready()
        # Next-height messages in arrival order, and what each signer's cost.
        self._future: list[Proposal | Vote] = []
        self._future_seen: set[Proposal | Vote] = set()
        self._future_bytes = 0
        self._future_bytes_of: dict[bytes, int] = {}
        self._restore_from = hard_state
        self.entered = False
        self.started = False
        self._reset_height()

    # -- per-height state ------------------------------------------------
    def _reset_height(self) -> bool:
        """Fresh state for self.height; True once its validator set is known (entered)."""
        valset = self.app.validator_set(self.height)
        self.entered = valset is not None
        if valset is not None:
            self.valset = valset
        self.round = 0
        self.step = Step.PROPOSE
        self.locked_round = -1
        self.locked_value: Checkpoint | None = None
        self.valid_round = -1
        self.valid_value: Checkpoint | None = None
        self.proposals: dict[int, Proposal] = {}
        self.votes = VoteBook(valset, count_duplicates="double-count" in self.config.plants)
        self.round_senders: dict[int, dict[bytes, None]] = {}
        self.signed_proposals: dict[int, Proposal] = {}
        self.signed_votes: dict[tuple[int, int], Vote] = {}
        self.timers: dict[tuple[_Timer, int], int] = {}
        self.helped_ms: dict[int, int] = {}
        self.precommit_done: set[int] = set()
        self.last_progress_ms = 0
        # When this node entered the height; None after a restart mid-height, when
        # the propose delay (which paces a fresh height) has long passed.
        self.height_started_ms: int | None = None
        hs = self._restore_from
        if self.entered and hs is not None:
            self._restore_from = None
            if hs.height == self.height:
                self._restore(hs)
        return self.entered

    def _restore(self, hs: HardState) -> None:
        self.round, self.step = hs.round, Step(hs.step)
        self.locked_round, self.locked_value = hs.locked_round, hs.locked_value
        self.valid_round, self.valid_value = hs.valid_round, hs.valid_value
        for p in hs.proposals:
            self.signed_proposals[p.round] = p
            self.proposals[p.round] = p
            self.round_senders.setdefault(p.round, {})[p.proposer] = None
        for v in hs.polka:
            self.votes.add(v)
        for v in hs.votes:
            self.signed_votes[(v.kind, v.round)] = v
            self.votes.add(v)
            self.round_senders.setdefault(v.round, {})[v.voter] = None

    def _hard_state(self) -> HardState:
        return HardState(
            self.height,
            self.round,
            int(self.step),
            self.locked_round,
            self.locked_value,
            self.valid_round,
            self.valid_value,
            tuple(self.signed_proposals[r] for r in sorted(self.signed_proposals)),
            tuple(self.signed_votes[k] for k in sorted(self.signed_votes)),
            tuple(self._polka(self.valid_round, self.valid_value)),
        )

    def _polka(self, round_: int, value: Checkpoint | None) -> list[Vote]:
        if value is None or round_ < 0:
            return []
        return self.votes.votes_for(VoteKind.PREVOTE, round_, value.hash)

    def _dirty(self) -> None:
        self._ready.hard_state = self._hard_state()

    @property
    def is_validator(self) -> bool:
        """True when our key holds weight at the current height."""
        return (
            self.entered and self.key is not None and self.valset.weight_of(self.key.public_key) > 0
        )

    # -- inputs ----------------------------------------------------------
    def start(self, now_ms: int) -> None:
        """Begin (or resume after a restart) the current round."""
        self.started = True
        if not self.entered:
            self._try_enter(now_ms)
            return
        self._start_round(self.round, now_ms, resume=True)
        # After a restart, re-send what we had signed so peers see it again.
        self._rebroadcast(now_ms)
        self._process(now_ms)

    def _try_enter(self, now_ms: int) -> None:
        """Enter the current height once its validator set is known."""
        if self.entered:
            return
        if not self._reset_height():
            return
        self.height_started_ms = now_ms
        self._start_round(self.round, now_ms, resume=True)
        self._dirty()
        future, self._future = self._future, []
        self._future_seen.clear()
        self._future_bytes = 0
        self._future_bytes_of.clear()
        for msg in future:
            if isinstance(msg, Proposal):
                self.on_proposal(msg, now_ms)
            else:
                self.on_vote(msg, now_ms)
        self._process(now_ms)

    def tick(self, now_ms: int) -> None:
        """Advance the clock: fire due timeouts, re-send when stuck."""
        if not self.started:
            return
        if not self.entered:
            self._try_enter(now_ms)
            return
        for (kind, rnd), deadline in sorted(self.timers.items(), key=lambda kv: kv[1]):
            if deadline <= now_ms and self.timers.get((kind, rnd)) == deadline:
                del self.timers[(kind, rnd)]
                self._on_timeout(kind, rnd, now_ms)
        if now_ms - self.last_progress_ms >= self.config.rebroadcast_ms:
            self._rebroadcast(now_ms)
        self._process(now_ms)

    def recheck(self, now_ms: int) -> None:
        """The application's view changed (vertices arrived, execution finished)."""
        if not self.started:
            return
        if not self.entered:
            self._try_enter(now_ms)
        else:
            self._process(now_ms)

    def on_proposal(self, p: Proposal, now_ms: int) -> Relation:
        """A proposal from the network."""
        relation = self._relation(p.height, p)
        if relation is not Relation.CURRENT:
            return relation
        if p.proposer != self.valset.proposer(p.height, p.round) or not p.verify():
            self.rejected_messages += 1
            return Relation.IGNORED
        if p.checkpoint.chain_id != self.chain_id or p.checkpoint.height != p.height:
            self.rejected_messages += 1
            return Relation.IGNORED
        have = self.proposals.get(p.round)
        if have is not None:
            if have.checkpoint.hash != p.checkpoint.hash:
                self.equivocations += 1
            return Relation.CURRENT
        if not self._round_in_reach(p.round):
            return Relation.IGNORED
        self.proposals[p.round] = p
        self.round_senders.setdefault(p.round, {})[p.proposer] = None
        self._process(now_ms)
        return Relation.CURRENT

    def on_vote(self, v: Vote, now_ms: int) -> Relation:
        """A prevote or precommit from the network."""
        relation = self._relation(v.height, v)
        if relation is not Relation.CURRENT:
            return relation
        if (
            v.chain_id != self.chain_id
            or v.kind not in (VoteKind.PREVOTE, VoteKind.PRECOMMIT)
            or self.valset.weight_of(v.voter) == 0
            or not self._round_in_reach(v.round)
        ):
            self.rejected_messages += 1
            return Relation.IGNORED
        if v.round < self.round:
            self._help_round(v.round, now_ms)
        if self.votes.has(v) and not self.votes.count_duplicates:
            return Relation.CURRENT
        if not v.verify():
            self.rejected_messages += 1
            return Relation.IGNORED
        if self.votes.add(v) is Added.EQUIVOCATION:
            self.equivocations += 1
        self.round_senders.setdefault(v.round, {})[v.voter] = None
        self._process(now_ms)
        return Relation.CURRENT

    def on_commit(self, checkpoint: Checkpoint, cert: Certificate, now_ms: int) -> bool:
        """A peer's proof that our current height is decided; True when it was taken."""
        if (
            not self.entered
            or checkpoint.height != self.height
            or checkpoint.chain_id != self.chain_id
        ):
            return False
        if self._previous_hash() != checkpoint.previous:
            self.rejected_messages += 1
            return False
        if certificate_error(cert, checkpoint, self.valset) is not None:
            self.rejected_messages += 1
            return False
        self._decide(checkpoint, cert, now_ms)
        self._process(now_ms)
        return True

    def ready(self) -> Ready:
        """Take the outputs gathered since the last call."""
        out, self._ready = self._ready, Ready()
        return out

    def take_wanted(self) -> list[Checkpoint]:
        """Take only Ready.wanted: a caller fetches as soon as an input has been judged."""
        out, self._ready.wanted = self._ready.wanted, []
        return out

    # -- helpers ---------------------------------------------------------
    def _relation(self, height: int, msg: Proposal | Vote) -> Relation:
        if height < self.height:
            return Relation.PAST
        waiting = height == self.height and not self.entered
        if waiting or height == self.height + 1:
            return self._queue_future(msg)
        if height > self.height:
            return Relation.FUTURE
        return Relation.CURRENT

    def _queue_future(self, msg: Proposal | Vote) -> Relation:
        """Keep a next-height message for when we enter that height, within budget.

        Only a signature from a member of the latest set we know: anyone else's
        message is IGNORED (peers are free to make; validators are not). When
        the queue or the signer's share is full it is dropped, but still FUTURE:
        the replica asks that peer for the decisions it is missing.
        """
        signer = msg.proposer if isinstance(msg, Proposal) else msg.voter
        valset = self._latest_valset()
        if valset is not None and valset.weight_of(signer) == 0:
            self.rejected_messages += 1
            return Relation.IGNORED
        if msg in self._future_seen:
            return Relation.FUTURE
        if not msg.verify():
            self.rejected_messages += 1
            return Relation.IGNORED
        cost = future_cost_bytes(msg)
        held = self._future_bytes_of.get(signer, 0)
        config = self.config
        if (
            len(self._future) < config.future_messages_max
            and self._future_bytes + cost <= config.future_bytes_max
            and held + cost <= config.future_bytes_per_sender_max
        ):
            self._future.append(msg)
            self._future_seen.add(msg)
            self._future_bytes += cost
            self._future_bytes_of[signer] = held + cost
        return Relation.FUTURE

    def _latest_valset(self) -> ValidatorSet | None:
        """The set of the current height, or failing that the last one entered.

        After a restart that has decided more than it executed, neither may be
        known: then any signed message may wait (the byte budget still holds).
        """
        if self.entered:
            return self.valset
        known: ValidatorSet | None = getattr(self, "valset", None)
        return known

    def future_bytes(self) -> int:
        """What the next-height queue holds (see future_cost_bytes)."""
        return self._future_bytes

    def future_bytes_per_sender_most(self) -> int:
        """The largest part of the next-height queue that one signer holds."""
        return max(self._future_bytes_of.values(), default=0)

    def _round_in_reach(self, round_: int) -> bool:
        return 0 <= round_ <= self.round + self.config.rounds_ahead_max

    def _previous_hash(self) -> bytes:
        return self.genesis_hash if self.previous is None else self.previous.hash

    def _weight(self, kind: VoteKind, round_: int, value: bytes | None) -> int:
        """Weight of votes of kind in round for value (None: any value)."""
        return self.votes.weight(kind, round_, value)

    def _schedule(self, kind: _Timer, round_: int, base_ms: int, now_ms: int) -> None:
        if (kind, round_) not in self.timers:
            self.timers[(kind, round_)] = now_ms + self.config.timeout_ms(base_ms, round_)

    def _start_round(self, round_: int, now_ms: int, *, resume: bool = False) -> None:
        """StartRound of the paper (L11)."""
        if not resume:
            self.round, self.step = round_, Step.PROPOSE
            self._dirty()
        self.last_progress_ms = now_ms
        self._schedule(_Timer.PROPOSE, round_, self.config.propose_timeout_ms, now_ms)
        if self.step is Step.PREVOTE:
            self._schedule(_Timer.PREVOTE, round_, self.config.prevote_timeout_ms, now_ms)
        elif self.step is Step.PRECOMMIT:
            self._schedule(_Timer.PRECOMMIT, round_, self.config.precommit_timeout_ms, now_ms)

    def _try_propose(self, now_ms: int) -> bool:
        if (
            self.step is not Step.PROPOSE
            or not self.is_validator
            or self.round in self.signed_proposals
            or self.valset.proposer(self.height, self.round) != self._key().public_key
            or (
                self.height_started_ms is not None
                and now_ms - self.height_started_ms < self.config.propose_delay_ms
            )
        ):
            return False
        value = self.valid_value
        if value is None:
            value = self.app.propose(self.height, self.previous, now_ms)
            if value is None:
                return False
        p = sign_proposal(self._key(), self.height, self.round, value, self.valid_round)
        self.signed_proposals[self.round] = p
        self._dirty()
        self._ready.messages.append(p)
        self._send_polka(self.valid_round, value)
        self.proposals.setdefault(self.round, p)
        self.round_senders.setdefault(self.round, {})[p.proposer] = None
        return True

    def _key(self) -> SigningKey:
        assert self.key is not None
        return self.key

    def _cast(self, kind: VoteKind, value: bytes, now_ms: int) -> None:
        """Sign and send a vote, unless one for (kind, round) was already signed."""
        self.step = Step.PREVOTE if kind is VoteKind.PREVOTE else Step.PRECOMMIT
        self.last_progress_ms = now_ms
        self._dirty()
        if not self.is_validator:
            return
        slot = (int(kind), self.round)
        vote = self.signed_votes.get(slot)
        if vote is None:
            vote = sign_vote(self._key(), self.chain_id, kind, self.height, self.round, value)
            self.signed_votes[slot] = vote
            self._dirty()
        self._ready.messages.append(vote)
        if not self.votes.has(vote):
            self.votes.add(vote)
        self.round_senders.setdefault(self.round, {})[vote.voter] = None

    def _send_polka(self, round_: int, value: Checkpoint) -> None:
        """Re-send the prevotes that justify a re-proposal: peers may have lost them."""
        self._ready.messages.extend(self._polka(round_, value))

    def _help_round(self, round_: int, now_ms: int) -> None:
        """A peer is still in an earlier round: re-send what we signed there, and its precommits.

        Without this, a vote lost on its way to a peer stuck in that round is never
        sent again once we have moved on, and the peer waits forever. Not only
        ours: the precommits of others that let us leave the round (a quorum
        whose timeout moved us on) may have reached us alone, from a validator
        that is gone since; liveness assumes that what one correct process
        received, every correct one receives (simulator seed 442,
        docs/simulator.md). Precommits only: re-sending every prevote too
        doubled the messages (each old vote makes its receivers help in turn)
        and cost seed 134 its liveness.
        """
        helped_ms = self.helped_ms.get(round_)  # None: never helped in that round
        if helped_ms is not None and now_ms - helped_ms < self.config.rebroadcast_ms:
            return
        self.helped_ms[round_] = now_ms
        p = self.signed_proposals.get(round_)
        if p is not None:
            self._ready.messages.append(p)
        for kind in (VoteKind.PREVOTE, VoteKind.PRECOMMIT):
            v = self.signed_votes.get((int(kind), round_))
            if v is not None:
                self._ready.messages.append(v)
        mine = self.signed_votes.get((int(VoteKind.PRECOMMIT), round_))
        self._ready.messages.extend(
            held for held in self.votes.votes_in(VoteKind.PRECOMMIT, round_) if held is not mine
        )

    def _rebroadcast(self, now_ms: int) -> None:
        self.last_progress_ms = now_ms
        p = self.signed_proposals.get(self.round)
        if p is not None:
            self._ready.messages.append(p)
        if self.valid_value is not None:
            self._send_polka(self.valid_round, self.valid_value)
        for kind in (VoteKind.PREVOTE, VoteKind.PRECOMMIT):
            v = self.signed_votes.get((int(kind), self.round))
            if v is not None:
                self._ready.messages.append(v)

    def _on_timeout(self, kind: _Timer, round_: int, now_ms: int) -> None:
        if round_ != self.round:
            return
        if kind is _Timer.PROPOSE and self.step is Step.PROPOSE:
            self._cast(VoteKind.PREVOTE, NIL, now_ms)
        elif kind is _Timer.PREVOTE and self.step is Step.PREVOTE:
            self._cast(VoteKind.PRECOMMIT, NIL, now_ms)
        elif kind is _Timer.PRECOMMIT:
            self._start_round(round_ + 1, now_ms)

    # -- the upon-rules --------------------------------------------------
    def _process(self, now_ms: int) -> None:
        """Apply the paper's upon-rules until none fires."""
        while self.entered and self._step_rules(now_ms):
            pass

    def _step_rules(self, now_ms: int) -> bool:
        if self._rule_decide(now_ms):
            return True
        if self._rule_skip_round(now_ms):
            return True
        if self._try_propose(now_ms):
            return True
        r = self.round
        proposal = self.proposals.get(r)
        if (
            self.step is Step.PROPOSE
            and proposal is not None
            and self._rule_prevote(proposal, now_ms)
        ):
            return True
        if self.step is Step.PREVOTE:
            if self._weight(VoteKind.PREVOTE, r, None) >= self.valset.quorum:  # L34
                self._schedule(_Timer.PREVOTE, r, self.config.prevote_timeout_ms, now_ms)
            if self._weight(VoteKind.PREVOTE, r, NIL) >= self.valset.quorum:  # L44
                self._cast(VoteKind.PRECOMMIT, NIL, now_ms)
                return True
        if (
            proposal is not None
            and self.step >= Step.PREVOTE
            and r not in self.precommit_done
            and self._rule_lock(proposal, now_ms)
        ):
            return True
        if self._weight(VoteKind.PRECOMMIT, r, None) >= self.valset.quorum:  # L47
            self._schedule(_Timer.PRECOMMIT, r, self.config.precommit_timeout_ms, now_ms)
        return False

    def _rule_prevote(self, p: Proposal, now_ms: int) -> bool:
        """L22 and L28: prevote for a fresh or re-proposed value, honouring our lock."""
        v = p.checkpoint
        vr = p.valid_round
        if vr == -1:
            lock_ok = self.locked_round == -1 or self._locked_on(v)
        elif (
            0 <= vr < self.round
            and self._weight(VoteKind.PREVOTE, vr, v.hash) >= self.valset.quorum
        ):
            lock_ok = self.locked_round <= vr or self._locked_on(v)
        else:
            return False
        verdict = self._check(v, now_ms)
        if verdict is Verdict.PENDING or verdict is Verdict.MISSING:
            return False
        if "skip-lock" in self.config.plants:
            lock_ok = True
        ok = verdict is Verdict.VALID and lock_ok
        self._cast(VoteKind.PREVOTE, v.hash if ok else NIL, now_ms)
        return True

    def _check(self, v: Checkpoint, now_ms: int) -> Verdict:
        """The app's verdict on v; one it lacks vertices for goes out in Ready.wanted."""
        verdict = self.app.check(v, self.previous, now_ms)
        if verdict is Verdict.MISSING:
            wanted = self._ready.wanted
            if not wanted or wanted[-1] is not v:  # the rules may ask again at once
                wanted.append(v)
        return verdict

    def _locked_on(self, v: Checkpoint) -> bool:
        return self.locked_value is not None and self.locked_value.hash == v.hash

    def _rule_lock(self, p: Proposal, now_ms: int) -> bool:
        """L36: a polka for the proposal locks (if still prevoting) and marks it valid."""
        v = p.checkpoint
        if self._weight(VoteKind.PREVOTE, self.round, v.hash) < self.valset.quorum:
            return False
        if self._check(v, now_ms) is not Verdict.VALID:
            return False
        self.precommit_done.add(self.round)
        if self.step is Step.PREVOTE:
            self.locked_value, self.locked_round = v, self.round
            self._cast(VoteKind.PRECOMMIT, v.hash, now_ms)
        self.valid_value, self.valid_round = v, self.round
        self._dirty()
        return True

    def _rule_decide(self, now_ms: int) -> bool:
        """L49: a proposal with 2f+1 precommits in any round is decided."""
        for r in sorted(self.proposals):
            cp = self.proposals[r].checkpoint
            if self._weight(VoteKind.PRECOMMIT, r, cp.hash) >= self.valset.quorum:
                if cp.previous != self._previous_hash():
                    continue
                self._decide(cp, self._certificate(r, cp.hash), now_ms)
                return True
        return False

    def _rule_skip_round(self, now_ms: int) -> bool:
        """L55: f+1 weight already in a later round pulls us there."""
        for r in sorted(self.round_senders):
            if r > self.round:
                senders = self.round_senders[r]
                if sum(self.valset.weight_of(s) for s in senders) >= self.valset.skip:
                    self._start_round(r, now_ms)
                    return True
        return False

    def _certificate(self, round_: int, value: bytes) -> Certificate:
        votes = self.votes.votes_for(VoteKind.PRECOMMIT, round_, value)
        index = self.valset.index
        sigs = sorted((index[v.voter], v.signature) for v in votes)
        return Certificate(self.height, round_, value, tuple(sigs))

    def _decide(self, cp: Checkpoint, cert: Certificate, now_ms: int) -> None:
        self._ready.decided.append((cp, cert))
        self.previous = cp
        self.height += 1
        self.entered = False
        self._try_enter(now_ms)
        if not self.entered:
            self._dirty()
