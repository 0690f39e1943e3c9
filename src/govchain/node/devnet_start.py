"""`govchain devnet`: lock the directory, then reset, resume or create, then supervise.

Everything that can refuse a start (a devnet already running there, options
that conflict with the existing devnet, a declined --reset, ports in use)
refuses before any node is spawned or any file of the devnet is written.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from govchain.node.devnet import (
    DEVNET_FILE_NAME,
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
SHAPE_OPTIONS = ("validators", "observers", "port_base")


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


def _resume(opts: StartOptions) -> list[DevnetNode]:
    nodes = existing(opts.root)
    have = {
        "validators": sum(1 for n in nodes if n.validator),
        "observers": sum(1 for n in nodes if not n.validator),
        "port_base": nodes[0].api_port,
    }
    asked = {
        "validators": opts.validators,
        "observers": opts.observers,
        "port_base": opts.port_base,
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
    read_genesis(nodes[0].home / "genesis.json")  # a genesis this code cannot run: say so now
    _refuse_busy(nodes)
    return nodes


def _create(opts: StartOptions) -> list[DevnetNode]:
    if (opts.root / "keys").exists():
        raise DevnetError(
            f"{opts.root} holds keys but no nodes (an interrupted start?): start fresh with --reset"
        )
    check_shape(opts.validators, opts.observers, opts.port_base)
    _refuse_busy(plan(opts.root, opts.validators, opts.observers, opts.port_base))
    return create(opts.root, opts.validators, opts.observers, opts.port_base)


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
