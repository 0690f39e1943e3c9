"""`govchain soak`: its checker catches what it must, and two minutes of kill -9 lose nothing.

The checker's tests run on hand-made stores (a planted loss, a double
execution, a disagreement, a receipt that differs, a proposal not enacted)
and on one real SQLite store written by a one-validator replica. The soak
itself runs four node processes for two minutes at issue 16's defaults
(1,000 tx/s of transfers and records, governance every 10 s, a SIGKILL every
30 s) and loads both cores: marked `soak`, deselect it with -m "not soak".
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from govchain.codec import encode
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import build
from govchain.node.soak import LivePhase, SoakConfig, percentiles, report
from govchain.node.soak_check import NodeView, ProposalState, StoreVerdict, check_views, read_view
from govchain.node.soak_gov import GovAction
from govchain.node.soak_killer import Crash
from govchain.node.soak_load import Promise, Tally
from govchain.replica.config import ReplicaConfig
from govchain.replica.replica import Replica
from govchain.state.genesis import Genesis
from govchain.state.payloads import TransferPayload
from govchain.state.receipts import Receipt
from govchain.storage.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[1]
SUPPLY = 1_000
IDS = [hashlib.sha256(b"tx %d" % i).digest() for i in range(6)]
SOAK_SECONDS = 120
SOAK_TIMEOUT_S = 900  # startup, two minutes of load, the drain, the stop and the store reads
NO_GOV = SoakConfig(gov_every_s=0)  # the report's tests without governance
PID = "ee" * 32
ENACTED: ProposalState = ("passed", 4, "hold_amount_min = 1000")


def digest(*parts: object) -> bytes:
    return hashlib.sha256(repr(parts).encode()).digest()


def view(
    name: str,
    heights: dict[int, list[bytes]],
    supply: int = SUPPLY,
    status: str = "executed",
    checkpoint_salt: str = "",
    state_salt: str = "",
) -> NodeView:
    """A node's store as the checker sees it: heights -> ids in final order."""
    return NodeView(
        name,
        {h: digest("checkpoint", h, checkpoint_salt) for h in heights},
        {h: digest("state", h, state_salt) for h in heights},
        {
            h: tuple(Receipt(i, h, index, status) for index, i in enumerate(ids))
            for h, ids in heights.items()
        },
        supply,
    )


AGREED = {1: [IDS[0], IDS[1]], 2: [IDS[2]], 3: [IDS[3], IDS[4]]}


def four(**changes: NodeView) -> list[NodeView]:
    """Four agreeing nodes, some of them replaced."""
    nodes = {f"v{i}": view(f"v{i}", AGREED) for i in range(4)}
    nodes.update(changes)
    return list(nodes.values())


# -- the checker on hand-made stores ---------------------------------------------------
def test_nodes_that_agree_and_finalize_every_promise_pass() -> None:
    verdict = check_views(IDS[:5], four(), SUPPLY)
    assert verdict.final == 5
    assert verdict.lost == [] and verdict.executed_twice == []
    assert verdict.agreement and verdict.supply_conserved
    assert verdict.heights == {"v0": 3, "v1": 3, "v2": 3, "v3": 3}


def test_a_promised_transaction_final_nowhere_is_lost() -> None:
    verdict = check_views(IDS, four(), SUPPLY)  # IDS[5] was promised, no node has it
    assert verdict.lost == [IDS[5]]
    assert verdict.final == 5
    assert verdict.agreement  # a loss is not a disagreement: nobody has it


def test_a_node_behind_the_others_neither_loses_nor_disagrees() -> None:
    behind = view("v3", {1: AGREED[1], 2: AGREED[2]})
    verdict = check_views(IDS[:5], four(v3=behind), SUPPLY)
    assert verdict.lost == [] and verdict.agreement
    assert verdict.heights["v3"] == 2


def test_a_transaction_executed_at_two_heights_is_caught() -> None:
    twice = view("v2", {**AGREED, 4: [IDS[2]]})
    verdict = check_views(IDS[:5], four(v2=twice), SUPPLY)
    assert verdict.executed_twice == [IDS[2]]


def test_a_transaction_twice_in_one_height_is_caught() -> None:
    twice = view("v0", {**AGREED, 2: [IDS[2], IDS[2]]})
    verdict = check_views(IDS[:5], four(v0=twice), SUPPLY)
    assert verdict.executed_twice == [IDS[2]]
    assert not verdict.agreement  # its receipts at height 2 also differ from the others'


