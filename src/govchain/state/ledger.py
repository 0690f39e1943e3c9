"""The execution state machine: accounts, governance state, receipts, state hash.

Pure and deterministic: no clock (time is the checkpoint's), no floats, and no
iteration over unordered containers where order could leak into a result.

A height executes in two phases: its transactions in final order, each seeing
the governance state as the previous height left it; then, at the end, what
the height decided (enactments, emergency measures, lapses, expiry). So a
decision taken during height h governs from h + 1 on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from govchain.codec import DecodeError, decode_canonical, digest, encode
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import ADDRESS_BYTES, address_of
from govchain.dag.kinds import GOV_KINDS, Kind
from govchain.dag.tx import Transaction
from govchain.state import actions
from govchain.state.audit import AUDIT_EMPTY, AuditEntry, AuditKind, AuditLog
from govchain.state.genesis import SUPPLY_MAX, Genesis
from govchain.state.governance import Governance, Proposal
from govchain.state.holds import Hold, Holds, Resolution
from govchain.state.identities import (
    IDENTITIES_COUNT_MAX,
    ISSUER_ROLE,
    REVIEW_ROLE,
    Identities,
    Identity,
    Registration,
    registration_error,
    role_ok,
)
from govchain.state.params import Params
from govchain.state.payloads import (
    IDENTITY_DECODER,
    RECORD_DECODER,
    SERVICE_DECODER,
    TRANSFER_DECODER,
)
from govchain.state.policy import ContentRules, RuleAction, media_type_essence
from govchain.state.receipts import Outcome, Reason, Receipt, Status, receipts_root, rejected
from govchain.state.redactions import Redaction, Redactions
from govchain.state.services import SERVICES_COUNT_MAX, Service, Services, service_id_ok

STATE_DOMAIN = b"govchain:state:v1:"
# A validator-set change executed at height h certifies heights from h + this.
VALSET_DELAY_HEIGHTS = 2
# A record's media type: "type/subtype" (RFC 6838 names, any case) with optional
# parameters. Its essence must be well formed, or a type rule could be dodged.
MEDIA_TYPE_CHARS_MAX = 255
MEDIA_ESSENCE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")

_EXECUTED = Status.EXECUTED.value
_HELD = Status.HELD.value
_REJECT = {r: rejected(r) for r in Reason}


class PayloadMissingError(LookupError):
    """A transaction's payload is gone but the caller gave no known receipt for it."""


@dataclass(slots=True)
class Account:
    """Balance and the next nonce the sender must use."""

    balance: int = 0
    nonce: int = 0


@dataclass(frozen=True, slots=True)
class Executed:
    """The result of executing one checkpoint's newly covered vertices.

    audit: the audit entries this height appended; audit_head: the head after
    them (checkpoint height + 1 carries it). redacted: ids of records whose
    payload the node must delete in the same atomic commit. A store must keep
    all three; their defaults (no entries, the empty head) are only right for
    a chain without governance activity.
    """

    height: int
    receipts: list[Receipt]
    receipts_root: bytes
    state_hash: bytes
    audit: tuple[AuditEntry, ...] = ()
    audit_head: bytes = AUDIT_EMPTY
    redacted: tuple[bytes, ...] = ()


