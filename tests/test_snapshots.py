"""Snapshots: a restart from a snapshot plus its tail equals a replay of the whole chain.

Runs of the simulator (all applications, governance, the warehouse workload)
give real histories; their nodes snapshot every few heights
(sim/cluster.py SIM_SNAPSHOT_*). The ledger a snapshot restores, once its
tail is executed again, must image to the very bytes of the ledger replayed
from genesis (state/image.py captures every field, so a field the snapshot
missed shows up here).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import msgspec
import pytest

from govchain.apps.catalog import registry_for
from govchain.cli.node_store import store_failure
from govchain.codec import encode
from govchain.dag.graph import DagFrontier
from govchain.node.files import Home, NodeConfig
from govchain.node.node import Node
from govchain.replica.outputs import Persisted, ReplayDivergedError, ReplicaReady
from govchain.replica.replica import Replica
from govchain.replica.snapshot import Snapshot, SnapshotPolicy
from govchain.sim.cluster import SimConfig, Simulation
from govchain.state.image import ImageError, decode_value, encode_value
from govchain.state.ledger_image import image_of, ledger_from_image, read_image, split_image
from govchain.storage.memory import MemoryStore
from govchain.storage.sources import StoreSources
from govchain.storage.sqlite import SqliteStore
from govchain.storage.sqlite_rows import CorruptStoreError
from govchain.storage.sqlite_snapshots import _digest as _row_digest
from govchain.storage.sqlite_snapshots import read_snapshot


class RecordingStore(MemoryStore):
    """A node's in-memory disk that also keeps every commit, to replay into SQLite."""

    def __init__(self) -> None:
        super().__init__()
        self.readies: list[ReplicaReady] = []

    def commit(self, ready: ReplicaReady) -> None:
        super().commit(ready)
        if ready.must_persist():
            self.readies.append(replace(ready, sends=[]))


def _run(seed: int, faults: str = "none") -> Simulation:
    sim = Simulation(SimConfig(seed=seed, validators=4, faults=faults))
    for node in sim.nodes.values():
        node.store = RecordingStore()
    result = sim.run()
    assert not result.violations, result.violations
    return sim


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return _run(3)


def _store(sim: Simulation) -> RecordingStore:
    store = sim.nodes["v0"].store
    assert isinstance(store, RecordingStore)
    return store


def _sqlite(sim: Simulation, db: Path) -> Path:
    """db: a new SQLite store holding every commit of the simulation's v0."""
    with SqliteStore(db) as sql:
        for ready in _store(sim).readies:
            sql.commit(ready)
    return db


def _replica(sim: Simulation, store: MemoryStore | SqliteStore, persisted: Persisted) -> Replica:
    sources = StoreSources(store)
    node = sim.nodes["v0"]
    return Replica(
        "v0",
        sim.genesis,
        node.key,
        sim.peer_names,
        sim.honest_config,
        persisted,
        vertex_source=sources.vertex,
        final_source=sources.is_final,
        peer_keys=sim.peer_keys,
        receipt_source=sources.receipt_proof,
        decided_source=sources.checkpoint,
        audit_source=sources.audit,
        registry=registry_for(sim.genesis),
    )


def _whole(store: MemoryStore) -> Persisted:
    """What a store without snapshots would load: every execution from genesis."""
    p = store.load()
    every = [r.executed for r in _store_readies(store)]
    return replace(p, executed=[ex for batch in every for ex in batch], snapshot=None)


def _store_readies(store: MemoryStore) -> list[ReplicaReady]:
    assert isinstance(store, RecordingStore)
    return store.readies


def _same(a: Replica, b: Replica) -> None:
    assert a.ledger.height == b.ledger.height
    assert a.ledger.state_hash == b.ledger.state_hash
    assert image_of(a.ledger) == image_of(b.ledger)  # every field, byte for byte
    assert set(a.dag.tips) == set(b.dag.tips)
    assert a.dag.latest_by_sender == b.dag.latest_by_sender
    assert a.dag.covered_ids == b.dag.covered_ids
    assert set(a.dag.vertices) == set(b.dag.vertices)


def test_a_ledger_images_to_the_same_bytes_after_a_round_trip(sim: Simulation) -> None:
    replica = sim.nodes["v0"].replica
    assert replica is not None
    data = image_of(replica.ledger)
    again = ledger_from_image(sim.genesis, data, registry_for(sim.genesis))
    assert image_of(again) == data
    assert again.state_hash == replica.ledger.state_hash
    # The warehouse's book and the funds' liens travel too (the apps' namespaces).
    assert {p[0] for p in read_image(data).parts} >= {"accounts", "governance", "audit"}


