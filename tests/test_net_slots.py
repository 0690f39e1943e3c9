"""Connection slots on the open ledger layer: strangers cannot crowd out the peers a node needs.

Each test is an attack from the issue-16 review of the peer layer, over real
sockets on 127.0.0.1: strangers with fresh keys filling every slot, a flood of
connections that never finish their handshake, a peer that stops reading.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from govchain.crypto.keys import SigningKey
from govchain.net.framing import encode_frame
from govchain.node.devnet import create, free_port_base
from govchain.node.files import Home
from govchain.node.node import Node
from test_net import LIMITS, Cluster, close, connected, eventually, raw_connect, raw_peer, run
from test_net import Node as NetNode

SLOTS = dataclasses.replace(LIMITS, connections_max=2, handshakes_max=3)


def reserving(*labels: str) -> set[str]:
    """The peer ids of labelled nodes (Cluster names keys by label)."""
    return {SigningKey.from_label(label).public_key.hex() for label in labels}


def test_strangers_at_the_cap_do_not_lock_out_a_reserved_peer() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            keep = reserving("validator")
            a = await c.node("a", limits=SLOTS, reserved=keep.__contains__)
            strangers = [await c.node(f"stranger-{i}", dial=[a.addr]) for i in range(3)]
            await eventually(lambda: len(a.net.peers()) == 2)
            await eventually(lambda: a.net.stats["inbound_refused"] >= 1)
            v = await c.node("validator", dial=[a.addr])
            await eventually(connected((a, v)))
            assert len(a.net.peers()) == 3  # two strangers, and the reserved peer beside them
            assert sum(s.id in a.net.peers() for s in strangers) == 2

    run(scenario)


def test_a_flood_of_unfinished_handshakes_does_not_lock_out_a_peer() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            a = await c.node("a", limits=dataclasses.replace(SLOTS, handshake_timeout_s=5.0))
            # Connections that never say a word: each would hold a handshake slot
            # for handshake_timeout_s.
            silent = [await raw_connect(a) for _ in range(8)]
            await eventually(lambda: a.net.stats["handshakes_evicted"] >= 5)
            b = await c.node("b", dial=[a.addr])
            await eventually(connected((a, b)), timeout_s=2.0)  # well before the 5 s timeout
            for _, writer in silent:
                await close(writer)

    run(scenario)


async def silent_peer(
    c: Cluster, label: str, write_stall_s: float
) -> tuple[NetNode, str, asyncio.StreamWriter]:
    """A node (reserving "validator") and a hand-driven peer `label` that reads nothing."""
    limits = dataclasses.replace(SLOTS, write_stall_s=write_stall_s, send_queue_max=4096)
    a = await c.node("a", limits=limits, reserved=reserving("validator").__contains__)
    _, writer, _ = await raw_peer(a, label)
    await eventually(lambda: len(a.net.peers()) == 1)
    return a, a.net.peers()[0], writer


def test_a_stranger_that_stops_reading_loses_its_slot() -> None:
    async def scenario() -> None:
        async with Cluster() as c:
            a, stranger, writer = await silent_peer(c, "stranger", 0.3)
            chunk = b"x" * 60_000
            # Far more than the socket buffers hold; the stranger reads none of it.
            async with asyncio.timeout(5.0):
                while stranger in a.net.peers():
                    a.net.send(stranger, chunk)
                    await asyncio.sleep(0.01)
            assert a.net.stats["write_stalls"] == 1, str(a.net.stats)
            await close(writer)

    run(scenario)


def test_a_reserved_peer_that_stops_reading_keeps_its_connection() -> None:
    # A partition stalls a validator's socket the same way; it must survive it.
    async def scenario() -> None:
        async with Cluster() as c:
            a, peer, writer = await silent_peer(c, "validator", 0.2)
            for _ in range(100):
                a.net.send(peer, b"x" * 60_000)
                await asyncio.sleep(0.01)
            assert peer in a.net.peers() and a.net.stats["write_stalls"] == 0
            writer.write(encode_frame(b"still here"))
            await eventually(lambda: a.inbox != [])
            await close(writer)

    run(scenario)


def test_a_node_reserves_its_configured_peers_and_the_validators(tmp_path: Path) -> None:
    nodes = create(tmp_path / "devnet", 2, 1, free_port_base(3))
    node = Node(Home(nodes[0].home))  # not started: only its choice of reserved peers
    try:
        configured = [p.key for p in node.node_config.peers]
        assert len(configured) == 2  # the other validator and the observer
        assert all(node._reserved_peer(k) for k in configured)
        stranger = SigningKey.from_label("stranger").public_key.hex()
        assert not node._reserved_peer(stranger)
        assert not node._reserved_peer("not hex")
        # A validator not (yet) in node.json: governance may add one at any time.
        validator = node.genesis.validators.members[1].public_key.hex()
        node._configured_peers = frozenset()
        assert node._reserved_peer(validator)
        members = {m.public_key.hex() for m in node.genesis.validators.members}
        observer = next(k for k in configured if k not in members)
        assert not node._reserved_peer(observer), "an observer is reserved only when configured"
    finally:
        node.store.close()