@pytest.mark.parametrize(
    ("other", "what"),
    [
        (view("v1", AGREED, status="rejected"), "list of receipts"),
        (view("v1", {**AGREED, 2: [IDS[2], IDS[5]]}), "list of receipts"),
        (view("v1", AGREED, checkpoint_salt="fork"), "checkpoint"),
        (view("v1", AGREED, state_salt="diverged"), "state hash"),
    ],
    ids=["receipt-status", "extra-receipt", "checkpoint", "state-hash"],
)
def test_a_node_holding_something_else_at_a_height_disagrees(other: NodeView, what: str) -> None:
    verdict = check_views(IDS[:5], four(v1=other), SUPPLY)
    assert not verdict.agreement
    assert any(f"v1 holds another {what} than v0" in d for d in verdict.disagreements)


def test_a_node_whose_supply_changed_is_caught() -> None:
    verdict = check_views(IDS[:5], four(v3=view("v3", AGREED, supply=SUPPLY + 1)), SUPPLY)
    assert not verdict.supply_conserved and not verdict.agreement


def test_a_store_that_contradicts_its_own_replay_disagrees() -> None:
    broken = NodeView("v2", {}, {}, {}, SUPPLY, ("replaying height 1 gives another state hash",))
    assert not check_views([], four(v2=broken), SUPPLY).agreement


def test_receipts_are_compared_transaction_by_transaction_across_nodes() -> None:
    verdict = check_views(IDS[:5], four(), SUPPLY)
    assert verdict.receipts_compared == 5 and verdict.receipt_mismatches == []
    # v1 executed IDS[4] a height later, alone at that height: another receipt.
    moved = view("v1", {1: AGREED[1], 2: AGREED[2], 3: [IDS[3]], 4: [IDS[4]]})
    verdict = check_views(IDS[:5], four(v1=moved), SUPPLY)
    assert verdict.receipt_mismatches == [IDS[4]]
    assert any(
        f"v1 holds another receipt for transaction {IDS[4].hex()} than v0: height 4" in d
        for d in verdict.disagreements
    ), verdict.disagreements


def test_a_promised_transaction_missing_below_a_node_s_height_is_a_hole() -> None:
    holed = view("v2", {1: AGREED[1], 2: AGREED[2], 3: [IDS[3]]})  # at height 3, without IDS[4]
    verdict = check_views(IDS[:5], four(v2=holed), SUPPLY)
    assert verdict.missing_somewhere == [IDS[4]] and verdict.lost == []
    assert any(f"v2 lack promised transaction {IDS[4].hex()}" in d for d in verdict.disagreements)


def with_proposal(name: str, state: ProposalState | None) -> NodeView:
    base = view(name, AGREED)
    return NodeView(
        name,
        base.checkpoints,
        base.state_hashes,
        base.receipts,
        base.supply,
        (),
        {} if state is None else {PID: state},
    )


def test_a_proposal_passed_and_enacted_alike_everywhere_counts_as_enacted() -> None:
    views = [with_proposal(f"v{i}", ENACTED) for i in range(4)]
    verdict = check_views(IDS[:5], views, SUPPLY, [PID])
    assert verdict.enacted == 1 and verdict.not_enacted == []


@pytest.mark.parametrize(
    ("state", "why"),
    [
        (None, "v3: no such proposal"),
        (("open", None, ""), "v3: status open"),
        (("passed", 4, "remove-filter: no-op: no rule has this id"), "v3: enacted as a no-op"),
        (("passed", 5, "hold_amount_min = 1000"), "the nodes hold it differently"),
    ],
    ids=["absent", "open", "no-op", "differs"],
)
def test_a_proposal_not_enacted_alike_everywhere_is_caught(
    state: ProposalState | None, why: str
) -> None:
    views = [with_proposal(f"v{i}", ENACTED) for i in range(3)] + [with_proposal("v3", state)]
    verdict = check_views(IDS[:5], views, SUPPLY, [PID])
    assert verdict.enacted == 0
    assert len(verdict.not_enacted) == 1 and why in verdict.not_enacted[0], verdict.not_enacted


