"""`govchain devnet`: start (or resume) the local network in the foreground; drills below.

See docs/devnet.md for the lifecycle, the lock and the drills.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.table import Table

from govchain.node.devnet import StopOutcome, check_shape, exit_text, resolve_dir
from govchain.node.devnet_lock import DevnetRunningError
from govchain.node.devnet_start import (
    DevnetConflictError,
    ResetDeclinedError,
    StartOptions,
    start,
)
from govchain.node.errors import DevnetError
from govchain.state.genesis import CHECKPOINT_INTERVAL_MS_MAX, EMPTY_CHECKPOINT_INTERVAL_MS_MAX

from .common import json_option, reported
from .console import people_console
from .devnet_drill_cmd import DRILLS, dir_option
from .output import EXIT_FAILURE, EXIT_USAGE, CliError, emit_json

EPILOG = """\b
Examples:
  govchain devnet                                  # resume ./devnet, or create 4 validators
  govchain devnet --dir net2 --port-base 28000 --observers 1 --restart
  govchain devnet --reset --yes --validators 7     # delete ./devnet's chain, start fresh
  govchain devnet status        (in another terminal; also kill/stop/start NAME)"""


class DrillGroup(click.Group):
    """Lists its drills in the order they are added (status first), not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The drills' names in order."""
        return list(self.commands)


