"""The execution state machine: accounts, governance state, receipts, state hash.

Pure and deterministic: no clock (time is the checkpoint's), no floats, and no
iteration over unordered containers where order could leak into a result.

A height executes in two phases: its transactions in final order, each seeing
the governance state as the previous height left it; then, at the end, what
the height decided (enactments, emergency measures, lapses, expiry). So a
decision taken during height h governs from h + 1 on.

What each kind and action does lives in its own module (state/kinds/,
state/actions/); the ledger runs the checks every transaction shares, asks
the registry for the rest, writes the audit log (the one writer) and hashes
what changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govchain.codec import digest, encode
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import address_of
from govchain.dag.tx import Transaction
from govchain.state.accounts import Account, Accounts
from govchain.state.audit import AUDIT_EMPTY, AuditEntry, AuditKind, AuditLog
from govchain.state.catalog import BUILTIN
from govchain.state.context import Namespace, Stores
from govchain.state.genesis import Genesis
from govchain.state.governance import Decision, Governance, GovernanceParams, Proposal
from govchain.state.holds import Hold, Holds, Resolution
from govchain.state.identities import Identities, Identity, Registration
from govchain.state.kinds.record import PayloadMissingError
from govchain.state.params import Params
from govchain.state.permissions import Permission, Permissions
from govchain.state.policy import ContentRules
from govchain.state.receipts import Outcome, Reason, Receipt, Status, receipts_root, rejected
from govchain.state.redactions import Redaction, Redactions
from govchain.state.registry import NO_OP_WORDS, ActionSpec, Registry, TxContext
from govchain.state.rulebook import RuleBook
from govchain.state.schedule import VALSET_DELAY_HEIGHTS, Schedule, Scheduled
from govchain.state.services import Service, Services
from govchain.trace.movements import Movement

__all__ = [
    "STATE_DOMAIN",
    "VALSET_DELAY_HEIGHTS",
    "Account",
    "Executed",
    "Ledger",
    "PayloadMissingError",
]

STATE_DOMAIN = b"govchain:state:v1:"
EXTENSION_PART = "extension:"  # a registered namespace's part of the image: this + its name
# Namespaces whose writes() is None when nothing changed (the others give []).
_NONE_WHEN_UNCHANGED = frozenset({"params", "rules", "permissions"})

_EXECUTED = Status.EXECUTED.value
_REJECT = {r: rejected(r) for r in Reason}


@dataclass(frozen=True, slots=True)
class Executed:
    """The result of executing one checkpoint's newly covered vertices.

    audit: the audit entries this height appended; audit_head: the head after
    them (checkpoint height + 1 carries it). redacted: ids of records whose
    payload the node must delete in the same atomic commit. A store must keep
    all three; their defaults (no entries, the empty head) are only right for
    a chain without governance activity. movements: every final movement of
    value at this height, in final order (the store indexes them in the same
    commit; trace/movements.py). They follow from what the state hash
    commits, so they are not hashed themselves.
    """

    height: int
    receipts: list[Receipt]
    receipts_root: bytes
    state_hash: bytes
    audit: tuple[AuditEntry, ...] = ()
    audit_head: bytes = AUDIT_EMPTY
    redacted: tuple[bytes, ...] = ()
    movements: tuple[Movement, ...] = ()


class Ledger:
    """State after the last executed checkpoint, and the one way to advance it."""

    def __init__(self, genesis: Genesis, registry: Registry = BUILTIN) -> None:
        self.genesis = genesis
        self.registry = registry
        self.height = 0
        self.state_hash = digest(STATE_DOMAIN, genesis.hash)
        self.receipts_root = receipts_root([])
        # Chains made since issue 12 write validator changes as data too (typed_audit).
        self.audit = AuditLog(typed_changes=genesis.typed_audit)
        params = Params(
            genesis.threshold,
            genesis.committee_weight,
            registry.params.values(),  # an application's, after the built-in ones
            registry.param_checks,
        )
        self.stores = Stores(
            accounts=Accounts(genesis.balances),
            identities=Identities(
                [
                    (i.address, Registration(i.kind, i.tier, b"", i.attrs_hash, False, 0))
                    for i in genesis.identities
                ]
            ),
            services=Services(),
            holds=Holds(),
            redactions=Redactions(),
            rules=RuleBook(),
            params=params,
            permissions=Permissions(),
            validators=Schedule(Scheduled(1, genesis.validators)),
            governance=Governance(genesis.committee, genesis.threshold, _gov_params(params)),
            extensions={name: make(genesis) for name, make in registry.namespaces.items()},
        )
        # Read on every transaction: plain attributes, not lookups through stores.
        self.accounts = self.stores.accounts
        self.identities = self.stores.identities
        self.governance = self.stores.governance
        self.params = params
        self.holds = self.stores.holds
        self._kinds = registry.kinds
        self._committee_kinds = registry.committee_kinds
        self._height_hooks = tuple(registry.height_hooks)
        self._counts: dict[bytes, int] = {}  # transactions per sender this height
        # Part name -> its encoded image while unchanged (state/ledger_image.py):
        # _writes drops a part at every height that changes it.
        self.image_parts: dict[str, bytes] = {}
        # Namespaces whose writes() say "unchanged" with None; emptied for the
        # simulator's planted bug "image-cache-emptied" (an emptied set read as unchanged).
        self.none_when_unchanged = _NONE_WHEN_UNCHANGED
        self._refresh()

    # -- queries (the node, API and CLI read these) ------------------------------------
    def validator_set(self, height: int) -> ValidatorSet | None:
        """The set certifying height, once execution has gone far enough to know it."""
        if height > self.height + VALSET_DELAY_HEIGHTS:
            return None
        return self.stores.validators.at(height)

    @property
    def valsets(self) -> list[Scheduled]:
        """Every (first height it certifies, set), ascending by height."""
        return self.stores.validators.sets

    def payload_bytes_max(self, sender: bytes, kind: str) -> int | None:
        """The largest payload the sender's tier may send now (None: no tier limit).

        Admission applies it before anything is stored or gossiped; execution
        applies it again (the tier may change before the transaction is final).
        """
        if kind in self._committee_kinds and sender in self.governance.members:
            return None  # as at execution: governance can always act
        reg = self.identities.registered.get(address_of(sender))
        return self._tier_limits[reg.tier if reg is not None else 0][0]

    def balance(self, address: bytes) -> int:
        """Balance of an address (0 when unknown)."""
        acct = self.accounts.get(address)
        return acct.balance if acct is not None else 0

    def identity(self, address: bytes) -> Identity | None:
        """Kind, tier, status, roles and any freeze of an address (None: nothing known)."""
        return self.identities.view(address)

    def proposal(self, proposal_id: str) -> Proposal | None:
        """A proposal by id (hex of its transaction id)."""
        return self.governance.proposals.get(proposal_id)

    def proposals(self) -> list[Proposal]:
        """Every proposal, oldest first."""
        return list(self.governance.proposals.values())

    def hold(self, tx_id: bytes) -> Hold | None:
        """A held transaction, with its resolution once released or intercepted."""
        return self.holds.get(tx_id)

    def resolution(self, tx_id: bytes) -> Resolution | None:
        """How a held transaction ended (None: never held, or still held)."""
        hold = self.holds.get(tx_id)
        return hold.resolution if hold is not None else None

    def redaction(self, tx_id: bytes) -> Redaction | None:
        """The decision that redacted a record, or None."""
        return self.stores.redactions.get(tx_id)

    def service(self, service_id: str) -> Service | None:
        """A registered service, or None."""
        return self.stores.services.get(service_id)

    def param(self, name: str) -> int | None:
        """A governance parameter's value in force (KeyError for an unknown name)."""
        return self.params.get(name)

    def permission(self, kind: str) -> Permission | None:
        """(role needed, proposal that set it) for a kind, or None when open to all."""
        return self.stores.permissions.get(kind)

    @property
    def rules(self) -> ContentRules:
        """The content rules in force."""
        return self.stores.rules.rules

    def namespace(self, name: str) -> Namespace:
        """A registered namespace's state (KeyError: none of that name)."""
        return self.stores.extensions[name]

    def status_fields(self) -> dict[str, Any]:
        """What registered namespaces show in `govchain status` (e.g. filing_number)."""
        out: dict[str, Any] = {}
        for ns in self.stores.extensions.values():
            out.update(ns.status())
        return out

    @property
    def audit_head(self) -> bytes:
        """The audit log's head after the last executed height."""
        return self.audit.head

    def total_supply(self) -> int:
        """Sum of every balance and of escrow: must equal the genesis supply."""
        return sum(a.balance for a in self.accounts.values()) + self.holds.escrow

    # -- execution ---------------------------------------------------------------
    def execute(
        self,
        height: int,
        txs: Sequence[Transaction],
        known_receipts: Mapping[bytes, Receipt] | None = None,
    ) -> Executed:
        """Apply a checkpoint's vertices in final order; returns receipts and the new hashes.

        known_receipts: tx id -> the certified receipt, for every transaction
        whose payload is gone (a redacted record, or any transaction final as
        rejected): the checks on the header run as before, and where the
        content would decide, the outcome is taken from the receipt. A record's
        only other effect is its nonce, and a rejection's none, so the result
        is the same.
        """
        assert height == self.height + 1, (height, self.height)
        try:
            return self._execute(height, txs, known_receipts)
        except BaseException:
            # A height cut short changed parts no writes() will name: image afresh.
            self.image_parts.clear()
            raise

    def _execute(
        self,
        height: int,
        txs: Sequence[Transaction],
        known_receipts: Mapping[bytes, Receipt] | None,
    ) -> Executed:
        self._counts = {}
        ctx = TxContext(
            height, self.stores, self.audit, self.registry, known_receipts, self._hold_amount_min
        )
        receipts: list[Receipt] = []
        moves = self.holds.moves
        for index, tx in enumerate(txs):
            moves.at(height, index, tx.id)
            o = self._apply(tx, ctx)
            if o is None:
                receipts.append(Receipt(tx.id, height, index, _EXECUTED))
            else:
                receipts.append(
                    Receipt(tx.id, height, index, o.status, o.reason, o.rule, o.governance_ref)
                )
        self._end_of_height(height, len(txs))
        redacted = self.stores.redactions.take_redacted()
        self.state_hash = digest(STATE_DOMAIN, self.state_hash, encode(self._writes(height)))
        self.receipts_root = receipts_root(receipts)
        self.height = height
        return Executed(
            height,
            receipts,
            self.receipts_root,
            self.state_hash,
            tuple(self.audit.take()),
            self.audit.head,
            tuple(redacted),
            moves.take(),
        )

    def _writes(self, height: int) -> list[Any]:
        """What this height changed, namespace by namespace, as the state hash commits it.

        The layout of the built-in namespaces is the store format's: it stays
        as it is. Registered namespaces follow as one more element, only at
        heights where one of them changed, [name, writes] by name; so a chain
        where none ever changes hashes exactly as before they existed.
        """
        st = self.stores
        accounts = st.accounts.writes()
        w = {
            "identities": st.identities.writes(),
            "services": st.services.writes(),
            "holds": st.holds.writes(),
            "governance": st.governance.writes(),
            "params": st.params.writes(),
            "rules": st.rules.writes(),
            "redactions": st.redactions.writes(),
            "permissions": st.permissions.writes(),
        }
        governance = [
            w["identities"],
            w["services"],
            w["holds"],
            w["governance"],
            w["params"],
            w["rules"],
            w["redactions"],
            self.audit.head,
            w["permissions"],
        ]
        out: list[Any] = [height, accounts, st.validators.sets, governance]
        extensions = []
        for name in sorted(st.extensions):
            ns = st.extensions[name]
            changed = ns.writes()
            if changed is not None:
                extensions.append([name, changed])
            unwritten = getattr(ns, "unwritten_change", None)
            if (unwritten is not None and unwritten()) or changed is not None:
                self.image_parts.pop(EXTENSION_PART + name, None)
        if extensions:
            out.append(extensions)
        self._forget_changed_images(accounts, w)
        return out

    def _forget_changed_images(self, accounts: list[Any], writes: dict[str, Any]) -> None:
        """Drop the cached image of every built-in part this height's writes name."""
        images = self.image_parts
        if accounts:
            images.pop("accounts", None)
        for name, w in writes.items():
            # Some writes() say "unchanged" with None, and [] may then be a change
            # (the last parameter cleared); the others say it with [].
            if (w is not None) if name in self.none_when_unchanged else w:
                images.pop(name, None)
        if writes["params"] is not None:  # governance holds the parameters it reads (_refresh)
            images.pop("governance", None)

    def _apply(self, tx: Transaction, ctx: TxContext) -> Outcome | None:
        body = tx.body
        kind = body.kind
        spec = self._kinds.get(kind)
        if spec is not None and spec.on_final is not None:
            spec.on_final(ctx, tx)
        if body.valid_until < ctx.height:
            return _REJECT[Reason.EXPIRED]
        sender_addr = address_of(body.sender)
        accounts = self.accounts
        sender = accounts.get(sender_addr)
        expected = sender.nonce if sender is not None else 0
        if body.nonce < expected:
            return _REJECT[Reason.CONFLICT]
        if body.nonce > expected:
            return _REJECT[Reason.NONCE_GAP]
        if sender is None:
            sender = accounts[sender_addr] = Account()
        # The nonce is spent from here on, whatever the outcome.
        sender.nonce += 1
        accounts.touched[sender_addr] = None
        # Committee members' governance transactions pass freeze and tier limits,
        # so that governance can always undo a freeze or a mistaken parameter.
        if kind not in self._committee_kinds or body.sender not in self.governance.members:
            refused = self._standing(tx, sender_addr, ctx.height)
            if refused is not None:
                return refused
        needed = self.stores.permissions.by_kind.get(kind)
        if needed is not None and not self.identities.has_role(sender_addr, needed.role):
            self.audit.append(
                ctx.height,
                AuditKind.REJECTION_BY_DECISION,
                sender_addr,
                f"tx:{tx.id.hex()}",
                needed.proposal,
                f"{kind} needs role {needed.role}",
            )
            return rejected(Reason.NOT_AUTHORIZED, needed.proposal)
        if tx.payload_missing and (spec is None or not spec.judges_missing_payload):
            # Final as rejected, its payload deleted: every check above reads only
            # the header; what the payload decided is in the certified receipt, and
            # the rejections that depend on a payload have no other effect.
            k = ctx.known.get(tx.id) if ctx.known is not None else None
            if k is not None and k.status == Status.REJECTED.value:
                return Outcome(k.status, k.reason, k.rule, k.governance_ref)
        if spec is None:
            return _REJECT[Reason.UNKNOWN_KIND]
        return spec.run(ctx, tx, sender_addr, sender)

    def _standing(self, tx: Transaction, sender_addr: bytes, height: int) -> Outcome | None:
        """Freeze, revocation and tier limits of the sender; None when it may go on."""
        frozen_by = self.identities.frozen.get(sender_addr)
        if frozen_by is not None:
            self.audit.append(
                height,
                AuditKind.REJECTION_BY_DECISION,
                sender_addr,
                f"tx:{tx.id.hex()}",
                frozen_by,
                Reason.FROZEN.value,
            )
            return rejected(Reason.FROZEN, frozen_by)
        reg = self.identities.registered.get(sender_addr)
        tier = 0
        if reg is not None:
            if reg.revoked:
                return _REJECT[Reason.REVOKED]
            tier = reg.tier
        payload_max, count_max = self._tier_limits[tier]
        count = self._counts.get(sender_addr, 0) + 1
        self._counts[sender_addr] = count
        if tx.body.payload_len > payload_max or count > count_max:
            return _REJECT[Reason.TIER_LIMIT]
        return None

    # -- end of height -------------------------------------------------------------
    def _end_of_height(self, height: int, tx_count: int) -> None:
        """Carry out what the height decided, in its order, then expiry.

        What a decision moves comes after every transaction of the height in
        final order: position tx_count + its place among the decisions, caused
        by the proposal's transaction.
        """
        gov = self.governance
        moves = self.holds.moves
        position = tx_count
        for q in gov.take_queue():
            p = gov.proposals[q.proposal_id]
            moves.at(height, position, bytes.fromhex(p.id))
            position += 1
            spec = self.registry.spec_of(p.action)
            if q.decision is Decision.ENACT:
                gov.enacted(p.id, height, self._enact(spec, p, height))
            elif q.decision is Decision.EMERGENCY:
                if gov.is_provisional(p.id):
                    self._emergency(spec, p, height)
            else:
                self._lapse(spec, p, height)
        for p, note in gov.expire(height):
            self.audit.note(height, note)
            moves.at(height, position, bytes.fromhex(p.id))
            position += 1
            if p.emergency:
                self._lapse(self.registry.spec_of(p.action), p, height)
        for hook in self._height_hooks:
            hook(height, self.stores)
        self._refresh()

    def _enact(self, spec: ActionSpec[Any], p: Proposal, height: int) -> str:
        """Apply a passed proposal's action and write its audit entry; returns the outcome."""
        effect = spec.enact(p.action, p, height, self.stores)
        text = effect.text
        if effect.kind == AuditKind.NO_OP:
            text = f"{p.action_name}{NO_OP_WORDS}{text}"
        subject = effect.subject if effect.subject is not None else spec.subject(p.action)
        self.audit.append(height, effect.kind, p.proposer, subject, p.id, text, p.evidence)
        return text

    def _emergency(self, spec: ActionSpec[Any], p: Proposal, height: int) -> None:
        """Apply a still-open emergency measure at the end of the height it was proposed in."""
        if spec.emergency is None:
            raise AssertionError(f"{p.action_name} is no emergency measure")  # propose checks
        text = spec.emergency(p.action, p, height, self.stores)
        subject = spec.subject(p.action)
        self.audit.append(height, AuditKind.EMERGENCY, p.proposer, subject, p.id, text, p.evidence)

    def _lapse(self, spec: ActionSpec[Any], p: Proposal, height: int) -> None:
        """Undo an emergency measure that was not ratified, if it is still in force."""
        undone = spec.lapse(p.action, p, height, self.stores) if spec.lapse is not None else None
        if undone is not None:
            why = f"{undone}: the emergency measure was {p.status}, not ratified"
            self.audit.append(height, AuditKind.LAPSE, b"", spec.subject(p.action), p.id, why)

    def refresh(self) -> None:
        """Recompute what the ledger derives from its parameters (after a restore)."""
        self._refresh()

    def _refresh(self) -> None:
        """Per-height copies of parameters (they change only at the end of a height)."""
        self._tier_limits = self.params.tier_limits()
        self._hold_amount_min = self.params.get("hold_amount_min")
        self.governance.params = _gov_params(self.params)


def _gov_params(params: Params) -> GovernanceParams:
    """What governance needs of the parameters, handed over as values."""
    return GovernanceParams(
        params.required("proposal_ttl_heights"),
        params.required("emergency_ttl_heights"),
        params.required("participation_min"),
    )
