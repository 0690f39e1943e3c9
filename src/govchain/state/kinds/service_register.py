"""service.register: register a service, or (its owner) change who may write to it."""

from __future__ import annotations

import msgspec

from govchain.codec import DecodeError, decode_canonical
from govchain.dag.kinds import Kind
from govchain.dag.tx import Transaction
from govchain.state.accounts import Account
from govchain.state.identities import role_ok
from govchain.state.payload_base import Payload
from govchain.state.receipts import Outcome, Reason, rejected
from govchain.state.registry import KindSpec, TxContext
from govchain.state.services import SERVICES_COUNT_MAX, Service, service_id_ok


class ServiceRegisterPayload(Payload, frozen=True):
    """Register (or, for its owner, update) a service; writer_role "" lets anyone write."""

    service_id: str
    writer_role: str


SERVICE_DECODER = msgspec.msgpack.Decoder(ServiceRegisterPayload)


def run(ctx: TxContext, tx: Transaction, owner: bytes, _acct: Account) -> Outcome | None:
    """Register or update a service; None when done."""
    try:
        s = decode_canonical(tx.payload, SERVICE_DECODER)
    except DecodeError:
        return rejected(Reason.MALFORMED_PAYLOAD)
    if not service_id_ok(s.service_id) or (s.writer_role and not role_ok(s.writer_role)):
        return rejected(Reason.BAD_ARGUMENT)
    services = ctx.stores.services
    existing = services.get(s.service_id)
    if existing is not None:
        if existing.owner != owner:
            return rejected(Reason.SERVICE_EXISTS)
        # The owner may change who writes; a suspension stays as it is.
        services.put(
            Service(
                s.service_id,
                owner,
                s.writer_role,
                existing.registered_height,
                existing.suspended_by,
            )
        )
        return None
    if len(services) >= SERVICES_COUNT_MAX:
        return rejected(Reason.LIMIT_REACHED)
    services.put(Service(s.service_id, owner, s.writer_role, ctx.height))
    return None


SPEC = KindSpec(
    kind=Kind.SERVICE_REGISTER,
    payload=ServiceRegisterPayload,
    run=run,
    doc_payload="`ServiceRegisterPayload(service_id, writer_role)`",
    doc_who="anyone; the signer owns it",
)
