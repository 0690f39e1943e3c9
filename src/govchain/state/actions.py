"""Governance actions: checking their arguments, enacting them, emergency and lapse.

argument_error runs when a proposal is made (a bad argument rejects the
proposal transaction). The rest runs at the end of a height, in the order the
height decided: enact a passed proposal, apply an emergency measure, or undo
one that lapsed. A target that is invalid by then (release of a transaction
that is not held, ...) makes the enactment a no-op with an audit entry saying
why; nothing here raises on input from transactions.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from govchain.codec import HASH_BYTES
from govchain.consensus.validators import WEIGHT_MAX, ValidatorSet
from govchain.crypto.keys import ADDRESS_BYTES, PUBLIC_KEY_BYTES, point_on_curve
from govchain.dag.kinds import PERMISSION_KINDS
from govchain.state.audit import AuditKind
from govchain.state.holds import Resolution
from govchain.state.identities import FROZEN_COUNT_MAX, ROLES_PER_ADDRESS_MAX, role_ok
from govchain.state.params import Params
from govchain.state.payloads import (
    Action,
    AddFilter,
    AddValidator,
    FreezeIdentity,
    GrantRole,
    Intercept,
    Redact,
    Release,
    RemoveFilter,
    RemoveValidator,
    ResumeService,
    RevokeRole,
    SetParam,
    SetPermission,
    SuspendService,
    UnfreezeIdentity,
)
from govchain.state.policy import describe
from govchain.state.receipts import Reason, Status
from govchain.state.services import service_id_ok

if TYPE_CHECKING:
    from govchain.state.governance import Proposal
    from govchain.state.ledger import Ledger

RULE_ID_PATTERN = re.compile(r"rule-[1-9][0-9]{0,17}")

Effect = tuple[AuditKind, str]  # (audit kind, what happened)
_REJECTED = Status.REJECTED.value
_INTERCEPTED = Reason.INTERCEPTED.value


# -- arguments ------------------------------------------------------------------
def argument_error(action: Action, params: Params) -> str | None:
    """Why an action's arguments are bad, or None (checked when it is proposed)."""
    if isinstance(action, FreezeIdentity | UnfreezeIdentity):
        return None if len(action.address) == ADDRESS_BYTES else "address must be 20 bytes"
    if isinstance(action, Intercept | Release | Redact):
        return None if len(action.tx_id) == HASH_BYTES else "tx_id must be 32 bytes"
    if isinstance(action, SuspendService | ResumeService):
        return None if service_id_ok(action.service_id) else "service id must be [a-z0-9_-]{1,64}"
    if isinstance(action, AddFilter):
        return None  # the rule checked itself when it was decoded (state/policy.py)
    if isinstance(action, RemoveFilter):
        return None if RULE_ID_PATTERN.fullmatch(action.rule_id) else "rule id must be rule-<n>"
    if isinstance(action, AddValidator):
        if len(action.public_key) != PUBLIC_KEY_BYTES or not point_on_curve(action.public_key):
            return "public_key must be an acceptable Ed25519 public key"
        return None if 1 <= action.weight <= WEIGHT_MAX else f"weight must lie in 1..{WEIGHT_MAX}"
    if isinstance(action, RemoveValidator):
        return None if len(action.public_key) == PUBLIC_KEY_BYTES else "public_key is 32 bytes"
    if isinstance(action, SetParam):
        return params.check(action.name, action.value)
    if isinstance(action, SetPermission):
        if action.kind not in PERMISSION_KINDS:
            return f"kind must be one of {', '.join(PERMISSION_KINDS)}"
        return (
            None if action.role == "" or role_ok(action.role) else "role must be [a-z0-9_-]{1,32}"
        )
    # GrantRole | RevokeRole
    if len(action.address) != ADDRESS_BYTES:
        return "address must be 20 bytes"
    return None if role_ok(action.role) else "role must be [a-z0-9_-]{1,32}"


