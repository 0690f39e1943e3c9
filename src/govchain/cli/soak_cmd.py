"""`govchain soak`: the kill -9 soak of issues 10 and 16 (see docs/soak.md)."""

from __future__ import annotations

import sys

import click

from govchain.node.soak import SoakConfig, run_soak

from .common import json_option, reported, show
from .console import people_console
from .output import EXIT_FAILURE, EXIT_USAGE, CliError, example

DEFAULTS = SoakConfig()


@click.command("soak", epilog=example("govchain soak --duration 120 --json"))
@click.option(
    "--validators",
    default=DEFAULTS.validators,
    show_default=True,
    type=int,
    help="validators of the soak's devnet (4..16)",
)
@click.option(
    "--duration",
    "duration_s",
    default=DEFAULTS.duration_s,
    show_default=True,
    type=float,
    help="seconds of load",
)
@click.option(
    "--rate",
    "rate_per_s",
    default=DEFAULTS.rate_per_s,
    show_default=True,
    type=float,
    help="transactions per second (transfers and records)",
)
@click.option(
    "--records",
    "record_share",
    default=DEFAULTS.record_share,
    show_default=True,
    type=float,
    help="share of the load's transactions that are text records (0..1)",
)
@click.option(
    "--gov-every",
    "gov_every_s",
    default=DEFAULTS.gov_every_s,
    show_default=True,
    type=float,
    help="seconds between two governance actions of the regulators (0: none)",
)
@click.option(
    "--senders",
    default=DEFAULTS.senders,
    show_default=True,
    type=int,
    help="concurrent senders, each chaining its own nonces",
)
@click.option(
    "--kill-every",
    "kill_every_s",
    default=DEFAULTS.kill_every_s,
    show_default=True,
    type=float,
    help="seconds between two SIGKILLs of a validator",
)
@click.option(
    "--restart-after",
    "restart_after_s",
    default=DEFAULTS.restart_after_s,
    show_default=True,
    type=float,
    help="seconds a killed validator stays down (below --kill-every)",
)
@click.option(
    "--drain-timeout",
    "drain_timeout_s",
    default=DEFAULTS.drain_timeout_s,
    show_default=True,
    type=float,
    help="seconds to wait after the load for every promised transaction to be final",
)
@click.option(
    "--seed", default=DEFAULTS.seed, show_default=True, type=int, help="the killer's schedule"
)
@json_option
@reported
def soak(
    validators: int,
    duration_s: float,
    rate_per_s: float,
    record_share: float,
    gov_every_s: float,
    senders: int,
    kill_every_s: float,
    restart_after_s: float,
    drain_timeout_s: float,
    seed: int,
    as_json: bool,
) -> None:
    """Load a devnet while validators are killed -9; exit 1 if a check fails.

    Checks: every promised transaction final exactly once with the same
    receipt on every node, no two checkpoints at a height, supply conserved,
    every governance action enacted, each restarted validator caught up within
    20 s.
    """
    cfg = SoakConfig(
        validators=validators,
        duration_s=duration_s,
        rate_per_s=rate_per_s,
        senders=senders,
        kill_every_s=kill_every_s,
        restart_after_s=restart_after_s,
        seed=seed,
        drain_timeout_s=drain_timeout_s,
        record_share=record_share,
        gov_every_s=gov_every_s,
    )
    try:
        cfg.check()
    except ValueError as exc:
        raise CliError("bad_argument", str(exc), EXIT_USAGE) from None
    console = people_console(stderr=True)
    doc = run_soak(cfg, None if as_json else console.print)
    show(doc, as_json, None if as_json else "govchain soak")
    if not doc["ok"]:
        if not as_json:
            for reason in doc["failures"]:
                console.print(f"[red]failed:[/red] {reason}")
        sys.exit(EXIT_FAILURE)
