"""Offline verifiers trust one point and follow every validator-set change from it (issue 9.3).

The attack the review found: the ledger retires every genesis validator; three
of their old keys then sign an invented checkpoint whose receipts root holds an
"executed" receipt, and the proof carries no validator-set change at all. The
old verifier applied only the changes a proof chose to carry, so it accepted
that proof. Here the chain is real: a ledgerkit Chain whose heights are decided
as linked checkpoints, certified by the set in force and committed to a real
node store, with proofs and exports served by the real API in-process. One
multi-process check at the end drives the CLI against a 1-validator devnet.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from conftest import AsgiClient, SyncAsgiTransport
from govchain.api.app import build_app
from govchain.api.views import checkpoint_json
from govchain.cli.audit_cmd import export_doc, verify_export
from govchain.cli.main import cli
from govchain.cli.output import CliError
from govchain.consensus.messages import Certificate, Checkpoint, VoteKind, vote_signing_bytes
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import Transaction
from govchain.node.devnet import create
from govchain.node.files import Home, genesis_to_json
from govchain.node.node import Node
from govchain.replica.execution import Execution
from govchain.replica.outputs import ReplicaReady
from govchain.sdk.client import Client
from govchain.sdk.proof import ProofError, verify_proof
from govchain.sdk.valsets import Trust
from govchain.state.genesis import Genesis
from govchain.state.payloads import Action, AddValidator, RemoveValidator, TransferPayload
from govchain.state.receipts import Receipt, prove, receipts_root
from ledgerkit import ALICE, BOB, CAROL, CHAIN, R0, R1, VALIDATORS, Chain, genesis, outcomes, tx
from procs import cluster

OLD = VALIDATORS  # the genesis set, all retired by height 6
NEW = [SigningKey.from_label(f"successor-{i}") for i in range(4)]
KEYS = {k.public_key: k for k in OLD + NEW}
MALLORY = SigningKey.from_label("mallory")


def certificate(cp: Checkpoint, vs: ValidatorSet, signers: list[SigningKey]) -> Certificate:
    """Precommit signatures of the given members over cp."""
    data = vote_signing_bytes(cp.chain_id, VoteKind.PRECOMMIT, cp.height, 0, cp.hash)
    sigs = sorted((vs.index[k.public_key], k.sign(data)) for k in signers)
    return Certificate(cp.height, 0, cp.hash, tuple(sigs))


class CertifiedChain:
    """A ledgerkit Chain decided height by height into a node's store.

    Checkpoint h links to h - 1, carries the ledger's hashes after h - 1 and
    is certified by every member of the set in force at h, as consensus would.
    """

    def __init__(self, node: Node) -> None:
        self.chain = Chain()
        self.node = node
        self.decided: dict[int, tuple[Checkpoint, Certificate]] = {}
        self._decide(1)

    def _decide(self, h: int) -> None:
        ledger = self.chain.ledger
        vs = ledger.validator_set(h)
        assert vs is not None
        previous = self.decided[h - 1][0].hash if h > 1 else ledger.genesis.hash
        cp = Checkpoint(
            CHAIN,
            h,
            previous,
            h,
            (),
            ledger.state_hash,
            ledger.receipts_root,
            ledger.audit_head,
            vs.hash,
        )
        signers = [KEYS[m.public_key] for m in vs.members]
        self.decided[h] = (cp, certificate(cp, vs, signers))
        self.node.store.commit(ReplicaReady(decided=[self.decided[h]]))

    def run(self, *txs: Transaction) -> int:
        """Execute txs as the next height and decide the checkpoint after it."""
        h = self.chain.ledger.height + 1
        result = self.chain.run(*txs)
        assert all(o == "executed" for o in outcomes(result)), outcomes(result)
        ex = Execution(self.decided[h][0], tuple(txs), result)
        self.node.store.commit(ReplicaReady(executed=[ex], admitted=list(txs)))
        self._decide(h + 1)
        return h

    def decide(self, *actions: Action, also: tuple[Transaction, ...] = ()) -> int:
        """The committee passes every action in one height."""
        txs: list[Transaction] = []
        for a in actions:
            p = self.chain.propose(R0, a)
            txs += [p, self.chain.vote(R1, p)]
        return self.run(*txs, *also)


@dataclass
class ServedChain:
    """The certified chain in a node's store, and the node's API over it (in-process)."""

    node: Node
    cc: CertifiedChain
    genesis: Genesis
    genesis_file: Path
    app: Any
    txs: dict[str, Transaction]  # before / mid / after the validator changes

    def get(self, path: str) -> httpx.Response:
        """GET path from the API, served in-process."""
        with AsgiClient(self.app) as http:
            return http.get(path)

    def proof(self, name: str, start: int | None = None) -> dict[str, Any]:
        """GET /v1/txs/{id}/proof, the change chain from checkpoint `start` (None: genesis)."""
        query = "" if start is None else f"?from={start}"
        r = self.get(f"/v1/txs/{self.txs[name].id.hex()}/proof{query}")
        assert r.status_code == 200, r.text
        doc: dict[str, Any] = r.json()
        return doc

    def trust(self, height: int) -> Trust:
        return Trust(height, self.cc.decided[height][0].hash)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedChain]:
    root = tmp_path_factory.mktemp("trust")
    (node_dir,) = create(root / "net", 1, 0, 42_000)
    home = Home(node_dir.home)
    g = genesis()
    home.genesis_path.write_text(json.dumps(genesis_to_json(g)))
    node = Node(home)  # not started: the app is driven directly
    cc = CertifiedChain(node)
    node.replica.ledger = cc.chain.ledger  # the app reads the validator schedule there
    c = cc.chain
    txs = {"before": c.transfer(ALICE, BOB, 5)}
    assert cc.run(txs["before"]) == 1
    # Height 2: two additions; 3: two more and a removal; 4: the last genesis
    # validators leave. From height 6 on only NEW certifies.
    assert cc.decide(AddValidator(NEW[0].public_key), AddValidator(NEW[1].public_key)) == 2
    removal = RemoveValidator(OLD[0].public_key)
    assert cc.decide(AddValidator(NEW[2].public_key), AddValidator(NEW[3].public_key), removal) == 3
    txs["mid"] = c.transfer(ALICE, CAROL, 3)
    retire = [RemoveValidator(k.public_key) for k in OLD[1:]]
    assert cc.decide(*retire, also=(txs["mid"],)) == 4
    for _ in range(3):
        cc.run()
    txs["after"] = c.transfer(BOB, CAROL, 2)
    assert cc.run(txs["after"]) == 8
    cc.run()  # checkpoint 10 is decided
    ledger = c.ledger
    assert ledger.validator_set(3) == g.validators
    assert ledger.validator_set(9) == ValidatorSet.of({k.public_key: 1 for k in NEW})
    genesis_file = root / "genesis.json"
    genesis_file.write_text(json.dumps(genesis_to_json(g)))
    yield ServedChain(node, cc, g, genesis_file, build_app(node), txs)
    node.store.close()


def forged_proof(net: ServedChain, valset_hash: bytes | None = None) -> dict[str, Any]:
    """Three retired genesis keys certify an invented checkpoint holding an 'executed' receipt."""
    loot = tx(MALLORY, 0, "transfer", _transfer_to(MALLORY, 1_000_000))
    height = 20  # beyond anything the chain decided
    receipt = Receipt(loot.id, height, 0, "executed")
    g = net.genesis.validators
    anchor = Checkpoint(
        CHAIN,
        height + 1,
        b"\x07" * 32,
        10_000,
        (),
        b"\x01" * 32,
        receipts_root([receipt]),
        b"\x02" * 32,
        valset_hash or g.hash,
    )
    proof = prove([receipt], 0)
    return {
        "tx_id": loot.id.hex(),
        "header": {"body": loot.body_bytes.hex(), "signature": loot.signature.hex()},
        "receipt": {
            "height": height,
            "index": 0,
            "status": "executed",
            "reason": None,
            "rule": None,
            "governance_ref": None,
        },
        "receipts_count": proof.size,
        "path": [p.hex() for p in proof.path],
        "anchor": checkpoint_json(anchor, certificate(anchor, g, OLD[:3])),
        "validator_changes": [],
        "chain_id": CHAIN,
        "genesis_hash": net.genesis.hash.hex(),
    }


def _transfer_to(key: SigningKey, amount: int) -> bytes:
    from govchain.codec import encode  # noqa: PLC0415

    return encode(TransferPayload(key.address, amount))


def _refused(doc: dict[str, Any], net: ServedChain, trust: Trust | None, words: str) -> None:
    with pytest.raises(ProofError) as err:
        verify_proof(copy.deepcopy(doc), net.genesis, trust)
    assert words in str(err.value), str(err.value)


def _cli(*args: str) -> tuple[int, Any]:
    out = CliRunner().invoke(cli, [*args, "--json"])
    return out.exit_code, json.loads(out.stdout)


# -- the attack ---------------------------------------------------------------------


def test_retired_validators_cannot_forge_a_proof_past_a_trusted_checkpoint(
    net: ServedChain, tmp_path: Path
) -> None:
    forged = forged_proof(net)
    for t in (7, 9, 10):
        trusted = net.trust(t)
        # As the review sent it: no validator-set change at all.
        _refused(forged, net, trusted, f"starts at the genesis, not at checkpoint {t}")
        # With the real evidence from the trusted checkpoint copied in: the set
        # the trusted chain reached is not the retired one.
        real = net.proof("after", min(t, 9)) if t <= 9 else None
        if real is not None:
            dressed = {**forged, "trust": real["trust"], "validator_changes": []}
            _refused(dressed, net, trusted, "names a validator set")
    # Naming the set in force instead: the retired keys are not its members.
    now = net.cc.chain.ledger.validator_set(9)
    assert now is not None
    dressed = {**forged_proof(net, now.hash), "trust": net.proof("after", 7)["trust"]}
    _refused(dressed, net, net.trust(7), "certificate")
    # Through the CLI, as a user runs it.
    f = tmp_path / "forged.json"
    f.write_text(json.dumps(forged))
    t7 = net.trust(7)
    trust_arg = f"7:{t7.hash.hex()}"
    rc, err = _cli("verify", str(f), "--genesis", str(net.genesis_file), "--trust", trust_arg)
    assert rc == 1 and err["error"]["code"] == "invalid_proof", err


def test_a_gap_in_the_change_chain_is_refused(net: ServedChain) -> None:
    good = net.proof("after")
    assert [c["height"] for c in good["validator_changes"]] == [2, 3, 4]
    for drop in range(3):  # any one change left out
        bad = copy.deepcopy(good)
        del bad["validator_changes"][drop]
        _refused(bad, net, None, "validator")
    bad = copy.deepcopy(good)
    bad["validator_changes"] = []
    _refused(bad, net, None, "names a validator set")
    bad = copy.deepcopy(good)
    bad["validator_changes"].reverse()
    _refused(bad, net, None, "names a validator set")
    bad = copy.deepcopy(good)
    bad["validator_changes"].insert(1, bad["validator_changes"][1])
    _refused(bad, net, None, "order")
    # One height's entries must run from the head certified before it to the one after it.
    bad = copy.deepcopy(good)
    del bad["validator_changes"][1]["entries"][-1]
    _refused(bad, net, None, "head")
    # A change's evidence must follow the previous certified checkpoint.
    bad = copy.deepcopy(good)
    bad["validator_changes"][1]["previous"]["audit_head"] = "00" * 32
    _refused(bad, net, None, "does not precede")
    bad = copy.deepcopy(good)
    bad["validator_changes"][1]["previous"] = None
    _refused(bad, net, None, "previous")
    # A change certified by fewer than 2f+1 of the set before it.
    bad = copy.deepcopy(good)
    sigs = bad["validator_changes"][1]["certificate"]["signatures"]
    bad["validator_changes"][1]["certificate"]["signatures"] = sigs[:2]
    _refused(bad, net, None, "quorum")


def test_the_first_change_of_a_height_is_tied_to_the_head_before_it(net: ServedChain) -> None:
    # The proof of the transaction final at height 4 is anchored at checkpoint 5,
    # which the set before height 4's changes certifies: dropping the first
    # removal of that height left every later check intact in the old verifier.
    good = net.proof("mid")
    assert good["validator_changes"][-1]["height"] == 4
    assert verify_proof(copy.deepcopy(good), net.genesis)["valid"] is True
    bad = copy.deepcopy(good)
    del bad["validator_changes"][-1]["entries"][0]
    _refused(bad, net, None, "does not follow the certified head")


def test_a_proof_is_bound_to_its_genesis(net: ServedChain, tmp_path: Path) -> None:
    good = net.proof("after")
    bad = copy.deepcopy(good)
    bad["genesis_hash"] = "ab" * 32
    _refused(bad, net, None, "genesis")
    bad = copy.deepcopy(good)
    del bad["genesis_hash"]
    _refused(bad, net, None, "genesis")
    # The same chain id and validators, another genesis: refused.
    other = genesis(balances={ALICE: 100, BOB: 51})
    assert other.chain_id == net.genesis.chain_id and other.validators == net.genesis.validators
    with pytest.raises(ProofError, match="genesis"):
        verify_proof(copy.deepcopy(good), other)
    other_file = tmp_path / "other-genesis.json"
    other_file.write_text(json.dumps(genesis_to_json(other)))
    f = tmp_path / "proof.json"
    f.write_text(json.dumps(good))
    rc, err = _cli("verify", str(f), "--genesis", str(other_file))
    assert rc == 1 and "genesis" in err["error"]["message"], err
    # --trust 0:HASH names the genesis itself.
    with pytest.raises(ProofError, match="genesis"):
        verify_proof(copy.deepcopy(good), net.genesis, Trust(0, b"\x01" * 32))


def test_a_header_signature_of_another_length_is_refused(net: ServedChain) -> None:
    """Found by fuzz/targets/proof_file: a short signature reached tx_id's assert."""
    bad = net.proof("after")
    bad["header"]["signature"] = bad["header"]["signature"][:-2]
    _refused(bad, net, None, "signature must be 64 bytes")


