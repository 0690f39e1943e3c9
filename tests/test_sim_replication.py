"""A 202 is a promise (issue 10), as the simulator checks it.

The `accepted-final` checker is shown to fail on a loss made by hand; honest
seeds where a node crashed right after a 202 and never returned keep every
invariant; the planted bug ack-before-replicate is caught (by the promise checker).
"""

from __future__ import annotations

from govchain.consensus.messages import Checkpoint
from govchain.replica.execution import Execution
from govchain.sim.checkers import Checkers
from govchain.sim.cluster import SimConfig, SimResult, Simulation
from govchain.state.ledger import Executed
from govchain.state.receipts import Receipt, Status

SUPPLY = 1_000
HEAL_MS = 8_000


def _violations(results: list[SimResult]) -> list[str]:
    return [
        f"seed {r.seed}: {v.invariant} at step {v.step}: {v.detail}"
        for r in results
        for v in r.violations
    ]


def _final_at(height: int, *ids: bytes) -> Execution:
    """An execution at height that finalizes ids (the first as rejected: any status counts)."""
    cp = Checkpoint("govchain-sim", height, bytes(32), height, ids, *(bytes(32),) * 4)
    receipts = [
        Receipt(i, height, n, Status.REJECTED.value if n == 0 else Status.EXECUTED.value)
        for n, i in enumerate(ids)
    ]
    return Execution(cp, (), Executed(height, receipts, bytes(32), bytes(32)))


# -- the checker, on a loss made by hand ------------------------------------------
def test_a_transaction_answered_202_that_never_becomes_final_is_a_violation() -> None:
    c = Checkers(SUPPLY)
    final, rejected, expired, lost, late = (bytes([b]) * 32 for b in range(1, 6))
    c.on_accepted("v0", final, 100, 40)
    c.on_accepted("v1", rejected, 200, 40)
    c.on_accepted("v2", expired, 300, 2)  # could execute at height 2 at the latest
    c.on_accepted("v3", lost, 400, 40)
    c.on_accepted("v0", late, HEAL_MS, 40)  # after the heal: not judged here
    c.on_accepted("v2", lost, 500, 40)  # a second 202 for it changes nothing
    c.on_executed("v0", _final_at(1, rejected, final), SUPPLY)
    # At height 1 the short-lived one could still execute.
    assert [a.tx_id for a in c.unsettled(HEAL_MS)] == [expired, lost]
    c.on_executed("v1", _final_at(2), SUPPLY)
    assert [a.tx_id for a in c.unsettled(HEAL_MS)] == [lost]
    c.check_accepted(HEAL_MS, "by the deadline")
    assert [v.invariant for v in c.violations] == ["accepted-final"]
    detail = c.violations[0].detail
    assert lost.hex()[:16] in detail and "202 from v3 at 400 ms" in detail
    assert late.hex()[:16] not in detail


def test_every_202_final_or_expired_is_no_violation() -> None:
    c = Checkers(SUPPLY)
    done, short = bytes([1]) * 32, bytes([2]) * 32
    c.on_accepted("v0", done, 100, 40)
    c.on_accepted("v0", short, 100, 3)
    c.on_executed("v0", _final_at(3, done), SUPPLY)
    c.check_accepted(HEAL_MS, "by the deadline")
    assert c.violations == []
    assert len(c.accepted(HEAL_MS)) == 2


# -- honest code, end to end --------------------------------------------------------
def test_a_calm_cluster_answers_202s_once_peers_acknowledge() -> None:
    r = Simulation(SimConfig(seed=1, faults="none", byzantine_peers=0)).run()
    assert _violations([r]) == []
    assert r.accepted > 50  # acknowledgements travel: clients get their 202s
    assert r.crashed_after_accept == []  # no crash faults, no crash after a 202


def test_a_node_lost_right_after_its_202_loses_no_accepted_transaction() -> None:
    sims = [
        Simulation(SimConfig(seed=s, faults=f, byzantine_peers=p))
        for s, f, p in ((1, "crash", 0), (2, "crash", 0), (3, "all", 2))
    ]
    results = [sim.run() for sim in sims]
    assert _violations(results) == []
    for sim, r in zip(sims, results, strict=True):
        assert len(r.crashed_after_accept) == 1, r.seed
        assert r.accepted >= 10  # 202s were given (how many depends on the seed)
        assert r.checkpoints >= 5
        # It never returned, not even at the heal.
        assert sim.nodes[r.crashed_after_accept[0]].replica is None


def test_no_node_is_lost_for_good_beyond_the_fault_budget() -> None:
    # With one Byzantine validator of four, f is spent: nobody may go for good.
    results = [Simulation(SimConfig(seed=s, byzantine=1, faults="crash")).run() for s in (1, 2)]
    assert _violations(results) == []
    assert all(r.crashed_after_accept == [] for r in results)


# -- the planted bug -------------------------------------------------------------------
def test_the_planted_ack_before_replicate_is_caught() -> None:
    # The node answers 202 once its own commit holds the transaction: at that
    # moment the validators whose stores hold it weigh a quarter, not more than
    # a third (the promise checker looks into every store at each 202).
    for seed in (1, 2, 3):
        r = Simulation(SimConfig(seed=seed, faults="crash", plant="ack-before-replicate")).run()
        assert {v.invariant for v in r.violations} == {"promise"}, r.seed
        assert "weigh 1 of 4" in r.violations[0].detail


def test_a_caught_seed_replays_exactly() -> None:
    cfg = SimConfig(seed=4, faults="crash", plant="ack-before-replicate")
    a, b = Simulation(cfg).run(), Simulation(cfg).run()
    assert a.violations and a.violations == b.violations
    assert (a.steps, a.messages, a.accepted) == (b.steps, b.messages, b.accepted)
