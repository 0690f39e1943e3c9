"""`govchain devnet`: N validators (+ M observers) as separate processes on 127.0.0.1."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.node.errors import DevnetError
from govchain.node.files import FileError, Home, NodeConfig, PeerAddr, read_key, write_key
from govchain.state.genesis import Genesis, GenesisIdentity

HOST = "127.0.0.1"
FAUCET_SUPPLY = 10**15
REGULATORS = 3  # the governance committee, weight 1 each
COMMITTEE_THRESHOLD = 2
GENESIS_TIER = 3  # validators, regulators and the auditor are fully identified
P2P_PORT_OFFSET = 100
NODES_MAX = P2P_PORT_OFFSET
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


# Ports a devnet may take when asked for free ones: below the kernel's range of
# ephemeral ports, where outgoing connections (peers dialling, HTTP clients) get
# their local ports. A base taken from that range could be handed to such a
# connection before the node binds it ("address already in use").
PORT_RANGE_LOW = 10_000
EPHEMERAL_LOW_DEFAULT = 32_768
_EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PORT_PICKS_MAX = 200  # random bases tried before giving up
# Probing a port (bind, close) and binding it later races with every other
# process that probes meanwhile: two test workers could both find a base free.
# So each base handed out is also leased in one file per user under the temp
# dir, read and rewritten under an exclusive flock; no process is handed a port
# another live lease holds. A lease ends when its process exits (pid and start
# time no longer match), when release_port_base() is called, or after
# PORT_LEASE_S_MAX (nodes have bound their ports long before).
PORT_LEASE_S_MAX = 3_600
PORT_LEASES_MAX = 4_096  # leases kept in the file; beyond it the oldest end early
PORT_LEASE_FILE_ENV = "GOVCHAIN_PORT_LEASES"  # another lease file (tests of the lease itself)


def _ephemeral_low() -> int:
    """The lowest ephemeral port of this machine (Linux), else the IANA default's."""
    try:
        return int(_EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return EPHEMERAL_LOW_DEFAULT


def _lease_file() -> Path:
    """The lease file every process of this user shares."""
    override = os.environ.get(PORT_LEASE_FILE_ENV, "")
    if override:
        return Path(override)
    return Path(tempfile.gettempdir()) / f"govchain-port-leases-{os.getuid()}.json"


def _started(pid: int) -> str | None:
    """When process pid started (its /proc stat start time), or None when it is gone.

    The start time tells a live leaseholder from a new process that reuses its pid.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        if Path("/proc/self/stat").exists():
            return None  # Linux: the process is gone
        try:
            os.kill(pid, 0)  # elsewhere: alive or not, start time unknown
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "?"
    # Field 22 (starttime) counts from the end of the parenthesised command name.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


@dataclass(frozen=True, slots=True)
class PortLease:
    """Ports base..base+count-1 and their p2p twins, held for one process."""

    base: int
    count: int
    pid: int
    started: str
    at_s: float

    def ports(self) -> set[int]:
        """Every port the lease holds."""
        api = range(self.base, self.base + self.count)
        return {*api, *(p + P2P_PORT_OFFSET for p in api)}

    def live(self, now_s: float) -> bool:
        """True while the leasing process runs and the lease is not too old."""
        return now_s - self.at_s < PORT_LEASE_S_MAX and _started(self.pid) == self.started


@contextlib.contextmanager
def _locked_leases() -> Iterator[IO[str]]:
    """The lease file, opened (never through a symlink) and exclusively locked."""
    path = _lease_file()
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise DevnetError(f"cannot open the port lease file {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes
        yield f


def _read_leases(f: IO[str]) -> list[PortLease]:
    f.seek(0)
    try:
        rows = json.loads(f.read() or "[]")
        return [PortLease(**row) for row in rows]
    except (ValueError, TypeError):
        return []  # a torn or foreign file: start afresh (the bind probe still guards)


def _write_leases(f: IO[str], leases: list[PortLease]) -> None:
    f.seek(0)
    f.truncate()
    rows = [{k: getattr(lease, k) for k in PortLease.__slots__} for lease in leases]
    f.write(json.dumps(rows))
    f.flush()


def _bindable(ports: list[int]) -> bool:
    """True when nothing on 127.0.0.1 holds any of ports (a port in TIME_WAIT counts as held)."""
    try:
        for port in ports:
            with socket.socket() as s:
                s.bind((HOST, port))
    except OSError:
        return False
    return True


def free_port_base(count: int) -> int:
    """A base port whose count API ports and count p2p ports are free on 127.0.0.1, leased.

    Chosen at random below the ephemeral range, so that no outgoing connection
    takes one of them before the node binds it, and outside every live lease,
    so that no other process (a parallel test worker, another run) is handed
    them meanwhile. The lease lasts while this process runs.
    """
    if not 1 <= count <= NODES_MAX:
        raise DevnetError(f"a devnet has 1 to {NODES_MAX} nodes")
    top = _ephemeral_low() - P2P_PORT_OFFSET - count
    if top <= PORT_RANGE_LOW:
        top = 65_000 - P2P_PORT_OFFSET - count  # an odd machine: anywhere will do
    me = os.getpid()
    started = _started(me) or "?"
    with _locked_leases() as f:
        now_s = time.time()
        leases = [lease for lease in _read_leases(f) if lease.live(now_s)]
        held = set().union(*(lease.ports() for lease in leases))
        for _ in range(PORT_PICKS_MAX):
            base = secrets.randbelow(top - PORT_RANGE_LOW) + PORT_RANGE_LOW
            lease = PortLease(base, count, me, started, now_s)
            ports = sorted(lease.ports())
            if held.isdisjoint(ports) and _bindable(ports):
                _write_leases(f, [*leases, lease][-PORT_LEASES_MAX:])
                return base
    raise DevnetError("no free range of ports on 127.0.0.1")


def release_port_base(base: int) -> None:
    """End this process's lease on base (its nodes are stopped; others may take the ports)."""
    me = os.getpid()
    with _locked_leases() as f:
        leases = _read_leases(f)
        kept = [lease for lease in leases if (lease.base, lease.pid) != (base, me)]
        if len(kept) != len(leases):
            _write_leases(f, kept)


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
) -> list[DevnetNode]:
    """Write keys, genesis and every node's home under root (which must be new).

    extra_balances: more funded genesis accounts (the benchmark's senders).
    The pacing goes into genesis (state/genesis.py): the least spacing of
    checkpoints, and the idle heartbeat (None: no empty checkpoints).
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
    )
    nodes = plan(root, validators, observers, port_base)
    node_keys = val_keys + [SigningKey(secrets.token_bytes(32)) for _ in range(observers)]
    for node, key in zip(nodes, node_keys, strict=True):
        peers = tuple(
            PeerAddr(k.public_key.hex(), HOST, n.p2p_port)
            for n, k in zip(nodes, node_keys, strict=True)
            if n is not node
        )
        config = NodeConfig(node.name, HOST, node.api_port, HOST, node.p2p_port, peers)
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
