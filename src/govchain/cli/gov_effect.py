"""Would a governance action change anything? Asked of the node before proposing it.

Execution makes an action whose target is already in the wanted state a no-op
(state/actions.py: the proposal passes, its outcome says "no-op"). A committee
member should hear that when proposing, not from the audit log days later. The
state can still change before enactment, so this only warns: the proposal is
sent anyway. The words follow the audit entries' (actions.py) so the warning
and the later outcome read alike. Actions whose state the API does not show
(parameters, content rules, validator weights) are not checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from govchain.dag.kinds import Kind
from govchain.sdk.errors import SdkError
from govchain.state.payloads import (
    Action,
    FreezeIdentity,
    GrantRole,
    Intercept,
    Redact,
    Release,
    RemoveValidator,
    ResumeService,
    RevokeRole,
    SuspendService,
    UnfreezeIdentity,
)

if TYPE_CHECKING:
    from govchain.sdk.client import Client

NO_EFFECT = "no effect: "


def found_or_none(fetch: Any, *args: Any) -> dict[str, Any] | None:
    """A document from the node, or None when it answers not_found."""
    try:
        doc = fetch(*args)
    except SdkError as exc:
        if exc.code == "not_found":
            return None
        raise
    return doc if isinstance(doc, dict) else None


def _open_emergency(client: Client, proposal_id: str) -> bool:
    p = found_or_none(client.proposal, proposal_id)
    return p is not None and bool(p.get("emergency")) and p.get("status") == "open"


def _freeze(client: Client, a: FreezeIdentity | UnfreezeIdentity, emergency: bool) -> str | None:
    ident = found_or_none(client.identity, a.address)
    by = ident.get("frozen_by") if ident is not None and ident.get("frozen") else None
    if isinstance(a, UnfreezeIdentity):
        return None if by else "the address is not frozen"
    if not by:
        return None
    # An ordinary freeze takes over an open emergency freeze and makes it permanent.
    if emergency or not _open_emergency(client, str(by)):
        return f"already frozen by proposal {by}"
    return None


def _held(client: Client, a: Intercept | Release, emergency: bool) -> str | None:
    rec = found_or_none(client.tx, a.tx_id.hex())
    if rec is None:
        return "this node knows no transaction with this id"
    if rec.get("checkpoint") is None:
        return None  # not final yet: it may still be held
    if "held" not in rec:
        return "the transaction is not held"
    r = rec.get("resolution")
    if r is None:
        return None
    if emergency or not r.get("provisional"):
        return f"already {r.get('status')} by proposal {r.get('proposal')}"
    return None


def _redact(client: Client, a: Redact) -> str | None:
    rec = found_or_none(client.tx, a.tx_id.hex())
    if rec is None:
        return "this node knows no transaction with this id"
    if rec.get("kind") != Kind.RECORD:
        return f"only records are redacted, and this is a {rec.get('kind')}"
    if rec.get("redacted"):
        ref = (rec.get("redaction") or {}).get("proposal")
        return f"already redacted by proposal {ref}" if ref else "already redacted"
    return None


def _service(client: Client, a: SuspendService | ResumeService) -> str | None:
    svc = found_or_none(client.service, a.service_id)
    if svc is None:
        return "no service has this id"
    by = svc.get("suspended_by")
    if isinstance(a, SuspendService):
        return f"already suspended by proposal {by}" if by else None
    return None if by else "the service is not suspended"


def _role(client: Client, a: GrantRole | RevokeRole) -> str | None:
    ident = found_or_none(client.identity, a.address)
    roles = ident.get("roles") if ident is not None else None
    held = a.role in roles if isinstance(roles, list) else False
    if isinstance(a, GrantRole):
        return f"already holds role {a.role}" if held else None
    return None if held else f"does not hold role {a.role}"


def _validator(client: Client, a: RemoveValidator) -> str | None:
    validators = client.status().get("validators") or []
    return None if a.public_key.hex() in validators else "not a validator"


def no_effect(client: Client, action: Action, emergency: bool = False) -> str | None:
    """ "no effect: <why>" when the action would change nothing now, else None."""
    why: str | None = None
    if isinstance(action, FreezeIdentity | UnfreezeIdentity):
        why = _freeze(client, action, emergency)
    elif isinstance(action, Intercept | Release):
        why = _held(client, action, emergency)
    elif isinstance(action, Redact):
        why = _redact(client, action)
    elif isinstance(action, SuspendService | ResumeService):
        why = _service(client, action)
    elif isinstance(action, GrantRole | RevokeRole):
        why = _role(client, action)
    elif isinstance(action, RemoveValidator):
        why = _validator(client, action)
    return None if why is None else NO_EFFECT + why


def action_of(doc: dict[str, Any]) -> Action | None:
    """The checkable action of a proposal's JSON `action` ({"name", "args"}), else None."""
    name, args = doc.get("name"), doc.get("args") or {}
    try:
        if name in ("freeze-identity", "unfreeze-identity"):
            address = bytes.fromhex(args["address"])
            return (
                FreezeIdentity(address) if name == "freeze-identity" else UnfreezeIdentity(address)
            )
        if name in ("intercept", "release", "redact"):
            tx_id = bytes.fromhex(args["tx_id"])
            if name == "intercept":
                return Intercept(tx_id)
            return Release(tx_id) if name == "release" else Redact(tx_id)
        if name in ("suspend-service", "resume-service"):
            sid = str(args["service_id"])
            return SuspendService(sid) if name == "suspend-service" else ResumeService(sid)
        if name in ("grant-role", "revoke-role"):
            address, role = bytes.fromhex(args["address"]), str(args["role"])
            return GrantRole(address, role) if name == "grant-role" else RevokeRole(address, role)
        if name == "remove-validator":
            return RemoveValidator(bytes.fromhex(args["public_key"]))
    except (KeyError, TypeError, ValueError):
        return None  # a document this version does not know how to read: no check
    return None
