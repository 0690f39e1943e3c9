"""JSON shapes of the API (the contract's records), built from node state."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from govchain.codec import DecodeError, decode_canonical
from govchain.consensus.messages import Certificate, Checkpoint
from govchain.crypto.keys import address_of
from govchain.dag.kinds import Kind
from govchain.dag.tx import Transaction
from govchain.state.audit import AuditEntry
from govchain.state.funds import NAMESPACE as FUNDS
from govchain.state.funds import Funds
from govchain.state.governance import Proposal
from govchain.state.holds import Hold
from govchain.state.identities import Identity
from govchain.state.payloads import RECORD_DECODER, Action, AddFilter, action_name
from govchain.state.policy import ContentRules, RuleEntry, rule_view
from govchain.state.receipts import REASON_TEXT, Reason, Receipt, Status
from govchain.state.redactions import Redaction
from govchain.state.schedule import ValidatorChange
from govchain.state.services import Service


def checkpoint_json(cp: Checkpoint, cert: Certificate | None) -> dict[str, Any]:
    """A checkpoint with its certificate, as GET /v1/checkpoints returns it."""
    return {
        "height": cp.height,
        "hash": cp.hash.hex(),
        "previous": cp.previous.hex(),
        "time_ms": cp.time_ms,
        "tips": [t.hex() for t in cp.tips],
        "state_hash": cp.state_hash.hex(),
        "receipts_root": cp.receipts_root.hex(),
        "audit_head": cp.audit_head.hex(),
        "validator_set_hash": cp.validator_set_hash.hex(),
        "certificate": None
        if cert is None
        else {
            "height": cert.height,
            "round": cert.round,
            "value": cert.value.hex(),
            "signatures": [[i, s.hex()] for i, s in cert.signatures],
        },
    }


def receipt_json(r: Receipt | None) -> dict[str, Any]:
    """The receipt part of a transaction record."""
    if r is None or r.reason is None:
        return {"reason": None, "rule": r.rule if r else None, "governance_ref": None}
    try:
        words = REASON_TEXT[Reason(r.reason)]
    except ValueError:
        words = r.reason
    return {"reason": words, "rule": r.rule or r.reason, "governance_ref": r.governance_ref}


class GovernanceReads(Protocol):
    """What a transaction's record needs of governance's later decisions (a ChainView, a Ledger)."""

    def hold(self, tx_id: bytes) -> Hold | None:
        """A transaction's hold, if review held it."""
        ...

    def redaction(self, tx_id: bytes) -> Redaction | None:
        """The redaction of a record, if governance redacted it."""
        ...

    @property
    def rules(self) -> ContentRules:
        """The content rules in force."""
        ...


def redaction_free(ledger: GovernanceReads, tx_id: bytes) -> bool:
    """True unless governance redacted the record."""
    return ledger.redaction(tx_id) is None


def _withheld_pending(tx: Transaction, ledger: GovernanceReads) -> bool:
    """True when a not-yet-final record matches a content rule in force: never serve it."""
    if tx.body.kind != Kind.RECORD or not len(ledger.rules):
        return False
    try:
        r = decode_canonical(tx.payload, RECORD_DECODER)
    except DecodeError:
        return False
    return ledger.rules.match(tx.body.payload_hash, r.media_type, r.data) is not None


