"""Node homes for a network where each node has an address of its own (multi-host).

`govchain devnet` makes homes for one machine: every node on 127.0.0.1, told
apart by ports. Here each node gets its own host and all share the same two
ports, as on separate machines: the homes are made by devnet.create (the same
keys, genesis and peers) and then re-addressed, so that each node listens on
its own address and names its peers by theirs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from govchain.node.devnet import DevnetNode, create
from govchain.node.files import FileError, Home, read_node_config

API_PORT = 27000
P2P_PORT = 27100
# devnet.create wants a port base; its loopback ports are replaced below.
CREATE_PORT_BASE = 27000


def readdress(
    nodes: Sequence[DevnetNode], hosts: Sequence[str], api_port: int, p2p_port: int
) -> None:
    """Rewrite each node.json: node i listens on hosts[i], and dials each peer at its host."""
    if len(hosts) != len(nodes):
        raise ValueError(f"{len(nodes)} nodes but {len(hosts)} hosts")
    host_of = {n.name: h for n, h in zip(nodes, hosts, strict=True)}
    for n in nodes:
        home = Home(n.home)
        cfg = read_node_config(home.config_path)
        peers = []
        for p in cfg.peers:
            if p.name not in host_of:
                raise FileError(f"{home.config_path}: peer {p.name!r} is not one of these nodes")
            peers.append(replace(p, host=host_of[p.name], port=p2p_port))
        cfg = replace(
            cfg,
            api_host=host_of[n.name],
            api_port=api_port,
            p2p_host=host_of[n.name],
            p2p_port=p2p_port,
            peers=tuple(peers),
        )
        home.config_path.write_text(json.dumps(cfg.to_json(), indent=2) + "\n")


def make_homes(
    root: Path,
    hosts: Sequence[str],
    validators: int,
    extra_balances: dict[bytes, int] | None = None,
    api_port: int = API_PORT,
    p2p_port: int = P2P_PORT,
) -> list[DevnetNode]:
    """Homes under root for len(hosts) nodes (the first `validators` validate), by address."""
    nodes = create(root, validators, len(hosts) - validators, CREATE_PORT_BASE, extra_balances)
    readdress(nodes, hosts, api_port, p2p_port)
    return [replace(n, api_port=api_port, p2p_port=p2p_port) for n in nodes]