@pytest.mark.parametrize(
    ("part", "field", "value"),
    [("anchor", "time_ms", 2**64), ("anchor", "height", float("inf")), ("receipt", "index", 2**70)],
)
def test_a_number_no_hash_can_encode_is_refused(
    net: ServedChain, part: str, field: str, value: float
) -> None:
    """Found by fuzz/targets/proof_file: beyond msgpack's 64 bits, or JSON's 1e999, a
    number escaped the verifier as OverflowError (from the anchor's hash, or int())."""
    bad = net.proof("after")
    bad[part][field] = value
    _refused(json.loads(json.dumps(bad)), net, None, "malformed proof")


def test_a_proof_file_nested_too_deep_is_a_bad_file(tmp_path: Path) -> None:
    """json.loads raises RecursionError on it, which `govchain verify` let out."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    rc, err = _cli("verify", str(deep))
    assert rc == 2 and err["error"]["code"] == "bad_file", err


# -- good proofs ---------------------------------------------------------------------


def test_good_proofs_verify_from_genesis_across_real_changes(
    net: ServedChain, tmp_path: Path
) -> None:
    for name, anchor in (("before", 2), ("mid", 5), ("after", 9)):
        ok = verify_proof(net.proof(name), net.genesis)
        assert ok["valid"] is True and ok["anchor"] == anchor, ok
        assert ok["trusted"] == f"0:{net.genesis.hash.hex()}"
        assert ok["anchor_hash"] == net.cc.decided[anchor][0].hash.hex()
    ok = verify_proof(net.proof("after"), net.genesis, Trust(0, net.genesis.hash))
    assert ok["valid"] is True
    f = tmp_path / "proof.json"
    f.write_text(json.dumps(net.proof("after")))
    rc, ok = _cli("verify", str(f), "--genesis", str(net.genesis_file))
    assert rc == 0 and ok["valid"] is True and ok["signers"] == 4, ok


def test_good_proofs_verify_from_a_trusted_checkpoint(net: ServedChain, tmp_path: Path) -> None:
    # 3: height 2's additions are pending (they certify from 4); 5: height 4's
    # removals are pending; 7: nothing is; 9: the anchor itself is trusted.
    for t in range(1, 10):
        doc = net.proof("after", t)
        assert doc["trust"]["height"] == t
        assert all(c["height"] >= t for c in doc["validator_changes"])
        ok = verify_proof(doc, net.genesis, net.trust(t))
        assert ok["valid"] is True and ok["trusted"] == f"{t}:{net.trust(t).hash.hex()}", ok
    f = tmp_path / "proof.json"
    f.write_text(json.dumps(net.proof("after", 3)))
    trust = f"3:{net.trust(3).hash.hex()}"
    rc, ok = _cli("verify", str(f), "--genesis", str(net.genesis_file), "--trust", trust)
    assert rc == 0 and ok["valid"] is True, ok


def test_a_proof_from_a_checkpoint_needs_that_checkpoint_trusted(net: ServedChain) -> None:
    doc = net.proof("after", 7)
    _refused(doc, net, None, "--trust 7:")
    _refused(doc, net, Trust(7, b"\x01" * 32), "trusted checkpoint")
    _refused(doc, net, net.trust(5), "starts at checkpoint 7, not at checkpoint 5")
    # The trusted set given with it must be the one the trusted checkpoint names.
    bad = copy.deepcopy(doc)
    bad["trust"]["validators"] = [[k.public_key.hex(), 1] for k in OLD[:3]]
    _refused(bad, net, net.trust(7), "validator set")
    # Height 4's removals are pending at checkpoint 5: leaving them out shows.
    bad = copy.deepcopy(net.proof("after", 5))
    bad["trust"]["handoff"]["entries"] = []
    _refused(bad, net, net.trust(5), "head")
    # A proof anchored before the trusted checkpoint cannot be followed to it.
    _refused(net.proof("mid"), net, net.trust(7), "starts at the genesis")


def test_the_proof_endpoint_checks_from(net: ServedChain) -> None:
    tid = net.txs["mid"].id.hex()  # anchored at checkpoint 5
    for query, code in (("?from=6", "bad_from"), ("?from=x", "bad_from"), ("?from=-1", "bad_from")):
        r = net.get(f"/v1/txs/{tid}/proof{query}")
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    r = net.get("/v1/validator-changes?from=3&to=9")
    doc = r.json()
    assert r.status_code == 200 and doc["trust"]["height"] == 3, doc
    assert [c["height"] for c in doc["validator_changes"]] == [3, 4]
    r = net.get("/v1/validator-changes?from=11")
    assert r.status_code == 400, r.text


# -- audit exports --------------------------------------------------------------------


def test_audit_exports_follow_the_same_rules(net: ServedChain) -> None:
    with Client("http://t", transport=SyncAsgiTransport(net.app)) as client:
        doc = export_doc(client, None, None)
        from_seven = export_doc(client, None, None, trust_from=7)
        with pytest.raises(CliError, match="before the trusted checkpoint"):
            export_doc(client, 6, None, trust_from=7)
    ok = verify_export(copy.deepcopy(doc), net.genesis_file)
    assert ok["valid"] is True and ok["entries"] == len(doc["entries"]) > 0, ok
    assert [c["height"] for c in doc["validator_changes"]] == [2, 3, 4]
    ok = verify_export(copy.deepcopy(from_seven), net.genesis_file, net.trust(7))
    assert ok["valid"] is True and ok["from"] == 7, ok

    def fails(bad: dict[str, Any], words: str, trust: Trust | None = None) -> None:
        with pytest.raises(CliError) as err:
            verify_export(bad, net.genesis_file, trust)
        assert err.value.exit_code == 1, err.value.message
        assert words in err.value.message, err.value.message

    for drop in range(3):
        bad = copy.deepcopy(doc)
        del bad["validator_changes"][drop]
        fails(bad, "validator")
    bad = copy.deepcopy(doc)
    bad.pop("genesis_hash")
    fails(bad, "genesis")
    fails(copy.deepcopy(from_seven), "--trust 7:")
    fails(copy.deepcopy(doc), "starts at the genesis", net.trust(7))
    # Checkpoints before the trusted one cannot be checked from it.
    early = copy.deepcopy(from_seven)
    early["checkpoints"].insert(0, copy.deepcopy(doc["checkpoints"][0]))
    fails(early, "before the trusted checkpoint", net.trust(7))


def test_trust_arguments_are_checked(net: ServedChain, tmp_path: Path) -> None:
    f = tmp_path / "proof.json"
    f.write_text(json.dumps(net.proof("after")))
    for bad in ("7", "x:ab", "7:xyz", "-1:" + "00" * 32, "7:" + "AB" * 32, "7:" + "00" * 31):
        rc, err = _cli("verify", str(f), "--genesis", str(net.genesis_file), "--trust", bad)
        assert rc == 2 and err["error"]["code"] == "bad_trust", (bad, err)
    with pytest.raises(ValueError, match="HEIGHT:HASH"):
        Trust.parse("nothing")


# -- through the CLI, against live processes ------------------------------------------


def _govchain(cwd: Path, *args: str) -> tuple[int, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "govchain.cli.main", *args, "--json"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    try:
        return out.returncode, json.loads(out.stdout)
    except ValueError:
        return out.returncode, {"stdout": out.stdout, "stderr": out.stderr}


def test_proof_and_verify_from_a_trusted_checkpoint_through_the_cli(tmp_path: Path) -> None:
    with cluster(tmp_path / "net", validators=1) as c:
        node = c.url(0)
        faucet = str(c.root / "keys" / "faucet.key")
        rc, rec = _govchain(
            tmp_path, "tx", "transfer", "--to", "42" * 20, "--amount", "7",
            "--key", faucet, "--node", node, "--wait",
        )  # fmt: skip
        assert rc == 0 and rec["status"] == "executed", rec
        with Client(node) as client:
            cp = client.checkpoint(1)
        trust = f"1:{cp['hash']}"
        out = tmp_path / "proof.json"
        rc, done = _govchain(
            tmp_path, "proof", rec["tx_id"], "--out", str(out), "--node", node,
            "--trust", trust, "--timeout", "30",
        )  # fmt: skip
        assert rc == 0, done
        genesis_file = str(c.nodes[0].home / "genesis.json")
        rc, ok = _govchain(
            tmp_path, "verify", str(out), "--genesis", genesis_file, "--trust", trust
        )
        assert rc == 0 and ok["valid"] is True, ok
        rc, err = _govchain(tmp_path, "verify", str(out), "--genesis", genesis_file)
        assert rc == 1 and err["error"]["code"] == "invalid_proof", err
        rc, err = _govchain(
            tmp_path, "proof", rec["tx_id"], "--out", str(out), "--node", node,
            "--trust", "1:" + "00" * 32,
        )  # fmt: skip
        assert rc == 1 and err["error"]["code"] == "untrusted_checkpoint", err
