"""Seeds the simulator's soak found failing, replayed: each must pass now.

A seed is the whole run (faults, clients, attackers), so the fix is checked
exactly where it was found (docs/simulator.md, "What the soak found").
"""

from __future__ import annotations

import pytest

from govchain.sim.cluster import SimConfig, Simulation


@pytest.mark.parametrize(
    ("seed", "faults", "byzantine_peers", "why"),
    [
        # A validator left round 1 on a quorum of precommits, one of them from a
        # node lost for good right after; the two others sat in round 1 waiting
        # for it. _help_round now re-sends the precommits it holds of that round.
        (442, "all", 1, "liveness at height 2"),
        # With that fix: a catching-up validator's orphan shares for two peers
        # were full of orphans waiting for the ancestors a decided checkpoint
        # needed, charged to those same shares. Needs now have their own share
        # (dag/graph.py NEEDED_SOURCE).
        (1586, "all", 0, "liveness at height 5"),
    ],
)
def test_a_seed_the_soak_found_passes(
    seed: int, faults: str, byzantine_peers: int, why: str
) -> None:
    result = Simulation(
        SimConfig(seed=seed, validators=4, faults=faults, byzantine_peers=byzantine_peers)
    ).run()
    assert not result.violations, (why, result.violations[:3])
