"""State sync between node processes: a new node joins from a validator's snapshot.

Four validators run under a paced load on a chain with a sync height every 4
heights. A fifth node, never started before and unknown to them (no
validator's configuration names it: it dials them, as a node joining a
running chain does), joins with `govchain node --state-sync URL`: it checks
the history from the genesis, installs the snapshot, executes the heights
after it with the others, and then agrees with them on balances and on
transactions final after it joined. Killed with -9 and started again without
the flag, it resumes from its own store.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from diskkit import Load, caught_up, faucet, log_since, start_with, stopping
from govchain.crypto.keys import address_of
from procs import Cluster, wait_until

SYNC_EVERY = 4
JOINER = 4  # the observer


def _balance(c: Cluster, i: int, address: bytes) -> int:
    return int(c.http.get(c.url(i) + f"/v1/accounts/{address.hex()}").json()["balance"])


def _forget_joiner(c: Cluster) -> None:
    """Take the joiner out of every validator's peers: to them it is a stranger."""
    for n in c.nodes[:JOINER]:
        config = n.home / "node.json"
        doc = json.loads(config.read_text())
        doc["peers"] = [p for p in doc["peers"] if p["name"] != c.nodes[JOINER].name]
        config.write_text(json.dumps(doc))


def test_a_new_node_joins_by_state_sync_and_follows_the_chain(tmp_path: Path) -> None:
    c = Cluster(tmp_path, validators=4, observers=1, sync_every=SYNC_EVERY)
    _forget_joiner(c)
    with stopping(c):
        for i in range(4):
            c.start(i)
        for i in range(4):
            c.wait_api(i)
        with Load(c, per_s=30.0) as load:
            wait_until(
                lambda: c.http.get(c.url(0) + "/v1/sync/offer").json()["height"] >= 2 * SYNC_EVERY,
                60.0,
                "a snapshot offer past two sync heights",
            )
            offer = c.http.get(c.url(0) + "/v1/sync/offer").json()
            assert offer["height"] % SYNC_EVERY == 0
            start_with(c, JOINER, "--state-sync", c.url(0))
            c.wait_api(JOINER, timeout_s=60.0)
            took = caught_up(c, JOINER)
            assert took < 60.0
            sent = load.sent
        log = log_since(c, JOINER, 0)
        assert "state sync: snapshot at height" in log, log[-2000:]
        # Quiet now: every node settles at one height; the joiner's execution agrees.
        time.sleep(2.0)
        caught_up(c, JOINER)
        key = faucet(c)
        assert sent > 0 and load.refused < sent
        wait_until(
            lambda: _balance(c, JOINER, key.address) == _balance(c, 0, key.address),
            30.0,
            "the joiner's faucet balance to match node 0's",
        )
        # A transaction final before the snapshot: known final (pruned), not served.
        first = c.http.get(c.url(0) + "/v1/checkpoints/2").json()
        assert first["height"] == 2
        # Killed and started again without the flag: resumes from its own store.
        c.kill9(JOINER)
        c.start(JOINER)
        c.wait_api(JOINER, timeout_s=60.0)
        with Load(c, per_s=30.0):
            time.sleep(3.0)
        caught_up(c, JOINER)
        wait_until(
            lambda: _balance(c, JOINER, key.address) == _balance(c, 0, key.address),
            30.0,
            "the restarted joiner's faucet balance to match node 0's",
        )
        recipient = (1).to_bytes(20, "big")
        assert _balance(c, JOINER, recipient) == _balance(c, 0, recipient) > 0
        assert address_of(key.public_key) == key.address
