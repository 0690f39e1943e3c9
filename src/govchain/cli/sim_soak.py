"""`govchain sim --soak`: the long run over the mix, its progress lines and its report."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any, NoReturn

import click
from rich.table import Table

from govchain.sim.soak import SoakPlan, SoakRun, run_soak
from govchain.sim.soak_journal import JournalError
from govchain.sim.soak_mix import replay_command
from govchain.sim.soak_tally import SeedOutcome, SoakTally

from .console import people_console
from .output import EXIT_FAILURE, EXIT_USAGE, CliError, emit_json, fail

# A progress line at most this often (and at once for a failing seed): a log of an
# hour's soak stays a page long.
PROGRESS_EVERY_S = 30.0


class _Progress:
    """Progress lines on stderr: seeds, violations, CPU, wall time, estimate."""

    def __init__(self, planned: int) -> None:
        self.planned = planned
        self.started = time.monotonic()
        self.last = self.started

    def __call__(self, o: SeedOutcome, tally: SoakTally) -> None:
        now = time.monotonic()
        if o.violations:
            v = o.violations[0]
            more = f" (+{len(o.violations) - 1} more)" if len(o.violations) > 1 else ""
            click.echo(
                f"soak: seed {o.seed} ({o.config}) {v.invariant} at step {v.step}:"
                f" {v.detail[:200]}{more}  (replay: {replay_command(o.seed, tally.plant)})",
                err=True,
            )
        if now - self.last < PROGRESS_EVERY_S and tally.seeds < self.planned:
            return
        self.last = now
        wall = now - self.started
        fresh = tally.seeds - tally.resumed
        left = self.planned - tally.seeds
        eta = f", ~{wall / fresh * left / 60:.0f} min left" if fresh and left else ""
        click.echo(
            f"soak: {tally.seeds}/{self.planned} seeds, {tally.violations_total} violations"
            f" in {len(tally.failing_seeds)} seeds, {tally.cpu_s:.0f} s CPU,"
            f" {wall:.0f} s wall{eta}",
            err=True,
        )


def soak_command(plan: SoakPlan, as_json: bool) -> NoReturn:
    """Run the soak, print its document or table, exit 1 on any violation."""
    progress = _Progress(len(plan.seeds))
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        run = run_soak(plan, progress)
    except JournalError as exc:
        fail(CliError("bad_argument", str(exc), EXIT_USAGE), as_json)
    doc = soak_document(run, started_at)
    if as_json:
        emit_json(doc)
    else:
        _print_human(doc)
    sys.exit(EXIT_FAILURE if doc["violations_total"] else 0)


def soak_document(run: SoakRun, started_at: str) -> dict[str, Any]:
    """The tally's document plus how the run went and what it cost."""
    return {
        **run.tally.to_json(),
        "stopped": run.stopped,
        "workers": run.workers,
        "wall_seconds": round(run.wall_s, 1),
        # Per-seed CPU (above, "cpu_seconds") leaves out start-up and the pool's own
        # work; this is every process of this invocation, resumed seeds excluded.
        "cpu_seconds_processes": round(run.cpu_processes_s, 1),
        "started_at": started_at,
    }


def _print_human(doc: dict[str, Any]) -> None:
    console = people_console()
    table = Table(title="govchain sim --soak: by configuration")
    table.add_column("faults validators byzantine peers")
    table.add_column("seeds", justify="right")
    table.add_column("failing", justify="right")
    for label, c in doc["by_config"].items():
        table.add_row(label, str(c["seeds"]), str(c["failing"]))
    console.print(table)
    console.print(
        f"{doc['seeds']} of {doc['seeds_planned']} seeds ({doc['stopped']}),"
        f" {doc['violations_total']} violations in {len(doc['failing_seeds'])} seeds;"
        f" {doc['checkpoints_total']} checkpoints, {doc['txs_final_total']} final txs;"
        f" {doc['cpu_seconds']} s CPU, {doc['wall_seconds']} s wall"
    )
    for v in doc["violations"][:20]:
        console.print(
            f"[red]seed {v['seed']}[/red] ({v['config']}): {v['invariant']} at step"
            f" {v['step']}: {v['detail']}  (replay: {v['replay']})"
        )