@click.group(
    "devnet",
    cls=DrillGroup,
    invoke_without_command=True,
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@dir_option
@click.option("--validators", default=4, show_default=True, help="validators of a new devnet")
@click.option(
    "--observers", default=0, show_default=True, help="non-validating nodes of a new devnet"
)
@click.option("--port-base", default=27000, show_default=True, help="first API port (p2p: +100)")
@click.option(
    "--checkpoint-interval",
    "checkpoint_interval_ms",
    default=0,
    show_default=True,
    type=click.IntRange(0, CHECKPOINT_INTERVAL_MS_MAX),
    help="a new devnet's least spacing of checkpoints, in ms (like anvil's --block-time)",
)
@click.option(
    "--empty-checkpoints",
    "empty_checkpoints",
    default="1000",
    show_default=True,
    help="a new devnet's idle heartbeat: an empty checkpoint after this many ms, or never",
)
@click.option("--restart", is_flag=True, help="restart a node that exits (back-off 1 s to 30 s)")
@click.option("--reset", is_flag=True, help="delete DIR's devnet first (asks; see --yes)")
@click.option("--yes", "-y", is_flag=True, help="with --reset: delete without asking")
@json_option
@click.pass_context
@reported
def devnet(
    ctx: click.Context,
    root: Path | None,
    validators: int,
    observers: int,
    port_base: int,
    checkpoint_interval_ms: int,
    empty_checkpoints: str,
    restart: bool,
    reset: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Run a local network of node processes in the foreground; Ctrl-C stops them all.

    Started again on the same DIR, it resumes the same chain; options that
    conflict with it are refused (start fresh with --reset). One devnet per
    DIR: a second start on a running one exits 1. A node that exits does not
    stop the others.
    """
    ctx.ensure_object(dict)
    ctx.obj["dir"] = root
    ctx.obj["as_json"] = as_json
    if ctx.invoked_subcommand is not None:
        return  # a drill: it reads --dir/--json from ctx.obj when not given its own
    sources = {
        "validators": "validators",
        "observers": "observers",
        "port_base": "port_base",
        "checkpoint_interval": "checkpoint_interval_ms",
        "empty_checkpoints": "empty_checkpoints",
    }
    given = frozenset(
        shape
        for shape, param in sources.items()
        if ctx.get_parameter_source(param) is ParameterSource.COMMANDLINE
    )
    try:
        check_shape(validators, observers, port_base)
        empty_ms = _empty_checkpoints_ms(empty_checkpoints)
    except DevnetError as exc:
        raise CliError("bad_argument", str(exc), EXIT_USAGE) from None
    opts = StartOptions(
        resolve_dir(root),
        validators,
        observers,
        port_base,
        given,
        restart,
        reset,
        checkpoint_interval_ms,
        empty_ms,
    )
    ui = StartOutput(opts.root, as_json, yes)
    try:
        outcomes = start(opts, ui)
    except DevnetRunningError as exc:
        raise CliError("devnet_running", str(exc), EXIT_FAILURE) from None
    except DevnetConflictError as exc:
        raise CliError("devnet_conflict", str(exc), EXIT_USAGE) from None
    except ResetDeclinedError as exc:
        raise CliError("reset_declined", str(exc), EXIT_FAILURE) from None
    if not all(o.clean for o in outcomes):
        # The one JSON document was printed when the devnet was ready: no second.
        sys.exit(EXIT_FAILURE)


def _empty_checkpoints_ms(text: str) -> int | None:
    """--empty-checkpoints: milliseconds, or never (None)."""
    if text.strip().lower() == "never":
        return None
    if not text.strip().isdigit() or int(text) > EMPTY_CHECKPOINT_INTERVAL_MS_MAX:
        raise DevnetError(
            f"--empty-checkpoints takes milliseconds (0..{EMPTY_CHECKPOINT_INTERVAL_MS_MAX})"
            " or never"
        )
    return int(text)


for _drill in DRILLS:
    devnet.add_command(_drill)


class StartOutput:
    """What the supervisor reports, for people (stdout) or with --json (one document)."""

    def __init__(self, root: Path, as_json: bool, yes: bool) -> None:
        self.root = root
        self.as_json = as_json
        self.yes = yes
        self.console = people_console(highlight=False)

    def confirm_reset(self, what: str) -> bool:
        """--yes, else ask on the terminal; without one, --yes is required."""
        if self.yes:
            return True
        if not sys.stdin.isatty():
            raise CliError(
                "confirm_required",
                f"--reset deletes {what}: add --yes to confirm without a prompt",
                EXIT_USAGE,
            )
        return click.confirm(f"--reset deletes {what}. Continue?", err=True)

    def ready(self, doc: dict[str, Any]) -> None:
        """The start report: nodes and their logs, genesis accounts, where things are."""
        if self.as_json:
            emit_json(doc)
        else:
            self._print_ready(doc)
        sys.stdout.flush()

    def event(self, text: str) -> None:
        """One line as it happens: stdout for people, stderr beside the --json document."""
        click.echo(text, err=self.as_json)
        (sys.stderr if self.as_json else sys.stdout).flush()

    def stopped(self, outcomes: list[StopOutcome]) -> None:
        """Say how every node ended."""
        for line in stop_lines(outcomes):
            self.event(line)

    def _print_ready(self, doc: dict[str, Any]) -> None:
        c = self.console
        how = "resumed" if doc["resumed"] else "new chain"
        c.print(f"[bold]govchain devnet[/bold] {doc['chain_id']} ({how}) in {_short(self.root)}")
        nodes = Table(box=None, pad_edge=False)
        for col in ("node", "api", "p2p", "validator", "pid", "log"):
            nodes.add_column(col, overflow="fold")
        for n in doc["nodes"]:
            v = "yes" if n["validator"] else "no"
            nodes.add_row(n["name"], n["api"], n["p2p"], v, str(n["pid"]), _short(n["log"]))
        c.print(nodes)
        c.print()
        c.print("[bold]Genesis accounts[/bold] (balances now; key files sign with --key)")
        accounts = Table(box=None, pad_edge=False)
        for col in ("account", "address", "balance", "key file"):
            accounts.add_column(col, overflow="fold")
        for a in doc["accounts"]:
            bal = a["balance"] if a["balance"] is not None else a["genesis_balance"]
            accounts.add_row(_role(a), a["address"], f"{bal:,}", _short(a["key_file"]))
        c.print(accounts)
        c.print()
        c.print(f"explorer     {doc['explorer']}")
        c.print(f"status API   {doc['explorer']}v1/status")
        c.print(f"devnet file  {_short(doc['devnet_file'])}")
        if doc.get("supervisor", {}).get("restart"):
            c.print("--restart: a node that exits is started again")
        c.print(
            "Ctrl-C stops every node. In another terminal: govchain devnet status,"
            " govchain devnet kill|stop|start NAME, govchain logs -f"
            + ("" if self.root == Path("devnet") else f" (with --dir {self.root})")
        )


def stop_lines(outcomes: list[StopOutcome]) -> list[str]:
    """How the nodes ended, in words: one line when all is well."""
    ran = [o for o in outcomes if o.was_running]
    bad = [o for o in ran if not o.clean]
    lines = []
    for o in bad:
        code = o.returncode if o.returncode is not None else 0
        if o.forced:
            lines.append(f"{o.name} did not stop in time: killed ({exit_text(code)})")
        elif code == -signal.SIGTERM:
            # The default action: the node had not yet set up its handler.
            lines.append(f"{o.name} was still starting: ended by SIGTERM, as by a crash")
        else:
            lines.append(f"{o.name} did not stop cleanly ({exit_text(code)})")
    down = [o.name for o in outcomes if not o.was_running]
    if down:
        lines.append(f"not running when the devnet stopped: {', '.join(down)}")
    if not bad and not down:
        lines.append("every node stopped cleanly")
    elif not bad:
        lines.append(f"every running node stopped cleanly ({len(ran)} of {len(outcomes)})")
    return lines


def _role(account: dict[str, Any]) -> str:
    name = str(account["name"])
    if account["role"] == "regulator":
        return f"{name} (committee)"
    return name


def _short(path: str | Path) -> str:
    """A path relative to the working directory when it lies below it."""
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else str(path)