def test_snapshot_plus_tail_equals_a_full_replay(sim: Simulation) -> None:
    store = _store(sim)
    loaded = store.load()
    assert loaded.snapshot is not None
    assert loaded.snapshot.height > 0
    assert len(loaded.executed) < loaded.snapshot.height  # a tail, not the chain
    from_snapshot = _replica(sim, store, loaded)
    from_genesis = _replica(sim, store, _whole(store))
    _same(from_snapshot, from_genesis)


def test_the_same_chain_gives_the_same_snapshots_on_every_node(sim: Simulation) -> None:
    snaps = {}
    for name in sim.names:
        snap = sim.nodes[name].store.load().snapshot
        assert snap is not None
        snaps[name] = snap
    by_height: dict[int, set[bytes]] = {}
    for snap in snaps.values():
        by_height.setdefault(snap.height, set()).add(snap.ledger)
    # Nodes at the same snapshot height hold the very same ledger image.
    assert all(len(images) == 1 for images in by_height.values())


def test_sqlite_loads_the_snapshot_and_only_the_tail(sim: Simulation, tmp_path: Path) -> None:
    store = _store(sim)
    db = tmp_path / "store.sqlite"
    sql = SqliteStore(db)
    try:
        for i, ready in enumerate(store.readies):
            sql.commit(ready)
            if i % 7 == 0:  # a restart now and then: the caches come back from the snapshot
                sql.close()
                sql = SqliteStore(db)
        loaded = sql.load()
        assert loaded == store.load()
        _same(_replica(sim, sql, loaded), _replica(sim, store, _whole(store)))
    finally:
        sql.close()
    assert loaded.snapshot is not None and loaded.snapshot.height > 0


def test_a_damaged_snapshot_row_stops_the_load(sim: Simulation, tmp_path: Path) -> None:
    db = _sqlite(sim, tmp_path / "store.sqlite")
    raw = sqlite3.connect(db)
    with raw:
        (data,) = raw.execute("SELECT data FROM snapshots ORDER BY height DESC LIMIT 1").fetchone()
        flipped = bytes([data[0]]) + bytes([data[1] ^ 1]) + data[2:]
        raw.execute(
            "UPDATE snapshots SET data = ? WHERE height = (SELECT max(height) FROM snapshots)",
            (flipped,),
        )
    raw.close()
    with SqliteStore(db) as sql, pytest.raises(CorruptStoreError, match="snapshots"):
        sql.load()


def test_restarts_in_a_run_resume_from_snapshots() -> None:
    """Crash faults restart nodes mid-run; with snapshots every few heights they load one."""
    restored = 0
    original = Replica._restore

    def counting(self: Replica, snap: Snapshot, p: Persisted, fs: Callable[[bytes], bool]) -> None:
        nonlocal restored
        restored += 1
        original(self, snap, p, fs)

    Replica._restore = counting  # type: ignore[method-assign, assignment]
    try:
        for seed in (1, 2, 5):
            _run(seed, "crash")
    finally:
        Replica._restore = original  # type: ignore[method-assign]
    assert restored > 0


def test_snapshot_policy_counts_txs_and_heights() -> None:
    policy = SnapshotPolicy(txs=100, heights=10)
    assert not policy.due(99, 9)
    assert policy.due(100, 1)
    assert policy.due(0, 10)


# -- the image codec refuses what it cannot rebuild faithfully -------------------------
class _Outside:
    """A class outside the state packages."""


def test_the_image_refuses_classes_outside_the_state_packages() -> None:
    with pytest.raises(ImageError, match="not a state class"):
        encode_value(_Outside(), "x")
    with pytest.raises(ImageError, match="not a state class"):
        decode_value([["builtins.object", []]], ["o", 0, []])
    with pytest.raises(ImageError, match="not a state class"):
        decode_value([["os.system", []]], ["o", 0, []])


def test_the_image_refuses_a_mutable_object_reached_twice() -> None:
    shared: list[int] = [1]
    with pytest.raises(ImageError, match="reached twice"):
        encode_value({"a": shared, "b": shared}, "x")


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00", b"\xff" * 40, msgspec.msgpack.encode([1, "x"]), msgspec.msgpack.encode([])],
)
def test_garbage_is_no_image(garbage: bytes) -> None:
    with pytest.raises(ImageError):
        read_image(garbage)


