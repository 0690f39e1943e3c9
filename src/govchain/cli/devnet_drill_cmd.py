"""`govchain devnet status|kill|stop|start`: drills on a running devnet, through its supervisor."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx
from rich.table import Table

from govchain.node.devnet import READY_POLL_S, READY_TIMEOUT_S, resolve_dir
from govchain.node.devnet_control import NotRunningError, ask
from govchain.node.devnet_status import CONTROL_TIMEOUT_S, NoDevnetError, devnet_status

from .common import json_option, reported, show
from .console import people_console
from .output import EXIT_FAILURE, EXIT_USAGE, CliError

F = TypeVar("F", bound=Callable[..., Any])

dir_option = click.option(
    "--dir",
    "root",
    type=click.Path(path_type=Path),
    default=None,
    help="the devnet's directory (default: $GOVCHAIN_DEVNET, else ./devnet)",
)


def _group_option(name: str) -> Any:
    """An option given to the group (`govchain devnet --dir X --json <drill>`), if any."""
    ctx = click.get_current_context(silent=True)
    parent = ctx.parent if ctx is not None else None
    return parent.obj.get(name) if parent is not None and isinstance(parent.obj, dict) else None


def from_group(fn: F) -> F:
    """A drill's --dir and --json, else the group's; --dir resolved (resolve_dir)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        root = kwargs.get("root") or _group_option("dir")
        kwargs["root"] = resolve_dir(root)
        kwargs["as_json"] = bool(kwargs.get("as_json") or _group_option("as_json"))
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _ask(root: Path, op: str, name: str) -> dict[str, Any]:
    try:
        reply = ask(root, {"op": op, "node": name}, CONTROL_TIMEOUT_S)
    except NotRunningError:
        raise CliError(
            "not_running",
            f"no devnet is running in {root}: start it with govchain devnet --dir {root}"
            " (or ./scripts/start)",
            EXIT_FAILURE,
        ) from None
    if not reply.get("ok"):
        code = str(reply.get("code", "drill_failed"))
        exit_code = EXIT_USAGE if code == "unknown_node" else EXIT_FAILURE
        raise CliError(code, str(reply.get("message", "the supervisor refused")), exit_code)
    return reply


@click.command("status", epilog="\b\nExample:\n  govchain devnet status --dir devnet2")
@dir_option
@json_option
@from_group
@reported
def status(root: Path, as_json: bool) -> None:
    """Each node's pid, state, height, peers and whether it is behind."""
    try:
        doc = devnet_status(root)
    except NoDevnetError as exc:
        raise CliError(
            "no_devnet", f"{exc}: start one with govchain devnet --dir {root}", EXIT_FAILURE
        ) from None
    if as_json:
        show(doc, True)
        return
    _print_status(doc)


def _print_status(doc: dict[str, Any]) -> None:
    c = people_console(highlight=False)
    if doc["running"]:
        extra = ", --restart" if doc["restart"] else ""
        state = f"running (supervisor pid {doc['supervisor_pid']}{extra})"
    else:
        state = "not running (pids are the last ones seen)"
    c.print(f"devnet {doc['chain_id']} in {doc['dir']}: {state}")
    table = Table(box=None, pad_edge=False)
    for col in ("node", "state", "pid", "height", "peers", "behind", "restarts", "last exit"):
        table.add_column(col)
    for n in doc["nodes"]:
        behind = {None: "-", True: "yes", False: "no"}[n["behind"]]
        if n["catching_up"]:
            behind = "yes (catching up)"
        table.add_row(
            n["name"],
            n["state"],
            str(n["pid"]),
            "-" if n["height"] is None else str(n["height"]),
            "-" if n["peers"] is None else str(n["peers"]),
            behind,
            str(n["restarts"]),
            n["last_exit"] or "-",
        )
    c.print(table)


@click.command("kill", epilog="\b\nExample:\n  govchain devnet kill validator-3")
@click.argument("name")
@dir_option
@json_option
@from_group
@reported
def kill(name: str, root: Path, as_json: bool) -> None:
    """SIGKILL one node (a crash); the others keep running, --restart brings it back."""
    reply = _ask(root, "kill", name)
    doc = {"node": reply["node"], "pid": reply["pid"], "exit": reply["exit"]}
    if as_json:
        show(doc, True)
    else:
        click.echo(
            f"{name} (pid {doc['pid']}) {doc['exit']}; the others keep running"
            f" (govchain devnet start {name} starts it again)"
        )


@click.command("stop", epilog="\b\nExample:\n  govchain devnet stop validator-2")
@click.argument("name")
@dir_option
@json_option
@from_group
@reported
def stop(name: str, root: Path, as_json: bool) -> None:
    """SIGTERM one node; it stays down (even with --restart) until `devnet start NAME`."""
    reply = _ask(root, "stop", name)
    doc = {"node": reply["node"], "pid": reply["pid"], "exit": reply["exit"]}
    doc["clean"] = reply["clean"]
    if as_json:
        show(doc, True)
    else:
        how = "stopped cleanly" if doc["clean"] else "did not stop cleanly"
        click.echo(f"{name} (pid {doc['pid']}) {how} ({doc['exit']})")
    if not doc["clean"]:
        raise SystemExit(EXIT_FAILURE)


@click.command("start", epilog="\b\nExample:\n  govchain devnet start validator-3")
@click.argument("name", required=False)
@dir_option
@json_option
@from_group
@reported
def start_node(name: str | None, root: Path, as_json: bool) -> None:
    """Start one node of a running devnet again, and wait until its API answers."""
    if name is None:
        raise CliError(
            "missing_node",
            "devnet start NAME starts one node of a running devnet; to start the devnet"
            " itself, run govchain devnet (or ./scripts/start)",
            EXIT_USAGE,
        )
    reply = _ask(root, "start", name)
    _wait_answering(root, name, str(reply["api"]))
    doc = {"node": reply["node"], "pid": reply["pid"], "api": reply["api"]}
    if as_json:
        show(doc, True)
    else:
        click.echo(
            f"{name} started (pid {doc['pid']}), answering at {doc['api']};"
            " it catches up from its peers (govchain devnet status shows when)"
        )


def _wait_answering(root: Path, name: str, api: str) -> None:
    """Until the node's API answers; an error as soon as the supervisor sees it exit."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(timeout=1.0) as http:
        while time.monotonic() < deadline:
            try:
                if http.get(f"{api}/v1/status").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            node = next(n for n in devnet_status_nodes(root) if n["name"] == name)
            if node["state"] != "running":
                raise CliError(
                    "node_exited",
                    f"{name} exited as it started ({node['last_exit']}); see {node['log']}",
                    EXIT_FAILURE,
                )
            time.sleep(READY_POLL_S * 2)
    raise CliError("not_ready", f"{name} did not answer in {READY_TIMEOUT_S:g} s", EXIT_FAILURE)


def devnet_status_nodes(root: Path) -> list[dict[str, Any]]:
    """The supervisor's view of each node (no HTTP)."""
    reply = ask(root, {"op": "status"}, CONTROL_TIMEOUT_S)
    nodes: list[dict[str, Any]] = reply["devnet"]["nodes"]
    return nodes


DRILLS = (status, kill, stop, start_node)
