"""`scripts/netns-drill`: the partition drill of issue 16 (see docs/network-faults.md).

Not a `govchain` subcommand: it needs root (network namespaces) and iproute2,
which no other command does. scripts/netns-drill runs this module.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from govchain.node.netns import NetnsError
from govchain.node.netns_drill import DrillConfig, NetnsUnavailableError, run_drill
from govchain.node.netns_live import DrillError
from govchain.node.netns_scenarios import SCENARIO_NAMES

from .common import json_option, reported, show
from .console import people_console
from .output import EXIT_FAILURE, EXIT_USAGE, CliError, example


@click.command("netns-drill", epilog=example("scripts/netns-drill --duration 20 --json"))
@click.option(
    "--duration",
    "duration_s",
    default=20.0,
    show_default=True,
    type=float,
    help="seconds each fault is held before it is healed",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    type=click.Choice(SCENARIO_NAMES),
    help="run only this scenario (repeat for more; default: all, in this order: "
    + ", ".join(SCENARIO_NAMES)
    + ")",
)
@click.option(
    "--rate", "rate_per_s", default=20.0, show_default=True, type=float, help="transfers per second"
)
@click.option("--senders", default=10, show_default=True, type=int, help="concurrent senders")
@click.option(
    "--resume-limit",
    "resume_limit_s",
    default=10.0,
    show_default=True,
    type=float,
    help="seconds after a heal by which every node must pass the height of the heal",
)
@click.option(
    "--drain-timeout",
    "drain_timeout_s",
    default=60.0,
    show_default=True,
    type=float,
    help="seconds to wait for promised transactions to be final",
)
@click.option("--seed", default=1, show_default=True, type=int, help="the load's and flaps' seed")
@click.option("--no-netem", "no_netem", is_flag=True, help="no delay and loss on the links")
@click.option(
    "--dir",
    "work_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="keep the nodes' homes and logs here (a new directory; default: a temporary one)",
)
@json_option
@reported
def netns_drill(
    duration_s: float,
    scenarios: tuple[str, ...],
    rate_per_s: float,
    senders: int,
    resume_limit_s: float,
    drain_timeout_s: float,
    seed: int,
    no_netem: bool,
    work_dir: Path | None,
    as_json: bool,
) -> None:
    """Partition 4 validators and an observer in network namespaces; exit 1 on a fork or loss."""
    cfg = DrillConfig(
        duration_s=duration_s,
        rate_per_s=rate_per_s,
        senders=senders,
        seed=seed,
        scenarios=scenarios or SCENARIO_NAMES,
        resume_limit_s=resume_limit_s,
        drain_timeout_s=drain_timeout_s,
        netem=not no_netem,
        work_dir=work_dir,
    )
    try:
        cfg.check()
    except ValueError as exc:
        raise CliError("bad_argument", str(exc), EXIT_USAGE) from None
    if work_dir is not None and work_dir.exists() and any(work_dir.iterdir()):
        raise CliError("bad_argument", f"--dir {work_dir} is not empty", EXIT_USAGE)
    console = people_console(stderr=True)
    try:
        doc = run_drill(cfg, None if as_json else console.print)
    except NetnsUnavailableError as exc:
        raise CliError("netns_unavailable", str(exc), EXIT_FAILURE) from None
    except (NetnsError, DrillError) as exc:
        raise CliError("drill_failed", str(exc), EXIT_FAILURE) from None
    show(doc, as_json, None if as_json else "netns drill")
    if not doc["ok"]:
        if not as_json:
            for reason in doc["failures"]:
                console.print(f"[red]failed:[/red] {reason}")
        sys.exit(EXIT_FAILURE)


if __name__ == "__main__":
    netns_drill(prog_name="scripts/netns-drill")
