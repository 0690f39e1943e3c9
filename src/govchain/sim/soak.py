"""The long simulation soak: many seeds over the mix, streamed, resumable, budgeted."""

from __future__ import annotations

import os
import resource
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from govchain.sim.cluster import Simulation
from govchain.sim.soak_journal import JournalWriter, read_journal
from govchain.sim.soak_mix import soak_config, soak_shape
from govchain.sim.soak_tally import SeedOutcome, SeedViolation, SoakTally

# Seeds handed to the pool ahead of the results read back, per worker: enough to
# keep workers busy, few enough that a time budget stops the soak soon after.
IN_FLIGHT_PER_WORKER = 2


def soak_one(seed: int, plant: str | None) -> SeedOutcome:
    """Run seed in its soak shape and keep only the outcome (runs in a worker)."""
    cfg = soak_config(seed, plant)
    started = time.process_time()
    try:
        r = Simulation(cfg).run()
    except Exception as exc:  # a crash of the simulated code is a finding, not the end
        where = traceback.extract_tb(exc.__traceback__)[-1]
        detail = f"{type(exc).__name__}: {exc} ({where.filename}:{where.lineno})"
        return SeedOutcome(
            seed=seed,
            config=soak_shape(seed).label,
            violations=[SeedViolation("exception", 0, detail)],
            checkpoints=0,
            txs_final=0,
            accepted=0,
            crashed_after_accept=False,
            steps=0,
            messages=0,
            cpu_s=time.process_time() - started,
        )
    return SeedOutcome(
        seed=seed,
        config=soak_shape(seed).label,
        violations=[SeedViolation(v.invariant, v.step, v.detail) for v in r.violations],
        checkpoints=r.checkpoints,
        txs_final=r.txs_final,
        accepted=r.accepted,
        crashed_after_accept=bool(r.crashed_after_accept),
        steps=r.steps,
        messages=r.messages,
        cpu_s=time.process_time() - started,
    )


@dataclass(frozen=True, slots=True)
class SoakPlan:
    """What to soak: the seeds, a plant, workers, a time budget and a journal."""

    seeds: range
    plant: str | None = None
    workers: int = 1
    time_budget_s: float | None = None  # stop handing out seeds after this much wall time
    journal: Path | None = None


@dataclass(slots=True)
class SoakRun:
    """A finished (or budget-stopped) soak: the tally and what the run cost."""

    tally: SoakTally
    stopped: str  # "done" or "time_budget"
    wall_s: float
    cpu_processes_s: float  # this process and its reaped workers, user + system
    workers: int


def run_soak(
    plan: SoakPlan, on_outcome: Callable[[SeedOutcome, SoakTally], None] | None = None
) -> SoakRun:
    """Run plan's seeds, counting each outcome as it arrives; resume from its journal."""
    tally = SoakTally(
        seeds_planned=len(plan.seeds),
        seed_first=plan.seeds.start,
        seed_last=plan.seeds.stop - 1,
        plant=plan.plant,
    )
    done: set[int] = set()
    if plan.journal is not None:
        for o in read_journal(plan.journal, plan.plant):
            if o.seed in plan.seeds and o.seed not in done:
                done.add(o.seed)
                tally.add(o, resumed=True)
    todo = [s for s in plan.seeds if s not in done]
    # No writer when nothing is left to run: reading a finished journal (or one a
    # running soak is still writing) to print its document leaves the file alone.
    writer = JournalWriter(plan.journal, plan.plant) if plan.journal and todo else None
    workers = plan.workers or os.cpu_count() or 1
    started = time.monotonic()

    def in_budget() -> bool:
        budget = plan.time_budget_s
        return budget is None or time.monotonic() - started < budget

    stopped = "done"
    try:
        for o in _outcomes(todo, plan.plant, workers, in_budget):
            tally.add(o)
            if writer is not None:
                writer.append(o)
            if on_outcome is not None:
                on_outcome(o, tally)
    finally:
        if writer is not None:
            writer.close()
    if tally.seeds < len(plan.seeds):
        stopped = "time_budget"
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return SoakRun(
        tally=tally,
        stopped=stopped,
        wall_s=time.monotonic() - started,
        cpu_processes_s=me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
        workers=workers,
    )


def _outcomes(
    seeds: list[int], plant: str | None, workers: int, in_budget: Callable[[], bool]
) -> Iterator[SeedOutcome]:
    """Outcomes as they finish, handing out seeds in order while in budget."""
    if workers == 1:
        for s in seeds:
            if not in_budget():
                return
            yield soak_one(s, plant)
        return
    pending = iter(seeds)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        running: set[Future[SeedOutcome]] = set()

        def refill() -> None:
            while len(running) < workers * IN_FLIGHT_PER_WORKER and in_budget():
                s = next(pending, None)
                if s is None:
                    return
                running.add(pool.submit(soak_one, s, plant))

        refill()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                running.discard(f)
                yield f.result()
            refill()
