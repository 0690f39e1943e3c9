"""Offline verification of a receipt proof (GET /v1/txs/{id}/proof) against a genesis."""

from __future__ import annotations

from typing import Any

from govchain.consensus.messages import Certificate, Checkpoint
from govchain.crypto.keys import verify
from govchain.dag.tx import SIGN_DOMAIN, decode_body, tx_id
from govchain.state.genesis import Genesis
from govchain.state.receipts import Receipt, ReceiptProof

from .valsets import ValidatorSets, ValsetError


class ProofError(ValueError):
    """The proof does not hold; the message says which part failed."""


def _b(doc: dict[str, Any], key: str) -> bytes:
    try:
        return bytes.fromhex(doc[key])
    except (KeyError, TypeError, ValueError):
        raise ProofError(f"field {key!r} must be hex") from None


def checkpoint_from_json(doc: dict[str, Any], chain_id: str) -> Checkpoint:
    """A checkpoint from its JSON (GET /v1/checkpoints); KeyError/ValueError when malformed."""
    return Checkpoint(
        chain_id=chain_id,
        height=int(doc["height"]),
        previous=_b(doc, "previous"),
        time_ms=int(doc["time_ms"]),
        tips=tuple(bytes.fromhex(t) for t in doc["tips"]),
        state_hash=_b(doc, "state_hash"),
        receipts_root=_b(doc, "receipts_root"),
        audit_head=_b(doc, "audit_head"),
        validator_set_hash=_b(doc, "validator_set_hash"),
    )


def certificate_from_json(doc: dict[str, Any]) -> Certificate:
    """A certificate from its JSON; KeyError/ValueError/TypeError when malformed."""
    return Certificate(
        int(doc["height"]),
        int(doc["round"]),
        _b(doc, "value"),
        tuple((int(i), bytes.fromhex(s)) for i, s in doc["signatures"]),
    )


def verify_proof(doc: dict[str, Any], genesis: Genesis) -> dict[str, Any]:
    """Check header, receipt inclusion and the anchor's 2f+1 certificate; returns a summary."""
    try:
        header, rc, anchor = doc["header"], doc["receipt"], doc["anchor"]
        body_bytes, sig = _b(header, "body"), _b(header, "signature")
        body = decode_body(body_bytes)
        tid = tx_id(body_bytes, sig)
        if tid.hex() != doc["tx_id"]:
            raise ProofError("tx_id is not the hash of the header")
        if body.chain_id != genesis.chain_id:
            raise ProofError("the transaction belongs to another chain")
        if not verify(body.sender, SIGN_DOMAIN + body_bytes, sig):
            raise ProofError("the sender's signature does not verify")
        receipt = Receipt(
            tid,
            int(rc["height"]),
            int(rc["index"]),
            str(rc["status"]),
            rc["reason"],
            rc.get("rule"),
            rc.get("governance_ref"),
        )
        checkpoint = checkpoint_from_json(anchor, genesis.chain_id)
        cert = certificate_from_json(anchor["certificate"])
        path = tuple(bytes.fromhex(p) for p in doc["path"])
        size = int(doc["receipts_count"])
    except ProofError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ProofError(f"malformed proof: {exc}") from None
    if checkpoint.hash.hex() != anchor.get("hash"):
        raise ProofError("the anchor checkpoint's fields do not give its hash")
    if checkpoint.height != receipt.height + 1:
        raise ProofError("the anchor must be the checkpoint after the receipt's")
    if not ReceiptProof(receipt, size, path).verify(checkpoint.receipts_root):
        raise ProofError("the receipt is not included under the anchor's receipts root")
    sets = ValidatorSets(genesis)
    try:
        sets.apply(list(doc.get("validator_changes") or []))
    except ValsetError as exc:
        raise ProofError(f"validator-set changes: {exc}") from None
    err = sets.certified_error(checkpoint, anchor.get("hash"), cert)
    if err is not None:
        raise ProofError(err)
    return {
        "valid": True,
        "tx_id": tid.hex(),
        "status": receipt.status,
        "height": receipt.height,
        "anchor": checkpoint.height,
        "signers": len(cert.signatures),
    }
