"""Run many seeds (in parallel processes) and summarise what the checkers found."""

from __future__ import annotations

import os
import re
import statistics
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from govchain.sim.cluster import SimConfig, SimResult, Simulation

SEEDS_COUNT_MAX = 1_000_000


def parse_seeds(text: str) -> range:
    """'A..B' (inclusive) or a single 'A' -> the seeds to run."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", text)
    if m is None:
        raise ValueError(f"seeds must look like A..B or A, got {text!r}")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) is not None else lo
    if hi < lo:
        raise ValueError(f"seed range {lo}..{hi} is empty")
    if hi - lo + 1 > SEEDS_COUNT_MAX:
        raise ValueError(f"at most {SEEDS_COUNT_MAX} seeds per run")
    return range(lo, hi + 1)


def run_one(cfg: SimConfig) -> SimResult:
    """One seed, start to finish."""
    return Simulation(cfg).run()


@dataclass(slots=True)
class Summary:
    """Everything `govchain sim --json` prints."""

    results: list[SimResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON document, with extra detail after the required keys."""
        cps = [r.checkpoints for r in self.results]
        violations = [
            {"seed": r.seed, "invariant": v.invariant, "step": v.step, "detail": v.detail}
            for r in self.results
            for v in r.violations
        ]
        return {
            "seeds": len(self.results),
            "violations": violations,
            "checkpoints_min": min(cps, default=0),
            "checkpoints_median": int(statistics.median(cps)) if cps else 0,
            "steps_total": sum(r.steps for r in self.results),
            "messages_total": sum(r.messages for r in self.results),
            "txs_final_total": sum(r.txs_final for r in self.results),
            "failing_seeds": sorted({r.seed for r in self.results if r.violations}),
            # Transactions answered 202 by honest nodes before the heal, and the runs
            # in which a node crashed right after a 202 and never returned.
            "accepted_total": sum(r.accepted for r in self.results),
            "crashed_after_accept_seeds": sum(1 for r in self.results if r.crashed_after_accept),
            "attacks": _summed([r.attacks for r in self.results]),
            # The warehouse workload's transitions and how they ended ("pledge:executed").
            "warehouse": _summed([r.warehouse for r in self.results]),
        }


def _summed(counts: list[dict[str, int]]) -> dict[str, int]:
    """Counters added up over seeds, keys sorted (a stable document)."""
    total: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    return dict(sorted(total.items()))


def run_seeds(
    configs: list[SimConfig],
    workers: int | None = None,
    on_result: Callable[[SimResult], None] | None = None,
) -> Summary:
    """Run configs across worker processes; results come back in seed order."""
    workers = workers or os.cpu_count() or 1
    summary = Summary()
    results: Iterator[SimResult]
    if workers == 1 or len(configs) < 4:
        results = map(run_one, configs)
        for r in results:
            summary.results.append(r)
            if on_result:
                on_result(r)
        return summary
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for r in pool.map(run_one, configs, chunksize=4):
            summary.results.append(r)
            if on_result:
                on_result(r)
    return summary
