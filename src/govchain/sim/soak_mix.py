"""The soak's mix: which cluster shape each seed runs, drawn from the seed alone."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TypeVar

from govchain.sim.cluster import FAULTS, SimConfig

# (validators, byzantine validators, weight). Every pair stays within f, so any
# violation is a bug: 1 of 4 and 1 of 7 run each of the five single behaviours,
# 2 of 7 the two group styles (collude, twins; docs/simulator.md).
VALIDATOR_MIX: tuple[tuple[int, int, int], ...] = ((4, 0, 4), (4, 1, 3), (7, 1, 2), (7, 2, 1))
# Attacker peers (sim/attackers.py) and their weights; 0 still leaves the
# Byzantine validators' attacks, 2 is what the attacker tests run.
PEERS_MIX: tuple[tuple[int, int], ...] = ((0, 3), (1, 4), (2, 3))
# Every fault kind, equally often.
FAULTS_MIX: tuple[str, ...] = FAULTS
# Part of the draw's seed: a change to the mix must not meet an old journal unnoticed.
MIX_VERSION = "soak-mix-1"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SoakShape:
    """A seed's cluster: what `govchain sim` takes as options."""

    validators: int
    byzantine: int
    faults: str
    byzantine_peers: int

    @property
    def label(self) -> str:
        """A stable key for by-config counts, e.g. 'all v4 b1 p2'."""
        return f"{self.faults} v{self.validators} b{self.byzantine} p{self.byzantine_peers}"

    def flags(self, plant: str | None) -> str:
        """The `govchain sim` options that run this shape (all named: defaults vary)."""
        text = (
            f"--validators {self.validators} --byzantine {self.byzantine}"
            f" --faults {self.faults} --byzantine-peers {self.byzantine_peers}"
        )
        return text + (f" --plant {plant}" if plant else "")


def soak_shape(seed: int) -> SoakShape:
    """The shape seed runs in a soak; a pure function of the seed."""
    # A str seeds Random through SHA-512: the same draw in every process, whatever
    # PYTHONHASHSEED; and its own PRNG, so the shape does not follow seed parity
    # (even seeds reweigh a validator, docs/simulator.md).
    rng = random.Random(f"{MIX_VERSION}/{seed}")
    validators, byzantine = _weighted(rng, [((v, b), w) for v, b, w in VALIDATOR_MIX])
    faults = rng.choice(FAULTS_MIX)
    peers = _weighted(rng, list(PEERS_MIX))
    return SoakShape(validators, byzantine, faults, peers)


def soak_config(seed: int, plant: str | None) -> SimConfig:
    """The SimConfig that seed runs in a soak: exactly what its replay command builds."""
    shape = soak_shape(seed)
    return SimConfig(
        seed=seed,
        validators=shape.validators,
        byzantine=shape.byzantine,
        faults=shape.faults,
        plant=plant,
        byzantine_peers=shape.byzantine_peers,
    )


def replay_command(seed: int, plant: str | None) -> str:
    """The one `govchain sim` command that replays seed's soak run exactly."""
    return f"govchain sim --seeds {seed} {soak_shape(seed).flags(plant)}"


def _weighted(rng: random.Random, choices: list[tuple[T, int]]) -> T:
    """One of choices, drawn by weight."""
    total = sum(w for _, w in choices)
    pick = rng.randrange(total)
    for value, weight in choices:
        if pick < weight:
            return value
        pick -= weight
    raise AssertionError("weights exhausted")  # unreachable: pick < total
