"""JSON shapes of the API (the contract's records), built from node state."""

from __future__ import annotations

import base64
from typing import Any

from govchain.consensus.messages import Certificate, Checkpoint
from govchain.crypto.keys import address_of
from govchain.dag.tx import Transaction
from govchain.state.receipts import REASON_TEXT, Reason, Receipt


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


def tx_json(tx: Transaction, height: int | None, receipt: Receipt | None) -> dict[str, Any]:
    """The contract's transaction record."""
    return {
        "tx_id": tx.id.hex(),
        "sender": address_of(tx.body.sender).hex(),
        "sender_key": tx.body.sender.hex(),
        "kind": tx.body.kind,
        "nonce": tx.body.nonce,
        "status": receipt.status if receipt is not None else "pending",
        "checkpoint": height if receipt is not None else None,
        "receipt": receipt_json(receipt),
        "redacted": False,
        "payload": base64.b64encode(tx.payload).decode(),
    }


def error(code: str, message: str) -> dict[str, Any]:
    """The contract's error document."""
    return {"error": {"code": code, "message": message}}
