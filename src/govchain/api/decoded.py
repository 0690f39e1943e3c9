"""Decoded views of payloads: what a transaction says, next to its raw bytes.

One table, kind -> view: a transfer's recipient and amount, a record's text,
a proposal's action and arguments, a vote, a warehouse transition (its name
and fields) or readings batch (count and devices). A kind without a view, or a
payload that does not decode as its kind's, has none (None), as does a payload that is
not served (redacted, rejected, withheld): the view never shows more than the
bytes would. Proposals decode over the chain's registry (apps/catalog.py
registry_for), so an application's actions show too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from govchain.api.views import action_json
from govchain.apps.warehouse.ops import KIND_READINGS, KIND_WR, OP_DECODER, READINGS_DECODER
from govchain.apps.warehouse.views import op_json, readings_payload_json
from govchain.codec import DecodeError, decode_canonical
from govchain.dag.kinds import Kind
from govchain.dag.tx import Transaction
from govchain.state.kinds.report_handle import KIND as REPORT_HANDLE
from govchain.state.kinds.report_handle import REPORT_HANDLE_DECODER
from govchain.state.payloads import (
    IDENTITY_DECODER,
    RECORD_DECODER,
    SERVICE_DECODER,
    TRANSFER_DECODER,
    VOTE_DECODER,
)
from govchain.state.registry import Registry


def _text(data: bytes) -> str | None:
    """The record's bytes as text when they are UTF-8, else None (binary: see the payload)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _transfer(payload: bytes, _registry: Registry) -> dict[str, Any]:
    t = decode_canonical(payload, TRANSFER_DECODER)
    return {"to": t.to.hex(), "amount": t.amount}


def _record(payload: bytes, _registry: Registry) -> dict[str, Any]:
    r = decode_canonical(payload, RECORD_DECODER)
    return {
        "service": r.service or None,
        "media_type": r.media_type,
        "size_bytes": len(r.data),
        "text": _text(r.data),
    }


def _service(payload: bytes, _registry: Registry) -> dict[str, Any]:
    s = decode_canonical(payload, SERVICE_DECODER)
    return {"service_id": s.service_id, "writer_role": s.writer_role or None}


def _identity(payload: bytes, _registry: Registry) -> dict[str, Any]:
    p = decode_canonical(payload, IDENTITY_DECODER)
    return {
        "address": p.address.hex(),
        "kind": p.kind,
        "tier": p.tier,
        "attrs_hash": p.attrs_hash.hex(),
        "status": p.status,
    }


def _propose(payload: bytes, registry: Registry) -> dict[str, Any]:
    p = decode_canonical(payload, registry.propose_decoder())
    return {
        "action": action_json(p.action),
        "reason": p.reason,
        "evidence": p.evidence.hex() or None,
        "emergency": p.emergency,
    }


def _vote(payload: bytes, _registry: Registry) -> dict[str, Any]:
    v = decode_canonical(payload, VOTE_DECODER)
    return {"proposal": v.proposal.hex(), "vote": "yes" if v.yes else "no"}


def _report_handle(payload: bytes, _registry: Registry) -> dict[str, Any]:
    p = decode_canonical(payload, REPORT_HANDLE_DECODER)
    return {"report": p.report.hex(), "note": p.note}


def _wr(payload: bytes, _registry: Registry) -> dict[str, Any]:
    return op_json(decode_canonical(payload, OP_DECODER))


def _wr_readings(payload: bytes, _registry: Registry) -> dict[str, Any]:
    return readings_payload_json(decode_canonical(payload, READINGS_DECODER))


VIEWS: dict[str, Callable[[bytes, Registry], dict[str, Any]]] = {
    Kind.TRANSFER: _transfer,
    Kind.RECORD: _record,
    Kind.SERVICE_REGISTER: _service,
    Kind.IDENTITY_SET: _identity,
    Kind.GOV_PROPOSE: _propose,
    Kind.GOV_VOTE: _vote,
    REPORT_HANDLE: _report_handle,  # {"report", "note"}
    KIND_WR: _wr,  # the transition's name and fields: {"op", "args"}
    KIND_READINGS: _wr_readings,  # {"count", "devices"}
}


def decoded_view(kind: str, payload: bytes | None, registry: Registry) -> dict[str, Any] | None:
    """The decoded view of a served payload on registry's chain; None when not served,
    of no known kind, or bad."""
    view = VIEWS.get(kind)
    if payload is None or view is None:
        return None
    try:
        return view(payload, registry)
    except DecodeError:
        return None


def with_decoded(record: dict[str, Any], tx: Transaction, registry: Registry) -> dict[str, Any]:
    """A transaction record (views.tx_json) with "decoded": null exactly when "payload" is."""
    served = tx.payload if record.get("payload") is not None else None
    record["decoded"] = decoded_view(tx.body.kind, served, registry)
    return record