def tx_json(
    tx: Transaction,
    height: int | None,
    receipt: Receipt | None,
    ledger: GovernanceReads | None = None,
) -> dict[str, Any]:
    """The contract's transaction record, with governance's later decisions applied.

    A held transaction that was released or intercepted reports its current
    status and the deciding proposal; a redacted record, and one rejected or
    held by a content rule, has payload null.
    """
    status = receipt.status if receipt is not None else "pending"
    rec = receipt_json(receipt)
    payload: str | None = base64.b64encode(tx.payload).decode()
    doc: dict[str, Any] = {}
    if tx.payload_missing or (receipt is not None and receipt.status == Status.REJECTED):
        payload = None  # deleted when final as rejected, or redacted: never served
    elif receipt is not None and receipt.rule is not None:
        payload = None  # a content rule decided: its content is never served
    if ledger is not None:
        hold = ledger.hold(tx.id) if receipt is not None else None
        if hold is not None:
            held = dict(rec)
            doc["held"] = held
            r = hold.resolution
            if r is not None:
                status = r.status
                words = None
                if r.reason is not None:
                    try:
                        words = REASON_TEXT[Reason(r.reason)]
                    except ValueError:
                        words = r.reason
                rec = {
                    "reason": words,
                    "rule": (hold.rule or r.reason) if r.status != Status.EXECUTED else None,
                    "governance_ref": r.proposal,
                }
                if (
                    r.status == Status.EXECUTED
                    and redaction_free(ledger, tx.id)
                    and not tx.payload_missing
                ):
                    payload = base64.b64encode(tx.payload).decode()  # reviewed and released
                doc["resolution"] = {
                    "status": r.status,
                    "height": r.height,
                    "proposal": r.proposal,
                    "provisional": r.provisional,
                }
        redaction = ledger.redaction(tx.id)
        if redaction is not None:
            payload = None
            doc["redaction"] = {"proposal": redaction.proposal, "height": redaction.height}
            if rec["governance_ref"] is None:
                rec = {**rec, "governance_ref": redaction.proposal}
        elif receipt is None and payload is not None and _withheld_pending(tx, ledger):
            payload = None
    return {
        "tx_id": tx.id.hex(),
        "sender": address_of(tx.body.sender).hex(),
        "sender_key": tx.body.sender.hex(),
        "kind": tx.body.kind,
        "nonce": tx.body.nonce,
        "status": status,
        "checkpoint": height if receipt is not None else None,
        "receipt": rec,
        "redacted": "redaction" in doc,
        "payload": payload,
        **doc,
    }


def _hexify(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, RuleEntry):
        return rule_view(value)
    if isinstance(value, msgspec.Struct):
        out = {f: _hexify(getattr(value, f)) for f in value.__struct_fields__}
        tag = value.__struct_config__.tag
        if isinstance(tag, str):
            out = {"kind": tag, **out}
        return out
    if isinstance(value, tuple | list):
        return [_hexify(v) for v in value]
    return value


def action_json(action: Action) -> dict[str, Any]:
    """An action and its arguments, bytes as hex (a keyword rule: hash, length, fingerprint)."""
    args = {f: _hexify(getattr(action, f)) for f in action.__struct_fields__}
    if isinstance(action, AddFilter):
        args["action"] = action.action.value
    return {"name": action_name(action), "args": args}


def proposal_json(p: Proposal) -> dict[str, Any]:
    """A proposal as GET /v1/governance/proposals/{id} returns it."""
    return {
        "proposal_id": p.id,
        "id": p.id,
        "status": p.status,
        "proposer": p.proposer.hex(),
        "action": action_json(p.action),
        "reason": p.reason,
        "evidence": p.evidence.hex() or None,
        "emergency": p.emergency,
        "created_height": p.created_height,
        "expires_height": p.expires_height,
        "decided_height": p.decided_height,
        "enacted_height": p.enacted_height,
        "yes_weight": p.yes_weight,
        "no_weight": p.no_weight,
        "votes": [{"voter": a.hex(), "yes": yes} for a, yes in p.votes],
        "outcome": p.outcome or None,
    }


def hold_json(hold: Hold, address: bytes) -> dict[str, Any]:
    """A hold as an account sees it: out (its funds in escrow) or in (waiting to arrive)."""
    r = hold.resolution
    return {
        "tx_id": hold.tx_id.hex(),
        "direction": "out" if hold.sender == address else "in",
        "kind": hold.kind,
        "sender": hold.sender.hex(),
        "to": hold.to.hex() or None,
        "amount": hold.amount,
        "height": hold.height,
        "status": hold.status,
        "provisional": r is not None and r.provisional,
        "receipt": receipt_json(
            Receipt(hold.tx_id, hold.height, 0, "held", hold.reason, hold.rule, hold.governance_ref)
        ),
    }


class _Namespaces(Protocol):
    def namespace(self, name: str) -> object: ...


def funds_of(view: _Namespaces) -> Funds | None:
    """The chain's liens and watches (None: its registry has no such namespace)."""
    ns = view.namespace(FUNDS)
    return ns if isinstance(ns, Funds) else None


def funds_json(funds: Funds | None, address: bytes, height: int) -> dict[str, Any]:
    """An address's liens and watches in force after executing height (no namespace: none).

    `liens`: [{"amount", "proposal", "since"}], oldest first; `frozen_amount`:
    their sum; `watched_by`: [{"case", "proposal", "until"}] of the watches
    that hold its outgoing transfers from height + 1 on.
    """
    if funds is None:
        return {"liens": [], "frozen_amount": 0, "watched_by": []}
    liens = [
        {"amount": s.amount, "proposal": s.proposal, "since": s.since}
        for s in funds.liens_in_force(address)
    ]
    watched = [
        {"case": w.case, "proposal": w.proposal, "until": w.until}
        for w in funds.watches_of(address, height)
    ]
    return {"liens": liens, "frozen_amount": funds.frozen(address), "watched_by": watched}


