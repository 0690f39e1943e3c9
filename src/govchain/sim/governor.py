"""Governance in the simulator: a committee and a business play a scripted scenario.

The script is a few tracks of steps; each track runs its steps in order, the
tracks side by side. A step sends one transaction (a proposal, with the votes
that follow it, or a plain service, identity or record transaction) and is
done once it is final; lost or out-of-order transactions are sent again. What
the steps do is only judged by the checkers (state hash and audit head
agreement, conservation). Every registered action takes part: those the
scenario needs in a particular state (a held transfer, a final record) have
their steps here; every other action is proposed once from its module's
example (`ActionSpec.example`), so an action added to the registry joins the
script without an edit here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from govchain.codec import encode
from govchain.dag.kinds import Kind
from govchain.dag.tx import Transaction, payload_hash
from govchain.replica.view import ChainView
from govchain.sim.workload import Client, Workload
from govchain.state.actions.freeze_amount import FreezeAmount
from govchain.state.actions.unfreeze_amount import UnfreezeAmount
from govchain.state.actions.unwatch import Unwatch
from govchain.state.actions.watch import WatchAccounts
from govchain.state.args import Examples
from govchain.state.catalog import BUILTIN
from govchain.state.governance import ProposalStatus
from govchain.state.payloads import (
    Action,
    AddFilter,
    AddValidator,
    FreezeIdentity,
    GrantRole,
    IdentitySetPayload,
    Intercept,
    ProposePayload,
    RecordPayload,
    Redact,
    Release,
    ResumeService,
    ServiceRegisterPayload,
    SetParam,
    SetPermission,
    SuspendService,
    UnfreezeIdentity,
    VotePayload,
    action_name,
)
from govchain.state.policy import PayloadHashRule, RuleAction, keyword_rule
from govchain.state.receipts import Reason, Receipt, Status
from govchain.state.registry import Registry

RETRY_MS = 2_500  # not final by then: send again
RESEND_REASONS = frozenset({Reason.CONFLICT, Reason.NONCE_GAP, Reason.EXPIRED})  # lost the race
FILING_NUMBER = "京网信备11010519000001号"
SERVICE = "shop"
KEYWORD = "contraband"
HELD_RECORD = RecordPayload(SERVICE, "text/plain", b"needs a second look")
# Fund tracing: a case, the trace root it cites, and how the measures are sized.
CASE = "sim-ransom"
TRACE_ROOT = bytes(range(32))
LIEN_SPENDABLE = 2_000  # what a lien leaves of the balance seen when proposing it
LIEN_LIFT = 5_000  # what the unfreeze-amount lifts again
MEASURE_HEIGHTS = 3  # heights a lien or a watch acts before the committee eases it
WATCH_HEIGHTS = 1_000  # a watch's reach: past the run, so unwatch ends it
# The parameter some seeds set and clear before any other is set (changes nothing the
# script relies on).
EMPTIED_PARAM = "audit_retention_days"
EMPTIED_VALUE = 365


@dataclass(slots=True)
class View:
    """What a step may read: the time, the most advanced honest chain, final receipts."""

    now_ms: int
    chain: ChainView
    final: Mapping[bytes, Receipt]


Build = Callable[[View], bytes | None]  # a payload, or None while its target is unknown


@dataclass(slots=True)
class Step:
    """One transaction of the script and, for a proposal, who votes yes and when."""

    label: str
    actor: Client
    kind: Kind
    payload: Build
    voters: tuple[Client, ...] = ()
    vote_after_heights: int = 0  # > 0: let an emergency measure act before ratifying it
    wait_decided: bool = True  # a proposal step ends when decided (else once it exists)
    tx: bytes | None = None
    sent_ms: int = 0
    votes: dict[bytes, tuple[bytes, int]] = field(default_factory=dict)  # voter -> (tx, ms)


def vote(proposer: Client, action: Action, *voters: Client) -> Step:
    """A proposal that voters ratify as soon as they see it."""
    data = encode(ProposePayload(action, "sim", b"", False))
    return Step(action_name(action), proposer, Kind.GOV_PROPOSE, lambda _view: data, voters)


def plain(actor: Client, kind: Kind, payload: object) -> Step:
    """A transaction that is done once final, whatever its outcome."""
    data = encode(payload)
    return Step(kind, actor, kind, lambda _view: data)


class Governor:
    """Drives the script against the cluster through `submit`."""

    def __init__(
        self,
        workload: Workload,
        regulators: list[Client],
        business: Client,
        clients: list[Client],
        registry: Registry = BUILTIN,
        params_emptied_first: bool = False,
    ) -> None:
        self.workload = workload
        self.regs = regulators
        self.biz = business
        self.clients = clients
        self.params_emptied_first = params_emptied_first
        self.tracks: list[list[Step]] = []
        self._script()
        self._examples(registry)

    # -- the scenario -------------------------------------------------------------
    def _script(self) -> None:
        r0, r1, r2 = self.regs
        biz, c = self.biz, self.clients
        short_ttl = 3
        # On some seeds a parameter is set and cleared first, while it is the only
        # one set: the parameters go back to none (later, the short ttl stays set).
        emptied = (
            (
                vote(r2, SetParam(EMPTIED_PARAM, EMPTIED_VALUE), r0),
                vote(r0, SetParam(EMPTIED_PARAM, None), r1),
            )
            if self.params_emptied_first
            else ()
        )
        self.track(
            *emptied,
            vote(r0, SetParam("emergency_ttl_heights", short_ttl), r1),
            vote(r1, SetParam("hold_amount_min", 4_500), r2),
            Step("release", r1, Kind.GOV_PROPOSE, self._on_held(Release), (r2,)),
            Step("intercept", r2, Kind.GOV_PROPOSE, self._on_held(Intercept), (r0,)),
            Step(
                "emergency intercept that lapses",
                r0,
                Kind.GOV_PROPOSE,
                self._on_held(Intercept, emergency=True),
                wait_decided=False,
            ),
            vote(r0, SetParam("hold_amount_min", None), r1),
        )
        frozen = c[0].key.address
        self.track(vote(r1, FreezeIdentity(frozen), r2), vote(r2, UnfreezeIdentity(frozen), r0))
        lapsing, ratified = c[1].key.address, c[2].key.address

        def emergency(address: bytes) -> Build:
            data = encode(ProposePayload(FreezeIdentity(address), "sim", b"", True))
            # Once the short ttl governs, so that a lapse happens within the run.
            return lambda v: data if v.chain.param("emergency_ttl_heights") == short_ttl else None

        self.track(
            Step(
                "emergency freeze that lapses",
                r2,
                Kind.GOV_PROPOSE,
                emergency(lapsing),
                wait_decided=False,
            ),
            Step("emergency freeze, ratified", r0, Kind.GOV_PROPOSE, emergency(ratified), (r1,), 1),
            vote(r1, UnfreezeIdentity(ratified), r2),
        )
        keyword = keyword_rule(KEYWORD)
        by_hash = PayloadHashRule(payload_hash(encode(HELD_RECORD)))
        first = plain(biz, Kind.RECORD, RecordPayload(SERVICE, "text/plain", b"hello"))
        self.track(
            plain(biz, Kind.SERVICE_REGISTER, ServiceRegisterPayload(SERVICE, "")),
            first,
            vote(r0, AddFilter(keyword, RuleAction.REJECT), r1),
            vote(r1, AddFilter(by_hash, RuleAction.HOLD), r0),
            plain(biz, Kind.RECORD, RecordPayload(SERVICE, "text/plain", b"selling Contra band")),
            plain(biz, Kind.RECORD, HELD_RECORD),
            Step("redact", r2, Kind.GOV_PROPOSE, self._redact(first), (r0,)),
            vote(r0, SuspendService(SERVICE), r2),
            plain(biz, Kind.RECORD, RecordPayload(SERVICE, "text/plain", b"while suspended")),
            vote(r2, ResumeService(SERVICE), r1),
        )
        issued = IdentitySetPayload(c[3].key.address, "person", 1, bytes(32), "active")
        self.track(
            vote(r1, GrantRole(biz.key.address, "issuer"), r0),
            plain(biz, Kind.IDENTITY_SET, issued),
        )
        # A kind restricted, then open again: the permissions go back to none, a
        # change a node must not mistake for no change (its cached image part).
        self.track(
            vote(r2, SetPermission(Kind.IDENTITY_SET, "issuer"), r0),
            vote(r0, SetPermission(Kind.IDENTITY_SET, ""), r1),
        )
        self._fund_tracing(c[3].key.address, c[4].key.address, c[2].key.address, short_ttl)

    def _fund_tracing(self, traced: bytes, watched: bytes, lapsing: bytes, short_ttl: int) -> None:
        """Liens and a watch on clients that keep sending transfers, so that both act.

        traced gets a lien leaving LIEN_SPENDABLE of its balance (its later
        transfers run into it: frozen_amount), then part of it lifted; watched
        is watched at once by an emergency measure, ratified, and its held
        transfers released and intercepted before unwatch; lapsing gets an
        emergency lien that lapses.
        """
        r0, r1, r2 = self.regs
        lien = Step("freeze-amount", r1, Kind.GOV_PROPOSE, _lien(traced), (r2,))
        self.track(
            lien,
            Step(
                "unfreeze-amount",
                r2,
                Kind.GOV_PROPOSE,
                _after(lien, UnfreezeAmount(traced, LIEN_LIFT, CASE)),
                (r0,),
            ),
        )
        watch = Step("watch", r0, Kind.GOV_PROPOSE, _watch(watched), (r1,), 1)
        self.track(
            watch, Step("unwatch", r1, Kind.GOV_PROPOSE, _after(watch, Unwatch(CASE)), (r2,))
        )
        self.track(Step("release", r1, Kind.GOV_PROPOSE, _on_watched(Release, 0), (r2,)))
        self.track(Step("intercept", r2, Kind.GOV_PROPOSE, _on_watched(Intercept, 1), (r0,)))

        def emergency_lien(view: View) -> bytes | None:
            if view.chain.param("emergency_ttl_heights") != short_ttl:
                return None  # once the short ttl governs, so that it lapses within the run
            half = view.chain.account(lapsing).balance // 2
            action = FreezeAmount(lapsing, max(half, 1), TRACE_ROOT, case=CASE)
            return encode(ProposePayload(action, "sim", b"", True))

        self.track(
            Step(
                "emergency lien that lapses",
                r0,
                Kind.GOV_PROPOSE,
                emergency_lien,
                wait_decided=False,
            )
        )

    def _examples(self, registry: Registry) -> None:
        """One track proposing, in registry order, every action the scenario leaves out."""
        r0, r1, _ = self.regs
        covered = {s.label for track in self.tracks for s in track}
        covered.add(registry.spec_for(AddValidator).name)  # reweigh(), on even seeds
        # An address that no step gives a role or freezes: the examples change nobody.
        bystander = self.clients[-1].key
        ex = Examples(bystander.address, bystander.public_key, FILING_NUMBER)
        steps = [
            vote(r1, spec.example(ex), r0)
            for name, spec in registry.actions.items()
            if name not in covered and spec.example is not None
        ]
        if steps:
            self.track(*steps)

    def covered(self) -> frozenset[str]:
        """Labels of every step: the actions (and kinds) the script exercises."""
        return frozenset(s.label for track in self.tracks for s in track)

    def reweigh(self, heavy: bytes) -> None:
        """The even-seed validator reweigh, as a committee decision."""
        r0, r1, _ = self.regs
        self.track(vote(r0, AddValidator(heavy, 2), r1))

    def track(self, *steps: Step) -> None:
        """Add steps that run in order, beside the other tracks."""
        self.tracks.append(list(steps))

    @staticmethod
    def _on_held(kind: type[Release | Intercept], emergency: bool = False) -> Build:
        """A proposal on the oldest transfer still held, once there is one."""

        def build(view: View) -> bytes | None:
            held = sorted(
                (h.height, h.tx_id)
                for h in view.chain.holds()
                if h.resolution is None and h.kind == Kind.TRANSFER
            )
            if not held:
                return None
            return encode(ProposePayload(kind(held[0][1]), "sim", b"", emergency))

        return build

    @staticmethod
    def _redact(step: Step) -> Build:
        def build(view: View) -> bytes | None:
            if step.tx is None or step.tx not in view.final:
                return None
            return encode(ProposePayload(Redact(step.tx), "sim", b"", False))

        return build

    # -- driving ---------------------------------------------------------------------
    def step(self, view: View, node: ChainView, submit: Callable[[Transaction], bool]) -> None:
        """Advance every track's current step by what the view shows."""
        for track in self.tracks:
            if track and self._advance(track[0], view, node, submit):
                track.pop(0)

    def _advance(
        self, s: Step, view: View, node: ChainView, submit: Callable[[Transaction], bool]
    ) -> bool:
        if s.tx is None:
            payload = s.payload(view)
            if payload is not None:
                tx = self._send(s.actor, s.kind, payload, view, node, submit)
                if tx is not None:
                    s.tx, s.sent_ms, s.votes = tx.id, view.now_ms, {}
            return False
        r = view.final.get(s.tx)
        if r is None or r.reason in RESEND_REASONS:
            if r is not None or view.now_ms - s.sent_ms > RETRY_MS:
                s.tx = None
            return False
        if s.kind != Kind.GOV_PROPOSE or r.status != Status.EXECUTED:
            return True
        p = view.chain.proposal(s.tx.hex())
        if p is None:
            return False
        if p.status != ProposalStatus.OPEN or not s.wait_decided:
            return True
        if view.chain.height < p.created_height + s.vote_after_heights:
            return False
        voted = {a for a, _ in p.votes}
        for voter in s.voters:
            if voter.key.address in voted:
                continue
            sent = s.votes.get(voter.key.address)
            if sent is not None:
                vr = view.final.get(sent[0])
                stale = vr is None and view.now_ms - sent[1] <= RETRY_MS
                if stale or (vr is not None and vr.reason not in RESEND_REASONS):
                    continue
            data = encode(VotePayload(s.tx, True))
            tx = self._send(voter, Kind.GOV_VOTE, data, view, node, submit)
            if tx is not None:
                s.votes[voter.key.address] = (tx.id, view.now_ms)
        return False

    def _send(
        self,
        actor: Client,
        kind: str,
        payload: bytes,
        view: View,
        node: ChainView,
        submit: Callable[[Transaction], bool],
    ) -> Transaction | None:
        tx = self.workload.build(actor, node, view.now_ms, kind, payload)
        if not submit(tx):
            return None
        actor.sent(tx, view.now_ms)
        return tx


