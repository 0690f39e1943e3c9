"""`govchain devnet`: lock the directory, then reset, resume or create, then supervise.

Everything that can refuse a start (a devnet already running there, options
that conflict with the existing devnet, a declined --reset, ports in use)
refuses before any node is spawned or any file of the devnet is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from govchain.node.devnet import (
    DEVNET_FILE_NAME,
    STOP_TIMEOUT_S,
    DevnetNode,
    StopOutcome,
    busy_ports,
    check_shape,
    create,
    existing,
    exists,
    explorer_url,
    plan,
    read_genesis_json,
)
from govchain.node.devnet_accounts import current_balances, genesis_accounts
from govchain.node.devnet_lock import DirLock
from govchain.node.devnet_supervisor import Supervisor, Ui
from govchain.node.errors import DevnetError
from govchain.node.files import read_genesis

# What --reset deletes: what a devnet writes there, nothing else of the directory.
RESET_ENTRIES = ("keys", "nodes", DEVNET_FILE_NAME, DEVNET_FILE_NAME + ".tmp")
# The options a resumed devnet must agree with, when given on the command line.
SHAPE_OPTIONS = (
    "validators",
    "observers",
    "port_base",
    "checkpoint_interval",
    "empty_checkpoints",
)
ORPHAN_POLL_S = 0.1


@dataclass(frozen=True, slots=True)
class StartOptions:
    """What `govchain devnet` was asked; given: the options named on the command line."""

    root: Path
    validators: int
    observers: int
    port_base: int
    given: frozenset[str]
    restart: bool
    reset: bool
    checkpoint_interval_ms: int = 0
    empty_checkpoint_interval_ms: int | None = 1_000  # None: no empty checkpoints


class StartUi(Ui, Protocol):
    """The supervisor's Ui, plus the --reset confirmation."""

    def confirm_reset(self, what: str) -> bool:
        """Ask before deleting what describes; False: keep it and do not start."""


class DevnetConflictError(DevnetError):
    """Options given that the existing devnet cannot honour (a usage error)."""


class ResetDeclinedError(DevnetError):
    """The user answered no to --reset's question."""


def start(opts: StartOptions, ui: StartUi) -> list[StopOutcome]:
    """Run the devnet in opts.root until a signal; how each node ended."""
    lock = DirLock(opts.root)
    lock.acquire()  # DevnetRunningError, with nothing touched
    try:
        lock.write_holder(None)
        _stop_orphans(opts.root, ui)
        if opts.reset and _has_devnet_files(opts.root):
            if not ui.confirm_reset(_what_reset_deletes(opts.root)):
                raise ResetDeclinedError(f"kept {opts.root} as it is")
            _wipe(opts.root)
        resumed = exists(opts.root)
        nodes = _resume(opts) if resumed else _create(opts)
        lock.write_holder(explorer_url(nodes))
        supervisor = Supervisor(opts.root, nodes, opts.restart, ui)

        def extra(doc: dict[str, Any]) -> dict[str, Any]:
            return {**doc, "resumed": resumed, "accounts": _accounts(opts.root, nodes)}

        return supervisor.run(extra)
    finally:
        lock.release()


def _stop_orphans(root: Path, ui: StartUi) -> None:
    """Stop nodes a supervisor killed with -9 left behind (they would hold the ports).

    Such nodes stop by themselves within a second (--exit-with-parent); this
    makes a start right after the crash wait for them instead of failing on
    busy ports. Only processes whose command line runs a node of this very
    directory are touched, and only while we hold its lock.
    """
    try:
        doc = json.loads((root / DEVNET_FILE_NAME).read_text())
        entries = [(int(n["pid"]), Path(n["home"])) for n in doc["nodes"]]
    except (OSError, ValueError, KeyError, TypeError):
        return
    orphans = [pid for pid, home in entries if _runs_node_of(pid, home)]
    if not orphans:
        return
    ui.event(f"stopping nodes left by a supervisor that died: pids {orphans}")
    for pid in orphans:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and any(_runs_node_of(p, h) for p, h in entries):
        time.sleep(ORPHAN_POLL_S)
    for pid, home in entries:
        if _runs_node_of(pid, home):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _runs_node_of(pid: int, home: Path) -> bool:
    """True when pid is a live `govchain node --home HOME` process (Linux: /proc)."""
    proc = Path(f"/proc/{pid}")
    try:
        args = (proc / "cmdline").read_bytes().split(b"\0")
        cwd = Path(os.readlink(proc / "cwd"))
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z" or b"govchain.cli.main" not in args or b"--home" not in args:
        return False
    i = args.index(b"--home")
    if i + 1 >= len(args):
        return False
    return (cwd / os.fsdecode(args[i + 1])).resolve() == home.resolve()


