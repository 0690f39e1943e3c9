"""Consensus throughput in the deterministic simulator, faults="none".

For n = 4, 7, 10 validators and a few seeds, runs Simulation(SimConfig(...)) with a
longer safety phase (safety_ms=10_000 by default) so the counts reflect steady
progress rather than the liveness target: Simulation.run() stops as soon as every
honest node reaches (height at heal + liveness_checkpoints). Reports checkpoints per
simulated second, messages per checkpoint (split by message type), and wall-clock
seconds per simulated second, with raw Ed25519 verify/s beside them.

    PYTHONPATH=src python bench/bench_consensus.py [--quick] [--json]
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from typing import Any, cast

import govchain.consensus.messages as consensus_messages
import govchain.dag.admission as admission
from common import (
    Reporter,
    arg_parser,
    fmt_opt,
    fmt_rate,
    load_note,
    machine_info,
    machine_line,
    raw_verify_rate,
    set_clock,
)
from govchain.sim.cluster import SimConfig, Simulation

VALIDATORS = (4, 7, 10)


class VerifyCounter:
    """Counts Ed25519 verifications by wrapping the name the callers import.

    Patches module attributes at run time only (no source is changed); the
    wrapper costs well under 1% of a verification.
    """

    def __init__(self) -> None:
        self.count = 0
        self._saved: list[tuple[Any, Any]] = []

    def install(self) -> None:
        # Any: mypy knows a module's attributes but not that they can be reassigned.
        modules: tuple[Any, ...] = (consensus_messages, admission)
        for mod in modules:
            original = mod.verify

            def counting(*args: Any, _f: Any = original, **kwargs: Any) -> bool:
                self.count += 1
                return bool(_f(*args, **kwargs))

            self._saved.append((mod, original))
            mod.verify = counting

    def uninstall(self) -> None:
        for mod, original in self._saved:
            mod.verify = original
        self._saved.clear()


def run_one(validators: int, seed: int, safety_ms: int, counter: VerifyCounter) -> dict[str, Any]:
    """One simulated run; figures from its end state."""
    sim = Simulation(
        SimConfig(seed=seed, validators=validators, faults="none", safety_ms=safety_ms)
    )
    by_type: Counter[str] = Counter()
    send_all = getattr(sim, "_send_all", None)  # a private hook: count by type if it exists
    if send_all is not None:

        def counting_send_all(node: Any, sends: list[tuple[str, Any]]) -> None:
            for _, msg in sends:
                by_type[type(msg).__name__] += 1
            send_all(node, sends)

        sim._send_all = counting_send_all  # type: ignore[method-assign]
    verifies_before = counter.count
    t0, c0 = time.perf_counter(), time.process_time()
    result = sim.run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    sim_s = sim.now_ms / 1000
    cps = result.checkpoints
    return {
        "validators": validators,
        "seed": seed,
        "violations": len(result.violations),
        "checkpoints": cps,
        "simulated_s": sim_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "steps": result.steps,
        "messages": result.messages,
        "messages_by_type": dict(sorted(by_type.items())) if send_all is not None else None,
        "txs_final": result.txs_final,
        "verifies": counter.count - verifies_before,
        "checkpoints_per_sim_s": cps / sim_s,
        "messages_per_checkpoint": result.messages / cps if cps else None,
        "wall_s_per_sim_s": wall / sim_s,
        "cpu_s_per_sim_s": cpu / sim_s,
    }


def summarize(runs: list[dict[str, Any]], raw: float) -> dict[str, Any]:
    """Mean figures over the seeds of one validator count."""
    cps = sum(r["checkpoints"] for r in runs)

    def mean(key: str) -> float:
        return cast(float, statistics.mean(r[key] for r in runs))

    consensus = ("ProposalMsg", "VoteMsg", "CommitMsg", "CommitRequest")
    typed = all(r["messages_by_type"] is not None for r in runs)
    consensus_msgs = (
        sum(r["messages_by_type"].get(k, 0) for r in runs for k in consensus) if typed else None
    )
    verifies = sum(r["verifies"] for r in runs)
    cpu = sum(r["cpu_s"] for r in runs)
    return {
        "validators": runs[0]["validators"],
        "seeds": [r["seed"] for r in runs],
        "violations": sum(r["violations"] for r in runs),
        "checkpoints_per_sim_s": mean("checkpoints_per_sim_s"),
        "messages_per_checkpoint": sum(r["messages"] for r in runs) / cps if cps else None,
        "consensus_messages_per_checkpoint": (
            consensus_msgs / cps if cps and consensus_msgs is not None else None
        ),
        "wall_s_per_sim_s": mean("wall_s_per_sim_s"),
        "cpu_s_per_sim_s": mean("cpu_s_per_sim_s"),
        "txs_final_per_sim_s": mean("txs_final") / mean("simulated_s"),
        "verifies_per_checkpoint": verifies / cps if cps else None,
        # Share of CPU time that the counted verifications would take at the raw rate.
        "verify_share_of_cpu": (verifies / raw) / cpu if cpu else None,
    }


def main() -> None:
    p = arg_parser(__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, help="seeds per validator count (default 3, quick 1)")
    p.add_argument("--safety-ms", type=int, help="safety phase (default 10000, quick 6000)")
    p.add_argument("--verify-seconds", type=float, help="raw verify time (default 2, quick 0.6)")
    args = p.parse_args()
    set_clock(args.clock)
    seeds = args.seeds or (1 if args.quick else 3)
    safety_ms = args.safety_ms or (6_000 if args.quick else 10_000)
    verify_s = args.verify_seconds or (0.6 if args.quick else 2.0)
    out = Reporter(args.json)
    info = machine_info()

    raw_before = raw_verify_rate(verify_s / 2)
    counter = VerifyCounter()
    counter.install()
    runs: list[dict[str, Any]] = []
    try:
        for n in VALIDATORS:
            for seed in range(1, seeds + 1):
                out.progress(f"simulating n={n} seed={seed} safety_ms={safety_ms}...")
                runs.append(run_one(n, seed, safety_ms, counter))
    finally:
        counter.uninstall()
    raw_after = raw_verify_rate(verify_s / 2)
    raw = statistics.mean([raw_before, raw_after])
    summary = [summarize([r for r in runs if r["validators"] == n], raw) for n in VALIDATORS]

    result: dict[str, Any] = {
        "bench": "consensus",
        "quick": args.quick,
        "clock": args.clock,
        "machine": info,
        "faults": "none",
        "safety_ms": safety_ms,
        "seeds_per_size": seeds,
        "raw_verify_per_s": raw,
        "raw_verify_per_s_before": raw_before,
        "raw_verify_per_s_after": raw_after,
        "summary": summary,
        "runs": runs,
    }

    out.line(f"machine: {machine_line(info)}")
    note = load_note(info)
    if note:
        out.line(note)
    out.line(
        f"consensus (simulator, faults=none, safety_ms={safety_ms}, seeds 1..{seeds}; "
        "means over seeds)"
    )
    out.line()
    out.line(
        f"  {'n':>3} {'cp/sim s':>9} {'msgs/cp':>8} {'cons msgs/cp':>13} {'verifies/cp':>12} "
        f"{'wall s/sim s':>13} {'CPU s/sim s':>12} {'verify % CPU':>13} {'violations':>11}"
    )
    for s in summary:
        out.line(
            f"  {s['validators']:>3} {s['checkpoints_per_sim_s']:>9.2f} "
            f"{fmt_opt(s['messages_per_checkpoint'], '>8.1f')} "
            f"{fmt_opt(s['consensus_messages_per_checkpoint'], '>13.1f')} "
            f"{fmt_opt(s['verifies_per_checkpoint'], '>12.1f')} {s['wall_s_per_sim_s']:>13.3f} "
            f"{s['cpu_s_per_sim_s']:>12.3f} {fmt_opt(s['verify_share_of_cpu'], '>13.1%')} "
            f"{s['violations']:>11}"
        )
    out.line(f"  raw Ed25519 verify: {fmt_rate(raw)} /s ({args.clock} clock)")
    out.line(
        "  msgs/cp counts every message sent (transaction gossip included); cons msgs/cp "
        "only proposals, votes and commit traffic;"
    )
    out.line(
        "  verify % CPU: counted Ed25519 verifications (votes, proposals, certificates, "
        "transactions) at the raw rate, as a share of the simulator's CPU time."
    )
    out.emit(result)


if __name__ == "__main__":
    main()
