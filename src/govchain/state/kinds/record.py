"""record: a data record, screened by its service and the content rules.

A record's only effects are its nonce and, when it is held or rejected by a
rule or decision, a hold and audit entries; one function (`_effects`) turns
an outcome into them, whether the payload decided it or a certified receipt
did (a redacted record re-executes to the same state and entries).
"""

from __future__ import annotations

import re

import msgspec

from govchain.codec import DecodeError, decode_canonical
from govchain.dag.kinds import Kind
from govchain.dag.tx import Transaction
from govchain.state.accounts import Account
from govchain.state.audit import AuditKind
from govchain.state.payload_base import Payload
from govchain.state.policy import RuleAction, media_type_essence
from govchain.state.receipts import Outcome, Reason, Status, rejected
from govchain.state.registry import KindSpec, TxContext

from .holding import NOTHING, hold

# A record's media type: "type/subtype" (RFC 6838 names, any case) with optional
# parameters. Its essence must be well formed, or a type rule could be dodged.
MEDIA_TYPE_CHARS_MAX = 255
MEDIA_ESSENCE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")

_EXECUTED = Status.EXECUTED.value
_HELD = Status.HELD.value
_MALFORMED = rejected(Reason.MALFORMED_PAYLOAD)


class PayloadMissingError(LookupError):
    """A transaction's payload is gone but the caller gave no known receipt for it."""


class RecordPayload(Payload, frozen=True):
    """A data record; service "" names none; media_type like "text/plain"."""

    service: str
    media_type: str
    data: bytes


RECORD_DECODER = msgspec.msgpack.Decoder(RecordPayload)


def run(ctx: TxContext, tx: Transaction, sender: bytes, _acct: Account) -> Outcome | None:
    """Execute a record; None when it executed."""
    k = ctx.known.get(tx.id) if ctx.known is not None else None
    if k is not None:
        if k.status == _EXECUTED:
            return None
        o: Outcome | None = Outcome(k.status, k.reason, k.rule, k.governance_ref)
    else:
        if len(tx.payload) != tx.body.payload_len:
            raise PayloadMissingError(f"record {tx.id.hex()}: no payload, no known receipt")
        o = _screen(ctx, tx, sender)
    if o is not None:
        _effects(ctx, tx, sender, o)
    return o


def _effects(ctx: TxContext, tx: Transaction, sender: bytes, o: Outcome) -> None:
    if o.status == _HELD:
        hold(ctx, tx, sender, NOTHING, o)
    elif o.rule is not None:
        ctx.audit.append(
            ctx.height,
            AuditKind.REJECTION_BY_RULE,
            sender,
            f"tx:{tx.id.hex()}",
            o.governance_ref or "",
            f"{o.reason} {o.rule}",
        )
    elif o.reason == Reason.SERVICE_SUSPENDED:
        ctx.audit.append(
            ctx.height,
            AuditKind.REJECTION_BY_DECISION,
            sender,
            f"tx:{tx.id.hex()}",
            o.governance_ref or "",
            o.reason,
        )


def _screen(ctx: TxContext, tx: Transaction, sender: bytes) -> Outcome | None:
    """A record's payload against its service and the content rules."""
    try:
        r = decode_canonical(tx.payload, RECORD_DECODER)
    except DecodeError:
        return _MALFORMED
    if (
        len(r.media_type) > MEDIA_TYPE_CHARS_MAX
        or MEDIA_ESSENCE.fullmatch(media_type_essence(r.media_type)) is None
    ):
        return _MALFORMED
    st = ctx.stores
    if r.service:
        service = st.services.get(r.service)
        if service is None:
            return rejected(Reason.UNKNOWN_SERVICE)
        if service.suspended_by is not None:
            return rejected(Reason.SERVICE_SUSPENDED, service.suspended_by)
        if (
            service.writer_role
            and sender != service.owner
            and not st.identities.has_role(sender, service.writer_role)
        ):
            return rejected(Reason.NOT_AUTHORIZED)
    rules = st.rules.rules
    if len(rules):
        m = rules.match(tx.body.payload_hash, r.media_type, r.data)
        if m is not None:
            status = _HELD if m.action == RuleAction.HOLD else Status.REJECTED.value
            return Outcome(status, Reason.CONTENT_RULE.value, m.rule_id, m.governance_ref)
    return None


def _index(ctx: TxContext, tx: Transaction) -> None:
    # Every final record is indexed, whatever its outcome: redact may target any.
    ctx.stores.redactions.add_record(tx.id)


SPEC = KindSpec(
    kind=Kind.RECORD,
    payload=RecordPayload,
    run=run,
    doc_payload='`RecordPayload(service, media_type, data)`; service `""` = none',
    doc_who="anyone",
    judges_missing_payload=True,
    on_final=_index,
)
