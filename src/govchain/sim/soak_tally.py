"""What a soak keeps of each seed (a small outcome) and the running totals it prints."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from govchain.sim.soak_mix import (
    FAULTS_MIX,
    MIX_VERSION,
    PEERS_MIX,
    VALIDATOR_MIX,
    replay_command,
)

# Violations kept with their detail for the report; the rest are only counted.
# A planted soak fails nearly every seed, and 10,000 details would be the memory
# the soak is built not to hold.
VIOLATIONS_KEPT_MAX = 200
# One mistake breaks many receipts at once (a plant gave 27 in one step): the first
# few of each seed say what broke, and leave room for other seeds.
VIOLATIONS_KEPT_PER_SEED_MAX = 5
DETAIL_CHARS_MAX = 600


@dataclass(frozen=True, slots=True)
class SeedViolation:
    """One broken invariant of one seed, as the checker reported it."""

    invariant: str
    step: int
    detail: str


@dataclass(frozen=True, slots=True)
class SeedOutcome:
    """What a soak keeps of one seed's run (the SimResult itself is dropped)."""

    seed: int
    config: str  # SoakShape.label
    violations: list[SeedViolation]
    checkpoints: int
    txs_final: int
    accepted: int
    crashed_after_accept: bool
    steps: int
    messages: int
    cpu_s: float  # process CPU time of this seed's run, in whichever process ran it


@dataclass(slots=True)
class ConfigCount:
    """Seeds run and seeds failed for one key of a by-config table."""

    seeds: int = 0
    failing: int = 0


@dataclass(slots=True)
class SoakTally:
    """Running totals over a soak's outcomes: what `govchain sim --soak --json` prints."""

    seeds_planned: int
    seed_first: int
    seed_last: int
    plant: str | None
    seeds: int = 0
    resumed: int = 0
    violations_total: int = 0
    kept: list[dict[str, Any]] = field(default_factory=list)
    failing_seeds: list[int] = field(default_factory=list)
    by_invariant: dict[str, int] = field(default_factory=dict)  # every violation counted
    by_config: dict[str, ConfigCount] = field(default_factory=dict)
    checkpoints: list[int] = field(default_factory=list)  # one int a seed: 80 KB at 10,000
    txs_final_total: int = 0
    accepted_total: int = 0
    crashed_after_accept_seeds: int = 0
    steps_total: int = 0
    messages_total: int = 0
    cpu_s: float = 0.0

    def add(self, o: SeedOutcome, *, resumed: bool = False) -> None:
        """Count one seed's outcome (resumed: read back from a journal)."""
        self.seeds += 1
        self.resumed += resumed
        count = self.by_config.setdefault(o.config, ConfigCount())
        count.seeds += 1
        if o.violations:
            count.failing += 1
            self.failing_seeds.append(o.seed)
        for i, v in enumerate(o.violations):
            self.violations_total += 1
            self.by_invariant[v.invariant] = self.by_invariant.get(v.invariant, 0) + 1
            if i < VIOLATIONS_KEPT_PER_SEED_MAX:
                self.kept.append(
                    {
                        "seed": o.seed,
                        "config": o.config,
                        "invariant": v.invariant,
                        "step": v.step,
                        "detail": v.detail[:DETAIL_CHARS_MAX],
                        "replay": replay_command(o.seed, self.plant),
                    }
                )
        if len(self.kept) > VIOLATIONS_KEPT_MAX:
            # The lowest seeds stay, whatever order parallel workers finish them in.
            self.kept.sort(key=lambda v: int(v["seed"]))
            del self.kept[VIOLATIONS_KEPT_MAX:]
        self.checkpoints.append(o.checkpoints)
        self.txs_final_total += o.txs_final
        self.accepted_total += o.accepted
        self.crashed_after_accept_seeds += o.crashed_after_accept
        self.steps_total += o.steps
        self.messages_total += o.messages
        self.cpu_s += o.cpu_s

    def to_json(self) -> dict[str, Any]:
        """The soak's document: the sim's required keys first, then the soak's own."""
        cps = self.checkpoints
        return {
            "seeds": self.seeds,
            "violations": sorted(self.kept, key=lambda v: int(v["seed"])),
            "checkpoints_min": min(cps, default=0),
            "checkpoints_median": int(statistics.median(cps)) if cps else 0,
            "violations_total": self.violations_total,
            "failing_seeds": sorted(self.failing_seeds),
            "by_invariant": dict(sorted(self.by_invariant.items())),
            "seeds_planned": self.seeds_planned,
            "seed_range": [self.seed_first, self.seed_last],
            "resumed_seeds": self.resumed,
            "plant": self.plant,
            "mix": {
                "version": MIX_VERSION,
                "validators_byzantine_weight": [list(x) for x in VALIDATOR_MIX],
                "faults": list(FAULTS_MIX),
                "byzantine_peers_weight": [list(x) for x in PEERS_MIX],
            },
            "by_config": {
                k: {"seeds": c.seeds, "failing": c.failing}
                for k, c in sorted(self.by_config.items())
            },
            "by_faults": self._marginal(0),
            "by_validators": self._marginal(1, 2),
            "by_byzantine_peers": self._marginal(3),
            "checkpoints_total": sum(cps),
            "txs_final_total": self.txs_final_total,
            "accepted_total": self.accepted_total,
            "crashed_after_accept_seeds": self.crashed_after_accept_seeds,
            "steps_total": self.steps_total,
            "messages_total": self.messages_total,
            "cpu_seconds": round(self.cpu_s, 1),
        }

    def _marginal(self, *parts: int) -> dict[str, dict[str, int]]:
        """by_config summed over every label word but those at parts ('all v4 b1 p2')."""
        out: dict[str, ConfigCount] = {}
        for label, c in self.by_config.items():
            words = label.split()
            key = " ".join(words[i] for i in parts)
            m = out.setdefault(key, ConfigCount())
            m.seeds += c.seeds
            m.failing += c.failing
        return {k: {"seeds": c.seeds, "failing": c.failing} for k, c in sorted(out.items())}
