"""The node shell acts on blamed peers: it drops them, forgets their gossip and refuses their key.

In-process: a real Node (store, replica, peer network on 127.0.0.1) built from
a devnet home, and a throwaway-key peer dialling it. The replica's verdict is
injected as it would come out of ready(): which peer, and why.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from govchain.crypto.keys import SigningKey
from govchain.net.peers import NetLimits, PeerNetwork
from govchain.node.devnet import create
from govchain.node.files import Home
from govchain.node.node import Node
from govchain.node.port_leases import free_port_base

BAN_S = 600.0  # on the network's clock, which the test moves: nobody waits it out
PEER_LIMITS = NetLimits(dial_backoff_s_min=0.01, dial_backoff_s_max=0.05)


async def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.01)


def test_a_blamed_peer_is_dropped_refused_for_a_while_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    devnet = create(tmp_path, 1, 0, free_port_base(1))
    node = Node(Home(devnet[0].home))
    node.net.limits = NetLimits(blame_ban_s=BAN_S)
    now_s = [0.0]
    node.net.clock = lambda: now_s[0]

    async def scenario() -> None:
        await node.net.start()
        mallory_key = SigningKey(hashlib.sha256(b"blame mallory").digest())
        mallory = PeerNetwork(
            mallory_key,
            node.genesis.chain_id,
            node.genesis.hash,
            ("127.0.0.1", 0),
            [("127.0.0.1", devnet[0].p2p_port)],
            lambda _peer, _data: None,
            PEER_LIMITS,
        )
        await mallory.start()
        name = mallory_key.public_key.hex()
        try:
            await eventually(lambda: name in node.net.peers())
            node.backlog.push(name, (b"queued gossip",))
            node.replica.ready()
            node.replica._out.blamed.append((name, "a forged redacted copy"))
            with caplog.at_level(logging.WARNING, logger="govchain.node"):
                node.shell.drain()

            assert name not in node.net.peers()
            assert node.metrics.peers_blamed == 1
            assert node.backlog.bytes_of(name) == 0  # its gossip is not worth checking
            assert "a forged redacted copy" in caplog.text
            # It dials again at once, and is refused while the ban lasts...
            await eventually(lambda: node.net.stats["banned_refused"] >= 1)
            now_s[0] += BAN_S * 0.99
            refused = node.net.stats["banned_refused"]
            await eventually(lambda: node.net.stats["banned_refused"] > refused)
            assert name not in node.net.peers()
            # ... after which it is welcome again.
            now_s[0] += BAN_S * 0.01
            await eventually(lambda: name in node.net.peers())
        finally:
            await mallory.stop()
            await node.net.stop()

    try:
        asyncio.run(scenario())
    finally:
        node.store.close()


def test_ban_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="bans_max"):
        NetLimits(bans_max=0)