def subject_of(action: Action) -> str:
    """What an action is about, as audit entries name it."""
    if isinstance(action, FreezeIdentity | UnfreezeIdentity | GrantRole | RevokeRole):
        return f"address:{action.address.hex()}"
    if isinstance(action, Intercept | Release | Redact):
        return f"tx:{action.tx_id.hex()}"
    if isinstance(action, SuspendService | ResumeService):
        return f"service:{action.service_id}"
    if isinstance(action, RemoveFilter):
        return f"rule:{action.rule_id}"
    if isinstance(action, AddValidator | RemoveValidator):
        return f"validator:{action.public_key.hex()}"
    if isinstance(action, SetParam):
        return f"param:{action.name}"
    if isinstance(action, SetPermission):
        return f"kind:{action.kind}"
    return "rule:"  # add-filter: the id is assigned at enactment


# -- enactment ------------------------------------------------------------------
def enact(ledger: Ledger, p: Proposal, height: int) -> str:
    """Apply a passed proposal's action; writes its audit entry, returns the outcome text."""
    a = p.action
    subject = subject_of(a)
    if isinstance(a, FreezeIdentity):
        kind, text = _freeze(ledger, a.address, p)
    elif isinstance(a, UnfreezeIdentity):
        kind, text = _unfreeze(ledger, a.address)
    elif isinstance(a, Intercept):
        kind, text = _intercept(ledger, a.tx_id, p, height)
    elif isinstance(a, Release):
        kind, text = _release(ledger, a.tx_id, p, height)
    elif isinstance(a, Redact):
        kind, text = _redact(ledger, a.tx_id, p, height)
    elif isinstance(a, SuspendService | ResumeService):
        kind, text = _suspend(ledger, a, p)
    elif isinstance(a, AddFilter):
        kind, text, subject = _add_filter(ledger, a, p)
    elif isinstance(a, RemoveFilter):
        removed = ledger.rules.remove(a.rule_id)
        ledger.rules_changed = ledger.rules_changed or removed
        kind, text = (
            (AuditKind.FILTER_REMOVED, "rule removed")
            if removed
            else (AuditKind.NO_OP, "no rule has this id")
        )
    elif isinstance(a, AddValidator | RemoveValidator):
        kind, text = _change_validators(ledger, a, height)
    elif isinstance(a, SetParam):
        ledger.params.set(a.name, a.value, p.id)
        kind, text = AuditKind.PARAM_SET, f"{a.name} = {'default' if a.value is None else a.value}"
    elif isinstance(a, SetPermission):
        ledger.set_permission(a.kind, a.role, p.id)
        needs = f"role {a.role}" if a.role else "no role"
        kind, text = AuditKind.PERMISSION_SET, f"{a.kind} needs {needs}"
    else:
        kind, text = _role(ledger, a, p)
    if kind is AuditKind.NO_OP:
        text = f"{p.action_name}: no-op: {text}"
    ledger.audit.append(height, kind, p.proposer, subject, p.id, text, p.evidence)
    return text


def apply_emergency(ledger: Ledger, p: Proposal, height: int) -> None:
    """Apply a still-open emergency measure at the end of the height it was proposed in."""
    subject = subject_of(p.action)
    if isinstance(p.action, FreezeIdentity):
        current = ledger.identities.frozen.get(p.action.address)
        if current is not None:
            text = f"no effect: already frozen by proposal {current}"
        elif len(ledger.identities.frozen) >= FROZEN_COUNT_MAX:
            text = "no effect: the frozen list is full"
        else:
            ledger.identities.freeze(p.action.address, p.id)
            text = "frozen pending ratification"
    else:
        assert isinstance(p.action, Intercept)
        hold = ledger.holds.get(p.action.tx_id)
        if hold is None or hold.resolution is not None:
            text = "no effect: the transaction is not held"
        else:
            ledger.holds.resolve(
                hold.tx_id,
                Resolution(_REJECTED, height, p.id, _INTERCEPTED, provisional=True),
            )
            text = "intercepted pending ratification; the amount stays in escrow"
    ledger.audit.append(height, AuditKind.EMERGENCY, p.proposer, subject, p.id, text, p.evidence)


