"""`audit verify` offline: real certificates across a validator-set change."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner

from govchain.api.views import audit_entry_json, checkpoint_json
from govchain.cli.audit_cmd import verify_export, verify_export_of
from govchain.cli.main import cli
from govchain.cli.output import CliError
from govchain.consensus.messages import Certificate, Checkpoint, VoteKind, vote_signing_bytes
from govchain.dag.tx import Transaction
from govchain.node.files import genesis_to_json
from govchain.sdk.valsets import ValsetError, entry_change, entry_from_json
from govchain.state.audit import AUDIT_EMPTY, AuditEntry, AuditLog
from govchain.state.genesis import Genesis
from govchain.state.payloads import FreezeIdentity, RemoveValidator, SetParam
from ledgerkit import CAROL, CHAIN, R0, R1, VALIDATORS, Chain, genesis

KEYS = {k.public_key: k for k in VALIDATORS}


class Recorder:
    """A Chain whose every height's audit entries and head are kept."""

    def __init__(self, g: Genesis | None = None, typed_log: bool | None = None) -> None:
        self.chain = Chain(g)
        if g is not None:
            # What Ledger(g) itself does once it passes g.typed_audit to its AuditLog
            # (typed_log: a ledger that writes otherwise than its genesis says).
            typed = g.typed_audit if typed_log is None else typed_log
            self.chain.ledger.audit = AuditLog(typed_changes=typed)
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


def history(
    g: Genesis | None = None, typed_log: bool | None = None
) -> tuple[dict[str, Any], Recorder]:
    """A freeze, a validator removal, a parameter change: the export of it all, and the chain."""
    r = Recorder(g, typed_log)
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
    return doc, r


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[dict[str, Any], Path, Recorder]:
    doc, r = history()
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


# -- typed validator changes (issue 12 item 4) ---------------------------------------
TYPED = msgspec.structs.replace(genesis(), typed_audit=True)


def _refused(doc: dict[str, Any], g: Genesis, words: str) -> None:
    with pytest.raises(CliError) as err:
        verify_export_of(json.loads(json.dumps(doc)), g)
    assert err.value.exit_code == 1 and err.value.code == "invalid_audit", err.value.message
    assert words in err.value.message, err.value.message


def test_an_opted_in_chain_exports_its_changes_as_data_and_verifies() -> None:
    doc, _ = history(TYPED)
    changes = [e for e in doc["entries"] if "change" in e]
    assert [e["kind"] for e in changes] == ["validator_change"]
    assert changes[0]["change"] == {
        "public_key": VALIDATORS[3].public_key.hex(),
        "old_weight": None,
        "new_weight": None,
        "certifies_from": changes[0]["height"] + 2,
    }
    assert changes[0]["reason"].startswith("removed; certifies from height")
    ok = verify_export_of(json.loads(json.dumps(doc)), TYPED)
    assert ok["valid"] is True and ok["entries"] == len(doc["entries"])
    # The typed data is under the hash: dropping it is an alteration.
    bad = copy.deepcopy(doc)
    for e in bad["entries"]:
        e.pop("change", None)
    _refused(bad, TYPED, "altered")


def test_a_change_written_otherwise_than_the_genesis_says_is_refused() -> None:
    # A ledger that wrote the change as text only on an opted-in chain: hashes
    # and certificates all hold, and still the verifier refuses it.
    text_only, _ = history(TYPED, typed_log=False)
    _refused(text_only, TYPED, "written only as text")
    # And typed data on a chain that did not opt in.
    plain = genesis()
    typed_data, _ = history(plain, typed_log=True)
    _refused(typed_data, plain, "typed_audit off")
    assert verify_export_of(history(plain)[0], plain)["valid"] is True


def test_entry_change_refuses_text_and_data_that_disagree() -> None:
    doc, _ = history(TYPED)
    raw = next(e for e in doc["entries"] if "change" in e)
    e = entry_from_json(raw)
    assert entry_change(e, typed=True) == e.change
    assert e.change is not None
    for wrong in (
        msgspec.structs.replace(e.change, certifies_from=e.change.certifies_from + 1),
        msgspec.structs.replace(e.change, new_weight=3),
        msgspec.structs.replace(e.change, public_key=VALIDATORS[0].public_key),
    ):
        with pytest.raises(ValsetError, match="disagree"):
            entry_change(msgspec.structs.replace(e, change=wrong), typed=True)
    with pytest.raises(ValsetError, match="carries a validator change"):
        entry_change(msgspec.structs.replace(e, kind="freeze"), typed=True)
    # An old chain's entry is read from its text, as before.
    plain = msgspec.structs.replace(e, change=None)
    assert entry_change(plain, typed=False) == e.change


# -- found by fuzz/targets/audit_file -------------------------------------------------
@pytest.mark.parametrize("where", ["entry", "checkpoint", "from", "change"])
def test_a_number_no_hash_can_encode_is_refused_not_a_crash(
    setup: tuple[dict[str, Any], Path, Recorder], where: str
) -> None:
    """An integer beyond msgpack's 64 bits, or JSON's 1e999 (an infinite float), escaped
    the verifier as OverflowError: from the hash, or from int()."""
    doc, genesis, _ = setup
    bad = copy.deepcopy(doc)
    if where == "entry":
        bad["entries"][0]["seq"] = 2**70
    elif where == "checkpoint":
        bad["checkpoints"][0]["checkpoint"]["time_ms"] = 2**64
    elif where == "from":
        bad["from"] = float("inf")
    else:
        bad["validator_changes"][0]["entries"][0]["height"] = 2**70
    with pytest.raises(CliError) as err:
        verify_export(json.loads(json.dumps(bad)), genesis)
    assert err.value.code in ("bad_file", "invalid_audit"), err.value.message


def test_a_file_nested_too_deep_is_a_bad_file(
    setup: tuple[dict[str, Any], Path, Recorder], tmp_path: Path
) -> None:
    """json.loads raises RecursionError on it, which `audit verify` let out as a traceback."""
    _, genesis, _ = setup
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    out = CliRunner().invoke(
        cli, ["audit", "verify", str(deep), "--genesis", str(genesis), "--json"]
    )
    assert out.exit_code == 2 and json.loads(out.stdout)["error"]["code"] == "bad_file", out.stdout