def _lien(traced: bytes) -> Build:
    """A lien on all but LIEN_SPENDABLE of traced's balance as the chain shows it now."""

    def build(view: View) -> bytes | None:
        amount = view.chain.account(traced).balance - LIEN_SPENDABLE
        if amount < 1:
            return None
        action = FreezeAmount(traced, amount, TRACE_ROOT, case=CASE)
        return encode(ProposePayload(action, "sim", b"", False))

    return build


def _watch(watched: bytes) -> Build:
    """An emergency watch of watched, reaching WATCH_HEIGHTS past the chain's height."""

    def build(view: View) -> bytes | None:
        action = WatchAccounts((watched,), view.chain.height + WATCH_HEIGHTS, CASE)
        return encode(ProposePayload(action, "sim", b"", True))

    return build


def _after(step: Step, action: Action) -> Build:
    """action, once step's proposal has acted for MEASURE_HEIGHTS heights."""
    data = encode(ProposePayload(action, "sim", b"", False))

    def build(view: View) -> bytes | None:
        # The track runs this once step is done: its proposal is decided.
        p = None if step.tx is None else view.chain.proposal(step.tx.hex())
        if p is None or p.decided_height is None:
            return None
        # An emergency measure acted from the height it was proposed in.
        since = p.created_height if p.emergency else p.decided_height
        return data if view.chain.height >= since + MEASURE_HEIGHTS else None

    return build


def _on_watched(kind: type[Release | Intercept], rank: int) -> Build:
    """A proposal on the held_watch transfer of this rank (oldest first), once there is one."""

    def build(view: View) -> bytes | None:
        held = sorted(
            (h.height, h.tx_id)
            for h in view.chain.holds()
            if h.resolution is None and h.reason == Reason.HELD_WATCH
        )
        if len(held) <= rank:
            return None
        return encode(ProposePayload(kind(held[rank][1]), "sim", b"", False))

    return build
