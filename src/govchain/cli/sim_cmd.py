"""`govchain sim`: run the deterministic simulator over a range of seeds."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from click.core import ParameterSource
from rich.progress import Progress
from rich.table import Table

from govchain.consensus.config import PLANTABLE
from govchain.sim.cluster import (
    ATTACKERS_MAX,
    FAULTS,
    SimConfig,
    SimResult,
    default_byzantine_peers,
)
from govchain.sim.runner import parse_seeds, run_seeds
from govchain.sim.soak import SoakPlan
from govchain.sim.wr_cast import WR_PLANTS

from .console import people_console
from .output import EXIT_FAILURE, EXIT_USAGE, CliError, emit_json, example, fail
from .sim_soak import soak_command

# The node's planted bugs and the simulator's own (the warehouse's double pledge).
PLANTS = PLANTABLE | WR_PLANTS
# A soak draws these from each seed (sim/soak_mix.py): naming one is an error.
SOAK_MIXED = ("validators", "byzantine", "faults", "byzantine_peers")
SOAK_SEEDS_DEFAULT = "1..10000"


@click.command(
    "sim",
    epilog=example(
        "govchain sim --seeds 1..20",
        "govchain sim --seeds 7..7 --faults partition --byzantine 1   # replay one seed",
        "govchain sim --soak --seeds 1..10000 --json > soak.json   # the mix (docs/simulator.md)",
    ),
)
@click.option(
    "--seeds",
    "seeds_text",
    default="1..20",
    show_default=True,
    help=f"the seeds to run: A..B (with --soak default {SOAK_SEEDS_DEFAULT})",
)
@click.option(
    "--validators", default=4, show_default=True, type=int, help="validators per run (1..40)"
)
@click.option(
    "--byzantine",
    default=0,
    show_default=True,
    type=int,
    help="Byzantine validators among them (0..validators; docs/simulator.md)",
)
@click.option(
    "--faults", default="all", show_default=True, help="network faults: " + ", ".join(FAULTS)
)
@click.option(
    "--byzantine-peers",
    "byzantine_peers",
    default=None,
    type=int,
    help=f"attacker peers, no validators (0..{ATTACKERS_MAX}; default: 1 with --faults all)",
)
@click.option("--plant", default=None, help="a planted bug: " + ", ".join(sorted(PLANTS)))
@click.option("--workers", default=0, type=int, help="processes (default: one per core)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON document")
@click.option(
    "--soak",
    is_flag=True,
    help="the long run: each seed draws its faults, validators, Byzantine validators"
    " and peers (docs/simulator.md, Soak)",
)
@click.option(
    "--time-budget",
    "time_budget_s",
    default=None,
    type=float,
    help="with --soak: hand out no new seed after this many seconds of wall time",
)
@click.option(
    "--journal",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="with --soak: a file of finished seeds; a soak run again with it resumes",
)
@click.pass_context
def sim(
    ctx: click.Context,
    seeds_text: str,
    validators: int,
    byzantine: int,
    faults: str,
    byzantine_peers: int | None,
    plant: str | None,
    workers: int,
    as_json: bool,
    soak: bool,
    time_budget_s: float | None,
    journal: Path | None,
) -> None:
    """Run N real cores per seed over a simulated network; exit 0 only with no violation."""
    try:
        _check_soak_options(ctx, soak, time_budget_s, journal)
        if soak and ctx.get_parameter_source("seeds_text") == ParameterSource.DEFAULT:
            seeds_text = SOAK_SEEDS_DEFAULT
        seeds = parse_seeds(seeds_text)
        if faults not in FAULTS:
            raise ValueError(f"--faults must be one of {', '.join(FAULTS)}")
        if plant is not None and plant not in PLANTS:
            raise ValueError(f"--plant must be one of {', '.join(sorted(PLANTS))}")
        if not 1 <= validators <= 40:
            raise ValueError("--validators must lie in 1..40")
        if not 0 <= byzantine <= validators:
            raise ValueError("--byzantine must lie in 0..validators")
        if byzantine_peers is None:
            byzantine_peers = default_byzantine_peers(faults)
        if not 0 <= byzantine_peers <= ATTACKERS_MAX:
            raise ValueError(f"--byzantine-peers must lie in 0..{ATTACKERS_MAX}")
        if workers < 0:
            raise ValueError("--workers must be 0 (one per core) or more")
    except ValueError as exc:
        fail(CliError("bad_argument", str(exc), EXIT_USAGE), as_json)
    if soak:
        soak_command(SoakPlan(seeds, plant, workers, time_budget_s, journal), as_json)
    configs = [
        SimConfig(
            seed=s,
            validators=validators,
            byzantine=byzantine,
            faults=faults,
            plant=plant,
            byzantine_peers=byzantine_peers,
        )
        for s in seeds
    ]
    console = people_console(stderr=True)
    if as_json or not sys.stderr.isatty():
        summary = run_seeds(configs, workers or None)
    else:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("simulating", total=len(configs))

            def advance(_: SimResult) -> None:
                progress.advance(task)

            summary = run_seeds(configs, workers or None, advance)
    doc = summary.to_json()
    if as_json:
        emit_json(doc)
    else:
        flags = (
            f" --validators {validators} --byzantine {byzantine} --faults {faults}"
            f" --byzantine-peers {byzantine_peers}"
        )
        _print_human(doc, flags + (f" --plant {plant}" if plant else ""))
    sys.exit(EXIT_FAILURE if doc["violations"] else 0)


def _check_soak_options(
    ctx: click.Context, soak: bool, time_budget_s: float | None, journal: Path | None
) -> None:
    """--soak mixes the cluster's shape itself; its own options need --soak."""
    if soak:
        named = [
            "--" + n.replace("_", "-")
            for n in SOAK_MIXED
            if ctx.get_parameter_source(n) != ParameterSource.DEFAULT
        ]
        if named:
            raise ValueError(f"--soak draws {', '.join(named)} from each seed: leave them out")
    elif time_budget_s is not None or journal is not None:
        raise ValueError("--time-budget and --journal go with --soak")
    if time_budget_s is not None and not time_budget_s > 0:
        raise ValueError("--time-budget must be a positive number of seconds")


def _print_human(doc: dict[str, object], replay_flags: str) -> None:
    console = people_console()
    table = Table(title="govchain sim")
    table.add_column("seeds", justify="right")
    table.add_column("violations", justify="right")
    table.add_column("checkpoints min", justify="right")
    table.add_column("checkpoints median", justify="right")
    table.add_column("final txs", justify="right")
    violations = doc["violations"]
    assert isinstance(violations, list)
    table.add_row(
        str(doc["seeds"]),
        str(len(violations)),
        str(doc["checkpoints_min"]),
        str(doc["checkpoints_median"]),
        str(doc["txs_final_total"]),
    )
    console.print(table)
    for v in violations[:20]:
        console.print(
            f"[red]seed {v['seed']}[/red]: {v['invariant']} at step {v['step']}: {v['detail']}"
            f"  (replay: govchain sim --seeds {v['seed']}{replay_flags})"
        )
