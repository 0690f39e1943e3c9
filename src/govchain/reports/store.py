"""A node's reports: one SQLite file of their own, apart from the chain store.

The chain store holds what every node agrees on; reports are what the public
sent this node, contact details included, so they live beside it
(`data/reports.sqlite` next to `data/store.sqlite`) and never enter its schema.

- Durable: WAL with synchronous=FULL, one commit per accepted report, so a
  report answered 201 survives kill -9.
- Bounded: at most `count_max` reports and `bytes_max` bytes of their fields
  are kept. A full store refuses new reports (ReportsFullError); nothing is ever
  dropped to make room.
- Rows are keyed by a sequence number (receive order); lists page by it,
  newest first (keyset: `after` names the last report of the previous page).
- Handling: `apply` takes the report_handled audit entries of executed
  heights (state/kinds/report_handle.py) and marks the reports this store
  holds; the first handling wins. `synced_height` is the last height applied;
  it is written with a marking, or every SYNC_PERSIST_HEIGHTS heights, so an
  idle chain costs no fsync per height; after a crash the heights since are
  read again from the chain store (marking is idempotent).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from govchain.reports.report import Report, report_id
from govchain.state.kinds.report_handle import Handled
from govchain.storage.base import prefix_bounds

REPORTS_COUNT_MAX = 100_000
REPORTS_BYTES_MAX = 256 * 1024 * 1024  # of the reports' fields, UTF-8
PAGE_LIMIT_MAX = 500
SYNC_PERSIST_HEIGHTS = 1_000
APPLICATION_ID = 0x67637270  # "gcrp": a govchain reports file, told apart from a chain store
SCHEMA_VERSION = 1
FILE_MODE = 0o600  # the owner's alone: reports carry personal data

_SCHEMA = (
    """CREATE TABLE reports (
        seq INTEGER PRIMARY KEY,
        report_id BLOB NOT NULL,
        received_ms INTEGER NOT NULL,
        category TEXT NOT NULL,
        subject TEXT NOT NULL,
        text TEXT NOT NULL,
        contact TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        handled INTEGER NOT NULL DEFAULT 0,
        handled_by BLOB,
        handled_height INTEGER,
        handle_tx BLOB,
        note TEXT
    )""",
    "CREATE UNIQUE INDEX reports_by_id ON reports (report_id)",
    "CREATE INDEX reports_by_status ON reports (handled, seq)",
    """CREATE TABLE meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL,
        node_key BLOB NOT NULL,
        synced_height INTEGER NOT NULL,
        last_ms INTEGER NOT NULL,
        count INTEGER NOT NULL,
        handled_count INTEGER NOT NULL,
        bytes INTEGER NOT NULL
    )""",
)
_BY_ID = (
    "SELECT seq, report_id, received_ms, category, subject, text, contact, handled_by,"
    " handled_height, handle_tx, note FROM reports WHERE report_id = ?"
)
_PAGE = (
    "SELECT seq, report_id, received_ms, category, subject, text, contact, handled_by,"
    " handled_height, handle_tx, note FROM reports WHERE seq < ? ORDER BY seq DESC LIMIT ?"
)
_PAGE_OF_STATUS = (
    "SELECT seq, report_id, received_ms, category, subject, text, contact, handled_by,"
    " handled_height, handle_tx, note FROM reports WHERE handled = ? AND seq < ?"
    " ORDER BY seq DESC LIMIT ?"
)


class Status(StrEnum):
    """Where a report stands."""

    OPEN = "open"
    HANDLED = "handled"


class ReportStoreError(Exception):
    """The reports file cannot be used (not ours, another node's, unreadable)."""


class ReportsFullError(Exception):
    """The store keeps as many reports (or bytes) as it may: a new one is refused."""


class UnknownReportError(LookupError):
    """A page's `after` names no report of this store."""


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A kept report: its id, receive order and time, and its handling (None: open)."""

    report_id: bytes
    seq: int
    report: Report
    received_ms: int
    handled: Handled | None

    @property
    def status(self) -> Status:
        """open or handled."""
        return Status.OPEN if self.handled is None else Status.HANDLED


def _row(r: tuple[object, ...]) -> StoredReport:
    seq, rid, ms, category, subject, text, contact, by, height, tx, note = r
    handled = None
    if by is not None:
        assert isinstance(by, bytes) and isinstance(height, int)
        assert isinstance(tx, bytes) and isinstance(note, str) and isinstance(rid, bytes)
        handled = Handled(rid, by, height, tx, note)
    assert isinstance(seq, int) and isinstance(rid, bytes) and isinstance(ms, int)
    assert isinstance(category, str) and isinstance(subject, str)
    assert isinstance(text, str) and isinstance(contact, str)
    return StoredReport(rid, seq, Report(category, subject, text, contact), ms, handled)


def _create_private(path: Path) -> None:
    """Create the file readable by its owner only, unless it exists.

    Reports hold what the public typed, contact details included; SQLite gives
    its -wal and -shm files the database file's permissions.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


class ReportStore:
    """The reports one node received; path None keeps them in memory (tests)."""

    def __init__(
        self,
        path: Path | None,
        node_key: bytes,
        start_height: int,
        count_max: int = REPORTS_COUNT_MAX,
        bytes_max: int = REPORTS_BYTES_MAX,
    ) -> None:
        """Open (or create, synced from start_height: no earlier handling concerns it) a store."""
        self.path, self.node_key = path, node_key
        self.count_max, self.bytes_max = count_max, bytes_max
        try:
            if path is not None:
                _create_private(path)
            self._db = sqlite3.connect(
                ":memory:" if path is None else path, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise ReportStoreError(f"{path}: cannot open: {exc}") from None
        try:
            self._open(start_height)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise ReportStoreError(f"{path}: {exc}") from None
        except ReportStoreError:
            self._db.close()
            raise

    def _open(self, start_height: int) -> None:
        db = self._db
        if self.path is not None:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                raise ReportStoreError(f"{self.path}: WAL mode is not available")
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            with self._write():
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute(
                    "INSERT INTO meta VALUES (1, ?, ?, ?, 0, 0, 0, 0)",
                    (SCHEMA_VERSION, self.node_key, start_height),
                )
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
        elif app_id != APPLICATION_ID:
            raise ReportStoreError(f"{self.path} is not a govchain reports file")
        row = db.execute(
            "SELECT version, node_key, synced_height, last_ms, count, handled_count, bytes"
            " FROM meta WHERE id = 1"
        ).fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            raise ReportStoreError(f"{self.path}: schema version {row and row[0]} is not ours")
        if row[1] != self.node_key:
            raise ReportStoreError(
                f"{self.path} holds the reports of node key {bytes(row[1]).hex()}, not this node's"
            )
        self._synced, self._last_ms = int(row[2]), int(row[3])
        self._count, self._handled, self._bytes = int(row[4]), int(row[5]), int(row[6])
        self._persisted = self._synced

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One transaction: committed (and, on a file, fsynced) when the block ends.

        A failed COMMIT (a full disk) rolls back too, so the next write starts clean.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise

    # -- writing -------------------------------------------------------------
    def add(self, report: Report, now_ms: int) -> StoredReport:
        """Keep a report received now; ReportsFullError when the store may keep no more."""
        size = report.size_bytes
        if self._count >= self.count_max:
            raise ReportsFullError(f"this node keeps at most {self.count_max} reports, and is full")
        if self._bytes + size > self.bytes_max:
            raise ReportsFullError(f"this node keeps at most {self.bytes_max} bytes of reports")
        ms = max(now_ms, self._last_ms + 1)  # strictly increasing: ids never collide
        rid = report_id(report, self.node_key, ms)
        with self._write():
            cur = self._db.execute(
                "INSERT INTO reports (report_id, received_ms, category, subject, text, contact,"
                " size_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rid, ms, report.category, report.subject, report.text, report.contact, size),
            )
            self._db.execute(
                "UPDATE meta SET last_ms = ?, count = count + 1, bytes = bytes + ? WHERE id = 1",
                (ms, size),
            )
        seq = cur.lastrowid
        assert isinstance(seq, int)
        self._last_ms, self._count, self._bytes = ms, self._count + 1, self._bytes + size
        return StoredReport(rid, seq, report, ms, None)

    def apply(self, handled: Iterable[Handled], through_height: int) -> int:
        """Mark the reports these handlings name (first wins); synced up to through_height.

        Returns how many of this store's reports became handled.
        """
        marks = [h for h in handled if h.height <= through_height]
        if through_height <= self._synced and not marks:
            return 0
        synced = max(self._synced, through_height)
        changed = 0
        if marks or synced - self._persisted >= SYNC_PERSIST_HEIGHTS:
            with self._write():
                for h in marks:
                    cur = self._db.execute(
                        "UPDATE reports SET handled = 1, handled_by = ?, handled_height = ?,"
                        " handle_tx = ?, note = ? WHERE report_id = ? AND handled = 0",
                        (h.member, h.height, h.tx_id, h.note, h.report_id),
                    )
                    changed += cur.rowcount
                self._db.execute(
                    "UPDATE meta SET synced_height = ?, handled_count = handled_count + ?"
                    " WHERE id = 1",
                    (synced, changed),
                )
            self._persisted = synced
        self._synced, self._handled = synced, self._handled + changed
        return changed

    # -- reading -------------------------------------------------------------
    @property
    def synced_height(self) -> int:
        """The last executed height whose handlings are applied."""
        return self._synced

    def counts(self) -> dict[str, int]:
        """How many reports are open and handled."""
        return {Status.OPEN: self._count - self._handled, Status.HANDLED: self._handled}

    @property
    def bytes_used(self) -> int:
        """Bytes of the kept reports' fields."""
        return self._bytes

    def get(self, rid: bytes) -> StoredReport | None:
        """A report by its id."""
        row = self._db.execute(_BY_ID, (rid,)).fetchone()
        return _row(row) if row is not None else None

    def page(
        self, status: Status | None, after: bytes | None, limit: int
    ) -> tuple[list[StoredReport], bool]:
        """Up to limit reports (of a status), newest first, after a report; and whether more."""
        if not 1 <= limit <= PAGE_LIMIT_MAX:
            raise ValueError(f"limit must lie in 1..{PAGE_LIMIT_MAX}")
        below = 2**63 - 1
        if after is not None:
            found = self._db.execute(
                "SELECT seq FROM reports WHERE report_id = ?", (after,)
            ).fetchone()
            if found is None:
                raise UnknownReportError(after.hex())
            below = found[0]
        if status is None:
            rows = self._db.execute(_PAGE, (below, limit + 1)).fetchall()
        else:
            handled = int(status is Status.HANDLED)
            rows = self._db.execute(_PAGE_OF_STATUS, (handled, below, limit + 1)).fetchall()
        return [_row(r) for r in rows[:limit]], len(rows) > limit

    def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Ids (hex) that start with a hex prefix (1..64 lowercase hex), sorted; at most limit."""
        lo, hi = prefix_bounds(prefix)
        rows = self._db.execute(
            "SELECT report_id FROM reports WHERE report_id BETWEEN ? AND ?"
            " ORDER BY report_id LIMIT ?",
            (lo, hi, limit),
        ).fetchall()
        return [bytes(r[0]).hex() for r in rows]

    def close(self) -> None:
        """Close the file (committed reports are on disk already)."""
        self._db.close()
