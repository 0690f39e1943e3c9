"""Byzantine non-validator peers in the simulator, and the checkers that judge what they find.

Each new checker is shown to fail on a violation made by hand; the planted bug
accept-forged-redaction is shown to be caught; a few attacked seeds keep every
invariant.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from govchain.consensus.messages import Checkpoint
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import WIRE_DECODER, Transaction, build
from govchain.replica.execution import Execution
from govchain.replica.messages import RedactedTxMsg, TxMsg
from govchain.replica.outputs import ReplicaReady
from govchain.replica.replica import Replica
from govchain.sim.attackers import Attacker
from govchain.sim.checkers import Checkers
from govchain.sim.cluster import SimConfig, SimResult, Simulation
from govchain.state.ledger import Executed
from govchain.state.receipts import Receipt, ReceiptProof, Status, prove
from govchain.storage.memory import MemoryStore

SUPPLY = 1_000
VALIDATORS = ("v0", "v1", "v2", "v3")


def _violations(results: list[SimResult]) -> list[str]:
    return [
        f"seed {r.seed}: {v.invariant} at step {v.step}: {v.detail}"
        for r in results
        for v in r.violations
    ]


# -- the attack, end to end ------------------------------------------------------
def test_attacked_seeds_keep_every_invariant() -> None:
    results = [
        Simulation(SimConfig(seed=s, faults=f, byzantine_peers=2)).run()
        for s, f in ((1, "all"), (2, "crash"), (3, "all"))
    ]
    assert _violations(results) == []
    assert min(r.checkpoints for r in results) >= 5
    attacks: dict[str, int] = {}
    for r in results:
        for k, v in r.attacks.items():
            attacks[k] = attacks.get(k, 0) + v
    # Every kind of attack happened, and honest replicas caught forgers at it.
    for kind in ("forge_sprayed", "junk_txs", "orphans", "votes", "proposals", "asks"):
        assert attacks.get(kind, 0) > 0, attacks
    assert attacks.get("blamed_attacker", 0) > 0, attacks


def test_the_planted_forged_redaction_is_caught() -> None:
    # Replicas that take any receipt-proven copy without its payload execute a
    # forged transfer as malformed: their state splits from the others'.
    found: set[str] = set()
    for seed in range(1, 11):
        cfg = SimConfig(
            seed=seed, faults="crash", byzantine_peers=2, plant="accept-forged-redaction"
        )
        r = Simulation(cfg).run()
        found |= {v.invariant for v in r.violations}
        if found & {"state_hash", "receipt"}:
            break
    assert found & {"state_hash", "receipt"}, f"the plant went unnoticed (saw {found})"


def test_an_attacked_seed_replays_exactly() -> None:
    cfg = SimConfig(seed=4, faults="all", byzantine_peers=2)
    a, b = Simulation(cfg).run(), Simulation(cfg).run()
    assert (a.steps, a.messages, a.attacks, a.violations) == (
        b.steps,
        b.messages,
        b.attacks,
        b.violations,
    )


def test_faults_all_brings_one_attacker_unless_told() -> None:
    assert SimConfig(seed=1).attackers == 1
    assert SimConfig(seed=1, faults="crash").attackers == 0
    assert SimConfig(seed=1, byzantine_peers=0).attackers == 0
    with pytest.raises(ValueError, match="Byzantine peers"):
        Simulation(SimConfig(seed=1, byzantine_peers=99))


def test_forged_copies_carry_genuine_receipt_proofs() -> None:
    # The forgery is refused for what it claims, not for a broken proof.
    sim = Simulation(SimConfig(seed=2, faults="none", byzantine_peers=0))
    assert sim.run().violations == []
    source = sim.nodes["v0"].replica
    assert source is not None
    attacker = Attacker("x9", SigningKey.from_label("x9"), sim.rng, "govchain-sim", [], 4)
    attacker.learn(source.view)
    forged = [m for vid in list(attacker._forgeable) if (m := attacker._forge(vid)) is not None]
    # A receipt of height h is certified by checkpoint h + 1, once that is decided.
    certified = [m for m in forged if m.proof.receipt.height < len(source.decided)]
    assert certified
    for msg in certified:
        receipt = msg.proof.receipt
        assert receipt.status != Status.REJECTED.value
        assert msg.proof.verify(source.decided[receipt.height][0].receipts_root)
        assert WIRE_DECODER.decode(msg.wire).payload == b""


# -- each checker, on a violation made by hand -----------------------------------
def _tx(label: str = "client") -> Transaction:
    return build(
        SigningKey.from_label(label),
        chain_id="govchain-sim",
        kind="transfer",
        nonce=7,
        parents=[bytes(32)],
        valid_until=40,
        payload=b"stopped by the rules",
        stamp_bits_min=0,
    )


def _rejected_at_1(tx: Transaction) -> Execution:
    cp = Checkpoint("govchain-sim", 1, bytes(32), 1, (tx.id,), *(bytes(32),) * 4)
    receipts = [Receipt(tx.id, 1, 0, Status.REJECTED.value, "nonce_gap")]
    result = Executed(1, receipts, bytes(32), bytes(32))
    return Execution(cp, (tx,), result)


def _replica() -> Replica:
    sim = Simulation(SimConfig(seed=1, faults="none", byzantine_peers=0))
    return sim._make_replica(sim.nodes["v0"])


def test_served_payload_of_a_rejected_transaction_is_a_violation() -> None:
    c = Checkers(SUPPLY, VALIDATORS)
    tx = _tx()
    c.on_executed("v0", _rejected_at_1(tx), SUPPLY)
    # Until height 2 certifies its receipt, a validator catching up may have it.
    c.on_served("v0", ["v1", "v2"], TxMsg((tx.to_wire(),)))
    assert c.on_certified("v0", 1) == [] and c.violations == []
    assert c.on_certified("v0", 2) == [tx.id]
    c.on_served("v0", ["v1"], TxMsg((tx.without_payload().to_wire(),)))
    c.on_served("v0", ["x0"], RedactedTxMsg(tx.without_payload().to_wire(), prove_one(tx)))
    c.on_served("v1", ["x0"], TxMsg((tx.to_wire(),)))  # v1 has not executed it: may not know
    assert c.violations == []
    c.on_served("v0", ["v1"], TxMsg((_tx("other").to_wire(), tx.to_wire())))
    assert [v.invariant for v in c.violations] == ["served"]
    assert "final as rejected" in c.violations[0].detail


def test_a_payload_waiting_for_its_certificate_goes_to_validators_only() -> None:
    c = Checkers(SUPPLY, VALIDATORS)
    tx = _tx()
    c.on_executed("v0", _rejected_at_1(tx), SUPPLY)
    c.on_served("v0", ["v1", "x0"], TxMsg((tx.to_wire(),)))
    assert [v.invariant for v in c.violations] == ["served"]
    assert "non-validator x0" in c.violations[0].detail


def prove_one(tx: Transaction) -> ReceiptProof:
    """A receipt proof for tx alone (what a withheld copy carries)."""
    return prove([Receipt(tx.id, 1, 0, Status.REJECTED.value, "nonce_gap")], 0)


def test_served_payload_of_a_redacted_transaction_is_a_violation() -> None:
    c = Checkers(SUPPLY)
    tx = _tx()
    ex = _rejected_at_1(_tx("first"))
    result = Executed(1, ex.result.receipts, bytes(32), bytes(32), redacted=(tx.id,))
    c.on_executed("v0", Execution(ex.checkpoint, ex.txs, result), SUPPLY)
    assert c.on_certified("v0", 2) == [ex.txs[0].id, tx.id]
    c.on_served("v0", ["v1"], TxMsg((tx.to_wire(),)))
    assert [v.invariant for v in c.violations] == ["served"]
    assert "final as redacted" in c.violations[0].detail


def test_payload_kept_in_the_store_or_in_memory_is_a_violation() -> None:
    c = Checkers(SUPPLY)
    tx = _tx()
    ex = _rejected_at_1(tx)
    c.on_executed("v0", ex, SUPPLY)
    assert c.on_certified("v0", 2) == [tx.id]
    replica = _replica()
    store = MemoryStore()
    c.check_kept("v0", replica.view, store, [tx.id])
    assert c.violations == []
    store.commit(ReplicaReady(admitted=[tx]))
    replica.executions.append(ex)
    c.check_kept("v0", replica.view, store, [tx.id])
    assert [v.invariant for v in c.violations] == ["kept"]
    assert "its executions and its store" in c.violations[0].detail
    c.check_loaded("v0", store.load())
    assert [v.invariant for v in c.violations] == ["kept", "kept"]


def test_a_buffer_over_its_budget_is_a_violation() -> None:
    c = Checkers(SUPPLY)
    c.on_budgets("v0", {"orphans": (5, 5), "future": (0, 10)})
    assert c.violations == []
    c.on_budgets("v0", {"orphans": (6, 5)})
    assert [v.invariant for v in c.violations] == ["budget"]


def test_blaming_an_honest_peer_is_a_violation() -> None:
    c = Checkers(SUPPLY)
    c.on_blamed("v0", "x0", "a forged copy", peer_honest=False)
    assert c.violations == []
    c.on_blamed("v0", "v1", "a forged copy", peer_honest=True)
    assert [v.invariant for v in c.violations] == ["blame"]


# -- the command -------------------------------------------------------------------
def _govchain(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "govchain.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        timeout=300,
        check=False,
    )


def test_cli_runs_attacker_peers_and_reports_what_they_did() -> None:
    out = _govchain("sim", "--seeds", "5", "--faults", "none", "--byzantine-peers", "2", "--json")
    doc = json.loads(out.stdout)
    assert out.returncode == (1 if doc["violations"] else 0), out.stderr
    assert doc["attacks"]["orphans"] > 0
    assert doc["attacks"]["forge_sprayed"] > 0


def test_cli_replay_hint_names_the_attacker_peers() -> None:
    out = _govchain("sim", "--seeds", "1", "--faults", "crash", "--plant", "unordered-exec")
    assert out.returncode == 1
    assert "--byzantine-peers 0" in " ".join(out.stdout.split())  # however rich wraps it


@pytest.mark.parametrize("value", ["-1", "99"])
def test_cli_refuses_a_bad_number_of_attacker_peers(value: str) -> None:
    out = _govchain("sim", "--byzantine-peers", value, "--json")
    assert out.returncode == 2
    assert json.loads(out.stdout)["error"]["code"] == "bad_argument"