@pytest.mark.parametrize(
    "tree",
    [
        ["z", []],
        ["l"],
        ["d", [1]],
        ["d", [["l", []], 1]],  # an unhashable key
        ["s", [["l", []]]],  # an unhashable member
        ["q", "x", []],
        ["o", 0, [1]],  # too few values
        ["o", 0, [1, 2, 3]],
        ["o", 2, [1, 2]],  # not in the table
        ["o", 1, []],  # an enum as an object
        ["e", 0, 1],  # an object as an enum
        ["e", 1, "no-such-status"],
        [1, 2],
    ],
)
def test_malformed_trees_are_typed_errors(tree: object) -> None:
    classes = [
        ["govchain.state.accounts.Account", ["balance", "nonce"]],
        ["govchain.state.governance.ProposalStatus", []],
    ]
    with pytest.raises(ImageError):
        decode_value(classes, tree)


@pytest.mark.parametrize(
    "classes",
    [
        [["govchain.state.accounts.Account", ["balance", "nonce", "added"]]],
        [["govchain.state.accounts.Account", ["balance"]]],
        [["govchain.state.nothing_here.Nope", []]],
        [["govchain.state.accounts", []]],
        [["govchain.state.accounts.Account", [1]]],
        "not a table",
    ],
)
def test_malformed_class_tables_are_typed_errors(classes: object) -> None:
    with pytest.raises(ImageError):
        decode_value(classes, ["o", 0, [1, 2]])


@pytest.mark.parametrize("parts", [[[]], [["audit"]], [[1]], [], "parts"])
def test_malformed_part_lists_are_typed_errors(sim: Simulation, parts: object) -> None:
    replica = sim.nodes["v0"].replica
    assert replica is not None
    doc = read_image(image_of(replica.ledger))
    data = msgspec.msgpack.encode(msgspec.structs.replace(doc, parts=parts))
    with pytest.raises(ImageError):
        ledger_from_image(sim.genesis, data, registry_for(sim.genesis))


def test_a_frontier_round_trips() -> None:
    f = DagFrontier(3, [b"a" * 32], [(b"k" * 32, b"a" * 32)], [(5, [b"b" * 32])])
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(f), type=DagFrontier) == f


def _image_of_another_version(data: bytes) -> bytes:
    """The same image as a version of the code whose Accounts had one more field."""
    doc = read_image(data)
    parts = [list(p) for p in doc.parts]
    for part in parts:
        for c in part[1]:
            if c[0] == "govchain.state.accounts.Account":
                c[1] = [*c[1], "added_later"]
    return msgspec.msgpack.encode(msgspec.structs.replace(doc, parts=parts))


def test_a_snapshot_of_another_version_is_not_restored(sim: Simulation) -> None:
    snap = _store(sim).load().snapshot
    assert snap is not None
    with pytest.raises(ImageError, match="fields differ"):
        ledger_from_image(
            sim.genesis, _image_of_another_version(snap.ledger), registry_for(sim.genesis)
        )


