"""`audit verify` offline: real certificates across a validator-set change."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from govchain.api.views import audit_entry_json, checkpoint_json
from govchain.cli.audit_cmd import verify_export
from govchain.cli.output import CliError
from govchain.consensus.messages import Certificate, Checkpoint, VoteKind, vote_signing_bytes
from govchain.dag.tx import Transaction
from govchain.node.files import genesis_to_json
from govchain.state.audit import AUDIT_EMPTY, AuditEntry
from govchain.state.payloads import FreezeIdentity, RemoveValidator, SetParam
from ledgerkit import CAROL, CHAIN, R0, R1, VALIDATORS, Chain

KEYS = {k.public_key: k for k in VALIDATORS}


class Recorder:
    """A Chain whose every height's audit entries and head are kept."""

    def __init__(self) -> None:
        self.chain = Chain()
        self.entries: list[AuditEntry] = []
        self.heads = {0: AUDIT_EMPTY}

    def run(self, *txs: Transaction) -> None:
        res = self.chain.run(*txs)
        self.entries += res.audit
        self.heads[res.height] = res.audit_head

    def decide(self, action: Any) -> None:
        c = self.chain
        p = c.propose(R0, action)
        self.run(p, c.vote(R1, p))

    def checkpoint(self, height: int) -> Checkpoint:
        """Checkpoint height, linked to the one before it as consensus links them."""
        vs = self.chain.ledger.validator_set(height)
        assert vs is not None
        head = self.heads[height - 1]
        previous = (
            self.checkpoint(height - 1).hash if height > 1 else self.chain.ledger.genesis.hash
        )
        return Checkpoint(CHAIN, height, previous, 0, (), b"\1" * 32, b"\2" * 32, head, vs.hash)

    def certified(self, height: int, signers: int | None = None) -> dict[str, Any]:
        vs = self.chain.ledger.validator_set(height)
        assert vs is not None
        cp = self.checkpoint(height)
        data = vote_signing_bytes(CHAIN, VoteKind.PRECOMMIT, height, 0, cp.hash)
        members = list(enumerate(vs.members))[: signers or len(vs.members)]
        sigs = tuple((i, KEYS[m.public_key].sign(data)) for i, m in members)
        doc = checkpoint_json(cp, Certificate(height, 0, cp.hash, sigs))
        cert = doc.pop("certificate")
        return {"height": height, "checkpoint": doc, "certificate": cert}


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[dict[str, Any], Path, Recorder]:
    r = Recorder()
    p = r.chain.propose(R0, FreezeIdentity(CAROL.address))
    r.run(p)
    r.run(r.chain.vote(R1, p))
    r.decide(RemoveValidator(VALIDATORS[3].public_key))
    change = r.chain.ledger.height
    for _ in range(3):
        r.run()
    r.decide(SetParam("hold_amount_min", 7))  # certified by the new set
    r.run()
    top = r.chain.ledger.height
    assert r.chain.ledger.validator_set(top + 1) != r.chain.ledger.validator_set(1)
    heights = sorted({1, top + 1} | {e.height + 1 for e in r.entries})
    doc = {
        "chain_id": CHAIN,
        "genesis_hash": r.chain.ledger.genesis.hash.hex(),
        "from": 1,
        "to": top,
        "entries": [audit_entry_json(e) for e in r.entries],
        "checkpoints": [r.certified(h) for h in heights],
        "validator_changes": [
            {
                **r.certified(change + 1),
                "height": change,
                "previous": checkpoint_json(r.checkpoint(change), None),
                "entries": [audit_entry_json(e) for e in r.entries if e.height == change],
            }
        ],
    }
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps(genesis_to_json(r.chain.ledger.genesis)))
    return doc, genesis, r


def _fails(doc: dict[str, Any], genesis: Path, words: str) -> None:
    with pytest.raises(CliError) as err:
        verify_export(json.loads(json.dumps(doc)), genesis)
    assert err.value.exit_code == 1 and err.value.code == "invalid_audit", err.value.message
    assert words in err.value.message, err.value.message


def test_an_export_across_a_validator_change_verifies(
    setup: tuple[dict[str, Any], Path, Recorder],
) -> None:
    doc, genesis, _ = setup
    ok = verify_export(doc, genesis)
    assert ok["valid"] is True and ok["entries"] == len(doc["entries"])


def test_every_edit_fails(setup: tuple[dict[str, Any], Path, Recorder]) -> None:
    doc, genesis, r = setup
    for field, value in (("reason", "nothing"), ("actor", "00" * 20), ("kind", "freeze")):
        for keep_hash in (True, False):
            bad = copy.deepcopy(doc)
            bad["entries"][1][field] = value
            if not keep_hash:
                for e in bad["entries"]:
                    e.pop("hash")
            _fails(bad, genesis, "altered")
    bad = copy.deepcopy(doc)
    del bad["entries"][-1]
    _fails(bad, genesis, "do not hash to the head")
    bad = copy.deepcopy(doc)
    del bad["entries"][0]
    _fails(bad, genesis, "do not hash to the head")
    bad = copy.deepcopy(doc)
    bad["entries"][0], bad["entries"][1] = bad["entries"][1], bad["entries"][0]
    _fails(bad, genesis, "seq")
    # The certificates: too few signers, or a dropped validator-set change.
    bad = copy.deepcopy(doc)
    bad["checkpoints"][0] = r.certified(bad["checkpoints"][0]["height"], signers=2)
    _fails(bad, genesis, "quorum")
    bad = copy.deepcopy(doc)
    bad["validator_changes"] = []
    _fails(bad, genesis, "validator set")
    bad = copy.deepcopy(doc)
    bad["checkpoints"] = bad["checkpoints"][:-1]
    _fails(bad, genesis, "no certified checkpoint")
    bad = copy.deepcopy(doc)
    bad["chain_id"] = "another"
    _fails(bad, genesis, "chain")