# -- one real store read back ------------------------------------------------------------
def test_read_view_replays_a_real_store_and_finds_its_receipts(tmp_path: Path) -> None:
    validator, alice, bob = (SigningKey.from_label(n) for n in ("v", "alice", "bob"))
    genesis = Genesis(
        chain_id="soak-test",
        time_ms=0,
        balances=((alice.address, SUPPLY),),
        validators=ValidatorSet.of({validator.public_key: 1}),
        committee=((validator.public_key, 1),),
        threshold=1,
    )
    txs = []
    parent = genesis.hash
    for nonce, amount in enumerate((7, 9, SUPPLY)):  # the last one overdraws: rejected
        txs.append(
            build(
                alice,
                chain_id=genesis.chain_id,
                kind="transfer",
                nonce=nonce,
                parents=[parent],
                valid_until=100,
                payload=encode(TransferPayload(bob.address, amount)),
                stamp_bits_min=8,
            )
        )
        parent = txs[-1].id
    replica = Replica("v", genesis, validator, ["v"], ReplicaConfig())
    path = tmp_path / "store.sqlite"
    with SqliteStore(path) as store:
        now_ms = 0
        replica.start(now_ms)
        for t in txs:
            replica.submit(t.to_wire(), now_ms)
        store.commit(replica.ready())
        while not store.is_final(txs[-1].id):
            assert now_ms < 20_000, "a lone validator should finalize at once"
            now_ms += 50
            replica.tick(now_ms)
            store.commit(replica.ready())
    seen = read_view("v", path, genesis)
    statuses = {r.tx_id: r.status for rs in seen.receipts.values() for r in rs}
    assert statuses == {txs[0].id: "executed", txs[1].id: "executed", txs[2].id: "rejected"}
    assert seen.supply == SUPPLY and seen.problems == ()
    assert set(seen.checkpoints) >= set(seen.receipts)
    lost = hashlib.sha256(b"promised, never sent on").digest()
    verdict = check_views([t.id for t in txs] + [lost], [seen], SUPPLY)
    assert verdict.final == 3 and verdict.lost == [lost] and verdict.agreement


# -- the report's verdict ----------------------------------------------------------------
def live(latencies_after_ms: list[float]) -> LivePhase:
    """Two promises before the first kill (0.2 s each), then one per given latency."""
    promises: dict[bytes, Promise] = {}
    final: dict[bytes, float] = {}
    for n in range(2 + len(latencies_after_ms)):
        tx_id = digest("promise", n)
        sent_s = 100.0 + n * 10.0
        promises[tx_id] = Promise(0, n, "validator-0", sent_s, sent_s + 0.01)
        final[tx_id] = sent_s + (0.2 if n < 2 else latencies_after_ms[n - 2] / 1000)
    crash = Crash("validator-0", killed_s=115.0, restarted_s=120.0, caught_up_after_s=2.5)
    return LivePhase(100.0, promises, final, Tally(submitted=len(promises)), [crash], [], 1.0, 1.0)


def test_a_clean_run_is_ok_and_reports_its_figures() -> None:
    doc = report(NO_GOV, live([300.0, 400.0]), StoreVerdict(final=4))
    assert doc["failures"] == [] and doc["ok"]
    assert doc["accepted"] == 4 and doc["kills"] == 1
    assert doc["latency_ms"]["before_kills"]["count"] == 2
    assert doc["latency_ms"]["after_kills"]["max"] == 400.0
    assert doc["latency_ms"]["promised_to_final"] == {  # each promised 10 ms after its send
        "count": 4,
        "p50": 190.0,
        "p99": 390.0,
        "max": 390.0,
    }
    assert doc["catchup_s"] == {
        "p50": 2.5,
        "max": 2.5,
        "bound": 20.0,
        "restarts": 1,
        "not_caught_up": 0,
    }
    json.dumps(doc)  # one JSON document


@pytest.mark.parametrize(
    ("catchups", "failure"),
    [
        ([2.5, 20.5], "1 restarted validators took more than 20 s to catch up (max 20.5 s)"),
        ([2.5, None], "1 restarted validators never caught up"),
    ],
    ids=["slow", "never"],
)
def test_a_restart_that_catches_up_late_or_never_fails_the_run(
    catchups: list[float | None], failure: str
) -> None:
    phase = live([300.0])
    phase.crashes = [
        Crash(
            "validator-1", killed_s=110.0 + 30 * n, restarted_s=115.0 + 30 * n, caught_up_after_s=c
        )
        for n, c in enumerate(catchups)
    ]
    doc = report(NO_GOV, phase, StoreVerdict(final=3))
    assert doc["failures"] == [failure]


