"""Would a governance action change anything? Asked of the node before proposing it.

Execution makes an action whose target is already in the wanted state a no-op
(its module's `enact`: the proposal passes, its outcome says "no-op"). A
committee member should hear that when proposing, not from the audit log days
later. The state can still change before enactment, so this only warns: the
proposal is sent anyway. Each action module says what it would find
(`ActionSpec.preview`, in the words of its no-ops); this module reads the node
for it. Actions without a preview (parameters, content rules, validator
weights: state the API does not show) are not checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from govchain.apps.catalog import ALL
from govchain.sdk.errors import SdkError
from govchain.state.payloads import Action

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


class ClientDocs:
    """A node's documents through the SDK client, as previews read them (NodeDocs)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def identity(self, address: bytes) -> dict[str, Any] | None:
        """The identity document, or None."""
        return found_or_none(self.client.identity, address)

    def tx(self, tx_id: bytes) -> dict[str, Any] | None:
        """The transaction's record, or None."""
        return found_or_none(self.client.tx, tx_id.hex())

    def proposal(self, proposal_id: str) -> dict[str, Any] | None:
        """The proposal, or None."""
        return found_or_none(self.client.proposal, proposal_id)

    def service(self, service_id: str) -> dict[str, Any] | None:
        """The service, or None."""
        return found_or_none(self.client.service, service_id)

    def status(self) -> dict[str, Any]:
        """The node's status."""
        return self.client.status()


def no_effect(client: Client, action: Action, emergency: bool = False) -> str | None:
    """ "no effect: <why>" when the action would change nothing now, else None."""
    preview = ALL.spec_of(action).preview
    why = None if preview is None else preview(action, ClientDocs(client), emergency)
    return None if why is None else NO_EFFECT + why


def action_of(doc: dict[str, Any]) -> Action | None:
    """The checkable action of a proposal's JSON `action` ({"name", "args"}), else None."""
    spec = ALL.actions.get(str(doc.get("name")))
    if spec is None or spec.preview is None:
        return None
    return action_from_json(doc)


def _from_hex(kind: Any, value: Any) -> Any:
    """A JSON argument value as its field's type takes it: hex to bytes where bytes are due."""
    if kind is bytes:
        return bytes.fromhex(value)
    if kind == tuple[bytes, ...]:
        return tuple(bytes.fromhex(v) for v in value)
    return value


def action_from_json(doc: dict[str, Any]) -> Action | None:
    """A proposal's JSON `action` as its arguments struct; None when this version cannot read it."""
    spec = ALL.actions.get(str(doc.get("name")))
    args = doc.get("args") or {}
    if spec is None or not isinstance(args, dict):
        return None
    try:
        # The API shows bytes as hex (api/views.py action_json), in lists too (watch).
        values = {
            f.name: _from_hex(f.type, args[f.name]) for f in msgspec.structs.fields(spec.args)
        }
        built = spec.args(**values)
        # A constructor checks no types: a round trip through builtins does.
        action: Action = msgspec.convert(msgspec.to_builtins(built), spec.args)
    except (KeyError, TypeError, ValueError, msgspec.ValidationError):
        return None  # a document this version does not know how to read: no check
    return action
