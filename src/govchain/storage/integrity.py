"""Is a node's store whole? Checked before the node opens it; a damaged one is set aside.

SQLite's own check (`PRAGMA quick_check`) finds structural damage: a B-tree
page whose header, cell pointers, key order or free list no longer hold. A
flipped byte inside a row's payload keeps the page well formed and is
invisible to it, so the rows are checked against what the chain says of them:

- the latest HEIGHTS_CHECKED checkpoints (full=True: all) decode
  canonically, run without a gap, each names the one before it by hash (the
  first, genesis), and its certificate names it (load() checks that for
  every height too); the latest CERTIFICATES_VERIFIED certificates (full=True:
  all) are verified against the genesis validator set when the checkpoint names
  that set (a later set is known only to a replay of governance);
- those executed heights' state hash, receipts root and audit head equal
  what the next decided checkpoint certifies (the last executed height has no
  successor yet: the replay at start checks its state hash);
- full=True adds every vertex and waiting row (its id is the hash of its
  header, its payload matches the hash the header names; a vertex pruned by
  `--prune` keeps a 32-byte id in pruned_ids, below the mark), every tx_index entry
  (its key is the first 8 bytes of the id it points to), and every audit row
  (canonical, its sequence number and height as keyed).

The quick level runs at every start: quick_check reads every page (its cost
grows with the file), the rest is bounded by HEIGHTS_CHECKED.
Figures: docs/disk-faults.md. A row the quick level misses is still checked
when read: load() and get_tx() hash every vertex they return (storage/sqlite.py).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from govchain.consensus.messages import Checkpoint, certificate_error
from govchain.crypto.keys import SIGNATURE_BYTES
from govchain.dag.tx import decode_body, payload_hash, tx_id
from govchain.state.genesis import Genesis
from govchain.storage.base import StoreError
from govchain.storage.sqlite import tx_key
from govchain.storage.sqlite_pruning import read_pruned_mark
from govchain.storage.sqlite_rows import (
    CERTIFICATE_DECODER,
    CHECKPOINT_DECODER,
    HARD_STATE_DECODER,
    CorruptStoreError,
    audit_entry,
    decode_row,
)
from govchain.storage.sqlite_schema import APPLICATION_ID

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
CERTIFICATES_VERIFIED = 64  # the latest heights whose signatures are checked at start
# The latest heights whose checkpoints and executions the start check links: its
# cost stays bounded as an idle chain adds a height a second (~20 us each).
HEIGHTS_CHECKED = 10_000
ROWS_PER_FETCH = 4_096
DAMAGED_INFIX = ".damaged-"


class DamagedStoreError(StoreError):
    """The store file is damaged: the message names the file, the place and what is wrong."""

    def __init__(self, path: Path, where: str, what: str) -> None:
        super().__init__(f"{path} is damaged: {where}: {what}")
        self.path = path
        self.where = where


@dataclass
class IntegrityReport:
    """What check_store looked at, and how long it took."""

    path: Path
    full: bool
    file_bytes: int = 0  # the store and its -wal
    heights: int = 0
    certificates_verified: int = 0
    rows_checked: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for logs: sizes and the time each part took."""
        parts = ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in self.seconds.items())
        level = "full" if self.full else "quick"
        return (
            f"{level} check of {self.file_bytes} bytes, {self.heights} heights, "
            f"{self.certificates_verified} certificates, {self.rows_checked} rows: {parts}"
        )


def check_store(path: Path, genesis: Genesis, full: bool = False) -> IntegrityReport:
    """Check the store at path (absent or empty: a new store, nothing to check).

    Raises DamagedStoreError naming the first damage found. Opens its own connection
    and closes it: call it before the node opens the store.
    """
    report = IntegrityReport(Path(path), full)
    if not path.exists() or path.stat().st_size == 0:
        return report
    wal = Path(f"{path}-wal")
    report.file_bytes = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    with _timed(report, "header"):
        _check_header(path)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise DamagedStoreError(path, "file", f"cannot open: {exc}") from exc
    try:
        conn.execute("PRAGMA query_only = 1")
        conn.execute("BEGIN")  # one snapshot for every read below
        with _timed(report, "quick_check"):
            _quick_check(path, conn)
        with _timed(report, "chain"):
            _check_chain(path, conn, genesis, report, full)
        if full:
            with _timed(report, "rows"):
                _check_rows(path, conn, report)
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:  # a page SQLite cannot read while walking the rows
        raise DamagedStoreError(path, "file", str(exc)) from exc
    except CorruptStoreError as exc:
        raise DamagedStoreError(path, f"table {exc.table}", str(exc)) from exc
    finally:
        conn.close()
    return report


