"""`govchain devnet`: N validators (+ M observers) as separate processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.node.errors import DevnetError
from govchain.node.files import FileError, Home, NodeConfig, PeerAddr, read_key, write_key
from govchain.node.port_leases import (
    HOST,
    NODES_MAX,
    P2P_PORT_OFFSET,
    free_port_base,
    release_port_base,
)
from govchain.node.verify_pool import default_verify_workers
from govchain.state.genesis import Genesis, GenesisIdentity

# Re-exported: callers that lease ports for a devnet found them here before
# they moved to node/port_leases.py.
__all__ = ["free_port_base", "release_port_base"]

FAUCET_SUPPLY = 10**15
REGULATORS = 3  # the governance committee, weight 1 each
COMMITTEE_THRESHOLD = 2
GENESIS_TIER = 3  # validators, regulators and the auditor are fully identified
DEVNET_APPS = ("warehouse",)  # the applications a devnet chain runs (issue 14)
# Sync heights (state/sync_point.py): a new node can join from a snapshot at
# most this many heights old. Each validator images its ledger there (idle: once
# a minute, as empty checkpoints come every second).
DEVNET_SYNC_EVERY = 64
PORT_MIN = 1024
READY_TIMEOUT_S = 60.0
READY_POLL_S = 0.1
STOP_TIMEOUT_S = 10.0
LOG_NAME = "node.log"
DEVNET_ENV = "GOVCHAIN_DEVNET"  # names the devnet directory when --dir/--devnet is not given
DEFAULT_DIR = Path("devnet")
DEVNET_FILE_NAME = "devnet.json"


def resolve_dir(explicit: Path | None) -> Path:
    """The devnet directory: explicit (--dir/--devnet), else $GOVCHAIN_DEVNET, else ./devnet."""
    if explicit is not None:
        return explicit
    env = os.environ.get(DEVNET_ENV, "")
    return Path(env) if env else DEFAULT_DIR


def devnet_file(explicit: Path | None) -> Path | None:
    """The devnet.json of the devnet resolve_dir names, when it exists."""
    path = resolve_dir(explicit) / DEVNET_FILE_NAME
    return path if path.is_file() else None


@dataclass(frozen=True, slots=True)
class DevnetNode:
    """One planned node of the devnet."""

    name: str
    home: Path
    api_port: int
    p2p_port: int
    validator: bool


def _new_key(path: Path) -> SigningKey:
    key = SigningKey(secrets.token_bytes(32))
    write_key(path, key)
    return key


def plan(root: Path, validators: int, observers: int, port_base: int) -> list[DevnetNode]:
    """Names, homes and ports of every node."""
    names = [(f"validator-{i}", True) for i in range(validators)]
    names += [(f"observer-{i}", False) for i in range(observers)]
    return [
        DevnetNode(name, root / "nodes" / name, port_base + i, port_base + P2P_PORT_OFFSET + i, v)
        for i, (name, v) in enumerate(names)
    ]


def check_shape(validators: int, observers: int, port_base: int) -> None:
    """DevnetError unless these make a devnet whose ports fit and do not overlap."""
    if validators < 1 or observers < 0:
        raise DevnetError("a devnet needs at least 1 validator and 0 or more observers")
    if validators + observers > NODES_MAX:
        # API ports run from port_base, p2p ports from port_base + P2P_PORT_OFFSET.
        raise DevnetError(f"a devnet has at most {NODES_MAX} nodes")
    if not PORT_MIN <= port_base <= 65535 - P2P_PORT_OFFSET - validators - observers:
        raise DevnetError("--port-base leaves no room for every node's ports")


def create(
    root: Path,
    validators: int,
    observers: int,
    port_base: int,
    extra_balances: dict[bytes, int] | None = None,
    checkpoint_interval_ms: int = 0,
    empty_checkpoint_interval_ms: int | None = 1_000,
    sync_every: int = DEVNET_SYNC_EVERY,
    verify_workers: int | None = None,
    client_pending_max: int | None = None,
) -> list[DevnetNode]:
    """Write keys, genesis and every node's home under root (which must be new).

    extra_balances: more funded genesis accounts (the benchmark's senders).
    The pacing goes into genesis (state/genesis.py): the least spacing of
    checkpoints, and the idle heartbeat (None: no empty checkpoints).
    verify_workers: each node's signature-checking processes, written to its
    node.json; None: the machine's cores shared by the nodes, one of each
    share for the node's event loop (verify_pool.default_verify_workers).
    client_pending_max: each node's back-pressure threshold (None: the default).
    """
    check_shape(validators, observers, port_base)
    keys_dir = root / "keys"
    keys_dir.mkdir(parents=True, exist_ok=False)
    val_keys = [_new_key(keys_dir / f"validator-{i}.key") for i in range(validators)]
    regulators = [_new_key(keys_dir / f"regulator-{i}.key") for i in range(1, REGULATORS + 1)]
    auditor = _new_key(keys_dir / "auditor.key")
    faucet = _new_key(keys_dir / "faucet.key")
    kinds = {k.address: "validator" for k in val_keys}
    kinds.update({k.address: "regulator" for k in regulators})
    kinds[auditor.address] = "auditor"
    genesis = Genesis(
        chain_id=f"govchain-devnet-{secrets.token_hex(3)}",
        time_ms=time.time_ns() // 1_000_000,
        balances=tuple(sorted({faucet.address: FAUCET_SUPPLY, **(extra_balances or {})}.items())),
        validators=ValidatorSet.of({k.public_key: 1 for k in val_keys}),
        committee=tuple(sorted((k.public_key, 1) for k in regulators)),
        threshold=COMMITTEE_THRESHOLD,
        identities=tuple(
            GenesisIdentity(a, kind, GENESIS_TIER) for a, kind in sorted(kinds.items())
        ),
        checkpoint_interval_ms=checkpoint_interval_ms,
        empty_checkpoint_interval_ms=empty_checkpoint_interval_ms,
        typed_audit=True,  # validator changes in the audit log as data too
        apps=DEVNET_APPS,
        sync_every=sync_every,
    )
    nodes = plan(root, validators, observers, port_base)
    if verify_workers is None:
        verify_workers = default_verify_workers(nodes=len(nodes))
    node_keys = val_keys + [SigningKey(secrets.token_bytes(32)) for _ in range(observers)]
    for node, key in zip(nodes, node_keys, strict=True):
        peers = tuple(
            PeerAddr(k.public_key.hex(), HOST, n.p2p_port, n.name)
            for n, k in zip(nodes, node_keys, strict=True)
            if n is not node
        )
        config = NodeConfig(
            node.name,
            HOST,
            node.api_port,
            HOST,
            node.p2p_port,
            peers,
            None,
            verify_workers,
            client_pending_max,
        )
        Home(node.home).write(config, genesis, key)
    return nodes


def exists(root: Path) -> bool:
    """True when root holds a devnet created earlier (its nodes' homes)."""
    return (root / "nodes").is_dir()


def existing(root: Path) -> list[DevnetNode]:
    """The nodes of a devnet created earlier under root."""
    found = []
    for home in sorted((root / "nodes").iterdir()):
        try:
            cfg = json.loads((home / "node.json").read_text())
            api_port = int(cfg["api"].rpartition(":")[2])
            p2p_port = int(cfg["p2p"].rpartition(":")[2])
            key = read_key(home / "node.key")
            genesis = json.loads((home / "genesis.json").read_text())
            is_val = any(k == key.public_key.hex() for k, _ in genesis["validators"])
            found.append(DevnetNode(str(cfg["name"]), home, api_port, p2p_port, is_val))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, FileError) as exc:
            raise DevnetError(
                f"{home} is not a devnet node's home ({exc}); start fresh with --reset"
            ) from None
    if not found:
        raise DevnetError(f"{root / 'nodes'} holds no node; start fresh with --reset")
    found.sort(key=lambda n: n.api_port)
    return found


def log_path(node: DevnetNode) -> Path:
    """Where a node's output goes (appended across runs)."""
    return node.home / LOG_NAME


def busy_ports(nodes: list[DevnetNode]) -> list[int]:
    """The nodes' ports that something on 127.0.0.1 already listens on."""
    busy = []
    for port in [n.api_port for n in nodes] + [n.p2p_port for n in nodes]:
        with socket.socket() as s:
            # As the nodes bind: a port in TIME_WAIT after a stop is not busy.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((HOST, port))
            except OSError:
                busy.append(port)
    return busy


def exit_text(returncode: int) -> str:
    """A process's exit in words: 'status 1', 'killed by SIGKILL'."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"status {returncode}"


@dataclass(frozen=True, slots=True)
class StopOutcome:
    """How one node ended when the devnet stopped."""

    name: str
    was_running: bool
    returncode: int | None  # None: never started
    forced: bool  # it outlived the grace period and was killed

    @property
    def clean(self) -> bool:
        """True when it was running and exited 0 on SIGTERM, or was not running."""
        return not self.was_running or (self.returncode == 0 and not self.forced)


class Devnet:
    """Starts, watches and stops the node processes."""

    def __init__(self, root: Path, nodes: list[DevnetNode]) -> None:
        self.root = root
        self.nodes = nodes
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        """Spawn every node; each exits by itself if this process dies."""
        for n in self.nodes:
            self.start_node(n.name)

    def wait_ready(
        self,
        timeout_s: float = READY_TIMEOUT_S,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        """Until every API answers /v1/status for this chain; DevnetError names a node that died.

        cancelled: polled while waiting; when it returns True, DevnetError("cancelled").
        """
        deadline = time.monotonic() + timeout_s
        chain_id = read_genesis_json(self.nodes[0])["chain_id"]
        pending = list(self.nodes)
        with httpx.Client(timeout=1.0) as http:
            while pending:
                if cancelled is not None and cancelled():
                    raise DevnetCancelledError("cancelled before every node was ready")
                pending = [n for n in pending if not self._ready(http, n, chain_id)]
                if pending and time.monotonic() > deadline:
                    names = ", ".join(n.name for n in pending)
                    raise DevnetError(f"not ready after {timeout_s:g} s: {names}")
                time.sleep(READY_POLL_S)

    def _ready(self, http: httpx.Client, n: DevnetNode, chain_id: str) -> bool:
        code = self.procs[n.name].poll()
        if code is not None:
            why = exit_text(code)
            raise DevnetError(f"{n.name} exited ({why}) before it was ready; see {log_path(n)}")
        try:
            reply = http.get(f"http://{HOST}:{n.api_port}/v1/status")
        except httpx.HTTPError:
            return False
        if reply.status_code != 200:
            return False
        _check_chain(reply, n, chain_id)
        return True

    def describe(self) -> dict[str, Any]:
        """devnet.json's content: the contract's fields, plus each node's log and state."""
        genesis = read_genesis_json(self.nodes[0])
        return {
            "chain_id": genesis["chain_id"],
            "explorer": explorer_url(self.nodes),
            "nodes": [
                {
                    "name": n.name,
                    "api": f"http://{HOST}:{n.api_port}",
                    "p2p": f"{HOST}:{n.p2p_port}",
                    "validator": n.validator,
                    "home": str(n.home.resolve()),
                    "pid": self.procs[n.name].pid if n.name in self.procs else None,
                    "running": self.running(n.name),
                    "log": str(log_path(n).resolve()),
                }
                for n in self.nodes
            ],
        }

    def write_description(self, doc: dict[str, Any] | None = None) -> Path:
        """Write devnet.json (doc, else describe()) atomically: readers never see half a file."""
        path = self.root / DEVNET_FILE_NAME
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc if doc is not None else self.describe(), indent=2) + "\n")
        os.replace(tmp, path)
        return path

    def stop(self) -> list[StopOutcome]:
        """SIGTERM every node, then SIGKILL what is left after a grace period."""
        was_running = {name: p.poll() is None for name, p in self.procs.items()}
        for name, p in self.procs.items():
            if was_running[name]:
                p.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        outcomes = []
        for n in self.nodes:
            proc = self.procs.get(n.name)
            if proc is None:
                outcomes.append(StopOutcome(n.name, False, None, False))
                continue
            forced = False
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                forced = True
            outcomes.append(StopOutcome(n.name, was_running[n.name], proc.returncode, forced))
        return outcomes

    # -- one node at a time (drills, govchain soak) ------------------------------
    def node(self, name: str) -> DevnetNode:
        """The node named name; DevnetError when there is none."""
        for n in self.nodes:
            if n.name == name:
                return n
        names = ", ".join(n.name for n in self.nodes)
        raise DevnetError(f"no node named {name!r} in this devnet (nodes: {names})")

    def start_node(self, name: str) -> None:
        """Spawn one node (again, after kill_node); the others keep running."""
        n = self.node(name)
        with log_path(n).open("ab") as log:
            self.procs[name] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    "-m",
                    "govchain.cli.main",
                    "node",
                    "--home",
                    str(n.home),
                    "--exit-with-parent",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C in the terminal reaches the supervisor
                # only, which then stops every node in order.
                start_new_session=True,
            )

    def kill_node(self, name: str) -> None:
        """SIGKILL one node and reap it: a crash, with no chance to flush anything."""
        self.node(name)
        p = self.procs[name]
        if p.poll() is None:
            p.kill()
        p.wait()

    def terminate_node(self, name: str) -> StopOutcome:
        """SIGTERM one node and reap it; SIGKILL when it outlives the grace period."""
        self.node(name)
        p = self.procs[name]
        was_running = p.poll() is None
        forced = False
        if was_running:
            p.terminate()
            try:
                p.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                forced = True
        return StopOutcome(name, was_running, p.returncode, forced)

    def running(self, name: str) -> bool:
        """True when the node's process is alive."""
        p = self.procs.get(self.node(name).name)
        return p is not None and p.poll() is None


class DevnetCancelledError(DevnetError):
    """A wait gave up because the user asked to stop."""


def read_genesis_json(node: DevnetNode) -> dict[str, Any]:
    """A node's genesis.json as plain JSON (read_genesis validates it; this only reads)."""
    doc: dict[str, Any] = json.loads((node.home / "genesis.json").read_text())
    return doc


def explorer_url(nodes: list[DevnetNode]) -> str:
    """The explorer: the first node's API root."""
    return f"http://{HOST}:{nodes[0].api_port}/"


def _check_chain(reply: httpx.Response, node: DevnetNode, chain_id: str) -> None:
    """A node that answers for another chain is not ours: another devnet holds the port."""
    try:
        theirs = reply.json().get("chain_id")
    except (ValueError, AttributeError):
        theirs = None
    if theirs != chain_id:
        raise DevnetError(
            f"port {node.api_port} answers for chain {theirs!r}, not this devnet's {chain_id}:"
            " another network holds these ports (stop it, or use another --port-base)"
        )
