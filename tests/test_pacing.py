"""Pacing (issue 11): a checkpoint interval every validator checks, and an empty-checkpoint
policy (a heartbeat, or none at all), from genesis and node config."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import msgspec
import pytest

from conftest import SimCluster, receipt_of
from govchain.consensus.config import ConsensusConfig
from govchain.consensus.tendermint import ConsensusApp
from govchain.node.devnet import free_port_base
from govchain.node.files import (
    FileError,
    NodeConfig,
    genesis_to_json,
    read_genesis,
    read_key,
    read_node_config,
)
from govchain.node.node import node_replica_config
from govchain.replica.config import ReplicaConfig
from govchain.replica.outputs import Persisted
from govchain.replica.replica import Replica
from govchain.sdk.client import Client
from govchain.state.genesis import Genesis
from govchain.state.receipts import Receipt
from procs import wait_until
from test_replica import CONFIG, VALIDATORS, genesis
from test_replication import transfer as replication_transfer

IDLE_MS = 30_000  # thirty simulated seconds with nothing to do (a heartbeat would tick 30 times)


def paced(interval_ms: int = 0, empty_ms: int | None = 1_000) -> Genesis:
    return msgspec.structs.replace(
        genesis(4), checkpoint_interval_ms=interval_ms, empty_checkpoint_interval_ms=empty_ms
    )


def proposer_replica(g: Genesis, config: ReplicaConfig = CONFIG) -> Replica:
    names = [f"r{i}" for i in range(4)]
    r = Replica("r0", g, VALIDATORS[0], names, config, Persisted())
    r.start(0)
    return r


def app(r: Replica) -> ConsensusApp:
    """What consensus asks of r's chain: checkpoints to propose and verdicts."""
    return r.consensus.app


def no_idle_override() -> ReplicaConfig:
    """The test replicas' settings, with the heartbeat left to genesis."""
    return ReplicaConfig(dag=CONFIG.dag, consensus=CONFIG.consensus, idle_checkpoint_ms=None)


def transfer(g: Genesis) -> bytes:
    """A transfer on g's chain, naming its genesis as the parent."""
    return replication_transfer([g.hash], 0, chain_id=g.chain_id).to_wire()


def test_a_proposal_waits_for_the_checkpoint_interval_and_carries_a_time_past_it() -> None:
    g = paced(interval_ms=2_000, empty_ms=0)
    r = proposer_replica(g, no_idle_override())
    assert app(r).propose(1, None, g.time_ms + 1_999) is None
    cp = app(r).propose(1, None, g.time_ms + 2_000)
    assert cp is not None and cp.time_ms >= g.time_ms + 2_000


def test_a_checkpoint_closer_than_the_interval_is_invalid() -> None:
    g = paced(interval_ms=2_000, empty_ms=0)
    r = proposer_replica(g, no_idle_override())
    cp = app(r).propose(1, None, g.time_ms + 2_500)
    assert cp is not None
    early = msgspec.structs.replace(cp, time_ms=g.time_ms + 1_500)
    assert app(r).check(early, None, g.time_ms + 2_500).name == "INVALID"
    assert app(r).check(cp, None, g.time_ms + 2_500).name == "VALID"


def test_no_empty_checkpoints_when_genesis_says_never_but_a_transaction_is_proposed() -> None:
    g = paced(empty_ms=None)
    r = proposer_replica(g, no_idle_override())
    assert r.idle_checkpoint_ms is None
    assert app(r).propose(1, None, g.time_ms + 3_600_000) is None  # idle for an hour: nothing
    r.submit(transfer(g), g.time_ms + 10)
    cp = app(r).propose(1, None, g.time_ms + 10 + CONFIG.proposal_tip_age_ms)
    assert cp is not None and cp.tips


def test_an_idle_cluster_without_empty_checkpoints_stands_still_until_a_transaction() -> None:
    g = paced(empty_ms=None)
    c = SimCluster(g, VALIDATORS, no_idle_override())
    c.run_for(IDLE_MS)  # on the simulated clock: rounds time out, nothing is decided
    assert [c.height(n) for n in c.names] == [0] * 4
    tx = replication_transfer([g.hash], 0, chain_id=g.chain_id)
    c.submit("r0", tx)
    c.run_until(c.final_everywhere(tx))
    assert receipt_of(c.replica("r0"), tx.id) == Receipt(tx.id, 1, 0, "executed")
    heights = [c.height(n) for n in c.names]
    c.run_for(IDLE_MS)
    assert [c.height(n) for n in c.names] == heights  # idle again: no checkpoint