def lapse(ledger: Ledger, p: Proposal, height: int) -> None:
    """Undo an emergency measure that was not ratified, if it is still in force."""
    undone = None
    if isinstance(p.action, FreezeIdentity):
        if ledger.identities.frozen.get(p.action.address) == p.id:
            ledger.identities.unfreeze(p.action.address)
            undone = "freeze lifted"
    else:
        assert isinstance(p.action, Intercept)
        hold = ledger.holds.get(p.action.tx_id)
        r = hold.resolution if hold is not None else None
        if r is not None and r.provisional and r.proposal == p.id:
            ledger.holds.resolve(p.action.tx_id, None)
            undone = "interception undone; the transaction is held again"
    if undone is not None:
        why = f"{undone}: the emergency measure was {p.status}, not ratified"
        ledger.audit.append(height, AuditKind.LAPSE, b"", subject_of(p.action), p.id, why)


# -- one function per action ---------------------------------------------------------
def _freeze(ledger: Ledger, address: bytes, p: Proposal) -> Effect:
    frozen = ledger.identities.frozen
    current = frozen.get(address)
    if current == p.id:
        return AuditKind.FREEZE, "ratified: the emergency freeze is permanent"
    if current is not None and not ledger.governance.is_provisional(current):
        return AuditKind.NO_OP, f"already frozen by proposal {current}"
    if current is None and len(frozen) >= FROZEN_COUNT_MAX:
        return AuditKind.NO_OP, "the frozen list is full"
    ledger.identities.freeze(address, p.id)
    if current is not None:
        return AuditKind.FREEZE, f"frozen, taking over from emergency proposal {current}"
    return AuditKind.FREEZE, "frozen"


def _unfreeze(ledger: Ledger, address: bytes) -> Effect:
    current = ledger.identities.frozen.get(address)
    if current is None:
        return AuditKind.NO_OP, "the address is not frozen"
    ledger.identities.unfreeze(address)
    return AuditKind.UNFREEZE, f"freeze by proposal {current} lifted"


def _intercept(ledger: Ledger, tx_id: bytes, p: Proposal, height: int) -> Effect:
    hold = ledger.holds.get(tx_id)
    if hold is None:
        return AuditKind.NO_OP, "the transaction is not held"
    r = hold.resolution
    if r is not None and not r.provisional:
        return AuditKind.NO_OP, f"already {r.status} by proposal {r.proposal}"
    ledger.holds.resolve(tx_id, Resolution(_REJECTED, height, p.id, _INTERCEPTED))
    if hold.amount:
        ledger.credit(hold.sender, hold.amount)
    if r is not None and r.proposal == p.id:
        return AuditKind.INTERCEPTION, "ratified: rejected for good; the amount returned"
    return AuditKind.INTERCEPTION, "rejected for good; any amount returned to the sender"


def _release(ledger: Ledger, tx_id: bytes, p: Proposal, height: int) -> Effect:
    hold = ledger.holds.get(tx_id)
    if hold is None:
        return AuditKind.NO_OP, "the transaction is not held"
    r = hold.resolution
    if r is not None and not r.provisional:
        return AuditKind.NO_OP, f"already {r.status} by proposal {r.proposal}"
    ledger.holds.resolve(tx_id, Resolution(Status.EXECUTED.value, height, p.id))
    if hold.amount:
        ledger.credit(hold.to, hold.amount)
    if r is not None:
        return AuditKind.RELEASE, f"executed, overriding emergency interception {r.proposal}"
    return AuditKind.RELEASE, "executed"


def _redact(ledger: Ledger, tx_id: bytes, p: Proposal, height: int) -> Effect:
    problem = ledger.redactions.redact(tx_id, p.id, height)
    if problem is not None:
        return AuditKind.NO_OP, problem
    return AuditKind.REDACTION, "payload to be deleted by every node; header and receipt stay"


