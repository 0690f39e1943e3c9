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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.node.errors import DevnetError
from govchain.node.files import Home, NodeConfig, PeerAddr, read_key, write_key
from govchain.state.genesis import Genesis, GenesisIdentity

HOST = "127.0.0.1"
FAUCET_SUPPLY = 10**15
REGULATORS = 3  # the governance committee, weight 1 each
COMMITTEE_THRESHOLD = 2
GENESIS_TIER = 3  # validators, regulators and the auditor are fully identified
P2P_PORT_OFFSET = 100
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
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


def _ephemeral_low() -> int:
    """The lowest ephemeral port of this machine (Linux), else the IANA default's."""
    try:
        return int(_EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return EPHEMERAL_LOW_DEFAULT


def free_port_base(count: int) -> int:
    """A base port such that count API ports and count p2p ports are free on 127.0.0.1.

    Chosen at random below the ephemeral range, so that test processes running
    side by side rarely probe the same ports, and no outgoing connection takes
    one of them between this check and the node's bind.
    """
    top = _ephemeral_low() - P2P_PORT_OFFSET - count
    if top <= PORT_RANGE_LOW:
        top = 65_000 - P2P_PORT_OFFSET - count  # an odd machine: anywhere will do
    for _ in range(200):
        base = secrets.randbelow(top - PORT_RANGE_LOW) + PORT_RANGE_LOW
        ports = [base + i for i in range(count)] + [
            base + P2P_PORT_OFFSET + i for i in range(count)
        ]
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind((HOST, port))
        except OSError:
            continue
        return base
    raise DevnetError("no free range of ports on 127.0.0.1")


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


def create(
    root: Path,
    validators: int,
    observers: int,
    port_base: int,
    extra_balances: dict[bytes, int] | None = None,
) -> list[DevnetNode]:
    """Write keys, genesis and every node's home under root (which must be new).

    extra_balances: more funded genesis accounts (the benchmark's senders).
    """
    if validators < 1 or observers < 0:
        raise DevnetError("a devnet needs at least 1 validator and 0 or more observers")
    if not 1024 <= port_base <= 65535 - P2P_PORT_OFFSET - validators - observers:
        raise DevnetError("--port-base leaves no room for every node's ports")
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


def existing(root: Path) -> list[DevnetNode]:
    """The nodes of a devnet created earlier under root."""
    found = []
    for home in sorted((root / "nodes").iterdir()):
        cfg = json.loads((home / "node.json").read_text())
        api_port = int(cfg["api"].rpartition(":")[2])
        p2p_port = int(cfg["p2p"].rpartition(":")[2])
        key = read_key(home / "node.key")
        genesis = json.loads((home / "genesis.json").read_text())
        is_val = any(k == key.public_key.hex() for k, _ in genesis["validators"])
        found.append(DevnetNode(cfg["name"], home, api_port, p2p_port, is_val))
    found.sort(key=lambda n: n.api_port)
    return found


class Devnet:
    """Starts, watches and stops the node processes."""

    def __init__(self, root: Path, nodes: list[DevnetNode]) -> None:
        self.root = root
        self.nodes = nodes
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        """Spawn every node; each exits by itself if this process dies."""
        for n in self.nodes:
            log = (n.home / "node.log").open("ab")
            self.procs[n.name] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
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
                start_new_session=True,
            )
            log.close()

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until every API answers /v1/status; raises DevnetError naming a node that died."""
        deadline = time.monotonic() + timeout_s
        pending = {n.name: n for n in self.nodes}
        with httpx.Client(timeout=1.0) as http:
            while pending:
                for name, n in list(pending.items()):
                    if self.procs[name].poll() is not None:
                        raise DevnetError(f"{name} exited; see {n.home / 'node.log'}")
                    try:
                        if http.get(f"http://{HOST}:{n.api_port}/v1/status").status_code == 200:
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    raise DevnetError(f"not ready after {timeout_s:g} s: {', '.join(pending)}")
                time.sleep(0.1)

    def describe(self) -> dict[str, Any]:
        """devnet.json's content."""
        genesis = json.loads((self.nodes[0].home / "genesis.json").read_text())
        return {
            "chain_id": genesis["chain_id"],
            "explorer": f"http://{HOST}:{self.nodes[0].api_port}/",
            "nodes": [
                {
                    "name": n.name,
                    "api": f"http://{HOST}:{n.api_port}",
                    "p2p": f"{HOST}:{n.p2p_port}",
                    "validator": n.validator,
                    "home": str(n.home.resolve()),
                    "pid": self.procs[n.name].pid,
                }
                for n in self.nodes
            ],
        }

    def write_description(self) -> Path:
        """Write devnet.json atomically."""
        path = self.root / "devnet.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.describe(), indent=2) + "\n")
        os.replace(tmp, path)
        return path

    def watch(self) -> str | None:
        """Block until a signal or a node exits; returns the name of a node that died."""
        stop = {"signal": False}

        def on_signal(_sig: int, _frame: object) -> None:
            stop["signal"] = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        while not stop["signal"]:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    return name
            time.sleep(0.2)
        return None

    def stop(self) -> None:
        """SIGTERM every node, then SIGKILL what is left after a grace period."""
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    # -- drills (govchain soak): one node at a time ------------------------------
    def _node(self, name: str) -> DevnetNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise DevnetError(f"no node named {name!r} in this devnet")

    def start_node(self, name: str) -> None:
        """Spawn one node (again, after kill_node); the others keep running."""
        one = Devnet(self.root, [self._node(name)])
        one.start()  # the very spawn start() does, for this node alone
        self.procs[name] = one.procs[name]

    def kill_node(self, name: str) -> None:
        """SIGKILL one node and reap it: a crash, with no chance to flush anything."""
        self._node(name)
        p = self.procs[name]
        if p.poll() is None:
            p.kill()
        p.wait()

    def running(self, name: str) -> bool:
        """True when the node's process is alive."""
        p = self.procs.get(self._node(name).name)
        return p is not None and p.poll() is None