def account_funds_json(
    funds: Funds | None, address: bytes, height: int, balance: int, identity_frozen: bool
) -> dict[str, Any]:
    """The account document's `frozen_amount`, `liens` and `watched_by`.

    frozen_amount: what the holder cannot move now: all of it under a
    freeze-identity, else the liens in force (never more than the balance).
    """
    doc = funds_json(funds, address, height)
    doc["frozen_amount"] = balance if identity_frozen else min(doc["frozen_amount"], balance)
    return doc


def identity_json(ident: Identity, funds: dict[str, Any] | None = None) -> dict[str, Any]:
    """An identity as GET /v1/identities/{address} returns it (funds: funds_json's fields)."""
    return {
        "address": ident.address.hex(),
        "kind": ident.kind,
        "tier": ident.tier,
        "issuer": None if ident.issuer is None else ident.issuer.hex() or "genesis",
        "attrs_hash": None if ident.attrs_hash is None else ident.attrs_hash.hex(),
        "status": ident.status.value,
        "frozen": ident.frozen_by is not None,
        "frozen_by": ident.frozen_by,
        "roles": list(ident.roles),
        "registered_height": ident.registered_height,
        **(funds or {}),
    }


def service_json(s: Service) -> dict[str, Any]:
    """A service as GET /v1/services/{id} returns it."""
    return {
        "service_id": s.service_id,
        "owner": s.owner.hex(),
        "writer_role": s.writer_role or None,
        "registered_height": s.registered_height,
        "status": "suspended" if s.suspended_by is not None else "active",
        "suspended_by": s.suspended_by,
    }


def change_json(c: ValidatorChange) -> dict[str, Any]:
    """A validator_change entry's typed change (sdk/valsets.py change_from_json reads it)."""
    return {
        "public_key": c.public_key.hex(),
        "old_weight": c.old_weight,
        "new_weight": c.new_weight,
        "certifies_from": c.certifies_from,
    }


def audit_entry_json(e: AuditEntry) -> dict[str, Any]:
    """An audit entry with hex fields and its own hash (the head after it).

    "change" (the typed change) only on a typed_audit chain's validator_change
    entries: the hash covers it, so an offline verifier needs it; other
    entries have no such key, as before.
    """
    out: dict[str, Any] = {
        "seq": e.seq,
        "height": e.height,
        "kind": e.kind,
        "actor": e.actor.hex(),
        "subject": e.subject,
        "proposal": e.proposal,
        "reason": e.reason,
        "evidence": e.evidence.hex(),
        "prev": e.prev.hex(),
        "hash": e.hash.hex(),
    }
    if e.change is not None:
        out["change"] = change_json(e.change)
    return out


def error(code: str, message: str) -> dict[str, Any]:
    """The contract's error document."""
    return {"error": {"code": code, "message": message}}


# Audit entry kind -> governance event name; enactment kinds map to proposal_enacted.
GOVERNANCE_EVENTS = {
    "proposal": "proposal_opened",
    "vote": "proposal_voted",
    "proposal_rejected": "proposal_rejected",
    "expiry": "proposal_expired",
    "emergency": "emergency",
    "lapse": "lapse",
    "rejection_by_rule": "rejection_by_rule",
    "rejection_by_decision": "rejection_by_decision",
    "hold": "hold",
    "identity": "identity",
    "report_handled": "report_handled",  # a committee member handled a report (docs/reports.md)
}


def _governance_event(name: str, e: AuditEntry) -> dict[str, Any]:
    return {
        "event": name,
        "kind": e.kind,
        "seq": e.seq,
        "height": e.height,
        "proposal": e.proposal or None,
        "subject": e.subject,
        "actor": e.actor.hex(),
        "reason": e.reason,
    }


def governance_events(entries: Sequence[AuditEntry]) -> list[dict[str, Any]]:
    """WS /v1/events governance events from a height's audit entries, in order.

    An enactment gives proposal_passed then proposal_enacted (kind: its effect);
    a redaction also gives a redaction event.
    """
    out: list[dict[str, Any]] = []
    for e in entries:
        name = GOVERNANCE_EVENTS.get(e.kind, "proposal_enacted")
        if name == "proposal_enacted":
            out.append(_governance_event("proposal_passed", e))
        out.append(_governance_event(name, e))
        if e.kind == "redaction":
            out.append(_governance_event("redaction", e))
    return out
