"""`govchain node --prune`: a store keeps only the ids of what its snapshots hold final.

A simulated chain (with its snapshots) is committed into SQLite, pruned, and
read back: ids, finality, receipts and the snapshot load stay; the pruned
transactions answer PrunedError in the store and 410 `pruned` over HTTP; a
replay from the genesis is refused; the full store check accepts a pruned row
only when it holds its id and nothing else (docs/snapshots.md, Pruning).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from govchain.api.chain_reads import DAG_LIMIT_MAX
from govchain.node.files import Home, NodeConfig
from govchain.node.node import Node
from govchain.replica.outputs import ReplicaReady
from govchain.sim.cluster import Simulation
from govchain.state.receipts import Receipt
from govchain.storage.base import PrunedError, StoreError
from govchain.storage.integrity import DamagedStoreError, check_store
from govchain.storage.sqlite import SCHEMA_VERSION, SqliteStore
from test_api_fuzz import AppClient
from test_snapshots import _run, _sqlite, _store


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return _run(3)


@pytest.fixture
def db(sim: Simulation, tmp_path: Path) -> Path:
    """The chain of the simulation's v0, committed into a fresh SQLite store."""
    return _sqlite(sim, tmp_path / "store.sqlite")


@pytest.fixture
def sql(db: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(db)
    yield store
    store.close()


def _final(store: SqliteStore) -> list[Receipt]:
    """Every receipt of every executed height, in final order."""
    return [rc for h in range(1, store.top_height() + 1) for rc in store.receipts(h)]


def test_prune_keeps_ids_receipts_and_the_snapshot_load(
    sim: Simulation, sql: SqliteStore, db: Path
) -> None:
    receipts = _final(sql)
    loaded = sql.load()
    assert sql.pruned_height() == 0
    pruned = sql.prune()
    assert pruned > 0
    assert sql.prune() == 0, "nothing new to prune until the next snapshot"
    assert 0 < sql.pruned_height() < sql.top_height()

    gone = 0
    for rc in receipts:
        assert sql.is_final(rc.tx_id)
        try:
            stored = sql.get_tx(rc.tx_id)
        except PrunedError as exc:
            gone += 1
            assert exc.height == rc.height <= sql.pruned_height()
            assert "archive node" in str(exc)
            continue
        assert stored is not None and stored.receipt == rc
    assert gone == pruned
    assert _final(sql) == receipts, "every height's receipts stay"
    assert sql.load() == loaded, "the restart from the snapshot never needed them"

    sql.close()
    with SqliteStore(db) as again:  # the mark is durable
        assert again.pruned_height() > 0
        assert again.load() == loaded
        with pytest.raises(StoreError, match="pruned up to height"):
            again.load(from_snapshot=False)
    check_store(db, sim.genesis, full=True)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("UPDATE pruned_ids SET tx_id = x'00' WHERE seq = 1", "id is not 32 bytes"),
        ("UPDATE pruned_ids SET seq = 1000000 WHERE seq = 1", "not below the mark"),
        (
            "INSERT INTO vertices (seq, tx_id, body, signature, payload) "
            "VALUES (1, zeroblob(32), x'', x'', NULL)",
            "below the pruned mark",
        ),
    ],
)
def test_a_pruned_id_out_of_place_is_damage(
    sim: Simulation, sql: SqliteStore, db: Path, change: str, why: str
) -> None:
    assert sql.prune() > 0
    sql.close()
    raw = sqlite3.connect(db)
    with raw:
        raw.execute(change)
    raw.close()
    with pytest.raises(DamagedStoreError, match=why):
        check_store(db, sim.genesis, full=True)


def test_pruned_rows_free_their_pages_for_the_rows_to_come(sql: SqliteStore, db: Path) -> None:
    next_seq = sql._next_seq
    assert sql.prune() > 0
    sql.close()
    raw = sqlite3.connect(db)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert raw.execute("PRAGMA freelist_count").fetchone()[0] > 0
    raw.close()
    with SqliteStore(db) as again:
        assert again._next_seq == next_seq, "a seq is never handed out twice"


def test_an_emptied_row_above_the_mark_is_damage(
    sim: Simulation, sql: SqliteStore, db: Path
) -> None:
    sql.close()
    raw = sqlite3.connect(db)
    with raw:
        raw.execute("UPDATE vertices SET body = x'', signature = x'', payload = NULL WHERE seq = 2")
    raw.close()
    with pytest.raises(DamagedStoreError, match="seq 2"):
        check_store(db, sim.genesis, full=True)


