"""Review of storage schema 4 (254f177): the in-memory tx-id index and the outcomes cache.

Each test pins a defect found in review and since fixed: a stale cache after
a rolled-back commit, caches skipped after a failed WAL checkpoint, a mark past
the merged ids, a damaged id above the mark.
"""

# ruff: noqa: F811 (`history` is test_storage's module fixture, imported to be used)
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from govchain.replica.outputs import ReplicaReady
from govchain.state.receipts import Receipt
from govchain.storage import sqlite as sqlite_store
from govchain.storage.base import CommitError
from govchain.storage.sqlite import CorruptStoreError, SqliteStore
from test_storage import FRESH, OTHER, History, commit_all, history, next_height  # noqa: F401


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


def test_outcomes_cached_from_a_commit_that_rolled_back_are_not_served(
    db: Path, history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A get_tx between BEGIN IMMEDIATE and COMMIT sees the commit's own rows.

    The API no longer reads from a thread pool, so this cannot happen in a node;
    the store still keeps such reads out of its outcomes cache, so that a commit
    that rolls back leaves nothing behind.
    """
    store = SqliteStore(db)
    try:
        commit_all(store, history.readies)
        store.commit(ReplicaReady(admitted=[FRESH]))
        first = next_height(history, [FRESH])
        h = first.executed[0].checkpoint.height
        write_covered = SqliteStore._write_covered

        def read_then_fail(self: SqliteStore, rows: list[tuple[int, int, int]]) -> None:
            write_covered(self, rows)
            seen = self.get_tx(FRESH.id)  # what an API thread would do at this moment
            assert seen is not None and seen.height == h  # uncommitted, yet visible
            raise OSError("disk on fire")

        monkeypatch.setattr(SqliteStore, "_write_covered", read_then_fail)
        with pytest.raises(OSError, match="disk on fire"):
            store.commit(first)
        monkeypatch.undo()
        second = next_height(history, [FRESH], [Receipt(FRESH.id, h, 0, "rejected", "conflict")])
        store.commit(second)
        assert store.receipts(h)[0].status == "rejected"
        stored = store.get_tx(FRESH.id)
        assert stored is not None and stored.receipt is not None
        assert stored.receipt.status == "rejected"  # today: "executed", the rolled-back one
    finally:
        store.close()


class _CheckpointFails:
    """The store's connection, except that PRAGMA wal_checkpoint raises."""

    conn: sqlite3.Connection  # set through __dict__: __getattr__ forwards the rest to it

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.__dict__["conn"] = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if "wal_checkpoint" in sql:
            raise sqlite3.OperationalError("disk I/O error")
        return self.conn.execute(sql, *args)


def test_a_vertex_committed_before_the_wal_checkpoint_failed_is_found(
    db: Path, history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    """commit() runs wal_checkpoint(TRUNCATE) after a redacting COMMIT and only then
    moves its caches; if the checkpoint raises, the committed vertices are in
    neither _recent nor tx_index, so get_tx finds nothing until a restart (and every
    later commit that stores a vertex fails on a reused sequence number).
    """
    store = SqliteStore(db)
    try:
        commit_all(store, history.readies)
        store._conn = _CheckpointFails(store._conn)  # type: ignore[assignment]
        write = SqliteStore._write

        def redacting(self: SqliteStore, ready: ReplicaReady) -> Any:
            out = write(self, ready)
            self._redacted_pending = True  # as after a commit whose executions redact
            return out

        monkeypatch.setattr(SqliteStore, "_write", redacting)
        with pytest.raises(sqlite3.OperationalError):
            store.commit(ReplicaReady(admitted=[FRESH]))
        monkeypatch.undo()
        assert store.get_tx(FRESH.id) is not None  # committed; today: None
        store.commit(ReplicaReady(admitted=[OTHER]))  # today: UNIQUE constraint failed
    finally:
        store.close()


def test_a_mark_past_the_merged_ids_is_noticed(db: Path, history: History) -> None:
    """tx_index_mark is only type-checked: moved past ids never merged, it hides them
    from get_tx and _refuse_stored, and the store then admits a duplicate vertex
    that schema 3 refused; load() notices neither.
    """
    with SqliteStore(db) as store:
        commit_all(store, history.readies)
    raw = sqlite3.connect(db)
    with raw:
        raw.execute("UPDATE tx_index_mark SET seq = (SELECT max(seq) FROM vertices)")
    raw.close()
    try:
        store = SqliteStore(db)
        store.load()
    except CorruptStoreError:
        return  # noticed: good
    try:
        with pytest.raises(CommitError, match="already stored"):
            store.commit(ReplicaReady(admitted=[history.final[0]]))  # today: accepted
    finally:
        store.close()


def test_a_damaged_id_above_the_mark_is_a_corrupt_store_error(
    db: Path, history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    """_load_caches puts raw tx_id values into _recent and _finish_merge feeds them to
    tx_key(): a damaged id makes opening raise TypeError, not CorruptStoreError.
    """
    with SqliteStore(db) as store:
        commit_all(store, history.readies)
    raw = sqlite3.connect(db)
    with raw:
        raw.execute("UPDATE vertices SET tx_id = 'x' WHERE seq = (SELECT max(seq) FROM vertices)")
    raw.close()
    monkeypatch.setattr(sqlite_store, "INDEX_MERGE_ROWS", 2)  # a merge is due at open
    with pytest.raises(CorruptStoreError, match="table vertices"):
        SqliteStore(db).close()
