"""The simulator's fixed seed lists (run in CI) and its negative controls.

Seed lists are split into chunks so that pytest-xdist spreads them over cores.
A failure names the seeds; `govchain sim --seeds N ...` replays one exactly.
"""

from __future__ import annotations

import pytest

from govchain.sim.cluster import SimConfig, SimResult, Simulation
from govchain.sim.runner import parse_seeds


def _run(seeds: range, **kw: object) -> list[SimResult]:
    return [Simulation(SimConfig(seed=s, **kw)).run() for s in seeds]  # type: ignore[arg-type]


def _violations(results: list[SimResult]) -> list[str]:
    return [
        f"seed {r.seed}: {v.invariant} at step {v.step}: {v.detail}"
        for r in results
        for v in r.violations
    ]


# 300 seeds with faults: every fault mode, four honest validators.
FAULT_CHUNKS = [
    ("all", range(1, 51)),
    ("all", range(51, 101)),
    ("all", range(101, 151)),
    ("loss", range(151, 201)),
    ("partition", range(201, 251)),
    ("crash", range(251, 301)),
]


@pytest.mark.parametrize(("faults", "seeds"), FAULT_CHUNKS)
def test_honest_cluster_keeps_every_invariant_under_faults(faults: str, seeds: range) -> None:
    results = _run(seeds, faults=faults)
    assert _violations(results) == []
    assert min(r.checkpoints for r in results) >= 5
    assert sum(r.txs_final for r in results) > 0


# 100 seeds with one Byzantine validator (behaviour drawn by the seed) and all faults.
@pytest.mark.parametrize("seeds", [range(1001, 1051), range(1051, 1101)])
def test_one_byzantine_validator_of_four_changes_nothing(seeds: range) -> None:
    results = _run(seeds, byzantine=1, faults="all")
    assert _violations(results) == []


def test_two_byzantine_of_seven_under_faults() -> None:
    results = _run(range(2001, 2021), validators=7, byzantine=2, faults="all")
    assert _violations(results) == []


def test_ten_validators_without_faults_finalize() -> None:
    results = _run(range(3001, 3004), validators=10, faults="none")
    assert _violations(results) == []
    assert min(r.checkpoints for r in results) >= 5


@pytest.mark.parametrize(
    ("plant", "expected", "kw"),
    [
        ("skip-lock", {"lock", "agreement"}, {"byzantine": 1}),
        ("double-count", {"certificate", "agreement"}, {}),
        # The shell's own ordering (shell/shell.py), as the node runs it.
        ("persist-after-send", {"no_equivocation"}, {"faults": "crash"}),
        ("defer-hard-state", {"no_equivocation"}, {"faults": "crash"}),
        ("ack-before-sync", {"promise"}, {"faults": "crash"}),
        ("ack-before-replicate", {"promise", "accepted-final"}, {"faults": "crash"}),
        ("unordered-exec", {"state_hash", "receipt"}, {}),
        ("seal-without-live", {"sync_seal"}, {}),
        ("image-cache-stale", {"image_cache"}, {}),
        # Caught on seeds whose script empties the permissions, or the parameters.
        ("image-cache-emptied", {"image_cache"}, {}),
    ],
)
def test_planted_bug_is_caught(plant: str, expected: set[str], kw: dict[str, object]) -> None:
    results = _run(range(1, 41), plant=plant, **kw)
    found = {v.invariant for r in results for v in r.violations}
    assert found & expected, f"{plant} went unnoticed in 40 seeds (saw {found})"


def test_f_plus_one_byzantine_break_safety_in_some_seed() -> None:
    results = _run(range(1, 31), byzantine=2, faults="none")
    found = {v.invariant for r in results for v in r.violations}
    assert found & {"agreement", "state_hash", "certificate"}


def test_a_seed_replays_exactly() -> None:
    a = Simulation(SimConfig(seed=77, byzantine=1, faults="all")).run()
    b = Simulation(SimConfig(seed=77, byzantine=1, faults="all")).run()
    assert (a.steps, a.messages, a.checkpoints, a.txs_final) == (
        b.steps,
        b.messages,
        b.checkpoints,
        b.txs_final,
    )


def test_a_failing_seed_replays_the_same_violation() -> None:
    first = _run(range(1, 41), plant="unordered-exec")
    failing = next(r for r in first if r.violations)
    again = Simulation(SimConfig(seed=failing.seed, plant="unordered-exec")).run()
    assert again.violations == failing.violations


GOVERNANCE_SEEN = (
    "freeze",
    "unfreeze",
    "emergency",
    "lapse",
    "expiry",
    "filter_added",
    "rejection_by_rule",
    "rejection_by_decision",
    "hold",
    "release",
    "interception",
    "redaction",
    "service_suspension",
    "service_resumption",
    "param_set",
    "role_granted",
    "identity",
    "validator_change",
)


def test_the_governance_script_plays_out_in_a_calm_cluster() -> None:
    # An even seed: the validator reweigh goes through a proposal too.
    (r,) = _run(range(2, 3), faults="none")
    assert _violations([r]) == []
    missing = [k for k in GOVERNANCE_SEEN if not r.audit_kinds.get(k)]
    assert missing == [], r.audit_kinds


def test_spam_is_refused_with_typed_reasons() -> None:
    (r,) = _run(range(5, 6), faults="none")
    assert {"bad_signature", "wrong_chain"} <= set(r.spam_rejected)


@pytest.mark.parametrize("text", ["", "a..b", "5..1", "1..2..3"])
def test_bad_seed_ranges_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="seed"):
        parse_seeds(text)


def test_seed_ranges_are_inclusive() -> None:
    assert list(parse_seeds("3..5")) == [3, 4, 5]
    assert list(parse_seeds("9")) == [9]