def test_governance_actions_are_reported_and_one_not_enacted_fails_the_run() -> None:
    phase = live([300.0])
    phase.governance = [
        GovAction("set-param", PID, "ff" * 32, 101.0, promised=True),
        GovAction("add-filter", "dd" * 32, "cc" * 32, 111.0, promised=True),
    ]
    verdict = StoreVerdict(final=3, enacted=1, not_enacted=[f"{'dd' * 32}: v2: status open"])
    doc = report(SoakConfig(), phase, verdict)
    assert doc["governance"]["actions"] == 2 and doc["governance"]["enacted"] == 1
    assert doc["governance"]["by_step"] == {"set-param": 1, "add-filter": 1}
    assert doc["failures"] == ["1 of 2 governance actions were not enacted alike on every node"]
    assert report(SoakConfig(), live([300.0]), StoreVerdict(final=3))["failures"] == [
        "no governance action was proposed"
    ]


@pytest.mark.parametrize(
    ("verdict", "latencies", "failure"),
    [
        (StoreVerdict(lost=[digest("promise", 2)]), [300.0], "never became final"),
        (StoreVerdict(executed_twice=[IDS[0]]), [300.0], "executed twice"),
        (StoreVerdict(disagreements=["v1 holds another checkpoint"]), [300.0], "disagreement"),
        (StoreVerdict(), [300.0, 3000.0], "p99 latency after the first kill"),
    ],
    ids=["lost", "twice", "disagreement", "slow-after-kills"],
)
def test_the_report_fails_on_loss_double_execution_disagreement_or_slowness(
    verdict: StoreVerdict, latencies: list[float], failure: str
) -> None:
    doc = report(NO_GOV, live(latencies), verdict)
    assert not doc["ok"]
    assert any(failure in f for f in doc["failures"]), doc["failures"]


def test_percentiles_are_nearest_rank() -> None:
    assert percentiles(range(1, 101)) == {"count": 100, "p50": 50, "p99": 99, "max": 100}
    assert percentiles([]) == {"count": 0, "p50": None, "p99": None, "max": None}


# -- the command ---------------------------------------------------------------------------
def govchain(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "govchain.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--validators", "3"],
        ["--restart-after", "35"],
        ["--records", "1.5"],
        ["--gov-every", "0.5"],
        ["--rate", "0"],
        ["--duration", "0"],
    ],
)
def test_bad_arguments_exit_two_with_a_json_error(args: list[str]) -> None:
    out = govchain("soak", *args, "--json", timeout_s=60)
    assert out.returncode == 2, out.stderr
    assert json.loads(out.stdout)["error"]["code"] == "bad_argument"


@pytest.mark.soak
def test_two_minutes_of_kill_9_lose_nothing_promised_and_execute_nothing_twice() -> None:
    out = govchain("soak", "--duration", str(SOAK_SECONDS), "--json", timeout_s=SOAK_TIMEOUT_S)
    assert out.returncode in (0, 1), out.stderr[-3000:]
    doc: dict[str, Any] = json.loads(out.stdout)
    summary = {
        k: doc[k]
        for k in ("accepted", "final", "lost", "kills", "failures", "sent_by_kind", "governance")
    }
    # Figures, not assertions: catch-up and latency depend on what else the machine runs.
    print(
        f"soak: {doc['rate']['sent_per_s']} tx/s sent, catch-up {doc['catchup_s']},"
        f" latency {doc['latency_ms']}, loader {doc['loader_cpu_us_per_tx']} us/tx,"
        f" load average {doc['load_average']}"
    )
    assert doc["accepted"] > 0 and doc["kills"] >= 1, summary
    assert doc["sent_by_kind"].get("record", 0) > 0, summary
    assert doc["lost"] == 0, summary
    assert doc["executed_twice"] == 0, summary
    assert doc["agreement"] and doc["supply_conserved"], doc["disagreements"]
    assert doc["receipt_mismatches"] == 0 and doc["missing_somewhere"] == 0, doc["disagreements"]
    assert doc["receipts_compared"] >= doc["final"], summary
    gov = doc["governance"]
    assert gov["actions"] >= 1 and gov["stopped"] is None, gov
    assert gov["enacted"] == gov["promised"] == gov["actions"], gov
