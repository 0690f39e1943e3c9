"""The identity registry: who an address is, its tier, roles, and governance freezes.

Three sources write here, kept apart so that none can overwrite another's
decision: issuers register identities (kind, tier, attributes hash, revoked);
governance freezes any address, identified or not; governance grants roles.
`Identity` is the read-only view that joins them for one address.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

import msgspec

from govchain.codec import HASH_BYTES

IDENTITY_KINDS = (
    "person",
    "organization",
    "validator",
    "regulator",
    "auditor",
    "service",
    "device",
)
# What an issuer may register; validators, regulators and auditors come from
# genesis, so an issuer cannot mint an identity that looks like governance.
ISSUABLE_KINDS = frozenset({"person", "organization", "service", "device"})
TIER_MAX = 3
ROLE_PATTERN = re.compile(r"[a-z0-9_-]{1,32}")
ROLES_PER_ADDRESS_MAX = 16
IDENTITIES_COUNT_MAX = 10_000_000
FROZEN_COUNT_MAX = 1_000_000
ISSUER_ROLE = "issuer"  # may send identity.set
REVIEW_ROLE = "review"  # flagged for review: its transfers are held


class IdentityStatus(StrEnum):
    """An identity's standing; frozen overrides active, revoked is final."""

    ACTIVE = "active"
    FROZEN = "frozen"
    REVOKED = "revoked"


class Registration(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """What an issuer (or genesis, issuer b"") recorded for an address."""

    kind: str
    tier: int
    issuer: bytes
    attrs_hash: bytes
    revoked: bool
    height: int


class Identity(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything known about one address (kind None: unidentified, tier 0)."""

    address: bytes
    kind: str | None
    tier: int
    issuer: bytes | None
    attrs_hash: bytes | None
    status: IdentityStatus
    roles: tuple[str, ...]  # sorted
    frozen_by: str | None  # the proposal whose freeze is in force
    registered_height: int | None


def role_ok(role: str) -> bool:
    """Roles are short lowercase names: [a-z0-9_-]{1,32}."""
    return ROLE_PATTERN.fullmatch(role) is not None


def registration_error(kind: str, tier: int, attrs_hash: bytes) -> str | None:
    """Why an issuer's registration fields are bad arguments, or None."""
    if kind not in ISSUABLE_KINDS:
        return f"kind must be one of {', '.join(sorted(ISSUABLE_KINDS))}"
    if not 0 <= tier <= TIER_MAX:
        return f"tier must lie in 0..{TIER_MAX}"
    if len(attrs_hash) != HASH_BYTES:
        return "attrs_hash must be 32 bytes"
    return None


class Identities:
    """The registry. Execution reads `registered`, `frozen` and `roles` directly (hot path)."""

    def __init__(self, genesis_identities: list[tuple[bytes, Registration]]) -> None:
        self.registered: dict[bytes, Registration] = dict(genesis_identities)
        self.frozen: dict[bytes, str] = {}  # address -> freezing proposal id
        self.roles: dict[bytes, dict[str, str]] = {}  # address -> role -> granting proposal
        self._dirty: set[bytes] = set()

    # -- reads ---------------------------------------------------------------
    def has_role(self, address: bytes, role: str) -> bool:
        """True when governance granted role to address."""
        held = self.roles.get(address)
        return held is not None and role in held

    def view(self, address: bytes) -> Identity | None:
        """The joined view; None when nothing at all is recorded for address."""
        reg = self.registered.get(address)
        frozen_by = self.frozen.get(address)
        roles = self.roles.get(address)
        if reg is None and frozen_by is None and not roles:
            return None
        if reg is not None and reg.revoked:
            status = IdentityStatus.REVOKED
        elif frozen_by is not None:
            status = IdentityStatus.FROZEN
        else:
            status = IdentityStatus.ACTIVE
        return Identity(
            address=address,
            kind=reg.kind if reg else None,
            tier=reg.tier if reg else 0,
            issuer=reg.issuer if reg else None,
            attrs_hash=reg.attrs_hash if reg else None,
            status=status,
            roles=tuple(sorted(roles or ())),
            frozen_by=frozen_by,
            registered_height=reg.height if reg else None,
        )

    # -- writes by issuers ---------------------------------------------------------
    def register(self, address: bytes, reg: Registration) -> None:
        """Record an issuer's registration (checked by the caller)."""
        self.registered[address] = reg
        self._dirty.add(address)

    # -- writes by governance ------------------------------------------------------
    def freeze(self, address: bytes, proposal_id: str) -> None:
        """Freeze address on behalf of proposal_id (replacing any earlier reference)."""
        self.frozen[address] = proposal_id
        self._dirty.add(address)

    def unfreeze(self, address: bytes) -> None:
        """Lift whatever freeze is in force."""
        del self.frozen[address]
        self._dirty.add(address)

    def grant(self, address: bytes, role: str, proposal_id: str) -> None:
        """Give address a role."""
        self.roles.setdefault(address, {})[role] = proposal_id
        self._dirty.add(address)

    def revoke(self, address: bytes, role: str) -> None:
        """Take a role away."""
        held = self.roles[address]
        del held[role]
        if not held:
            del self.roles[address]
        self._dirty.add(address)

    def writes(self) -> list[Any]:
        """Addresses changed this height with their whole record, sorted (state hash)."""
        if not self._dirty:
            return []
        out = []
        for a in sorted(self._dirty):
            roles = self.roles.get(a, {})
            out.append([a, self.registered.get(a), self.frozen.get(a), sorted(roles.items())])
        self._dirty.clear()
        return out
