"""The SQLite Store: WAL, one fsync'd transaction per commit, rows keyed by sequence.

Layout (schema version 9, sqlite_schema.py):

- `vertices`: one row per stored transaction, keyed by an increasing sequence
  number (the rowid) in admission order: header (body, signature), its id, and
  the payload in the same row (one insert per transaction, not two; redaction
  sets the payload to NULL and keeps the header).
- `tx_index`: tx id -> sequence number, for look-ups by id. Its key is the
  id's first 8 bytes as an integer (not unique: the full id is compared on
  read). Random keys dirty a page of a B-tree per insert, which made this
  index the costliest write of a transaction, so it is written in bulk: the
  ids of vertices above `tx_index_mark` live in memory (rebuilt from
  `vertices` on open) and, once INDEX_MERGE_ROWS have gathered, are merged in
  key order, an eighth or more per commit; what is stored meanwhile waits for
  the next merge. Opening a store finishes a merge that is due at once.
- `covered`: one row per final vertex, keyed by its sequence number: the
  height that covered it and its place in that height's order. A vertex
  without one is not final yet; covering is an insert here, never an update
  of the vertex row.
- `decided`: checkpoint and certificate per height.
- `executed`: per executed height, the state hash, the receipts root, the
  audit head, the final order as a msgpack list of vertex sequence numbers
  and the receipts' outcomes (status, reason, rule, governance reference) as
  a msgpack list in that order; the ids come from the vertices.
- `audit`: the audit log's entries (msgpack), keyed by their sequence number,
  with the height that appended them.
- `redacted`: which vertex a height's execution redacted, in order. Its
  payload is set to NULL in the same transaction; secure_delete zeroes the
  freed bytes and a WAL checkpoint then truncates the old page images away.
- `hard_state`: the one row of consensus hard state (msgpack).
- `waiting`: clients' transactions answered "pending_parent", while they wait
  for a parent (wire form, in arrival order); a row goes when its transaction
  is admitted (it is then in `vertices`), expires or is evicted. Added in
  version 5; a version 4 store gains the empty table when opened.
- `movements` (its tables, keys and reads: sqlite_movements.py): every final
  movement of value (trace/movements.py, msgpack in one column: a row of nine
  columns cost three times as much to insert), written in the commit that
  stores its height's execution, keyed by `mseq` = height * 2^32 + its place
  in the height's movements: final order, and a height window is a key range.
  `movement_accounts` indexes it by account, as posting lists: per account_key
  (the address's first 8 bytes as an integer; not unique, so src and dst are
  compared on read) and merge, one row holding the mseqs (msgpack list,
  ascending) of the movements from or to it, keyed by (account_key, last mseq)
  with the first mseq beside. Like `tx_index`, it is written in bulk, for the
  same reason (random keys): the movements above `movement_index.mark` are
  indexed in memory (rebuilt from `movements` on open) and merged once
  MOVEMENT_MERGE_ROWS account entries have gathered, in that commit: one row
  per account then, not per movement. `movement_index.from_height` is the
  first height indexed: 1, except in a store migrated from version 5, whose
  older executions were stored without movements (not derivable without
  executing the chain); there it is the height after the last one executed
  then. Redaction leaves the index alone: a redacted record never moved value.
  Added in version 6.
- `pruned` and `pruned_ids` (sqlite_pruning.py): the vertices `prune()`
  (`govchain node --prune`) took out of `vertices` once every kept snapshot
  held them final, each kept as its id alone. Added in version 8.

Sequence keys keep inserts at the right edge of each B-tree. Everything read
back is checked (canonical encodings, ids against headers, payloads against
their hashes, receipts against their root, the index's mark and row count),
and a bad row raises CorruptStoreError naming its table.

One writer, on one thread: the store caches the next sequence number, the ids
of uncovered vertices, the ids above the mark with the merge's progress, and
the outcomes of the latest heights read; it refuses to commit if another
connection has written the file. Reads made inside an open commit are not
cached. Opening a store may write (to finish a merge).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govchain.codec import encode
from govchain.consensus.messages import Certificate, Checkpoint
from govchain.dag.tx import Transaction
from govchain.replica.execution import Execution
from govchain.replica.outputs import Persisted, ReplicaReady
from govchain.replica.snapshot import Snapshot
from govchain.state.audit import AuditEntry
from govchain.state.ledger import Executed
from govchain.state.receipts import Receipt
from govchain.storage.base import (
    CommitError,
    PrunedError,
    StoredTx,
    StoreError,
    SyncedHeight,
    check_ready,
    check_tx,
    prefix_bounds,
)
from govchain.storage.movement_snapshot import MovementSnapshot
from govchain.storage.sqlite_movements import (
    MOVEMENT_COLUMNS as _MOVEMENT_COLUMNS,
)
from govchain.storage.sqlite_movements import (
    MOVEMENT_HEIGHT_SHIFT,
    MOVEMENT_MERGE_ROWS,
    MOVEMENT_TABLES,
    MovementReads,
    account_key,
)
from govchain.storage.sqlite_movements import movement_row as _movement
from govchain.storage.sqlite_movements import movement_rows as _movements
from govchain.storage.sqlite_movements import movers as _movers
from govchain.storage.sqlite_movements import mseq_range as _mseq_range
from govchain.storage.sqlite_pruning import (
    ID_TABLES,
    NONE_PRUNED,
    PRUNED_IDS_TABLE,
    PRUNED_TABLE,
    move_to_pruned,
    read_pruned_mark,
)
from govchain.storage.sqlite_rows import (
    ARRAY_HEADER_BYTES_MAX,
    CERTIFICATE_DECODER,
    CHECKPOINT_DECODER,
    HARD_STATE_DECODER,
    SEQS_DECODER,
    CorruptStoreError,
    Outcome,
    audit_entry,
)
from govchain.storage.sqlite_rows import KEYS_PER_QUERY as _KEYS_PER_QUERY
from govchain.storage.sqlite_rows import array_length as _array_length
from govchain.storage.sqlite_rows import bytes_row as _bytes
from govchain.storage.sqlite_rows import check_receipts as _check_receipts
from govchain.storage.sqlite_rows import decode_row as _decode
from govchain.storage.sqlite_rows import int_row as _int
from govchain.storage.sqlite_rows import outcomes_of as _outcomes_of
from govchain.storage.sqlite_rows import receipts_of as _receipts
from govchain.storage.sqlite_rows import vertex_row as _vertex
from govchain.storage.sqlite_schema import (
    APPLICATION_ID,
    SCHEMA,
    SCHEMA_VERSION,
    TABLES,
    WAITING_TABLE,
    SchemaError,
)
from govchain.storage.sqlite_snapshots import (
    SNAPSHOTS_TABLE,
    migrate_to_shared_parts,
    newest_low_seq,
    read_snapshot,
    sync_snapshot_height,
    write_snapshot,
)
from govchain.trace.movements import Movement

# What other modules import from here (CorruptStoreError is the store's to raise).
__all__ = [
    "INDEX_MERGE_ROWS",
    "INDEX_SLICE_ROWS",
    "MOVEMENT_MERGE_ROWS",
    "SCHEMA_VERSION",
    "CorruptStoreError",
    "SchemaError",
    "SqliteStore",
    "account_key",
    "tx_key",
]

if TYPE_CHECKING:
    from govchain.storage.base import MovementHistory, Store
    from govchain.trace.movements import MovementSource


# Immediate tries of the post-redaction WAL checkpoint before it waits for the
# next commit; without a wait in between, as the commit runs on the event loop.
WAL_CHECKPOINT_TRIES = 3
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})

log = logging.getLogger("govchain.storage")

# Ids of vertices not yet in tx_index kept in memory before a merge starts; a
# merge then writes at least INDEX_SLICE_ROWS of them, in key order, per commit.
INDEX_MERGE_ROWS = 32_768
INDEX_SLICE_ROWS = 4_096
OUTCOMES_CACHED = 16  # heights whose decoded outcomes get_tx keeps
_VERTEX_COLUMNS = (
    "SELECT v.seq, v.tx_id, v.body, v.signature, c.height, c.idx, v.payload "
    "FROM vertices AS v LEFT JOIN covered AS c ON c.seq = v.seq"
)


_STORED_IDS_BY_KEY = (  # marks: only "?"s, one per key; table: one of ID_TABLES
    "SELECT v.tx_id FROM tx_index AS t JOIN {table} AS v ON v.seq = t.seq "
    "WHERE t.tx_key IN ({marks})"
)


def _payload_or_null(tx: Transaction) -> bytes | None:
    """What the payload column holds: NULL once redacted."""
    return None if tx.payload_missing else tx.payload


def _index_rows(ids: Iterable[tuple[bytes, int]]) -> list[tuple[int, int]]:
    """(tx_key, seq) rows for (id, seq) pairs, in key order: a merge touches each page once."""
    return sorted((tx_key(vid), seq) for vid, seq in ids)


def tx_key(vid: bytes) -> int:
    """The indexed integer for a tx id: its first 8 bytes, as SQLite's signed 64 bits."""
    return int.from_bytes(vid[:8], "big", signed=True)