def test_a_node_replays_from_genesis_when_its_snapshot_does_not_fit(
    sim: Simulation, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(sim)
    snap = store.load().snapshot
    assert snap is not None
    store._snapshot = msgspec.structs.replace(snap, ledger=_image_of_another_version(snap.ledger))
    home = Home(tmp_path / "node")
    home.write(
        NodeConfig("v0", "127.0.0.1", 1, "127.0.0.1", 2, ()), sim.genesis, sim.nodes["v0"].key
    )
    try:
        node = Node(home, config=sim.honest_config, store=store)
        assert "does not fit this version" in caplog.text
        _same(node.replica, _replica(sim, store, _whole(store)))
    finally:
        store._snapshot = snap


def test_a_damaged_low_seq_stops_the_load(sim: Simulation, tmp_path: Path) -> None:
    """low_seq tells the load which vertices it may skip: the row's digest covers it too."""
    db = _sqlite(sim, tmp_path / "store.sqlite")
    raw = sqlite3.connect(db)
    with raw:
        raw.execute(
            "UPDATE snapshots SET low_seq = low_seq + 1 "
            "WHERE height = (SELECT max(height) FROM snapshots)"
        )
    raw.close()
    with SqliteStore(db) as sql, pytest.raises(CorruptStoreError, match="snapshots"):
        sql.load()


def test_snapshots_share_the_image_parts_they_have_in_common(
    sim: Simulation, tmp_path: Path
) -> None:
    """A part is stored once however many kept snapshots hold it, and leaves with the last."""
    db = _sqlite(sim, tmp_path / "store.sqlite")
    raw = sqlite3.connect(db)
    rows = raw.execute("SELECT height, parts FROM snapshots").fetchall()
    listed = [p[i : i + 32] for _, p in rows for i in range(0, len(p), 32)]
    stored = [r[0] for r in raw.execute("SELECT digest FROM snapshot_parts")]
    raw.close()
    assert len(rows) >= 2 and all(p is not None for _, p in rows)
    assert sorted(stored) == sorted(set(listed))  # nothing unlisted is kept
    assert len(stored) < len(listed)  # and what two snapshots share is stored once
    with SqliteStore(db) as sql:
        loaded = sql.load()
    assert loaded.snapshot is not None
    assert loaded.snapshot.ledger == _store(sim).load().snapshot.ledger  # type: ignore[union-attr]


def test_a_damaged_image_part_stops_the_load(sim: Simulation, tmp_path: Path) -> None:
    db = _sqlite(sim, tmp_path / "store.sqlite")
    raw = sqlite3.connect(db)
    with raw:
        (pid, data) = raw.execute(
            "SELECT id, data FROM snapshot_parts ORDER BY length(data) DESC LIMIT 1"
        ).fetchone()
        raw.execute(
            "UPDATE snapshot_parts SET data = ? WHERE id = ?",
            (data[:-1] + bytes([data[-1] ^ 1]), pid),
        )
    raw.close()
    with SqliteStore(db) as sql, pytest.raises(CorruptStoreError, match="snapshot_parts"):
        sql.load()


def test_an_image_split_into_parts_joins_to_the_same_bytes(sim: Simulation) -> None:
    replica = sim.nodes["v0"].replica
    assert replica is not None
    data = image_of(replica.ledger)
    head, parts = split_image(data)
    assert head + b"".join(parts) == data
    assert len(parts) == len(read_image(data).parts)
    with pytest.raises(ImageError):
        split_image(data + b"\x00")  # trailing bytes: the parts do not end it
    with pytest.raises(ImageError):
        split_image(b"garbage")


def test_a_version_8_store_keeps_its_whole_snapshots(sim: Simulation, tmp_path: Path) -> None:
    """Rows written before schema 9 hold their whole image: they load as they are."""
    db = _sqlite(sim, tmp_path / "store.sqlite")
    raw = sqlite3.connect(db)
    with raw:
        heights = [h for (h,) in raw.execute("SELECT height FROM snapshots")]
        kept = [read_snapshot(raw, h) for h in heights]
        raw.execute("DROP TABLE snapshots")
        raw.execute("DROP TABLE snapshot_parts")
        raw.execute(
            "CREATE TABLE snapshots (height INTEGER PRIMARY KEY, low_seq INTEGER NOT NULL, "
            "digest BLOB NOT NULL, data BLOB NOT NULL)"
        )
        for found in kept:
            assert found is not None
            snap, low = found
            data = encode(snap)
            raw.execute(
                "INSERT INTO snapshots VALUES (?, ?, ?, ?)",
                (snap.height, low, _row_digest(low, data, None), data),
            )
        raw.execute("UPDATE schema_version SET version = 8")
    raw.close()
    with SqliteStore(db) as sql:
        assert sql.settings()["schema_version"] == 9
        loaded = sql.load()
    assert loaded.snapshot is not None
    assert loaded.snapshot.ledger == _store(sim).load().snapshot.ledger  # type: ignore[union-attr]
    assert _last_column(db) == "data"


def _last_column(db: Path) -> str:
    raw = sqlite3.connect(db)
    try:
        return str(raw.execute("PRAGMA table_info(snapshots)").fetchall()[-1][1])
    finally:
        raw.close()


def test_a_snapshot_row_ends_with_its_data(sim: Simulation, tmp_path: Path) -> None:
    """SQLite keeps a zeroblob unwritten only at the end of a record: a column after
    it would cost a snapshot's size in zeros at every write (60 MB at a million ids)."""
    assert _last_column(_sqlite(sim, tmp_path / "store.sqlite")) == "data"


def test_a_store_of_another_release_is_refused_with_a_typed_error(
    sim: Simulation, tmp_path: Path
) -> None:
    """A replay that re-executes a height to another state says so (not a bare assert)."""
    whole = _whole(_store(sim))
    first = whole.executed[0]
    other = replace(first, result=replace(first.result, state_hash=bytes(32)))
    with pytest.raises(ReplayDivergedError, match="height 1 gives another state"):
        _replica(sim, _store(sim), replace(whole, executed=[other, *whole.executed[1:]]))
    failed = store_failure(ReplayDivergedError(1), Home(tmp_path))
    assert failed is not None and failed.code == "store_incompatible"
    assert "--reset" in failed.message and "--resync" in failed.message