class Ledger:
    """State after the last executed checkpoint, and the one way to advance it."""

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.accounts: dict[bytes, Account] = {a: Account(v) for a, v in genesis.balances}
        self.height = 0
        self.state_hash = digest(STATE_DOMAIN, genesis.hash)
        self.receipts_root = receipts_root([])
        # (first height it certifies, set), ascending by height.
        self.valsets: list[tuple[int, ValidatorSet]] = [(1, genesis.validators)]
        self.identities = Identities(
            [
                (i.address, Registration(i.kind, i.tier, b"", i.attrs_hash, False, 0))
                for i in genesis.identities
            ]
        )
        self.params = Params(genesis.threshold, genesis.committee_weight)
        self.audit = AuditLog()
        self.governance = Governance(genesis.committee, genesis.threshold, self.params, self.audit)
        self.services = Services()
        self.holds = Holds()
        self.rules = ContentRules()
        self.rule_seq = 0  # rule ids are rule-<n>, never reused
        self.rules_changed = False
        self.redactions = Redactions()
        # kind -> (role its senders need, the proposal that said so)
        self.permissions: dict[str, tuple[str, str]] = {}
        self.permissions_changed = False
        self._touched: dict[bytes, None] = {}
        self._counts: dict[bytes, int] = {}  # transactions per sender this height
        self._refresh()

    # -- queries (the node, API and CLI read these) ------------------------------------
    def validator_set(self, height: int) -> ValidatorSet | None:
        """The set certifying height, once execution has gone far enough to know it."""
        if height > self.height + VALSET_DELAY_HEIGHTS:
            return None
        chosen = self.valsets[0][1]
        for start, vs in self.valsets:
            if start <= height:
                chosen = vs
        return chosen

    def payload_bytes_max(self, sender: bytes, kind: str) -> int | None:
        """The largest payload the sender's tier may send now (None: no tier limit).

        Admission applies it before anything is stored or gossiped; execution
        applies it again (the tier may change before the transaction is final).
        """
        if kind in GOV_KINDS and sender in self.governance.members:
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
        return self.redactions.get(tx_id)

    def service(self, service_id: str) -> Service | None:
        """A registered service, or None."""
        return self.services.get(service_id)

    def param(self, name: str) -> int | None:
        """A governance parameter's value in force (KeyError for an unknown name)."""
        return self.params.get(name)

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
        self._touched = {}
        self._counts = {}
        receipts: list[Receipt] = []
        for index, tx in enumerate(txs):
            o = self._apply(tx, height, known_receipts)
            if o is None:
                receipts.append(Receipt(tx.id, height, index, _EXECUTED))
            else:
                receipts.append(
                    Receipt(tx.id, height, index, o.status, o.reason, o.rule, o.governance_ref)
                )
        redacted = self._end_of_height(height)
        touched = self._touched
        writes = [[a, self.accounts[a].balance, self.accounts[a].nonce] for a in sorted(touched)]
        rules = [self.rule_seq, self.rules.snapshot()] if self.rules_changed else None
        self.rules_changed = False
        governance = [
            self.identities.writes(),
            self.services.writes(),
            self.holds.writes(),
            self.governance.writes(),
            self.params.writes(),
            rules,
            self.redactions.writes(),
            self.audit.head,
            sorted([k, r, ref] for k, (r, ref) in self.permissions.items())
            if self.permissions_changed
            else None,
        ]
        self.permissions_changed = False
        self.state_hash = digest(
            STATE_DOMAIN, self.state_hash, encode([height, writes, self.valsets, governance])
        )
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
        )

    def _apply(
        self, tx: Transaction, height: int, known: Mapping[bytes, Receipt] | None
    ) -> Outcome | None:
        body = tx.body
        kind = body.kind
        if kind == Kind.RECORD:
            self.redactions.add_record(tx.id)
        if body.valid_until < height:
            return _REJECT[Reason.EXPIRED]
        sender_addr = address_of(body.sender)
        sender = self.accounts.get(sender_addr)
        expected = sender.nonce if sender is not None else 0
        if body.nonce < expected:
            return _REJECT[Reason.CONFLICT]
        if body.nonce > expected:
            return _REJECT[Reason.NONCE_GAP]
        if sender is None:
            sender = self.accounts[sender_addr] = Account()
        # The nonce is spent from here on, whatever the outcome.
        sender.nonce += 1
        self._touched[sender_addr] = None
        # Committee members' governance transactions pass freeze and tier limits,
        # so that governance can always undo a freeze or a mistaken parameter.
        if kind not in GOV_KINDS or body.sender not in self.governance.members:
            refused = self._standing(tx, sender_addr, height)
            if refused is not None:
                return refused
        needed = self.permissions.get(kind)
        if needed is not None and not self.identities.has_role(sender_addr, needed[0]):
            self.audit.append(
                height,
                AuditKind.REJECTION_BY_DECISION,
                sender_addr,
                f"tx:{tx.id.hex()}",
                needed[1],
                f"{kind} needs role {needed[0]}",
            )
            return rejected(Reason.NOT_AUTHORIZED, needed[1])
        if kind != Kind.RECORD and tx.payload_missing:
            # Final as rejected, its payload deleted: every check above reads only
            # the header; what the payload decided is in the certified receipt, and
            # the rejections that depend on a payload have no other effect.
            k = known.get(tx.id) if known is not None else None
            if k is not None and k.status == Status.REJECTED.value:
                return Outcome(k.status, k.reason, k.rule, k.governance_ref)
        if kind == Kind.TRANSFER:
            return self._transfer(tx, sender_addr, sender, height)
        if kind == Kind.RECORD:
            return self._record(tx, sender_addr, height, known)
        if kind == Kind.GOV_PROPOSE:
            return self.governance.propose(tx, sender_addr, height)
        if kind == Kind.GOV_VOTE:
            return self.governance.vote(tx, sender_addr, height)
        if kind == Kind.SERVICE_REGISTER:
            return self._register_service(tx, sender_addr, height)
        if kind == Kind.IDENTITY_SET:
            return self._set_identity(tx, sender_addr, height)
        return _REJECT[Reason.UNKNOWN_KIND]

    def set_permission(self, kind: str, role: str, proposal_id: str) -> None:
        """Require role of kind's senders from the next transaction on ("" lifts it)."""
        if role:
            self.permissions[kind] = (role, proposal_id)
        else:
            self.permissions.pop(kind, None)
        self.permissions_changed = True

    def permission(self, kind: str) -> tuple[str, str] | None:
        """(role needed, proposal that set it) for a kind, or None when open to all."""
        return self.permissions.get(kind)

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

    # -- transfers ---------------------------------------------------------------
    def _transfer(
        self, tx: Transaction, sender_addr: bytes, sender: Account, height: int
    ) -> Outcome | None:
        try:
            t = decode_canonical(tx.payload, TRANSFER_DECODER)
        except DecodeError:
            return _REJECT[Reason.MALFORMED_PAYLOAD]
        if len(t.to) != ADDRESS_BYTES:
            return _REJECT[Reason.MALFORMED_PAYLOAD]
        if not 0 < t.amount <= SUPPLY_MAX:
            return _REJECT[Reason.BAD_AMOUNT]
        if sender.balance < t.amount:
            return _REJECT[Reason.INSUFFICIENT_FUNDS]
        sender.balance -= t.amount
        held = self._hold_reason(sender_addr, t.amount)
        if held is not None:
            o = Outcome(_HELD, held[0].value, None, held[1])
            self._hold(tx, Kind.TRANSFER, sender_addr, t.to, t.amount, height, o)
            return o
        self.credit(t.to, t.amount)
        return None

    def _hold_reason(self, sender_addr: bytes, amount: int) -> tuple[Reason, str | None] | None:
        """Why a transfer is held (and the decision behind it), or None."""
        roles = self.identities.roles.get(sender_addr)
        if roles is not None and REVIEW_ROLE in roles:
            return Reason.HELD_REVIEW, roles[REVIEW_ROLE]
        if self._hold_amount_min is not None and amount >= self._hold_amount_min:
            return Reason.HELD_AMOUNT, self.params.set_by("hold_amount_min")
        return None

    def _hold(
        self,
        tx: Transaction,
        kind: str,
        sender_addr: bytes,
        to: bytes,
        amount: int,
        height: int,
        o: Outcome,
    ) -> None:
        assert o.reason is not None
        self.holds.add(
            Hold(tx.id, kind, sender_addr, to, amount, height, o.reason, o.rule, o.governance_ref)
        )
        why = o.reason if o.rule is None else f"{o.reason} {o.rule}"
        self.audit.append(
            height, AuditKind.HOLD, sender_addr, f"tx:{tx.id.hex()}", o.governance_ref or "", why
        )

    def credit(self, address: bytes, amount: int) -> None:
        """Add amount to an account (created if new)."""
        acct = self.accounts.get(address)
        if acct is None:
            acct = self.accounts[address] = Account()
        acct.balance += amount
        self._touched[address] = None

    # -- records -----------------------------------------------------------------
    def _record(
        self,
        tx: Transaction,
        sender_addr: bytes,
        height: int,
        known: Mapping[bytes, Receipt] | None,
    ) -> Outcome | None:
        k = known.get(tx.id) if known is not None else None
        if k is not None:
            if k.status == _EXECUTED:
                return None
            o: Outcome | None = Outcome(k.status, k.reason, k.rule, k.governance_ref)
        else:
            if len(tx.payload) != tx.body.payload_len:
                raise PayloadMissingError(f"record {tx.id.hex()}: no payload, no known receipt")
            o = self._screen(tx, sender_addr)
        if o is None:
            return None
        # One place turns an outcome into its effects, whichever path found it,
        # so a redacted record re-executes to the same state and audit entries.
        if o.status == _HELD:
            self._hold(tx, Kind.RECORD, sender_addr, b"", 0, height, o)
        elif o.rule is not None:
            self.audit.append(
                height,
                AuditKind.REJECTION_BY_RULE,
                sender_addr,
                f"tx:{tx.id.hex()}",
                o.governance_ref or "",
                f"{o.reason} {o.rule}",
            )
        elif o.reason == Reason.SERVICE_SUSPENDED:
            self.audit.append(
                height,
                AuditKind.REJECTION_BY_DECISION,
                sender_addr,
                f"tx:{tx.id.hex()}",
                o.governance_ref or "",
                o.reason,
            )
        return o

    def _screen(self, tx: Transaction, sender_addr: bytes) -> Outcome | None:
        """A record's payload against its service and the content rules."""
        try:
            r = decode_canonical(tx.payload, RECORD_DECODER)
        except DecodeError:
            return _REJECT[Reason.MALFORMED_PAYLOAD]
        if (
            len(r.media_type) > MEDIA_TYPE_CHARS_MAX
            or MEDIA_ESSENCE.fullmatch(media_type_essence(r.media_type)) is None
        ):
            return _REJECT[Reason.MALFORMED_PAYLOAD]
        if r.service:
            service = self.services.get(r.service)
            if service is None:
                return _REJECT[Reason.UNKNOWN_SERVICE]
            if service.suspended_by is not None:
                return rejected(Reason.SERVICE_SUSPENDED, service.suspended_by)
            if (
                service.writer_role
                and sender_addr != service.owner
                and not self.identities.has_role(sender_addr, service.writer_role)
            ):
                return _REJECT[Reason.NOT_AUTHORIZED]
        if len(self.rules):
            m = self.rules.match(tx.body.payload_hash, r.media_type, r.data)
            if m is not None:
                status = _HELD if m.action == RuleAction.HOLD else Status.REJECTED.value
                return Outcome(status, Reason.CONTENT_RULE.value, m.rule_id, m.governance_ref)
        return None

    # -- services and identities ------------------------------------------------------
    def _register_service(self, tx: Transaction, owner: bytes, height: int) -> Outcome | None:
        try:
            s = decode_canonical(tx.payload, SERVICE_DECODER)
        except DecodeError:
            return _REJECT[Reason.MALFORMED_PAYLOAD]
        if not service_id_ok(s.service_id) or (s.writer_role and not role_ok(s.writer_role)):
            return _REJECT[Reason.BAD_ARGUMENT]
        existing = self.services.get(s.service_id)
        if existing is not None:
            if existing.owner != owner:
                return _REJECT[Reason.SERVICE_EXISTS]
            # The owner may change who writes; a suspension stays as it is.
            self.services.put(
                Service(
                    s.service_id,
                    owner,
                    s.writer_role,
                    existing.registered_height,
                    existing.suspended_by,
                )
            )
            return None
        if len(self.services) >= SERVICES_COUNT_MAX:
            return _REJECT[Reason.LIMIT_REACHED]
        self.services.put(Service(s.service_id, owner, s.writer_role, height))
        return None

    def _set_identity(self, tx: Transaction, issuer: bytes, height: int) -> Outcome | None:
        if not self.identities.has_role(issuer, ISSUER_ROLE):
            return _REJECT[Reason.NOT_AUTHORIZED]
        try:
            p = decode_canonical(tx.payload, IDENTITY_DECODER)
        except DecodeError:
            return _REJECT[Reason.MALFORMED_PAYLOAD]
        if (
            len(p.address) != ADDRESS_BYTES
            or p.status not in ("active", "revoked")
            or registration_error(p.kind, p.tier, p.attrs_hash) is not None
        ):
            return _REJECT[Reason.BAD_ARGUMENT]
        existing = self.identities.registered.get(p.address)
        if existing is not None and (existing.issuer != issuer or existing.revoked):
            # An issuer changes only what it issued, and a revocation is final.
            return _REJECT[Reason.NOT_AUTHORIZED]
        if existing is None and len(self.identities.registered) >= IDENTITIES_COUNT_MAX:
            return _REJECT[Reason.LIMIT_REACHED]
        self.identities.register(
            p.address,
            Registration(p.kind, p.tier, issuer, p.attrs_hash, p.status == "revoked", height),
        )
        self.audit.append(
            height,
            AuditKind.IDENTITY,
            issuer,
            f"address:{p.address.hex()}",
            reason=f"{p.kind}, tier {p.tier}, {p.status}",
            evidence=p.attrs_hash,
        )
        return None

    # -- end of height -------------------------------------------------------------
    def _end_of_height(self, height: int) -> list[bytes]:
        """Carry out what the height decided, then expiry; returns ids to redact."""
        gov = self.governance
        for op, pid in gov.take_queue():
            p = gov.proposals[pid]
            if op == "enact":
                gov.enacted(pid, height, actions.enact(self, p, height))
            elif op == "emergency":
                if gov.is_provisional(pid):
                    actions.apply_emergency(self, p, height)
            else:
                actions.lapse(self, p, height)
        for p in list(gov.expire(height)):
            if p.emergency:
                actions.lapse(self, p, height)
        self._refresh()
        return self.redactions.take_redacted()

    def schedule_validators(self, height: int, vs: ValidatorSet) -> int:
        """A validator-set change decided at height; returns the first height it certifies."""
        start = height + VALSET_DELAY_HEIGHTS
        self.valsets = [(h, s) for h, s in self.valsets if h < start] + [(start, vs)]
        return start

    def _refresh(self) -> None:
        """Per-height copies of parameters the hot path reads (they change only here)."""
        self._tier_limits = self.params.tier_limits()
        self._hold_amount_min = self.params.get("hold_amount_min")