@contextmanager
def _timed(report: IntegrityReport, part: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        report.seconds[part] = time.perf_counter() - t0


def _check_header(path: Path) -> None:
    """The file's first 100 bytes: SQLite's magic and a page size; whole pages."""
    with path.open("rb") as f:
        head = f.read(HEADER_BYTES)
    if len(head) < HEADER_BYTES or not head.startswith(SQLITE_MAGIC):
        raise DamagedStoreError(path, "file header", "not an SQLite database (magic bytes differ)")
    raw = int.from_bytes(head[16:18], "big")
    page = 65_536 if raw == 1 else raw
    if page < 512 or page & (page - 1):
        raise DamagedStoreError(path, "file header", f"page size {raw} is not a power of two")
    size = path.stat().st_size
    if size % page:
        raise DamagedStoreError(
            path, "file", f"{size} bytes is not a whole number of {page}-byte pages"
        )


def _quick_check(path: Path, conn: sqlite3.Connection) -> None:
    # Through SQLite: page 1 may be newer in the -wal than in the file (as after a crash).
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id != APPLICATION_ID and (app_id or tables):  # 0 and no table: never written
        raise DamagedStoreError(path, "file header", f"application id {app_id:#x}, not govchain's")
    problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    if problems != ["ok"]:
        raise DamagedStoreError(path, "pages", "; ".join(str(p) for p in problems))


def _check_chain(
    path: Path, conn: sqlite3.Connection, genesis: Genesis, report: IntegrityReport, full: bool
) -> None:
    """Checkpoints linked by hash and certified; executions equal to what the next certifies."""
    for (data,) in conn.execute("SELECT data FROM hard_state"):
        decode_row("hard_state", "id 1", data, HARD_STATE_DECODER)
    top = conn.execute("SELECT coalesce(max(height), 0) FROM decided").fetchone()[0]
    verify_from = 1 if full else top - CERTIFICATES_VERIFIED + 1
    start = 1 if full else max(1, top - HEIGHTS_CHECKED + 1)
    # The window's first checkpoint links to one outside it: taken as it is stored.
    previous: bytes | None = genesis.hash if start == 1 else None
    checkpoints: dict[int, Checkpoint] = {}
    rows = conn.execute(
        "SELECT height, checkpoint, certificate FROM decided WHERE height >= ? ORDER BY height",
        (start,),
    )
    for expected, (height, cp_data, cert_data) in enumerate(_fetched(rows), start):
        key = f"height {height!r}"
        if height != expected:
            raise DamagedStoreError(path, "table decided", f"{key} where {expected} belongs")
        cp = decode_row("decided", key, cp_data, CHECKPOINT_DECODER)
        cert = decode_row("decided", key, cert_data, CERTIFICATE_DECODER)
        if cp.height != height or cert.height != height or cert.value != cp.hash:
            raise DamagedStoreError(
                path, f"table decided, {key}", "certificate names another value"
            )
        if cp.chain_id != genesis.chain_id or cp.previous != (previous or cp.previous):
            raise DamagedStoreError(
                path, f"table decided, {key}", "does not link to the one before"
            )
        if height >= verify_from and cp.validator_set_hash == genesis.validators.hash:
            why = certificate_error(cert, cp, genesis.validators)
            if why is not None:
                raise DamagedStoreError(path, f"table decided, {key}", f"certificate: {why}")
            report.certificates_verified += 1
        previous = cp.hash
        checkpoints[height] = cp
    report.heights = top
    rows = conn.execute(
        "SELECT height, state_hash, receipts_root, audit_head FROM executed "
        "WHERE height >= ? ORDER BY height",
        (start,),
    )
    for expected, (height, state, receipts, audit) in enumerate(_fetched(rows), start):
        key = f"height {height!r}"
        if height != expected or height > top:
            raise DamagedStoreError(path, "table executed", f"{key}: heights run 1..{top}")
        after = checkpoints.get(height + 1)
        if after is not None and (state, receipts, audit) != (
            after.state_hash,
            after.receipts_root,
            after.audit_head,
        ):
            raise DamagedStoreError(
                path, f"table executed, {key}", "differs from what the next checkpoint certifies"
            )


def _check_rows(path: Path, conn: sqlite3.Connection, report: IntegrityReport) -> None:
    """Every stored transaction against its own hashes; the id index; the audit rows."""
    pruned_below, _ = read_pruned_mark(conn)
    for table in ("vertices", "waiting"):
        rows = conn.execute(f"SELECT seq, tx_id, body, signature, payload FROM {table}")  # noqa: S608
        for seq, vid, body, sig, payload in _fetched(rows):
            report.rows_checked += 1
            where = f"table {table}, seq {seq!r}"
            if not (isinstance(body, bytes) and isinstance(sig, bytes)):
                raise DamagedStoreError(path, where, "header is not bytes")
            if table == "vertices" and (not isinstance(seq, int) or seq < pruned_below):
                raise DamagedStoreError(path, where, f"below the pruned mark {pruned_below}")
            if len(sig) != SIGNATURE_BYTES or tx_id(body, sig) != vid:
                raise DamagedStoreError(path, where, "tx_id is not the hash of its header")
            if payload is not None:
                try:
                    named = decode_body(body).payload_hash
                except ValueError as exc:
                    raise DamagedStoreError(path, where, f"header: {exc}") from exc
                if not isinstance(payload, bytes) or payload_hash(payload) != named:
                    raise DamagedStoreError(path, where, "payload does not match its hash")
    rows = conn.execute("SELECT seq, tx_id FROM pruned_ids")
    for seq, vid in _fetched(rows):
        report.rows_checked += 1
        # Pruned (--prune): the id alone, of a vertex below the mark.
        if not isinstance(seq, int) or not 1 <= seq < pruned_below:
            raise DamagedStoreError(path, f"table pruned_ids, seq {seq!r}", "not below the mark")
        if not isinstance(vid, bytes) or len(vid) != 32:
            raise DamagedStoreError(path, f"table pruned_ids, seq {seq}", "id is not 32 bytes")
    rows = conn.execute(
        "SELECT t.tx_key, t.seq, coalesce(v.tx_id, p.tx_id) FROM tx_index AS t "
        "LEFT JOIN vertices AS v ON v.seq = t.seq LEFT JOIN pruned_ids AS p ON p.seq = t.seq"
    )
    for key, seq, vid in _fetched(rows):
        report.rows_checked += 1
        if not isinstance(vid, bytes) or tx_key(vid) != key:
            raise DamagedStoreError(
                path, f"table tx_index, seq {seq!r}", "key does not match the id"
            )
    rows = conn.execute("SELECT seq, height, entry FROM audit ORDER BY seq")
    for seq, height, data in _fetched(rows):
        report.rows_checked += 1
        key = f"seq {seq!r}"
        entry = audit_entry(key, data)  # canonical as the hash chain has it
        if entry.seq != seq or entry.height != height:
            raise DamagedStoreError(path, f"table audit, {key}", "entry does not match its row")


def _fetched(cursor: sqlite3.Cursor) -> Iterator[tuple[object, ...]]:
    """A cursor's rows a batch at a time."""
    while batch := cursor.fetchmany(ROWS_PER_FETCH):
        yield from batch


def set_aside(path: Path, now: datetime | None = None) -> Path | None:
    """Move the store (and its -wal, -shm) to <name>.damaged-<UTC stamp>; never deletes it.

    Returns the new path of the store file (None when there was none). The
    -wal keeps its suffix after the new name, so the set-aside copy opens whole.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}{DAMAGED_INFIX}{stamp}")
    n = 1
    while aside.exists():  # two resyncs within a second keep both copies
        n += 1
        aside = path.with_name(f"{path.name}{DAMAGED_INFIX}{stamp}-{n}")
    moved = None
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            src.rename(f"{aside}{suffix}")
            if not suffix:
                moved = aside
    return moved
