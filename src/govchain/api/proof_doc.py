"""A transaction's proof document (GET /v1/txs/{id}/proof), and the node checking it.

The document: the signed header, the receipt with its inclusion path under
checkpoint h + 1's receipts root, that checkpoint with its certificate, and the
complete chain of certified validator-set changes from the verifier's trusted
point (docs/trust.md). GET /v1/txs/{id}/proof serves it; GET
/v1/txs/{id}/proof/check builds the same document and runs the SDK's offline
verifier (sdk/proof.py) on it with the node's genesis, so the explorer shows
what a user's own `govchain verify` would say.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from govchain.api.errors import ApiError
from govchain.api.views import audit_entry_json, checkpoint_json
from govchain.sdk.proof import ProofError, verify_proof
from govchain.state.ledger import VALSET_DELAY_HEIGHTS
from govchain.state.receipts import prove

if TYPE_CHECKING:
    from govchain.api.port import NodePort


def proof_doc(node: NodePort, tx_id: bytes, trust_from: Callable[[], int]) -> dict[str, Any]:
    """The proof document of a final transaction, or the ApiError the proof route answers.

    404 not_found or not_final, 409 not_yet_provable while checkpoint h + 1 is
    not decided; trust_from gives the checkpoint the verifier trusts (0: the
    genesis), read only after those checks (a bad one is then a 400 bad_from).
    """
    view = node.view
    stored = node.store.get_tx(tx_id)
    if stored is None and not view.holds_tx(tx_id):
        raise ApiError(404, "not_found", "no transaction with this id")
    if stored is None or stored.receipt is None or stored.height is None:
        raise ApiError(404, "not_final", "the transaction is not final on this node")
    h = stored.height
    anchor = node.store.get_checkpoint(h + 1)
    if anchor is None:
        # Checkpoint h + 1 carries the root of height h's receipts.
        raise ApiError(
            409,
            "not_yet_provable",
            f"the transaction is final at checkpoint {h}; its proof needs checkpoint "
            f"{h + 1}, which certifies that height's receipts and is not decided yet",
        )
    # The verifier's trusted point (docs/trust.md): 0 is the genesis.
    start = trust_from()
    if start > h + 1:
        raise ApiError(
            400,
            "bad_from",
            f"from={start} is after checkpoint {h + 1}, the proof's anchor: trust an "
            "earlier checkpoint",
        )
    chain = validator_changes_doc(node, h + 1, start)
    receipts = node.store.receipts(h)
    proof = prove(receipts, stored.receipt.index)
    return {
        "tx_id": tx_id.hex(),
        "header": {
            "body": stored.tx.body_bytes.hex(),
            "signature": stored.tx.signature.hex(),
        },
        "receipt": {
            "height": proof.receipt.height,
            "index": proof.receipt.index,
            "status": proof.receipt.status,
            "reason": proof.receipt.reason,
            "rule": proof.receipt.rule,
            "governance_ref": proof.receipt.governance_ref,
        },
        "receipts_count": proof.size,
        "path": [p.hex() for p in proof.path],
        "anchor": checkpoint_json(*anchor),
        "trust": chain["trust"],
        "validator_changes": chain["validator_changes"],
        "chain_id": node.genesis.chain_id,
        "genesis_hash": node.genesis.hash.hex(),
    }


def proof_check(node: NodePort, tx_id: bytes) -> dict[str, Any]:
    """GET /v1/txs/{id}/proof/check: the proof from the genesis, checked by the SDK's verifier.

    {"tx_id", "valid", "checked": what held, in words (empty when it failed),
    "error": the verifier's words, or null}. The proof's own errors (404, 409)
    are raised as the proof route answers them.
    """
    doc = proof_doc(node, tx_id, lambda: 0)
    try:
        summary = verify_proof(doc, node.genesis)
    except ProofError as exc:
        return {"tx_id": tx_id.hex(), "valid": False, "checked": [], "error": str(exc)}
    anchor = int(summary["anchor"])
    members = node.view.validator_set(anchor)
    of = f" of {len(members.members)}" if members is not None else ""
    changes = int(summary["validator_changes"])
    checked = [
        f"bound to this chain's genesis ({node.genesis.hash.hex()[:16]})",
        "the transaction id is the hash of its signed header",
        "the sender's signature over the header",
        f"the receipt ({summary['status']}, height {summary['height']}) is included under"
        f" checkpoint {anchor}'s receipts root ({doc['receipts_count']} receipts)",
        f"checkpoint {anchor}'s fields give its hash {str(summary['anchor_hash'])[:16]}",
        f"certificate of checkpoint {anchor}: {summary['signers']}{of} validators signed",
        f"validator sets followed from the genesis through {changes} certified"
        f" change{'' if changes == 1 else 's'}",
    ]
    return {"tx_id": tx_id.hex(), "valid": True, "checked": checked, "error": None}


def validator_changes_doc(node: NodePort, to: int, start: int = 0) -> dict[str, object]:
    """The change chain a verifier follows from checkpoint start (0: the genesis) to `to`.

    {"trust": null from the genesis, else {"height", "validators": the set
    certifying start, "handoff": height start - 1's}, "validator_changes":
    the handoff of every height h with start <= h and h + 1 <= to that enacted
    a change}. A handoff is {"height": h, "previous": checkpoint h (null for
    h = 0), "entries": every audit entry of height h, "checkpoint": h + 1,
    "certificate"} (sdk/valsets.py checks it; docs/trust.md).
    """
    store = node.store

    def checkpoint(height: int) -> tuple[dict[str, object], object]:
        found = store.get_checkpoint(height)
        if found is None:
            # Only heights up to a decided one are asked for: a gap here is the
            # store's fault, and a verifier would refuse a chain with a hole.
            raise ApiError(503, "unavailable", f"checkpoint {height} is not in this node's store")
        doc = checkpoint_json(*found)
        return doc, doc.pop("certificate")

    def handoff(h: int) -> dict[str, object]:
        cp, cert = checkpoint(h + 1)
        previous = checkpoint(h)[0] if h >= 1 else None
        entries = [audit_entry_json(e) for e in store.audit(h, h)] if h >= 1 else []
        return {
            "height": h,
            "previous": previous,
            "entries": entries,
            "checkpoint": cp,
            "certificate": cert,
        }

    trust: dict[str, object] | None = None
    view = node.view
    if start >= 1:
        valset = view.validator_set(start)
        if valset is None or start - 1 > view.height or store.get_checkpoint(start) is None:
            raise ApiError(409, "not_yet_provable", f"checkpoint {start} is not executed yet")
        trust = {
            "height": start,
            "validators": [[m.public_key.hex(), m.weight] for m in valset.members],
            "handoff": handoff(start - 1),
        }
    # The ledger's schedule holds every change (one enacted at h certifies from
    # h + VALSET_DELAY_HEIGHTS on): no scan of the whole audit log per request.
    enacted = (s - VALSET_DELAY_HEIGHTS for s in view.validator_set_starts())
    heights = sorted({h for h in enacted if max(start, 1) <= h <= to - 1})
    return {"trust": trust, "validator_changes": [handoff(h) for h in heights]}
