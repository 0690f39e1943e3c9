"""`govchain devnet status`: what the supervisor knows, joined with what each node says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from govchain.node.devnet import DEVNET_FILE_NAME, exists
from govchain.node.devnet_control import NotRunningError, ask
from govchain.node.errors import DevnetError

CONTROL_TIMEOUT_S = 30.0  # a drill may wait for a node's SIGTERM grace period (10 s)
STATUS_TIMEOUT_S = 2.0
# Heights are asked one node after another, so a node this many heights below
# the highest is behind; fewer may be the time between two questions.
BEHIND_HEIGHTS_MIN = 3


class NoDevnetError(DevnetError):
    """The directory holds no devnet at all."""


def devnet_status(root: Path) -> dict[str, Any]:
    """The devnet's nodes: pid, state, height, peers, whether behind; running or not."""
    try:
        doc = dict(ask(root, {"op": "status"}, CONTROL_TIMEOUT_S)["devnet"])
        running = True
    except NotRunningError:
        doc = _last_known(root)
        running = False
    nodes = [_node_entry(n, running) for n in doc.get("nodes", [])]
    if running:
        _probe(nodes)
    supervisor = doc.get("supervisor") if running else None
    return {
        "dir": str(root),
        "chain_id": doc.get("chain_id"),
        "running": running,
        "supervisor_pid": supervisor.get("pid") if isinstance(supervisor, dict) else None,
        "restart": bool(supervisor.get("restart")) if isinstance(supervisor, dict) else False,
        "explorer": doc.get("explorer"),
        "nodes": nodes,
    }


def _last_known(root: Path) -> dict[str, Any]:
    """devnet.json as the last supervisor left it (no supervisor answers now)."""
    path = root / DEVNET_FILE_NAME
    if not path.is_file():
        if exists(root):
            raise NoDevnetError(f"the devnet in {root} has never started (no {path})")
        raise NoDevnetError(f"no devnet in {root}")
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DevnetError(f"{path} cannot be read ({exc})") from None
    if not isinstance(doc, dict):
        raise DevnetError(f"{path} is not a devnet description")
    return doc


def _node_entry(n: dict[str, Any], running: bool) -> dict[str, Any]:
    alive = running and n.get("state") == "running"
    return {
        "name": n.get("name"),
        "validator": n.get("validator"),
        "state": n.get("state", "unknown") if running else "stopped",
        "running": alive,
        "pid": n.get("pid"),
        "height": None,
        "peers": None,
        "catching_up": None,
        "behind": None,
        "restarts": n.get("restarts", 0),
        "last_exit": n.get("last_exit"),
        "api": n.get("api"),
        "log": n.get("log"),
    }


def _probe(nodes: list[dict[str, Any]]) -> None:
    """Ask each running node for its height, peers and catching_up; mark those behind."""
    with httpx.Client(timeout=STATUS_TIMEOUT_S) as http:
        for n in nodes:
            if not n["running"]:
                continue
            try:
                st = http.get(f"{n['api']}/v1/status").json()
                n["height"] = int(st["height"])
                n["peers"] = int(st["peers"])
                n["catching_up"] = bool(st.get("catching_up", False))
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                continue  # running but not answering yet (starting)
    top = max((n["height"] for n in nodes if n["height"] is not None), default=None)
    for n in nodes:
        if n["height"] is not None and top is not None:
            n["behind"] = bool(n["catching_up"]) or n["height"] + BEHIND_HEIGHTS_MIN <= top
