"""Seeds the simulator's soak found failing, replayed.

A seed is the whole run (faults, clients, attackers), so a fix is checked
exactly where the failure was found (docs/simulator.md, "What the soak
found"). A seed still open is an expected failure, strict: the day it passes,
the test says so and the mark comes off.
"""

from __future__ import annotations

import pytest

from govchain.sim.cluster import SimConfig, Simulation


@pytest.mark.xfail(
    strict=True,
    reason=(
        "OPEN (docs/simulator.md, soak finding 1): a quorum of round-1 precommits reached "
        "one validator alone, from a node lost for good; the two others wait in round 1 "
        "forever, because _help_round re-sends only what the helper signed. Re-sending the "
        "round's precommits held from others fixed this seed, but broke a promise on seed 1 "
        "of tests/test_sim_attackers.py and stalled soak seed 1586: reverted"
    ),
)
def test_soak_seed_442_keeps_liveness() -> None:
    result = Simulation(SimConfig(seed=442, validators=4, faults="all", byzantine_peers=1)).run()
    assert not result.violations, result.violations[:3]
