"""identity.set: an issuer registers, updates or revokes an identity."""

from __future__ import annotations

import msgspec

from govchain.codec import DecodeError, decode_canonical
from govchain.crypto.keys import ADDRESS_BYTES
from govchain.dag.kinds import Kind
from govchain.dag.tx import Transaction
from govchain.state.accounts import Account
from govchain.state.audit import AuditKind
from govchain.state.identities import (
    IDENTITIES_COUNT_MAX,
    ISSUER_ROLE,
    IdentityStatus,
    Registration,
    registration_error,
)
from govchain.state.payload_base import Payload
from govchain.state.receipts import Outcome, Reason, rejected
from govchain.state.registry import KindSpec, TxContext

# What an issuer may set: frozen is governance's alone.
ISSUER_STATUSES = frozenset({IdentityStatus.ACTIVE.value, IdentityStatus.REVOKED.value})


class IdentitySetPayload(Payload, frozen=True):
    """An issuer registers or updates an identity; status is "active" or "revoked"."""

    address: bytes
    kind: str
    tier: int
    attrs_hash: bytes
    status: str


IDENTITY_DECODER = msgspec.msgpack.Decoder(IdentitySetPayload)


def run(ctx: TxContext, tx: Transaction, issuer: bytes, _acct: Account) -> Outcome | None:
    """Register or update an identity; None when done."""
    ids = ctx.stores.identities
    if not ids.has_role(issuer, ISSUER_ROLE):
        return rejected(Reason.NOT_AUTHORIZED)
    try:
        p = decode_canonical(tx.payload, IDENTITY_DECODER)
    except DecodeError:
        return rejected(Reason.MALFORMED_PAYLOAD)
    if (
        len(p.address) != ADDRESS_BYTES
        or p.status not in ISSUER_STATUSES
        or registration_error(p.kind, p.tier, p.attrs_hash) is not None
    ):
        return rejected(Reason.BAD_ARGUMENT)
    existing = ids.registered.get(p.address)
    if existing is not None and (existing.issuer != issuer or existing.revoked):
        # An issuer changes only what it issued, and a revocation is final.
        return rejected(Reason.NOT_AUTHORIZED)
    if existing is None and len(ids.registered) >= IDENTITIES_COUNT_MAX:
        return rejected(Reason.LIMIT_REACHED)
    revoked = p.status == IdentityStatus.REVOKED
    ids.register(p.address, Registration(p.kind, p.tier, issuer, p.attrs_hash, revoked, ctx.height))
    ctx.audit.append(
        ctx.height,
        AuditKind.IDENTITY,
        issuer,
        f"address:{p.address.hex()}",
        reason=f"{p.kind}, tier {p.tier}, {p.status}",
        evidence=p.attrs_hash,
    )
    return None


SPEC = KindSpec(
    kind=Kind.IDENTITY_SET,
    payload=IdentitySetPayload,
    run=run,
    doc_payload="`IdentitySetPayload(address, kind, tier, attrs_hash, status)`",
    doc_who="holders of role `issuer`",
)
