"""After a redaction the WAL checkpoint may come back busy: it is retried and reported.

Issue 9, item 5: commit() ran `PRAGMA wal_checkpoint(TRUNCATE)` after a
redacting commit and ignored its result. With a reader holding a snapshot from
before the redaction, the checkpoint answers busy (first column 1); the
redacted bytes then stayed in the WAL (and the database file) for good, since
the next commit without a redaction did not try again. The busy checkpoint also
waited out the connection's 5 s busy timeout, on the node's event loop.
"""

# ruff: noqa: F811 (`history` is test_storage's module fixture, imported to be used)
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import SimCluster
from govchain.codec import encode
from govchain.replica.outputs import ReplicaReady
from govchain.state.payloads import ProposePayload, RecordPayload, Redact
from govchain.storage.sqlite import SqliteStore
from test_storage import (  # noqa: F401
    ALICE,
    FRESH,
    OTHER,
    REGULATOR,
    History,
    cluster,
    commit_all,
    history,
    signed,
)

MARKER = b"wal-busy-redact-4d1e8b2a90"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def reader(db: Path) -> Iterator[sqlite3.Connection]:
    """A second connection (a backup, an operator's sqlite3 shell) on the same file."""
    conn = sqlite3.connect(db, isolation_level=None)
    yield conn
    conn.close()


def _holding(db: Path) -> list[str]:
    """Names of the store's files that still hold MARKER."""
    return sorted(f.name for f in db.parent.iterdir() if MARKER in f.read_bytes())


def _in_wal(store: SqliteStore) -> bool:
    """store.redaction_in_wal, read through a call: a read mypy does not narrow from an
    earlier assert (the commits in between change the flag)."""
    return store.redaction_in_wal


def _redact_while_reading(db: Path, reader: sqlite3.Connection) -> tuple[SimCluster, Any]:
    """A record with MARKER final, then redacted while `reader` holds an older snapshot."""
    net = cluster(SqliteStore(db))
    net.run_until(lambda: all(r.ledger.height >= 2 for r in net.replicas.values()))
    tips = net.replicas["r0"].dag.client_tips
    rec = signed(ALICE, "record", encode(RecordPayload("", "text/plain", MARKER)), tips(2), 0)
    net.submit("r0", rec)
    net.run_until(net.final_everywhere(rec))
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM vertices").fetchone()  # the snapshot starts here
    action = ProposePayload(Redact(rec.id), "court order 23", bytes(32))
    net.submit("r1", signed(REGULATOR, "gov.propose", encode(action), tips(2), 0))
    r0 = net.replicas["r0"]
    # The bytes go once the checkpoint after the redaction is decided.
    net.run_until(
        lambda: (red := r0.ledger.redaction(rec.id)) is not None and len(r0.decided) > red.height
    )
    stored = net.store("r0").get_tx(rec.id)
    assert stored is not None and stored.redacted
    return net, rec


def test_a_busy_checkpoint_is_retried_until_the_redacted_bytes_are_gone(
    db: Path, reader: sqlite3.Connection
) -> None:
    net, _ = _redact_while_reading(db, reader)
    try:
        assert _holding(db)  # the reader's snapshot still needs the old pages
        reader.execute("COMMIT")  # the reader lets go
        r0 = net.replicas["r0"]
        top = r0.ledger.height
        net.run_until(lambda: r0.ledger.height >= top + 2)  # later commits, none redacting
        assert _holding(db) == []  # today: the -wal file (and the database) still hold it
    finally:
        net.store("r0").close()


def test_a_busy_checkpoint_is_reported(
    db: Path, reader: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="govchain.storage")
    net, _ = _redact_while_reading(db, reader)
    store = net.store("r0")
    assert isinstance(store, SqliteStore)
    try:
        assert _in_wal(store)  # redaction_in_wal: a flag an operator (or /metrics) can read
        assert store.wal_checkpoint_busy >= 1
        assert any("busy" in r.getMessage() for r in caplog.records)
        reader.execute("COMMIT")
        r0 = net.replicas["r0"]
        top = r0.ledger.height
        net.run_until(lambda: r0.ledger.height >= top + 1)
        assert not _in_wal(store)
        assert _holding(db) == []
        assert any("done" in r.getMessage() for r in caplog.records)
    finally:
        store.close()


def test_a_busy_checkpoint_does_not_wait_out_the_busy_timeout(
    db: Path, history: History, reader: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint runs inside commit(), on the node's event loop: it must not block."""
    store = SqliteStore(db)
    try:
        commit_all(store, history.readies)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM vertices").fetchone()
        write = SqliteStore._write

        def redacting(self: SqliteStore, ready: ReplicaReady) -> Any:
            out = write(self, ready)
            self._redacted_pending = True  # as after a commit whose executions redact
            return out

        monkeypatch.setattr(SqliteStore, "_write", redacting)
        statements: list[str] = []
        store._conn.set_trace_callback(statements.append)
        store.commit(ReplicaReady(admitted=[FRESH]))
        store._conn.set_trace_callback(None)
        # Every checkpoint try ran with no busy timeout (the 5 s default would
        # stall the event loop), and the timeout was put back afterwards.
        tries = [i for i, sql in enumerate(statements) if "wal_checkpoint" in sql]
        zero = statements.index("PRAGMA busy_timeout = 0")
        restored = max(
            i for i, sql in enumerate(statements) if sql.startswith("PRAGMA busy_timeout = ")
        )
        assert tries and zero < min(tries) and max(tries) < restored
        assert statements[restored] != "PRAGMA busy_timeout = 0"
        assert store._pragma("busy_timeout") > 0
        monkeypatch.undo()
        assert _in_wal(store)
        assert store.get_tx(FRESH.id) is not None  # the commit itself stands
        reader.execute("COMMIT")
        store.commit(ReplicaReady(admitted=[OTHER]))  # retried here, and it succeeds
        assert not _in_wal(store)
        assert (db.parent / (db.name + "-wal")).stat().st_size == 0  # truncated
    finally:
        store.close()