def test_the_heartbeat_follows_genesis_and_a_node_may_override_it() -> None:
    g = paced(empty_ms=5_000)
    r = proposer_replica(g, no_idle_override())
    assert app(r).propose(1, None, g.time_ms + 4_999) is None
    assert app(r).propose(1, None, g.time_ms + 5_000) is not None
    fast = ReplicaConfig(dag=CONFIG.dag, consensus=CONFIG.consensus, idle_checkpoint_ms=100)
    assert app(proposer_replica(g, fast)).propose(1, None, g.time_ms + 100) is not None


def test_the_propose_timeout_outlasts_what_a_proposer_may_wait() -> None:
    node = NodeConfig("n", "127.0.0.1", 1, "127.0.0.1", 2, ())
    default = ConsensusConfig().propose_timeout_ms
    assert node_replica_config(paced(), node).consensus.propose_timeout_ms == default
    slow = node_replica_config(paced(empty_ms=10_000), node)
    assert slow.consensus.propose_timeout_ms == 10_500 and slow.idle_checkpoint_ms is None
    own = NodeConfig("n", "127.0.0.1", 1, "127.0.0.1", 2, (), 3_000)
    mine = node_replica_config(paced(interval_ms=4_000), own)
    assert mine.consensus.propose_timeout_ms == 4_500 and mine.idle_checkpoint_ms == 3_000


def test_pacing_round_trips_through_genesis_json_and_an_old_file_is_refused(
    tmp_path: Path,
) -> None:
    g = paced(interval_ms=250, empty_ms=None)
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(genesis_to_json(g)))
    back = read_genesis(path)
    assert back == g and back.hash == g.hash
    old = genesis_to_json(g)
    del old["checkpoint_interval_ms"], old["empty_checkpoint_interval_ms"]
    path.write_text(json.dumps(old))
    with pytest.raises(FileError, match="--reset"):
        read_genesis(path)


@pytest.mark.parametrize(
    ("interval", "empty"), [(-1, 1_000), (60_001, 1_000), (0, -5), (0, 3_600_001)]
)
def test_pacing_out_of_range_is_refused(interval: int, empty: int) -> None:
    with pytest.raises(ValueError, match="interval_ms"):
        paced(interval, empty)


def test_node_json_carries_its_own_heartbeat(tmp_path: Path) -> None:
    cfg = NodeConfig("n", "127.0.0.1", 1, "127.0.0.1", 2, (), 2_500)
    path = tmp_path / "node.json"
    path.write_text(json.dumps(cfg.to_json()))
    assert read_node_config(path).empty_checkpoint_interval_ms == 2_500
    path.write_text(json.dumps({**cfg.to_json(), "empty_checkpoint_interval_ms": "soon"}))
    with pytest.raises(FileError, match="empty_checkpoint_interval_ms"):
        read_node_config(path)


def test_a_devnet_without_empty_checkpoints_stands_still_until_a_transaction(
    tmp_path: Path,
) -> None:
    root = tmp_path / "net"
    base = str(free_port_base(1))
    cmd = [sys.executable, "-m", "govchain.cli.main", "devnet", "--dir", str(root)]
    paced_args = ["--validators", "1", "--port-base", base, "--empty-checkpoints", "never"]
    devnet = subprocess.Popen(
        [*cmd, *paced_args, "--checkpoint-interval", "300"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{base}"
        wait_until(lambda: httpx.get(url + "/v1/status").status_code == 200, 60, "the devnet")
        genesis = read_genesis(root / "nodes" / "validator-0" / "genesis.json")
        assert (genesis.checkpoint_interval_ms, genesis.empty_checkpoint_interval_ms) == (300, None)
        # No checkpoint before the first transaction, and that one is the first
        # checkpoint (how long the chain stays idle is the simulated test's above).
        assert httpx.get(url + "/v1/status").json()["height"] == 0
        faucet = read_key(root / "keys" / "faucet.key")
        with Client(url) as client:
            tx_id = client.submit(client.transfer(faucet, bytes(20), 1))
            final = client.wait_final(tx_id, 30)
            assert (final["status"], final["checkpoint"]) == ("executed", 1)
        os.killpg(devnet.pid, signal.SIGINT)
        devnet.wait(30)
        # Resuming with another pacing is refused, and says how to start fresh.
        again = subprocess.run(
            [*cmd, "--empty-checkpoints", "500", "--json"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert again.returncode == 2
        assert json.loads(again.stdout)["error"]["code"] == "devnet_conflict"
        assert "--reset --empty-checkpoints 500" in again.stdout
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(devnet.pid, signal.SIGINT)
        try:
            devnet.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(devnet.pid, signal.SIGKILL)
            devnet.wait()
