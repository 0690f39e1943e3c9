"""Payload formats of the kinds that execution understands.

Every payload is a msgspec array_like struct, decoded canonically
(codec.decode_canonical): one value, one byte string. Governance actions are a
tagged union, so the action name is the first element of the arguments array:
`["freeze-identity", <address>]`.
"""

from __future__ import annotations

import msgspec

from govchain.state.policy import ContentRule, RuleAction


class Payload(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Base of every payload format: a canonical msgpack array."""


class TransferPayload(Payload, frozen=True):
    """Move amount from the sender's account to `to` (a 20-byte address)."""

    to: bytes
    amount: int


class RecordPayload(Payload, frozen=True):
    """A data record; service "" names none; media_type like "text/plain"."""

    service: str
    media_type: str
    data: bytes


class ServiceRegisterPayload(Payload, frozen=True):
    """Register (or, for its owner, update) a service; writer_role "" lets anyone write."""

    service_id: str
    writer_role: str


class IdentitySetPayload(Payload, frozen=True):
    """An issuer registers or updates an identity; status is "active" or "revoked"."""

    address: bytes
    kind: str
    tier: int
    attrs_hash: bytes
    status: str


# -- governance actions (tag = the contract's action name) ---------------------
class FreezeIdentity(Payload, frozen=True, tag="freeze-identity"):
    """Reject every transaction of address (any address, identified or not)."""

    address: bytes


class UnfreezeIdentity(Payload, frozen=True, tag="unfreeze-identity"):
    """Lift a freeze."""

    address: bytes


class Intercept(Payload, frozen=True, tag="intercept"):
    """Reject a held transaction for good (a transfer's amount returns to its sender)."""

    tx_id: bytes


class Release(Payload, frozen=True, tag="release"):
    """Execute a held transaction (a transfer's amount goes to its recipient)."""

    tx_id: bytes


class Redact(Payload, frozen=True, tag="redact"):
    """Delete a final record's payload everywhere; header and receipt stay."""

    tx_id: bytes


class SuspendService(Payload, frozen=True, tag="suspend-service"):
    """Reject records naming the service until it is resumed."""

    service_id: str


class ResumeService(Payload, frozen=True, tag="resume-service"):
    """Lift a suspension."""

    service_id: str


class AddFilter(Payload, frozen=True, tag="add-filter"):
    """A content rule for records; matches are rejected or held."""

    rule: ContentRule
    action: RuleAction


class RemoveFilter(Payload, frozen=True, tag="remove-filter"):
    """Remove a content rule by id ("rule-<n>")."""

    rule_id: str


class AddValidator(Payload, frozen=True, tag="add-validator"):
    """Add a validator, or set an existing one's weight."""

    public_key: bytes
    weight: int = 1


class RemoveValidator(Payload, frozen=True, tag="remove-validator"):
    """Remove a validator."""

    public_key: bytes


class SetParam(Payload, frozen=True, tag="set-param"):
    """Set a parameter (state/params.py); value None restores its default."""

    name: str
    value: int | None


class GrantRole(Payload, frozen=True, tag="grant-role"):
    """Give an address a role ("issuer", "review", a service's writer role, ...)."""

    address: bytes
    role: str


class RevokeRole(Payload, frozen=True, tag="revoke-role"):
    """Take a role away."""

    address: bytes
    role: str


class SetPermission(Payload, frozen=True, tag="set-permission"):
    """From now on only holders of role may send transactions of kind ("" opens it again)."""

    kind: str
    role: str


Action = (
    FreezeIdentity
    | UnfreezeIdentity
    | Intercept
    | Release
    | Redact
    | SuspendService
    | ResumeService
    | AddFilter
    | RemoveFilter
    | AddValidator
    | RemoveValidator
    | SetParam
    | GrantRole
    | RevokeRole
    | SetPermission
)
EMERGENCY_ACTIONS = (FreezeIdentity, Intercept)


def action_name(action: Action) -> str:
    """The contract's name of an action ("freeze-identity", ...)."""
    tag = action.__struct_config__.tag
    assert isinstance(tag, str)
    return tag


class ProposePayload(Payload, frozen=True):
    """A proposal: the action with its arguments, why, evidence, and whether urgent."""

    action: Action
    reason: str
    evidence: bytes  # a 32-byte hash of the evidence, or empty
    emergency: bool = False


class VotePayload(Payload, frozen=True):
    """A committee member's vote on a proposal (its 32-byte id)."""

    proposal: bytes
    yes: bool


TRANSFER_DECODER = msgspec.msgpack.Decoder(TransferPayload)
RECORD_DECODER = msgspec.msgpack.Decoder(RecordPayload)
SERVICE_DECODER = msgspec.msgpack.Decoder(ServiceRegisterPayload)
IDENTITY_DECODER = msgspec.msgpack.Decoder(IdentitySetPayload)
PROPOSE_DECODER = msgspec.msgpack.Decoder(ProposePayload)
VOTE_DECODER = msgspec.msgpack.Decoder(VotePayload)
