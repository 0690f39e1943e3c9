"""Files a node and its users keep: key files (mode 0600), genesis and node config."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.limits import DagLimits
from govchain.node.verify_pool import VERIFY_WORKERS_MAX
from govchain.state.genesis import Genesis, GenesisIdentity

KEY_FILE_MODE = 0o600


class FileError(ValueError):
    """A file is missing or malformed; the message names the file and the problem."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileError(f"{path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise FileError(f"{path} is not readable JSON: {exc}") from None


def _hex(value: Any, size: int | None, what: str, path: Path) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        raw = None
    if raw is None or (size is not None and len(raw) != size) or value != value.lower():
        want = f"{size * 2} lowercase hex characters" if size else "lowercase hex"
        raise FileError(f"{path}: {what} must be {want}")
    return raw


def write_key(path: Path, key: SigningKey) -> None:
    """Write a key file readable by its owner only (created 0600, never widened)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "public_key": key.public_key.hex(),
        "address": key.address.hex(),
        "seed": key.seed.hex(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def read_key(path: Path) -> SigningKey:
    """Load a key file written by write_key."""
    doc = _read_json(path)
    if not isinstance(doc, dict) or "seed" not in doc:
        raise FileError(f"{path} is not a govchain key file (no seed)")
    key = SigningKey(_hex(doc["seed"], 32, "seed", path))
    if "public_key" in doc and doc["public_key"] != key.public_key.hex():
        raise FileError(f"{path}: public_key does not match the seed")
    return key


def genesis_to_json(g: Genesis) -> dict[str, Any]:
    """The genesis document as JSON."""
    return {
        "chain_id": g.chain_id,
        "time_ms": g.time_ms,
        "balances": [[a.hex(), v] for a, v in g.balances],
        "validators": [[m.public_key.hex(), m.weight] for m in g.validators.members],
        "committee": [[k.hex(), w] for k, w in g.committee],
        "threshold": g.threshold,
        "identities": [[i.address.hex(), i.kind, i.tier, i.attrs_hash.hex()] for i in g.identities],
        "unicode_version": g.unicode_version,
        "checkpoint_interval_ms": g.checkpoint_interval_ms,
        "empty_checkpoint_interval_ms": g.empty_checkpoint_interval_ms,
        # Only when on: files of chains made before the flag keep their exact form.
        **({"typed_audit": True} if g.typed_audit else {}),
        **({"apps": list(g.apps)} if g.apps else {}),
        **({"sync_every": g.sync_every} if g.sync_every else {}),
        "hash": g.hash.hex(),
    }


def _optional_int(value: Any) -> int | None:
    """A JSON integer or null (bool is not an integer here)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer or null, got {value!r}")
    return value


def _names(value: Any) -> tuple[str, ...]:
    """A JSON list of strings (genesis apps) as a tuple."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of names, got {value!r}")
    return tuple(value)


def read_genesis(path: Path) -> Genesis:
    """Load and validate genesis.json; its recorded hash must match its content.

    Reading does not check unicode_version against this Python (offline
    verifiers read genesis too); a node does, with state.genesis.check_unicode.
    """
    doc = _read_json(path)
    if isinstance(doc, dict) and not isinstance(doc.get("unicode_version"), str):
        # No default here: a file that does not name it predates the field, and
        # the local version would silently become the chain's.
        raise FileError(f'{path}: genesis must name its unicode_version (e.g. "14.0.0")')
    if isinstance(doc, dict) and "checkpoint_interval_ms" not in doc:
        # Its hash covers the pacing fields since issue 11: an older file cannot match.
        raise FileError(
            f"{path} predates the pacing fields (checkpoint_interval_ms): start a fresh"
            " chain (govchain devnet --reset)"
        )
    try:
        g = Genesis(
            chain_id=doc["chain_id"],
            time_ms=int(doc["time_ms"]),
            balances=tuple((_hex(a, 20, "an address", path), int(v)) for a, v in doc["balances"]),
            validators=ValidatorSet.of(
                {_hex(k, 32, "a validator key", path): int(w) for k, w in doc["validators"]}
            ),
            committee=tuple(
                (_hex(k, 32, "a committee key", path), int(w)) for k, w in doc["committee"]
            ),
            threshold=int(doc["threshold"]),
            identities=tuple(
                GenesisIdentity(
                    _hex(a, 20, "an identity address", path),
                    str(kind),
                    int(tier),
                    _hex(h, None, "attrs_hash", path),
                )
                for a, kind, tier, h in doc.get("identities", [])
            ),
            unicode_version=doc["unicode_version"],
            checkpoint_interval_ms=int(doc["checkpoint_interval_ms"]),
            empty_checkpoint_interval_ms=_optional_int(doc.get("empty_checkpoint_interval_ms")),
            typed_audit=doc.get("typed_audit", False),
            apps=_names(doc.get("apps", [])),
            sync_every=doc.get("sync_every", 0),
        )
    except FileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise FileError(f"{path} is not a valid genesis: {exc}") from None
    if "hash" in doc and doc["hash"] != g.hash.hex():
        raise FileError(f"{path}: recorded hash does not match its content")
    return g


@dataclass(frozen=True, slots=True)
class PeerAddr:
    """A peer this node dials: its node key (hex), host:port, and a name for people."""

    key: str
    host: str
    port: int
    name: str | None = None  # e.g. "validator-2": the explorer names signers with it


PEER_NAME_CHARS_MAX = 64


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """node.json: where a node listens and whom it dials."""

    name: str
    api_host: str
    api_port: int
    p2p_host: str
    p2p_port: int
    peers: tuple[PeerAddr, ...]
    # This node's own empty-checkpoint interval when it proposes (genesis gives
    # the chain's; a node may pace its own heartbeat differently). None: genesis's.
    empty_checkpoint_interval_ms: int | None = None
    # Processes that check signatures beside the event loop (docs/verification.md);
    # 0: on the loop; None: node/verify_pool.default_verify_workers.
    verify_workers: int | None = None
    # This node's back-pressure threshold for clients (DagLimits.client_pending_max):
    # the pending transactions, and so the latency, a node lets clients queue.
    # A node-local choice; None: the default (1,000).
    client_pending_max: int | None = None

    def to_json(self) -> dict[str, Any]:
        """As written to node.json."""
        doc: dict[str, Any] = {
            "name": self.name,
            "api": f"{self.api_host}:{self.api_port}",
            "p2p": f"{self.p2p_host}:{self.p2p_port}",
            "peers": [
                {"key": p.key, "p2p": f"{p.host}:{p.port}", **({"name": p.name} if p.name else {})}
                for p in self.peers
            ],
        }
        if self.empty_checkpoint_interval_ms is not None:
            doc["empty_checkpoint_interval_ms"] = self.empty_checkpoint_interval_ms
        if self.verify_workers is not None:
            doc["verify_workers"] = self.verify_workers
        if self.client_pending_max is not None:
            doc["client_pending_max"] = self.client_pending_max
        return doc


def _hostport(value: Any, what: str, path: Path) -> tuple[str, int]:
    if not isinstance(value, str) or ":" not in value:
        raise FileError(f"{path}: {what} must be host:port")
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise FileError(f"{path}: {what} has an invalid port")
    return host, int(port)


def read_node_config(path: Path) -> NodeConfig:
    """Load node.json."""
    doc = _read_json(path)
    if not isinstance(doc, dict):
        raise FileError(f"{path} must hold a JSON object")
    api = _hostport(doc.get("api"), "api", path)
    p2p = _hostport(doc.get("p2p"), "p2p", path)
    peers = []
    for p in doc.get("peers", []):
        host, port = _hostport(p.get("p2p") if isinstance(p, dict) else None, "a peer", path)
        _hex(p.get("key"), 32, "a peer key", path)
        name = p.get("name")
        if name is not None and not (
            isinstance(name, str) and 0 < len(name) <= PEER_NAME_CHARS_MAX
        ):
            raise FileError(f"{path}: a peer's name is text of 1..{PEER_NAME_CHARS_MAX} characters")
        peers.append(PeerAddr(p["key"], host, port, name))
    try:
        empty = _optional_int(doc.get("empty_checkpoint_interval_ms"))
    except ValueError as exc:
        raise FileError(f"{path}: empty_checkpoint_interval_ms: {exc}") from None
    if empty is not None and empty < 0:
        raise FileError(f"{path}: empty_checkpoint_interval_ms must not be negative")
    try:
        workers = _optional_int(doc.get("verify_workers"))
    except ValueError as exc:
        raise FileError(f"{path}: verify_workers: {exc}") from None
    if workers is not None and not 0 <= workers <= VERIFY_WORKERS_MAX:
        raise FileError(f"{path}: verify_workers must lie in 0..{VERIFY_WORKERS_MAX}")
    try:
        queued = _optional_int(doc.get("client_pending_max"))
    except ValueError as exc:
        raise FileError(f"{path}: client_pending_max: {exc}") from None
    cap = DagLimits().pending_count_max
    if queued is not None and not 1 <= queued <= cap:
        raise FileError(f"{path}: client_pending_max must lie in 1..{cap} (pending_count_max)")
    return NodeConfig(
        str(doc.get("name", "node")), *api, *p2p, tuple(peers), empty, workers, queued
    )


@dataclass(frozen=True, slots=True)
class Home:
    """A node's directory."""

    path: Path

    @property
    def config_path(self) -> Path:
        """node.json."""
        return self.path / "node.json"

    @property
    def genesis_path(self) -> Path:
        """genesis.json."""
        return self.path / "genesis.json"

    @property
    def key_path(self) -> Path:
        """node.key, the node's (and, for a validator, the validator's) key."""
        return self.path / "node.key"

    @property
    def store_path(self) -> Path:
        """The SQLite database."""
        return self.path / "data" / "store.sqlite"

    def write(self, config: NodeConfig, genesis: Genesis, key: SigningKey) -> None:
        """Create a fresh home."""
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "data").mkdir(exist_ok=True)
        self.config_path.write_text(json.dumps(config.to_json(), indent=2) + "\n")
        self.genesis_path.write_text(json.dumps(genesis_to_json(genesis), indent=2) + "\n")
        write_key(self.key_path, key)