class SqliteStore:
    """Store in one SQLite file (plus its -wal and -shm files while open)."""

    def __init__(self, path: Path, sync_every: int = 0) -> None:
        """Open (or create) the store at path; sync_every: the chain's (keeps its sync snapshot)."""
        self.path = Path(path)
        self._sync_every = sync_every
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open: {exc}") from exc
        self._closed = False
        self._redacted_pending = False
        # A WAL left by a crash or by a close while another connection read may
        # hold deleted bytes (the commit that deleted them never truncated it).
        wal = self.path.with_name(self.path.name + "-wal")
        self._wal_owed = wal.is_file() and wal.stat().st_size > 0
        self.wal_checkpoint_busy = 0  # busy checkpoint results so far (a counter)
        self._wal_busy_logged = False  # warned once per busy spell, not at every commit
        try:
            self._open_schema()
            self._load_caches()
            self._finish_merge()
        except BaseException:
            self._conn.close()
            self._closed = True
            raise

    # -- opening ------------------------------------------------------------------
    def _pragma(self, name: str) -> Any:
        row = self._conn.execute(f"PRAGMA {name}").fetchone()
        return row[0] if row else None

    def _open_schema(self) -> None:
        c = self._conn
        try:
            app_id = self._pragma("application_id")
            tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise SchemaError(f"{self.path} is not an SQLite database: {exc}") from exc
        if (tables or app_id) and app_id != APPLICATION_ID:
            raise SchemaError(f"{self.path} is not a govchain store (application_id {app_id})")
        settings = {
            "journal_mode": ("WAL", "wal"),
            "synchronous": ("FULL", 2),
            "secure_delete": ("ON", 1),
            "foreign_keys": ("ON", 1),
        }
        for name, (value, expected) in settings.items():
            c.execute(f"PRAGMA {name}={value}")
            got = self._pragma(name)
            if got != expected:
                raise StoreError(f"{self.path}: PRAGMA {name} is {got!r}, need {value}")
        with self._write_transaction():
            tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables:
                for statement in SCHEMA:
                    c.execute(statement)
                c.execute(
                    "INSERT INTO schema_version (id, version) VALUES (1, ?)", (SCHEMA_VERSION,)
                )
                c.execute("INSERT INTO tx_index_mark (id, seq) VALUES (1, 0)")
                c.execute("INSERT INTO movement_index (id, from_height, mark) VALUES (1, 1, 0)")
                c.execute(NONE_PRUNED)
                c.execute(f"PRAGMA application_id={APPLICATION_ID}")
                return
            try:
                rows = c.execute("SELECT version FROM schema_version").fetchall()
            except sqlite3.OperationalError as exc:
                raise SchemaError(f"{self.path}: no schema_version table: {exc}") from exc
            if len(rows) != 1 or type(rows[0][0]) is not int:
                raise SchemaError(f"{self.path}: schema_version holds {rows!r}")
            version = rows[0][0]
            if version > SCHEMA_VERSION:
                raise SchemaError(
                    f"{self.path} has schema version {version}, written by a newer govchain; "
                    f"this one reads version {SCHEMA_VERSION}"
                )
            if version == 4:  # version 5 added the waiting table, and nothing else
                c.execute(WAITING_TABLE)
                c.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
                tables.add("waiting")
                version = 5
            if version == 5:  # version 6 added the movement index
                for statement in MOVEMENT_TABLES:
                    c.execute(statement)
                # Older executions were stored without movements: indexed from the next.
                c.execute(
                    "INSERT INTO movement_index (id, from_height, mark) "
                    "SELECT 1, coalesce(max(height), 0) + 1, 0 FROM executed"
                )
                c.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
                tables.update(("movements", "movement_accounts", "movement_index"))
                version = 6
            if version == 6:  # version 7 added snapshots
                if "snapshots" not in tables:
                    c.execute(SNAPSHOTS_TABLE)
                c.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
                tables.add("snapshots")
                version = 7
            if version == 7:  # version 8 added the pruning mark
                if "pruned" not in tables:
                    c.execute(PRUNED_TABLE)
                    c.execute(NONE_PRUNED)
                if "pruned_ids" not in tables:
                    c.execute(PRUNED_IDS_TABLE)
                c.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
                tables.update(("pruned", "pruned_ids"))
                version = 8
            if "pruned_ids" not in tables and version >= 8:
                # Written by the first version 8, which pruned rows in place.
                c.execute(PRUNED_IDS_TABLE)
                move_to_pruned(c, 1, read_pruned_mark(c)[0])
                tables.add("pruned_ids")
            if version == 8:  # version 9 shares snapshots' image parts
                migrate_to_shared_parts(c)
                c.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
                tables.add("snapshot_parts")
                version = SCHEMA_VERSION
            if version != SCHEMA_VERSION:
                raise SchemaError(
                    f"{self.path} has schema version {version}, which this govchain cannot "
                    f"read (it reads version {SCHEMA_VERSION}; there is no migration)"
                )
            if not tables >= TABLES:
                raise SchemaError(f"{self.path}: tables missing: {sorted(TABLES - tables)}")

    def _load_caches(self) -> None:
        c = self._conn
        with self._read_transaction():
            # Pruning may have moved every vertex to pruned_ids: a seq is never reused.
            self._next_seq: int = c.execute(
                "SELECT max(coalesce((SELECT max(seq) FROM vertices), 0), "
                "coalesce((SELECT max(seq) FROM pruned_ids), 0)) + 1"
            ).fetchone()[0]
            self._decided_height: int = c.execute(
                "SELECT coalesce(max(height), 0) FROM decided"
            ).fetchone()[0]
            self._executed_height: int = c.execute(
                "SELECT coalesce(max(height), 0) FROM executed"
            ).fetchone()[0]
            # Below the newest snapshot's low_seq every vertex is final: not read.
            self._uncovered: dict[bytes, int] = {
                vid: seq
                for seq, vid in c.execute(
                    "SELECT v.seq, v.tx_id FROM vertices AS v LEFT JOIN covered AS c "
                    "ON c.seq = v.seq WHERE c.seq IS NULL AND v.seq >= ? ORDER BY v.seq",
                    (newest_low_seq(c),),
                )
            }
            self._pruned_below, self._pruned_height = read_pruned_mark(c)
            marks = c.execute("SELECT seq FROM tx_index_mark").fetchall()
            if len(marks) != 1 or type(marks[0][0]) is not int:
                raise CorruptStoreError("tx_index_mark", "id 1", f"holds {marks!r:.80}")
            self._index_mark: int = marks[0][0]
            self._check_mark()
            # Ids above the mark: not in tx_index yet (a merge that a crash cut
            # short is redone; its rows are inserted or ignored).
            self._recent: dict[bytes, int] = {
                _bytes("vertices", f"seq {seq}", vid, 32): seq
                for seq, vid in c.execute(
                    "SELECT seq, tx_id FROM vertices WHERE seq > ? ORDER BY seq",
                    (self._index_mark,),
                )
            }
            self._outcomes_cache: dict[int, tuple[list[int], list[Outcome]]] = {}
            self._merging: list[tuple[int, int]] = []  # (tx_key, seq) in key order
            self._merged = 0  # how many of _merging are written
            self._data_version: int = self._pragma("data_version")
            marks = c.execute("SELECT from_height, mark FROM movement_index").fetchall()
            if len(marks) != 1 or not all(type(v) is int and v >= 0 for v in marks[0]):
                raise CorruptStoreError("movement_index", "id 1", f"holds {marks!r:.80}")
            self._movements_from: int = marks[0][0]
            self._movement_mark: int = marks[0][1]
            # Movements above the mark: their account rows are not merged yet.
            self._unmerged: dict[bytes, list[int]] = {}
            self._unmerged_rows = 0
            for row in c.execute(
                f"{_MOVEMENT_COLUMNS} WHERE mseq > ? ORDER BY mseq",
                (self._movement_mark,),
            ):
                m = _movement(row)
                for account in _movers(m.src, m.dst):
                    self._unmerged.setdefault(account, []).append(row[0])
                    self._unmerged_rows += 1

    @contextmanager
    def _write_transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _read_transaction(self) -> Iterator[None]:
        """A consistent snapshot across several SELECTs."""
        self._check_open()
        self._conn.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            if self._conn.in_transaction:
                self._conn.execute("COMMIT")

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed")

    def settings(self) -> dict[str, Any]:
        """The connection's durability settings and the schema version, for diagnostics."""
        self._check_open()
        names = ("journal_mode", "synchronous", "secure_delete", "foreign_keys", "application_id")
        out: dict[str, Any] = {name: self._pragma(name) for name in names}
        out["schema_version"] = self._conn.execute("SELECT version FROM schema_version").fetchone()[
            0
        ]
        return out

    # -- writing ------------------------------------------------------------------
    def commit(self, ready: ReplicaReady) -> None:
        """Everything in ready in one fsync'd transaction, or nothing (CommitError)."""
        self._check_open()
        if not ready.must_persist():
            return
        try:
            with self._write_transaction():
                if self._pragma("data_version") != self._data_version:
                    raise StoreError(f"{self.path}: another connection wrote to the store")
                check_ready(
                    ready, self._decided_height, self._executed_height, self._decided_checkpoint
                )
                next_seq, added, stored, covered = self._write(ready)
                unmerged, movement_mark = self._write_movements(ready)
                merging, merged, mark = self._merge_index(stored)
        except sqlite3.IntegrityError as exc:
            raise CommitError(f"refused by the database: {exc}") from exc
        # Committed: only now do the caches move (before anything else can fail).
        self._next_seq = next_seq
        if movement_mark is not None:  # merged in this commit: nothing waits now
            self._movement_mark = movement_mark
            self._unmerged, self._unmerged_rows = {}, 0
        else:
            for account, mseq in unmerged:
                self._unmerged.setdefault(account, []).append(mseq)
            self._unmerged_rows += len(unmerged)
        self._decided_height += len(ready.decided)
        self._executed_height += len(ready.executed)
        self._uncovered.update(added)
        for vid in covered:
            self._uncovered.pop(vid, None)
        self._recent.update(stored)
        if mark is not None:  # the merge finished in this commit
            self._index_mark = mark
            self._recent = {vid: seq for vid, seq in self._recent.items() if seq > mark}
            merging, merged = [], 0
        self._merging, self._merged = merging, merged
        if self._redacted_pending or self._wal_owed:
            self._redacted_pending = False
            self._truncate_wal()

    @property
    def redaction_in_wal(self) -> bool:
        """True while deleted payload bytes may remain in the WAL (a checkpoint was busy)."""
        return self._wal_owed

    def _truncate_wal(self) -> None:
        """Checkpoint and truncate the WAL; a busy result stays owed to the next commit."""
        # The WAL still holds the pages as they were before the deletion: copy
        # it into the database and truncate it, so the bytes are gone. A reader
        # on an older snapshot (a backup, an operator's sqlite3 shell) makes it
        # busy. Waiting out the busy timeout (5 s) would stall the event loop,
        # so a few immediate tries, then again at every commit until it works.
        timeout = int(self._pragma("busy_timeout"))
        self._conn.execute("PRAGMA busy_timeout = 0")
        try:
            for _ in range(WAL_CHECKPOINT_TRIES):
                try:
                    busy = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                except sqlite3.OperationalError as exc:
                    if getattr(exc, "sqlite_errorcode", None) not in _BUSY_CODES:
                        # A real failure (I/O): the caller hears of it. Not owed:
                        # the next open sees the WAL left over and tries again.
                        self._wal_owed = False
                        raise
                    busy = 1
                if busy == 0:
                    if self._wal_busy_logged:
                        log.warning("%s: WAL checkpoint done: deleted bytes are gone", self.path)
                    self._wal_owed = self._wal_busy_logged = False
                    return
                self.wal_checkpoint_busy += 1
                self._wal_owed = True
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {timeout}")
        if self._wal_busy_logged:
            return
        self._wal_busy_logged = True
        log.warning(
            "%s: WAL checkpoint busy (another connection reads an older snapshot): "
            "deleted payload bytes stay in the WAL until it succeeds; retried at the next commit",
            self.path,
        )

    def _merge_index(
        self, stored: dict[bytes, int]
    ) -> tuple[list[tuple[int, int]], int, int | None]:
        """Move ids from memory into tx_index a slice per commit.

        Returns the new (merging, merged) and, when the merge finished, the new
        mark. Inside the open transaction; the caches move only after COMMIT.
        """
        merging, merged = self._merging, self._merged
        if not merging:
            if len(self._recent) + len(stored) < INDEX_MERGE_ROWS:
                return merging, merged, None
            merging = _index_rows((*self._recent.items(), *stored.items()))
        # A slice grows with the backlog, so that memory stays bounded under a
        # catch-up that stores faster than INDEX_SLICE_ROWS per commit.
        count = max(INDEX_SLICE_ROWS, len(self._recent) // 8)
        upto = min(len(merging), merged + count)
        mark = max(seq for _, seq in merging) if upto == len(merging) else None
        self._write_index(merging[merged:upto], mark)
        return merging, upto, mark

    def _write_index(self, rows: list[tuple[int, int]], mark: int | None) -> None:
        """Rows into tx_index (again after a cut-short merge: ignored), then the new mark."""
        self._conn.executemany("INSERT OR IGNORE INTO tx_index (tx_key, seq) VALUES (?, ?)", rows)
        if mark is not None:
            self._conn.execute("UPDATE tx_index_mark SET seq = ? WHERE id = 1", (mark,))

    def _check_mark(self) -> None:
        """The mark names a stored vertex whose id tx_index holds (or is 0, nothing merged).

        A mark too high would hide the ids between from look-ups and let a
        second copy of a final vertex in; load() also counts the index's rows.
        """
        mark = self._index_mark
        if not 0 <= mark < self._next_seq:
            raise CorruptStoreError("tx_index_mark", "id 1", f"{mark} is past the vertices")
        if mark == 0:
            return
        table = ID_TABLES[mark < self._pruned_below]
        row = self._conn.execute(
            f"SELECT tx_id FROM {table} WHERE seq = ?",  # noqa: S608
            (mark,),
        ).fetchone()
        vid = _bytes(table, f"seq {mark}", row[0] if row else None, 32)
        found = self._conn.execute(
            "SELECT 1 FROM tx_index WHERE tx_key = ? AND seq = ?", (tx_key(vid), mark)
        ).fetchone()
        if found is None:
            raise CorruptStoreError("tx_index", f"seq {mark}", "the marked vertex is not indexed")

    def _finish_merge(self) -> None:
        """On opening, merge every id kept in memory at once if a merge is due.

        A merge is spread over commits; restarts could cut it short each time,
        so one is finished here, where a pause costs nothing.
        """
        if len(self._recent) < INDEX_MERGE_ROWS:
            return
        rows = _index_rows(self._recent.items())
        mark = max(self._recent.values())
        with self._write_transaction():
            if self._pragma("data_version") != self._data_version:
                raise StoreError(f"{self.path}: another connection wrote to the store")
            self._write_index(rows, mark)
        self._index_mark = mark
        self._recent = {}

    def _seq_of(self, vid: bytes) -> int | None:
        """The sequence number of a stored vertex, by id."""
        seq = self._recent.get(vid)
        if seq is not None:
            return seq
        for table in self._id_tables():
            row = self._conn.execute(
                f"SELECT t.seq FROM tx_index AS t JOIN {table} AS v ON v.seq = t.seq "  # noqa: S608
                "WHERE t.tx_key = ? AND v.tx_id = ?",
                (tx_key(vid), vid),
            ).fetchone()
            if row is not None:
                return _int("tx_index", f"tx {vid.hex()}", row[0])
        return None

    def _id_tables(self) -> tuple[str, ...]:
        """Where ids are looked up: the vertices, and the pruned ones' ids once any are."""
        return ID_TABLES if self._pruned_below > 1 else ID_TABLES[:1]

    def _decided_checkpoint(self, height: int) -> Checkpoint | None:
        row = self._conn.execute(
            "SELECT checkpoint FROM decided WHERE height = ?", (height,)
        ).fetchone()
        return _decode("decided", f"height {height}", row[0], CHECKPOINT_DECODER) if row else None

    def _write(
        self, ready: ReplicaReady
    ) -> tuple[int, dict[bytes, int], dict[bytes, int], list[bytes]]:
        """Write inside the open transaction; returns the cache changes to apply after COMMIT.

        (next sequence number, admitted vertices, every new vertex, covered ids)
        """
        c = self._conn
        seq = self._next_seq
        new_rows: list[tuple[int, bytes, bytes, bytes, bytes | None]] = []
        added: dict[bytes, int] = {}
        for tx in ready.admitted:
            if tx.id in self._uncovered or tx.id in added:
                raise CommitError(f"vertex {tx.id.hex()} is already stored")
            check_tx(tx)
            added[tx.id] = seq
            new_rows.append((seq, tx.id, tx.body_bytes, tx.signature, _payload_or_null(tx)))
            seq += 1
        self._refuse_stored(list(added))
        stored = dict(added)
        covered: list[bytes] = []
        covered_ids: set[bytes] = set()
        executed_rows: list[tuple[int, bytes, bytes, bytes, bytes, bytes]] = []
        audit_rows: list[tuple[int, int, bytes]] = []
        redacted_rows: list[tuple[bytes, int]] = []
        covered_rows: list[tuple[int, int, int]] = []
        # Stored with a payload, final without one (rejected): the bytes go now.
        emptied: list[int] = []
        for ex in ready.executed:
            h = ex.checkpoint.height
            order: list[int] = []
            for tx in ex.txs:
                if tx.id in covered_ids:
                    raise CommitError(f"vertex {tx.id.hex()} is covered twice")
                covered_ids.add(tx.id)
                covered.append(tx.id)
                s = added.get(tx.id)
                if s is None:
                    s = self._uncovered.get(tx.id)
                    if s is not None and tx.payload_missing:
                        emptied.append(s)
                elif tx.payload_missing:
                    emptied.append(s)
                if s is None:
                    old = self._seq_of(tx.id)
                    if old is not None:
                        found = c.execute(
                            "SELECT height FROM covered WHERE seq = ?", (old,)
                        ).fetchone()
                        where = f"at height {found[0]}" if found else "(stored, not final)"
                        raise CommitError(f"vertex {tx.id.hex()} is already covered {where}")
                    check_tx(tx)
                    s = seq
                    seq += 1
                    stored[tx.id] = s
                    new_rows.append((s, tx.id, tx.body_bytes, tx.signature, _payload_or_null(tx)))
                order.append(s)
            r = ex.result
            if len(r.receipts) != len(order):
                raise CommitError(f"height {h}: {len(r.receipts)} receipts for {len(order)} txs")
            outcomes = [
                Outcome(rc.status, rc.reason, rc.rule, rc.governance_ref) for rc in r.receipts
            ]
            executed_rows.append(
                (h, r.state_hash, r.receipts_root, r.audit_head, encode(order), encode(outcomes))
            )
            # canonical: an untyped entry's nine fields, byte for byte as stored before.
            audit_rows.extend((e.seq, h, e.canonical) for e in r.audit)
            redacted_rows.extend((vid, h) for vid in r.redacted)
            covered_rows.extend((s, h, i) for i, s in enumerate(order))

        if ready.hard_state is not None:
            c.execute(
                "INSERT INTO hard_state (id, data) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                (encode(ready.hard_state),),
            )
        if ready.decided:
            c.executemany(
                "INSERT INTO decided (height, checkpoint, certificate) VALUES (?, ?, ?)",
                [(cp.height, encode(cp), encode(cert)) for cp, cert in ready.decided],
            )
        self._write_executed(executed_rows)
        if new_rows:
            c.executemany(
                "INSERT INTO vertices (seq, tx_id, body, signature, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                new_rows,
            )
        self._write_covered(covered_rows)
        snap = ready.snapshot
        if snap is not None:
            # low_seq: the lowest vertex not final at or below the snapshot's height
            # after this commit (this commit may execute heights past it too).
            late = {
                t.id for ex in ready.executed if ex.checkpoint.height > snap.height for t in ex.txs
            }
            early = covered_ids - late
            still = [s for vid, s in self._uncovered.items() if vid not in early]
            still += [s for vid, s in stored.items() if vid not in early]
            decided = self._decided_height + len(ready.decided)
            write_snapshot(c, snap, min([*still, seq]), self._sync_every, decided)
        if audit_rows:
            c.executemany("INSERT INTO audit (seq, height, entry) VALUES (?, ?, ?)", audit_rows)
        if emptied:
            c.executemany(
                "UPDATE vertices SET payload = NULL WHERE seq = ?", [(e,) for e in emptied]
            )
        for vid, h in redacted_rows:
            redacted_seq = stored.get(vid)
            if redacted_seq is None:
                redacted_seq = self._seq_of(vid)
            if redacted_seq is None:
                raise CommitError(f"redacted vertex {vid.hex()} is not stored")
            c.execute("INSERT INTO redacted (seq, height) VALUES (?, ?)", (redacted_seq, h))
        for vid in ready.purged:
            purged_seq = stored.get(vid)
            if purged_seq is None:
                purged_seq = self._seq_of(vid)
            if purged_seq is None:
                raise CommitError(f"purged vertex {vid.hex()} is not stored")
            emptied.append(purged_seq)
            c.execute("UPDATE vertices SET payload = NULL WHERE seq = ?", (purged_seq,))
        if ready.waiting:
            for tx in ready.waiting:
                check_tx(tx)
            c.executemany(
                "INSERT OR IGNORE INTO waiting (tx_id, body, signature, payload) "
                "VALUES (?, ?, ?, ?)",
                [(tx.id, tx.body_bytes, tx.signature, tx.payload) for tx in ready.waiting],
            )
        if ready.unwaited:
            c.executemany("DELETE FROM waiting WHERE tx_id = ?", [(v,) for v in ready.unwaited])
        # Deleted bytes linger in the WAL's old page images until a checkpoint:
        # those stored by an earlier commit, and those of this commit too when a
        # large commit spills pages to the WAL before the payload is emptied
        # (a node catching up writes a vertex and empties it in one commit).
        self._redacted_pending = bool(emptied)
        return seq, added, stored, covered

    def _refuse_stored(self, ids: list[bytes]) -> None:
        """CommitError if any of ids is stored already (final: the cache knows the others)."""
        for vid in ids:
            if vid in self._recent:
                raise CommitError(f"vertex {vid.hex()} is already stored")
        for start in range(0, len(ids), _KEYS_PER_QUERY):
            chunk = ids[start : start + _KEYS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            wanted = set(chunk)
            for table in self._id_tables():
                query = _STORED_IDS_BY_KEY.format(marks=marks, table=table)
                for (vid,) in self._conn.execute(query, [tx_key(v) for v in chunk]):
                    if vid in wanted:
                        raise CommitError(f"vertex {vid.hex()} is already stored")

    def _write_movements(self, ready: ReplicaReady) -> tuple[list[tuple[bytes, int]], int | None]:
        """Store the executions' movements; merge the account index when enough wait.

        Returns the new (account, mseq) pairs left unmerged and, when a merge
        ran, the new mark. Inside the open transaction; the caches move after.
        """
        rows: list[tuple[int, bytes]] = []
        new: list[tuple[bytes, int]] = []
        for ex in ready.executed:
            h = ex.checkpoint.height
            base = h << MOVEMENT_HEIGHT_SHIFT
            for i, m in enumerate(ex.result.movements):
                if m.height != h or m.amount <= 0:
                    raise CommitError(f"execution at height {h}: movement {m!r:.120}")
                mseq = base + i
                rows.append((mseq, encode(m)))
                new.extend((account, mseq) for account in _movers(m.src, m.dst))
        if not rows:
            return [], None
        c = self._conn
        c.executemany("INSERT INTO movements (mseq, movement) VALUES (?, ?)", rows)
        if self._unmerged_rows + len(new) < MOVEMENT_MERGE_ROWS:
            return new, None
        postings: dict[int, list[int]] = {}
        for a, seqs in self._unmerged.items():
            postings.setdefault(account_key(a), []).extend(seqs)
        for a, s in new:
            postings.setdefault(account_key(a), []).append(s)
        rows_out: list[tuple[int, int, int, bytes]] = []
        for k in sorted(postings):  # in key order: each page of the index is touched once
            # Sorted and unique: accounts sharing a key, or a movement's two ends, merge.
            seqs = sorted(set(postings[k]))
            rows_out.append((k, seqs[-1], seqs[0], encode(seqs)))
        c.executemany(
            "INSERT INTO movement_accounts (account_key, last_mseq, first_mseq, mseqs) "
            "VALUES (?, ?, ?, ?)",
            rows_out,
        )
        mark = rows[-1][0]
        c.execute("UPDATE movement_index SET mark = ? WHERE id = 1", (mark,))
        return [], mark

    def _write_executed(self, rows: list[tuple[int, bytes, bytes, bytes, bytes, bytes]]) -> None:
        if rows:
            self._conn.executemany(
                "INSERT INTO executed "
                "(height, state_hash, receipts_root, audit_head, tx_seqs, outcomes) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def _write_covered(self, rows: list[tuple[int, int, int]]) -> None:
        if rows:
            self._conn.executemany("INSERT INTO covered (seq, height, idx) VALUES (?, ?, ?)", rows)

    # -- reading ------------------------------------------------------------------
    def load(self, from_snapshot: bool = True) -> Persisted:
        """Rebuild what a Replica resumes from, checking every row on the way.

        With a snapshot (and from_snapshot), only what lies after its height is
        read (and the vertices from its low_seq on): the rest is final and in it.
        """
        c = self._conn
        if not from_snapshot and self._pruned_below > 1:
            raise StoreError(
                f"{self.path}: pruned up to height {self._pruned_height} (--prune): it restarts "
                "only from its snapshot, not by replaying the chain; `govchain node --resync` "
                "rebuilds it from peers"
            )
        with self._read_transaction():
            newest = read_snapshot(c) if from_snapshot else None
            snap, low_seq = newest if newest is not None else (None, 1)
            since = snap.height if snap is not None else 0
            hs_rows = c.execute("SELECT id, data FROM hard_state").fetchall()
            decided_rows = c.execute(
                "SELECT height, checkpoint, certificate FROM decided ORDER BY height"
            ).fetchall()
            executed_rows = c.execute(
                "SELECT height, state_hash, receipts_root, audit_head, tx_seqs, outcomes "
                "FROM executed WHERE height > ? ORDER BY height",
                (since,),
            ).fetchall()
            snap_state = c.execute(
                "SELECT state_hash FROM executed WHERE height = ?", (since,)
            ).fetchone()
            audit_rows = c.execute(
                "SELECT seq, height, entry FROM audit WHERE height > ? ORDER BY seq", (since,)
            ).fetchall()
            redacted_rows = c.execute(
                "SELECT v.tx_id, r.height FROM redacted AS r JOIN vertices AS v "
                "ON v.seq = r.seq WHERE r.height > ? ORDER BY r.id",
                (since,),
            ).fetchall()
            vertex_rows = c.execute(
                f"{_VERTEX_COLUMNS} WHERE v.seq >= ? AND (c.height IS NULL OR c.height > ?) "
                "ORDER BY v.seq",
                (low_seq, since),
            ).fetchall()
            waiting_rows = c.execute(
                "SELECT seq, tx_id, body, signature, NULL, NULL, payload FROM waiting ORDER BY seq"
            ).fetchall()
            covered_rows = c.execute("SELECT count(*) FROM covered").fetchone()[0]
            movement_rows = c.execute(
                f"{_MOVEMENT_COLUMNS} WHERE mseq >= ? ORDER BY mseq",
                (_mseq_range(since + 1, since + 1)[0],),
            ).fetchall()
            indexed = c.execute(
                "SELECT count(*) FROM tx_index WHERE seq <= ?", (self._index_mark,)
            ).fetchone()[0]

        # Sequence numbers run 1.. without gaps, so the mark is also a count.
        if indexed != self._index_mark or self._next_seq - 1 < self._index_mark:
            raise CorruptStoreError(
                "tx_index", f"up to seq {self._index_mark}", f"{indexed} ids indexed"
            )
        if snap is not None and (snap_state is None or snap_state[0] != snap.state_hash):
            raise CorruptStoreError(
                "snapshots", f"height {since}", "its state hash is not the one executed there"
            )
        hard_state = None
        if len(hs_rows) > 1:
            raise CorruptStoreError("hard_state", "all rows", f"{len(hs_rows)} rows, expected one")
        if hs_rows:
            hard_state = _decode("hard_state", "id 1", hs_rows[0][1], HARD_STATE_DECODER)

        decided: list[tuple[Checkpoint, Certificate]] = []
        for expected, (height, cp_data, cert_data) in enumerate(decided_rows, 1):
            key = f"height {height!r}"
            cp = _decode("decided", key, cp_data, CHECKPOINT_DECODER)
            cert = _decode("decided", key, cert_data, CERTIFICATE_DECODER)
            if not height == expected == cp.height == cert.height or cert.value != cp.hash:
                raise CorruptStoreError("decided", key, "height or certificate does not match")
            decided.append((cp, cert))

        by_seq: dict[int, tuple[Transaction, tuple[int, int] | None]] = {}
        vertices: list[Transaction] = []
        covered_count: dict[int, int] = {}
        for row in vertex_rows:
            seq, tx, final = _vertex(row)
            by_seq[seq] = (tx, final)
            if final is None:
                vertices.append(tx)
            else:
                covered_count[final[0]] = covered_count.get(final[0], 0) + 1

        executed: list[Execution] = []
        audit_by_height: dict[int, list[AuditEntry]] = {}
        for seq_raw, height_raw, data in audit_rows:
            akey = f"seq {seq_raw!r}"
            entry = audit_entry(akey, data)
            if entry.seq != seq_raw or entry.height != height_raw:
                raise CorruptStoreError("audit", akey, "seq or height does not match the entry")
            audit_by_height.setdefault(entry.height, []).append(entry)
        redacted_by_height: dict[int, list[bytes]] = {}
        for vid, height_raw in redacted_rows:
            redacted_by_height.setdefault(height_raw, []).append(vid)
        movements_by_height: dict[int, list[Movement]] = {}
        for row in movement_rows:
            m = _movement(row)
            movements_by_height.setdefault(m.height, []).append(m)
        for expected, (height, hash_data, root_data, head_data, seqs_data, outcomes) in enumerate(
            executed_rows, since + 1
        ):
            key = f"height {height!r}"
            if height != expected or height > len(decided):
                raise CorruptStoreError("executed", key, "heights must run 1.. within the decided")
            seqs = _decode("executed", key, seqs_data, SEQS_DECODER)
            txs: list[Transaction] = []
            for index, s in enumerate(seqs):
                found = by_seq.get(s)
                if found is not None and found[1] is None:
                    raise CorruptStoreError("covered", key, f"vertex seq {s} is not covered")
                if found is None:
                    raise CorruptStoreError("executed", key, f"order names missing vertex seq {s}")
                if found[1] != (height, index):
                    raise CorruptStoreError("covered", f"seq {s}", f"not at {index} of {key}")
                txs.append(found[0])
            if covered_count.pop(height, 0) != len(seqs):
                raise CorruptStoreError("vertices", key, "covered vertices differ from the order")
            receipts = _receipts(height, [tx.id for tx in txs], outcomes)
            root = _bytes("executed", key, root_data, 32)
            _check_receipts(height, receipts, root, len(txs))
            state_hash = _bytes("executed", key, hash_data, 32)
            result = Executed(
                height,
                receipts,
                root,
                state_hash,
                tuple(audit_by_height.pop(height, [])),
                _bytes("executed", key, head_data, 32),
                tuple(redacted_by_height.pop(height, [])),
                tuple(movements_by_height.pop(height, [])),
            )
            executed.append(Execution(decided[height - 1][0], tuple(txs), result))
        if covered_count:
            raise CorruptStoreError(
                "covered", f"height {min(covered_count)}", "height not executed"
            )
        final_count = sum(len(ex.txs) for ex in executed) + (snap.txs_final if snap else 0)
        if covered_rows != final_count:
            raise CorruptStoreError("covered", "all rows", f"{covered_rows} for {final_count} txs")
        if audit_by_height:
            raise CorruptStoreError("audit", f"height {min(audit_by_height)}", "not executed")
        if movements_by_height:
            where = f"height {min(movements_by_height)}"
            raise CorruptStoreError("movements", where, "not executed")
        waiting = [_vertex(row, "waiting")[1] for row in waiting_rows]
        return Persisted(hard_state, decided, executed, vertices, waiting, snap)

    def get_tx(self, tx_id: bytes) -> StoredTx | None:
        """A stored transaction with its final height and receipt, if any.

        No snapshot is needed: a vertex's covered row and its height's receipts
        are written once and never change afterwards. Called on the node's event
        loop, like commit(), so it never reads inside an open commit (whose
        rows could still roll back) and the outcomes cache holds committed rows.
        """
        self._check_open()
        seq = self._seq_of(tx_id)
        if seq is None:
            return None
        if seq < self._pruned_below:
            row = self._conn.execute("SELECT height FROM covered WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                raise CorruptStoreError("covered", f"seq {seq}", "a pruned vertex is not final")
            raise PrunedError(tx_id, _int("covered", f"seq {seq}", row[0]), self._pruned_height)
        row = self._conn.execute(f"{_VERTEX_COLUMNS} WHERE v.seq = ?", (seq,)).fetchone()
        if row is None:
            raise CorruptStoreError("tx_index", f"tx {tx_id.hex()}", f"names missing seq {seq}")
        _, tx, final = _vertex(row)
        if final is None:
            return StoredTx(tx, None, None)
        height, index = final
        seqs, outcomes = self._outcomes(height)
        if not 0 <= index < len(seqs) or seqs[index] != seq:
            raise CorruptStoreError("covered", f"seq {seq}", f"not at {index} of height {height}")
        return StoredTx(tx, height, outcomes[index].receipt(tx.id, height, index))

    def _outcomes(self, height: int) -> tuple[list[int], list[Outcome]]:
        """An executed height's order and outcomes, checked; the latest few are cached."""
        cached = self._outcomes_cache.get(height)
        if cached is not None:
            return cached
        key = f"height {height}"
        row = self._conn.execute(
            "SELECT tx_seqs, outcomes FROM executed WHERE height = ?", (height,)
        ).fetchone()
        if row is None:
            raise CorruptStoreError("executed", key, "a covered vertex names it; it is missing")
        seqs = _decode("executed", key, row[0], SEQS_DECODER)
        outcomes = _outcomes_of(height, row[1], len(seqs))
        if self._conn.in_transaction:
            return seqs, outcomes  # maybe a commit's own rows, which could still roll back
        if len(self._outcomes_cache) >= OUTCOMES_CACHED:
            self._outcomes_cache.pop(next(iter(self._outcomes_cache)), None)
        self._outcomes_cache[height] = (seqs, outcomes)
        return seqs, outcomes

    def prune(self) -> int:
        """Keep only the ids of the transactions every kept snapshot holds final; returns how many.

        Their rows leave `vertices` for `pruned_ids` (secure_delete zeroes the
        freed bytes; the freed pages take the rows to come); the ids stay, so
        is_final(), the receipts of every height and the id index answer as
        before, and get_tx() raises PrunedError for them. A restart loads the
        newest snapshot, which never needs them; a replay from the genesis can
        no longer run (load refuses it).
        """
        self._check_open()
        c = self._conn
        row = c.execute("SELECT height, low_seq FROM snapshots ORDER BY height LIMIT 1").fetchone()
        if row is None:
            return 0
        height = _int("snapshots", "oldest", row[0])
        below = _int("snapshots", "oldest", row[1])
        if below <= self._pruned_below:
            return 0
        with self._write_transaction():
            pruned = move_to_pruned(c, self._pruned_below, below)
            c.execute("UPDATE pruned SET below_seq = ?, height = ?", (below, height))
        self._pruned_below, self._pruned_height = below, height
        return pruned

    # -- filled by state sync (node/state_sync.py) ---------------------------------
    def add_synced(
        self, decided: Sequence[tuple[Checkpoint, Certificate]], executed: Sequence[SyncedHeight]
    ) -> None:
        """Append heights state sync checked to the new store it fills (one transaction).

        decided: the next certified checkpoints; executed: the next heights'
        receipts and audit entries. Each final id becomes a pruned row (its id,
        covered row and index entry); finish_synced() then writes the snapshot
        and the marks. The caller fills a file beside the store's and renames
        it into place once whole, so a crash never leaves a half-filled store.
        """
        self._check_open()
        c = self._conn
        with self._write_transaction():
            if self._decided_height == 0 and c.execute("SELECT 1 FROM vertices").fetchone():
                raise StoreError(f"{self.path}: state sync fills only a new store")
            for i, (cp, _) in enumerate(decided, self._decided_height + 1):
                if cp.height != i:
                    raise StoreError(f"state sync gave checkpoint {cp.height} for height {i}")
            c.executemany(
                "INSERT INTO decided (height, checkpoint, certificate) VALUES (?, ?, ?)",
                [(cp.height, encode(cp), encode(cert)) for cp, cert in decided],
            )
            seq = self._next_seq
            ids: list[tuple[int, bytes]] = []
            rows: list[tuple[int, bytes, bytes, bytes, bytes, bytes]] = []
            covered: list[tuple[int, int, int]] = []
            for h, ex in enumerate(executed, self._executed_height + 1):
                if ex.height != h or ex.certifying.height != h + 1:
                    raise StoreError(f"state sync gave height {ex.height} for height {h}")
                order = list(range(seq, seq + len(ex.receipts)))
                seq += len(order)
                ids.extend((q, rc.tx_id) for q, rc in zip(order, ex.receipts, strict=True))
                covered.extend((q, h, i) for i, q in enumerate(order))
                outcomes = [
                    Outcome(r.status, r.reason, r.rule, r.governance_ref) for r in ex.receipts
                ]
                cp = ex.certifying  # checkpoint h + 1 certifies height h's execution
                heads = (cp.state_hash, cp.receipts_root, cp.audit_head)
                rows.append((h, *heads, encode(order), encode(outcomes)))
            self._write_executed(rows)
            c.executemany("INSERT INTO pruned_ids (seq, tx_id) VALUES (?, ?)", ids)
            self._write_covered(covered)
            self._write_index(_index_rows((vid, q) for q, vid in ids), None)
            c.executemany(
                "INSERT INTO audit (seq, height, entry) VALUES (?, ?, ?)",
                [(e.seq, e.height, e.canonical) for ex in executed for e in ex.audit],
            )
        self._next_seq = seq
        self._decided_height += len(decided)
        self._executed_height += len(executed)

    def finish_synced(self, snap: Snapshot) -> None:
        """Close what state sync filled: the snapshot, the pruning mark at it, the marks."""
        self._check_open()
        s = snap.height
        if s != self._executed_height or self._decided_height <= s:
            raise StoreError(f"a synced snapshot at {s} needs heights executed to it, decided past")
        c = self._conn
        seq = self._next_seq
        with self._write_transaction():
            write_snapshot(c, snap, seq, self._sync_every, self._decided_height)
            c.execute("UPDATE pruned SET below_seq = ?, height = ?", (seq, s))
            c.execute("UPDATE movement_index SET from_height = ?, mark = 0", (s + 1,))
            c.execute("UPDATE tx_index_mark SET seq = ? WHERE id = 1", (seq - 1,))
        self._load_caches()

    def sync_snapshot_height(self, sync_every: int) -> int | None:
        """sync_snapshot()'s height, without reading the snapshot (None: none kept)."""
        self._check_open()
        with self._read_transaction():
            return sync_snapshot_height(self._conn, sync_every, self._decided_height)

    def sync_snapshot(self, sync_every: int) -> Snapshot | None:
        """The newest kept snapshot at a sync height a decided checkpoint certifies, or None."""
        self._check_open()
        with self._read_transaction():
            height = sync_snapshot_height(self._conn, sync_every, self._decided_height)
            found = None if height is None else read_snapshot(self._conn, height)
        return None if found is None else found[0]

    def pruned_height(self) -> int:
        """Transactions final at or below this height may be pruned (0: nothing is)."""
        return self._pruned_height

    def is_final(self, tx_id: bytes) -> bool:
        """True when a stored checkpoint covers tx_id: one index look-up, nothing decoded."""
        self._check_open()
        if tx_id in self._uncovered:
            return False
        seq = self._seq_of(tx_id)
        if seq is None:
            return False
        row = self._conn.execute("SELECT 1 FROM covered WHERE seq = ?", (seq,)).fetchone()
        return row is not None

    def tx_ids_with_prefix(self, prefix: str, limit: int) -> list[bytes]:
        """Ids of stored transactions whose hex starts with prefix: the first `limit`, sorted.

        A prefix is a range of tx_index's keys (the ids' first 8 bytes, whose
        sign bit the prefix's first digit fixes, so the signed range is whole);
        ids above the mark are in memory.
        """
        self._check_open()
        lo, hi = prefix_bounds(prefix)
        if limit <= 0:
            return []
        found: set[bytes] = set()
        for table in self._id_tables():
            rows = self._conn.execute(
                f"SELECT v.tx_id FROM tx_index AS t JOIN {table} AS v ON v.seq = t.seq "  # noqa: S608
                "WHERE t.tx_key BETWEEN ? AND ? AND v.tx_id BETWEEN ? AND ? "
                "ORDER BY v.tx_id LIMIT ?",
                (tx_key(lo), tx_key(hi), lo, hi, limit),
            ).fetchall()
            found.update(_bytes(table, f"prefix {prefix}", row[0], 32) for row in rows)
        found.update(vid for vid in self._recent if lo <= vid <= hi)
        return sorted(found)[:limit]

    def get_checkpoint(self, height: int) -> tuple[Checkpoint, Certificate] | None:
        """A decided checkpoint and its certificate."""
        self._check_open()
        row = self._conn.execute(
            "SELECT checkpoint, certificate FROM decided WHERE height = ?", (height,)
        ).fetchone()
        if row is None:
            return None
        key = f"height {height}"
        cp = _decode("decided", key, row[0], CHECKPOINT_DECODER)
        cert = _decode("decided", key, row[1], CERTIFICATE_DECODER)
        if not height == cp.height == cert.height or cert.value != cp.hash:
            raise CorruptStoreError("decided", key, "height or certificate does not match")
        return cp, cert

    def decided_height(self) -> int:
        """Highest decided height (0 before the first)."""
        self._check_open()
        return self._decided_height

    def receipts(self, height: int) -> list[Receipt]:
        """The receipts of an executed height in final order ([] when not executed)."""
        self._check_open()
        c = self._conn
        key = f"height {height}"
        with self._read_transaction():
            row = c.execute(
                "SELECT receipts_root, tx_seqs, outcomes FROM executed WHERE height = ?", (height,)
            ).fetchone()
            if row is None:
                return []
            seqs = _decode("executed", key, row[1], SEQS_DECODER)
            ids: dict[int, bytes] = {}
            for table in self._id_tables():
                for start in range(0, len(seqs), _KEYS_PER_QUERY):
                    chunk = seqs[start : start + _KEYS_PER_QUERY]
                    marks = ",".join("?" * len(chunk))
                    ids.update(
                        c.execute(
                            f"SELECT seq, tx_id FROM {table} WHERE seq IN ({marks})",  # noqa: S608
                            chunk,
                        ).fetchall()
                    )
        missing = [s for s in seqs if s not in ids]
        if missing:
            raise CorruptStoreError("executed", key, f"order names missing vertex seq {missing[0]}")
        out = _receipts(height, [_bytes("vertices", f"seq {s}", ids[s], 32) for s in seqs], row[2])
        _check_receipts(height, out, _bytes("executed", key, row[0], 32), len(seqs))
        return out

    def tx_counts(self, from_height: int, to_height: int) -> dict[int, int]:
        """How many transactions each executed height in from..to finalized (others absent).

        One range read of `executed` by its key, taking only the first bytes of
        each height's order: a msgpack array's header holds its length, so no
        order is decoded and no vertex is read.
        """
        self._check_open()
        rows = self._conn.execute(
            "SELECT height, substr(tx_seqs, 1, ?) FROM executed WHERE height BETWEEN ? AND ?",
            (ARRAY_HEADER_BYTES_MAX, from_height, to_height),
        ).fetchall()
        return {h: _array_length("executed", f"height {h}", head) for h, head in rows}

    def audit(self, from_height: int, to_height: int) -> list[AuditEntry]:
        """Audit entries appended by the executed heights from..to (inclusive), in order."""
        self._check_open()
        rows = self._conn.execute(
            "SELECT seq, height, entry FROM audit WHERE height BETWEEN ? AND ? ORDER BY seq",
            (from_height, to_height),
        ).fetchall()
        out: list[AuditEntry] = []
        for seq, height, data in rows:
            entry = audit_entry(f"seq {seq!r}", data)
            if entry.seq != seq or entry.height != height:
                raise CorruptStoreError("audit", f"seq {seq!r}", "seq or height does not match")
            out.append(entry)
        return out

    def audit_head(self, height: int) -> bytes | None:
        """The audit head after executing height (None when not executed)."""
        self._check_open()
        row = self._conn.execute(
            "SELECT audit_head FROM executed WHERE height = ?", (height,)
        ).fetchone()
        return _bytes("executed", f"height {height}", row[0], 32) if row else None

    # -- the movement index (trace/movements.py: MovementSource) -------------------
    def movements_of(self, account: bytes, from_height: int, to_height: int) -> Iterator[Movement]:
        """Movements into or out of account within the heights (inclusive), in final order.

        Heights below movements_from() were never indexed (a migrated store):
        they yield nothing. On the node's own connection: its event loop only.
        """
        self._check_open()
        reads = MovementReads(self._conn, self._unmerged, self._movement_mark)
        yield from reads.movements_of(account, from_height, to_height)

    def last_before(self, account: bytes, height: int) -> Movement | None:
        """The account's last movement at a height below `height` (None: none indexed)."""
        self._check_open()
        return MovementReads(self._conn, self._unmerged, self._movement_mark).last_before(
            account, height
        )

    def movements_before(
        self, account: bytes, before_mseq: int, limit: int
    ) -> list[tuple[int, Movement]]:
        """The account's last `limit` movements with an mseq below before_mseq, newest
        first, each with its mseq: a page of its history, read at the cost of the page."""
        self._check_open()
        reads = MovementReads(self._conn, self._unmerged, self._movement_mark)
        return reads.movements_before(account, before_mseq, limit)

    def movement_snapshot(self) -> MovementSnapshot:
        """The index as it is now, on a connection of its own: for a worker thread.

        A read transaction pins the database, the in-memory postings are the
        ones of this moment (a merge replaces the dict; later commits only
        append movements above the snapshot's top, which reads never ask for).
        Close it promptly: while it is open a WAL truncation waits (it is
        retried at the next commit).
        """
        self._check_open()
        conn = sqlite3.connect(
            f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM movement_index").fetchone()  # the snapshot starts
        except sqlite3.Error:
            conn.close()
            raise
        reads = MovementReads(conn, self._unmerged, self._movement_mark)
        return MovementSnapshot(reads, self._executed_height, conn.close)

    def movements_at(self, height: int) -> list[Movement] | None:
        """Every movement of value a height made, in final order (None: not executed here).

        One key range of the movements table: what an outside indexer pulls,
        height by height (docs/tracing-scale.md).
        """
        self._check_open()
        if not 1 <= height <= self._executed_height:
            return None
        lo, hi = _mseq_range(height, height)
        rows = self._conn.execute(
            f"{_MOVEMENT_COLUMNS} WHERE mseq BETWEEN ? AND ? ORDER BY mseq", (lo, hi)
        ).fetchall()
        return _movements(rows)

    def state_hash_at(self, height: int) -> bytes | None:
        """The state hash after executing height (None: not executed here)."""
        self._check_open()
        row = self._conn.execute(
            "SELECT state_hash FROM executed WHERE height = ?", (height,)
        ).fetchone()
        return _bytes("executed", f"height {height}", row[0], 32) if row else None

    def top_height(self) -> int:
        """The highest height indexed: the last executed (indexed in the same commit)."""
        self._check_open()
        return self._executed_height

    def movements_from(self) -> int:
        """The first height indexed (above 1 only in a store migrated from version 5)."""
        self._check_open()
        return self._movements_from

    def close(self) -> None:
        """Close the connection (idempotent); the store is unusable afterwards."""
        if not self._closed:
            self._closed = True
            self._conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if TYPE_CHECKING:
    _conforms: Store = SqliteStore(Path())
    _source: MovementSource = SqliteStore(Path())
    _history: MovementHistory = SqliteStore(Path())