def empty_checkpoints_text(ms: int | None) -> str:
    """The --empty-checkpoints value that means ms (None: never)."""
    return "never" if ms is None else str(ms)


def _resume(opts: StartOptions) -> list[DevnetNode]:
    nodes = existing(opts.root)
    genesis = read_genesis(nodes[0].home / "genesis.json")  # one this code cannot run: say so
    have: dict[str, object] = {
        "validators": sum(1 for n in nodes if n.validator),
        "observers": sum(1 for n in nodes if not n.validator),
        "port_base": nodes[0].api_port,
        "checkpoint_interval": genesis.checkpoint_interval_ms,
        "empty_checkpoints": empty_checkpoints_text(genesis.empty_checkpoint_interval_ms),
    }
    asked: dict[str, object] = {
        "validators": opts.validators,
        "observers": opts.observers,
        "port_base": opts.port_base,
        "checkpoint_interval": opts.checkpoint_interval_ms,
        "empty_checkpoints": empty_checkpoints_text(opts.empty_checkpoint_interval_ms),
    }
    clash = [k for k in SHAPE_OPTIONS if k in opts.given and asked[k] != have[k]]
    if clash:
        flags = " ".join(f"--{k.replace('_', '-')} {asked[k]}" for k in clash)
        raise DevnetConflictError(
            f"{opts.root} holds a devnet of {have['validators']} validators and"
            f" {have['observers']} observers on port base {have['port_base']}, and start resumes"
            f" it as it is: {flags} conflicts with it. Run without {flags} to resume it, or start"
            f" fresh (deleting that chain) with: govchain devnet --dir {opts.root} --reset {flags}"
        )
    _refuse_busy(nodes)
    return nodes


def _create(opts: StartOptions) -> list[DevnetNode]:
    if (opts.root / "keys").exists():
        raise DevnetError(
            f"{opts.root} holds keys but no nodes (an interrupted start?): start fresh with --reset"
        )
    check_shape(opts.validators, opts.observers, opts.port_base)
    _refuse_busy(plan(opts.root, opts.validators, opts.observers, opts.port_base))
    return create(
        opts.root,
        opts.validators,
        opts.observers,
        opts.port_base,
        checkpoint_interval_ms=opts.checkpoint_interval_ms,
        empty_checkpoint_interval_ms=opts.empty_checkpoint_interval_ms,
    )


def _refuse_busy(nodes: list[DevnetNode]) -> None:
    busy = busy_ports(nodes)
    if busy:
        ports = ", ".join(str(p) for p in busy)
        raise DevnetError(
            f"port(s) {ports} on 127.0.0.1 are in use (another devnet in another directory?):"
            " stop what holds them, or start a devnet elsewhere with --dir DIR --port-base P"
        )


def _has_devnet_files(root: Path) -> bool:
    return any((root / name).exists() for name in RESET_ENTRIES)


def _what_reset_deletes(root: Path) -> str:
    chain = ""
    with contextlib.suppress(DevnetError, OSError, ValueError, KeyError):
        nodes = existing(root)
        chain = f" (chain {read_genesis_json(nodes[0])['chain_id']}, {len(nodes)} nodes)"
    return f"the devnet in {root}{chain}: its keys, every node's store and logs"


def _wipe(root: Path) -> None:
    for name in RESET_ENTRIES:
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _accounts(root: Path, nodes: list[DevnetNode]) -> list[dict[str, Any]]:
    accounts = genesis_accounts(root, nodes)
    now = current_balances(f"http://127.0.0.1:{nodes[0].api_port}", accounts)
    return [
        {
            "name": a.name,
            "role": a.role,
            "address": a.address,
            "key_file": str(a.key_file),
            "genesis_balance": a.genesis_balance,
            "balance": now.get(a.address),
        }
        for a in accounts
    ]
