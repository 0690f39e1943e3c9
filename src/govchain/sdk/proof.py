"""Offline verification of a receipt proof (GET /v1/txs/{id}/proof) from a trusted point.

The proof is bound to one genesis (its hash), and its anchor must be
certified by the validator set reached from the trusted point (the genesis,
or a checkpoint the user names) through the complete chain of certified
validator-set changes the proof carries (sdk/valsets.py, docs/trust.md).
"""

from __future__ import annotations

from typing import Any

from govchain.crypto.keys import SIGNATURE_BYTES, verify
from govchain.dag.tx import SIGN_DOMAIN, decode_body, tx_id
from govchain.state.genesis import Genesis
from govchain.state.receipts import Receipt, ReceiptProof

from .valsets import (
    Trust,
    ValidatorSets,
    ValsetError,
    certificate_from_json,
    checkpoint_from_json,
    json_int,
)

__all__ = [
    "ProofError",
    "Trust",
    "certificate_from_json",
    "check_genesis",
    "checkpoint_from_json",
    "verify_proof",
]


class ProofError(ValueError):
    """The proof does not hold; the message says which part failed."""


def _b(doc: dict[str, Any], key: str) -> bytes:
    try:
        return bytes.fromhex(doc[key])
    except (KeyError, TypeError, ValueError):
        raise ProofError(f"field {key!r} must be hex") from None


def check_genesis(doc: Any, genesis: Genesis) -> str | None:
    """Why a proof or export is not bound to this genesis (chain id and hash), or None."""
    if not isinstance(doc, dict):
        return "not a JSON object"
    chain = doc.get("chain_id")
    if chain is not None and chain != genesis.chain_id:
        return f"it is of chain {chain!r}, the genesis given of {genesis.chain_id!r}"
    bound = doc.get("genesis_hash")
    if bound is None:
        return "it names no genesis_hash: it cannot be tied to the genesis given"
    if bound != genesis.hash.hex():
        return f"it is bound to genesis {bound}, not to the genesis given ({genesis.hash.hex()})"
    return None


def verify_proof(doc: Any, genesis: Genesis, trust: Trust | None = None) -> dict[str, Any]:
    """Check header, receipt inclusion and the anchor's 2f+1 certificate; returns a summary.

    trust: the checkpoint the verifier trusts (None: the genesis); the proof
    must carry the validator-set changes from exactly there.
    """
    problem = check_genesis(doc, genesis)
    if problem is not None:
        raise ProofError(f"the proof does not belong to this genesis: {problem}")
    try:
        header, rc, anchor = doc["header"], doc["receipt"], doc["anchor"]
        body_bytes, sig = _b(header, "body"), _b(header, "signature")
        if len(sig) != SIGNATURE_BYTES:  # tx_id hashes body and signature on that promise
            raise ProofError(f"the header's signature must be {SIGNATURE_BYTES} bytes")
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
            json_int(rc["height"]),
            json_int(rc["index"]),
            str(rc["status"]),
            rc["reason"],
            rc.get("rule"),
            rc.get("governance_ref"),
        )
        checkpoint = checkpoint_from_json(anchor, genesis.chain_id)
        cert = certificate_from_json(anchor["certificate"])
        path = tuple(bytes.fromhex(p) for p in doc["path"])
        size = json_int(doc["receipts_count"])
        claimed = anchor.get("hash")
    except ProofError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProofError(f"malformed proof: {exc}") from None
    if checkpoint.hash.hex() != claimed:
        raise ProofError("the anchor checkpoint's fields do not give its hash")
    if checkpoint.height != receipt.height + 1:
        raise ProofError("the anchor must be the checkpoint after the receipt's")
    if not ReceiptProof(receipt, size, path).verify(checkpoint.receipts_root):
        raise ProofError("the receipt is not included under the anchor's receipts root")
    try:
        sets = ValidatorSets(genesis, trust)
        sets.follow(doc, checkpoint.height)
    except ValsetError as exc:
        raise ProofError(f"validator-set changes: {exc}") from None
    err = sets.certified_error(checkpoint, claimed, cert)
    if err is not None:
        raise ProofError(err)
    return {
        "valid": True,
        "tx_id": tid.hex(),
        "status": receipt.status,
        "height": receipt.height,
        "anchor": checkpoint.height,
        "anchor_hash": checkpoint.hash.hex(),
        "signers": len(cert.signatures),
        "trusted": str(sets.trust),
        "validator_changes": len(doc.get("validator_changes") or []),
    }
