"""A proof file (sdk/proof.py verify_proof), read as `govchain verify FILE` reads it.

The file's bytes as JSON (what the command refuses as not JSON, with
ValueError or RecursionError, ends the case), then the offline verifier against the fuzz
chain's genesis. ProofError is the one acceptable refusal. A proof it
accepts must name the transaction and the anchor it checked.
"""

from __future__ import annotations

import json

from govchain.sdk.proof import ProofError, verify_proof
from targets._docs import History, as_file
from targets._kit import GENESIS, check

ACCEPTED: tuple[type[BaseException], ...] = (ProofError,)


def test_one_input(data: bytes) -> None:
    """Verify one proof file; only ProofError may come out."""
    try:
        doc = json.loads(data.decode())
    except (ValueError, RecursionError):  # what cli/tx_cmd.py verify answers as bad_file
        return
    summary = verify_proof(doc, GENESIS)
    check(summary["valid"] is True and summary["tx_id"] == doc["tx_id"], "a summary that lies")


def seeds() -> dict[str, bytes]:
    """The proofs of both transfers: one anchored before the validator change, one after."""
    history = History()
    return {f"height-{h}": as_file(history.proof(h)) for h in (1, 2)}
