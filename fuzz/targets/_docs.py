"""A short history of the fuzz chain, run by the real ledger, and the files users verify.

Height 1: a transfer, and the committee removes validator 3 (proposal and
vote, enacted at once: the audit log gets three entries, one a typed
validator change that certifies from height 3). Height 2: a transfer back.
Height 3: nothing. Every checkpoint is certified by every member of its set,
so the proof of either transfer and the audit export of heights 1..2 are
what a node serves (api/proof_doc.py, cli/audit_cmd.py), valid to the end.
"""

from __future__ import annotations

import json
from typing import Any

from govchain.api.views import audit_entry_json, checkpoint_json
from govchain.codec import encode
from govchain.consensus.messages import Checkpoint
from govchain.dag.tx import Transaction
from govchain.state.audit import AUDIT_EMPTY
from govchain.state.ledger import Executed, Ledger
from govchain.state.payloads import ProposePayload, RemoveValidator, TransferPayload, VotePayload
from govchain.state.receipts import prove, receipts_root
from targets._kit import (
    ALICE,
    BOB,
    CHAIN,
    GENESIS,
    REGULATORS,
    VALIDATORS,
    certificate,
    signed_tx,
)

CHANGE_HEIGHT = 1  # where the validator change is enacted


class History:
    """The ledger's results per height, and the checkpoints that certify them."""

    def __init__(self) -> None:
        ledger = Ledger(GENESIS)
        self.ledger = ledger
        self.state = {0: ledger.state_hash}
        self.executed: dict[int, Executed] = {}
        self.transfers: dict[int, Transaction] = {}
        t1 = signed_tx(ALICE, 0, "transfer", encode(TransferPayload(BOB.address, 5)))
        removal = RemoveValidator(VALIDATORS[3].public_key)
        p = signed_tx(
            REGULATORS[0], 0, "gov.propose", encode(ProposePayload(removal, "retired", b""))
        )
        v = signed_tx(REGULATORS[1], 0, "gov.vote", encode(VotePayload(p.id, True)))
        t2 = signed_tx(BOB, 0, "transfer", encode(TransferPayload(ALICE.address, 1)))
        for height, txs in ((1, [t1, p, v]), (2, [t2]), (3, [])):
            self.executed[height] = ledger.execute(height, txs)
            self.state[height] = ledger.state_hash
        self.transfers = {1: t1, 2: t2}

    def checkpoint(self, h: int) -> Checkpoint:
        """Checkpoint h: it carries the results of height h - 1."""
        before = self.executed.get(h - 1)
        vs = self.ledger.validator_set(h)
        assert vs is not None
        return Checkpoint(
            CHAIN,
            h,
            GENESIS.hash if h == 1 else self.checkpoint(h - 1).hash,
            1_000 * h,
            (),
            self.state[h - 1],
            before.receipts_root if before else receipts_root([]),
            before.audit_head if before else AUDIT_EMPTY,
            vs.hash,
        )

    def certified(self, h: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """Checkpoint h as GET /v1/checkpoints/{h} shows it, and its certificate apart."""
        cp = self.checkpoint(h)
        vs = self.ledger.validator_set(h)
        assert vs is not None
        doc = checkpoint_json(cp, certificate(cp, vs))
        return doc, doc.pop("certificate")

    def handoff(self, h: int) -> dict[str, Any]:
        """The evidence of height h's validator change (api/proof_doc.py)."""
        cp, cert = self.certified(h + 1)
        return {
            "height": h,
            "previous": self.certified(h)[0] if h >= 1 else None,
            "entries": [audit_entry_json(e) for e in self.executed[h].audit],
            "checkpoint": cp,
            "certificate": cert,
        }

    def proof(self, h: int) -> dict[str, Any]:
        """The proof document of height h's transfer, from the genesis."""
        tx = self.transfers[h]
        receipts = self.executed[h].receipts
        index = next(i for i, r in enumerate(receipts) if r.tx_id == tx.id)
        p = prove(receipts, index)
        anchor, cert = self.certified(h + 1)
        return {
            "tx_id": tx.id.hex(),
            "header": {"body": tx.body_bytes.hex(), "signature": tx.signature.hex()},
            "receipt": {
                "height": p.receipt.height,
                "index": p.receipt.index,
                "status": p.receipt.status,
                "reason": p.receipt.reason,
                "rule": p.receipt.rule,
                "governance_ref": p.receipt.governance_ref,
            },
            "receipts_count": p.size,
            "path": [x.hex() for x in p.path],
            "anchor": {**anchor, "certificate": cert},
            "trust": None,
            "validator_changes": [self.handoff(CHANGE_HEIGHT)],
            "chain_id": CHAIN,
            "genesis_hash": GENESIS.hash.hex(),
        }

    def export(self, lo: int, hi: int) -> dict[str, Any]:
        """The audit export of heights lo..hi, from the genesis (cli/audit_cmd.py)."""
        entries = [audit_entry_json(e) for h in range(lo, hi + 1) for e in self.executed[h].audit]
        heights = sorted({lo, hi + 1} | {int(e["height"]) + 1 for e in entries})
        checkpoints = []
        for h in heights:
            cp, cert = self.certified(h)
            checkpoints.append({"height": h, "checkpoint": cp, "certificate": cert})
        return {
            "chain_id": CHAIN,
            "genesis_hash": GENESIS.hash.hex(),
            "from": lo,
            "to": hi,
            "entries": entries,
            "checkpoints": checkpoints,
            "trust": None,
            "validator_changes": [self.handoff(CHANGE_HEIGHT)],
        }


def as_file(doc: dict[str, Any]) -> bytes:
    """A document as JSON, compact (fewer bytes for the fuzzer to spend its mutations on)."""
    return json.dumps(doc, separators=(",", ":")).encode()