def test_a_version_7_store_opens_unpruned_and_prunes(sql: SqliteStore, db: Path) -> None:
    sql.close()
    raw = sqlite3.connect(db)
    with raw:
        raw.execute("DROP TABLE pruned")
        raw.execute("UPDATE schema_version SET version = 7")
    raw.close()
    with SqliteStore(db) as store:
        assert store.settings()["schema_version"] == SCHEMA_VERSION
        assert store.pruned_height() == 0
        assert store.prune() > 0


def test_pruned_payloads_leave_the_file(sql: SqliteStore, db: Path) -> None:
    # secure_delete zeroes what an update frees; the WAL's old page images go
    # with a checkpoint. Longer payloads only: a short one may recur by chance.
    payloads = []
    for rc in _final(sql):
        stored = sql.get_tx(rc.tx_id)
        assert stored is not None
        if len(stored.tx.payload) >= 24:
            payloads.append((rc, stored.tx.payload))
    assert sql.prune() > 0
    pruned = []
    for rc, payload in payloads:
        try:
            sql.get_tx(rc.tx_id)
        except PrunedError:
            pruned.append(payload)
    assert pruned, "the chain has long payloads below the mark"
    sql.close()
    raw = sqlite3.connect(db)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    data = db.read_bytes()
    assert not [p for p in pruned if p in data]


def test_a_node_with_prune_answers_410_for_a_pruned_transaction(
    sim: Simulation, db: Path, tmp_path: Path
) -> None:
    home = Home(tmp_path / "node")
    home.write(
        NodeConfig("v0", "127.0.0.1", 1, "127.0.0.1", 2, ()), sim.genesis, sim.nodes["v0"].key
    )
    store = SqliteStore(db)
    node = Node(home, config=sim.honest_config, store=store, prune=True)
    try:
        assert store.pruned_height() > 0, "a node started with --prune prunes at once"
        receipts = _final(store)
        old = next(rc for rc in receipts if rc.height <= store.pruned_height())
        kept = receipts[-1]
        api = AppClient(node)
        r = api.get(f"/v1/txs/{old.tx_id.hex()}")
        assert r.status_code == 410
        assert r.json()["error"]["code"] == "pruned"
        assert f"final at height {old.height}" in r.json()["error"]["message"]
        assert api.get(f"/v1/txs/{old.tx_id.hex()}/proof").status_code in (410, 404)
        assert api.get(f"/v1/txs/{kept.tx_id.hex()}").status_code == 200
        # A client sending a pruned transaction again learns that it is final.
        original = _store(sim).get_tx(old.tx_id)
        assert original is not None
        r = api.post(
            "/v1/txs",
            content=original.tx.to_wire(),
            headers={"content-type": "application/octet-stream"},
        )
        assert r.status_code < 300 and r.json()["status"] == "final", r.text
        assert api.get(f"/v1/dag/recent?limit={DAG_LIMIT_MAX}").status_code == 200
    finally:
        store.close()


def test_a_node_without_sqlite_cannot_prune(sim: Simulation, tmp_path: Path) -> None:
    home = Home(tmp_path / "node")
    home.write(
        NodeConfig("v0", "127.0.0.1", 1, "127.0.0.1", 2, ()), sim.genesis, sim.nodes["v0"].key
    )
    with pytest.raises(ValueError, match="SQLite"):
        Node(home, config=sim.honest_config, store=_store(sim), prune=True)


def test_a_pruning_node_prunes_again_after_each_new_snapshot(
    sim: Simulation, tmp_path: Path
) -> None:
    readies = _store(sim).readies
    snaps = [i for i, r in enumerate(readies) if r.snapshot is not None]
    assert len(snaps) >= 3, "the simulation wrote three snapshots"
    home = Home(tmp_path / "node")
    home.write(
        NodeConfig("v0", "127.0.0.1", 1, "127.0.0.1", 2, ()), sim.genesis, sim.nodes["v0"].key
    )
    store = SqliteStore(tmp_path / "store.sqlite")
    try:
        for ready in readies[: snaps[1] + 1]:
            store.commit(ready)
        node = Node(home, config=sim.honest_config, store=store, prune=True)
        first = store.pruned_height()
        assert first > 0
        for ready in readies[snaps[1] + 1 : snaps[2] + 1]:
            store.commit(ready)
        node.drained(ReplicaReady())  # no snapshot in this step: nothing happens
        assert store.pruned_height() == first
        node.drained(ReplicaReady(snapshot=readies[snaps[2]].snapshot))
        assert store.pruned_height() > first
    finally:
        store.close()