def _suspend(ledger: Ledger, a: SuspendService | ResumeService, p: Proposal) -> Effect:
    service = ledger.services.get(a.service_id)
    if service is None:
        return AuditKind.NO_OP, "no service has this id"
    if isinstance(a, SuspendService):
        if service.suspended_by is not None:
            return AuditKind.NO_OP, f"already suspended by proposal {service.suspended_by}"
        ledger.services.suspend(a.service_id, p.id)
        return AuditKind.SERVICE_SUSPENSION, "records naming it are rejected"
    if service.suspended_by is None:
        return AuditKind.NO_OP, "the service is not suspended"
    ledger.services.suspend(a.service_id, None)
    return AuditKind.SERVICE_RESUMPTION, f"suspension by proposal {service.suspended_by} lifted"


def _add_filter(ledger: Ledger, a: AddFilter, p: Proposal) -> tuple[AuditKind, str, str]:
    rule_id = f"rule-{ledger.rule_seq + 1}"
    try:
        ledger.rules.add(rule_id, a.rule, a.action, p.id)
    except ValueError as exc:  # the rule set is full
        return AuditKind.NO_OP, str(exc), "rule:"
    ledger.rule_seq += 1
    ledger.rules_changed = True
    text = f"{a.action.value} records matching a {describe(a.rule)}"
    return AuditKind.FILTER_ADDED, text, f"rule:{rule_id}"


# The reason text of a validator_change audit entry is part of the audit format:
# offline verifiers (sdk/valsets.py) follow the validator set through it. One
# writer and one reader, here, keep them in step.
_VALIDATOR_CHANGE = re.compile(
    r"(?:added with weight (\d+)|weight \d+ -> (\d+)|removed); certifies from height (\d+)"
)


def validator_change_reason(old: int | None, new: int | None, start: int) -> str:
    """The reason text of a validator change: old/new weight (None: absent), first height."""
    if new is None:
        text = "removed"
    elif old is None:
        text = f"added with weight {new}"
    else:
        text = f"weight {old} -> {new}"
    return f"{text}; certifies from height {start}"


def parse_validator_change(reason: str) -> tuple[int | None, int] | None:
    """(new weight or None when removed, first height it certifies) from that text."""
    m = _VALIDATOR_CHANGE.fullmatch(reason)
    if m is None:
        return None
    weight = m.group(1) or m.group(2)
    return (int(weight) if weight is not None else None), int(m.group(3))


def _change_validators(ledger: Ledger, a: AddValidator | RemoveValidator, height: int) -> Effect:
    latest = ledger.valsets[-1][1]
    weights = {m.public_key: m.weight for m in latest.members}
    old = weights.get(a.public_key)
    if isinstance(a, AddValidator):
        if old == a.weight:
            return AuditKind.NO_OP, f"already a validator of weight {old}"
        weights[a.public_key] = a.weight
        new_weight: int | None = a.weight
    else:
        if old is None:
            return AuditKind.NO_OP, "not a validator"
        del weights[a.public_key]
        new_weight = None
    try:
        new = ValidatorSet.of(weights)
    except ValueError as exc:
        return AuditKind.NO_OP, f"the validator set would be invalid: {exc}"
    start = ledger.schedule_validators(height, new)
    return AuditKind.VALIDATOR_CHANGE, validator_change_reason(old, new_weight, start)


def _role(ledger: Ledger, a: GrantRole | RevokeRole, p: Proposal) -> Effect:
    ids = ledger.identities
    held = ids.roles.get(a.address, {})
    if isinstance(a, GrantRole):
        if a.role in held:
            return AuditKind.NO_OP, f"already holds role {a.role}"
        if len(held) >= ROLES_PER_ADDRESS_MAX:
            return AuditKind.NO_OP, f"already {ROLES_PER_ADDRESS_MAX} roles"
        ids.grant(a.address, a.role, p.id)
        return AuditKind.ROLE_GRANTED, f"role {a.role} granted"
    if a.role not in held:
        return AuditKind.NO_OP, f"does not hold role {a.role}"
    ids.revoke(a.address, a.role)
    return AuditKind.ROLE_REVOKED, f"role {a.role} revoked"
