"""The SQLite Store: WAL, one fsync'd transaction per commit, rows keyed by sequence.

Layout (schema version 3):

- `vertices`: one row per stored transaction, keyed by an increasing sequence
  number (the rowid) in admission order: header (body, signature), its id, and
  the payload in the same row (one insert per transaction, not two; redaction
  sets the payload to NULL and keeps the header). `tx_key`, the id's first 8
  bytes as an integer, is indexed for look-ups: an index of integers takes
  random keys at half the cost of one of 32-byte blobs.
- `receipts`: one row per final vertex, keyed by the vertex's sequence number,
  with its height and place in the final order (indexed, append-only). A vertex
  without a receipt row is not final yet; covering a vertex is an insert here,
  never an update of the vertex row.
- `decided`: checkpoint and certificate per height.
- `executed`: per executed height, the state hash, the receipts root, the
  audit head and the final order as a msgpack list of vertex sequence numbers.
- `audit`: the audit log's entries (msgpack), keyed by their sequence number,
  with the height that appended them.
- `redacted`: which vertex a height's execution redacted, in order. Its
  payload is set to NULL in the same transaction; secure_delete zeroes the
  freed bytes and a WAL checkpoint then truncates the old page images away.
- `hard_state`: the one row of consensus hard state (msgpack).

Sequence keys keep inserts at the right edge of each B-tree; only the tx-key
index takes random keys. Everything read back is checked (canonical encodings,
ids against headers, payloads against their hashes, receipts against their
root), and a bad row raises CorruptStoreError naming its table.

One writer: the store caches the next sequence number and the ids of uncovered
vertices, and refuses to commit if another connection has written the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from govchain.codec import DecodeError, decode_canonical, encode
from govchain.consensus.messages import Certificate, Checkpoint
from govchain.consensus.tendermint import HardState
from govchain.crypto.keys import SIGNATURE_BYTES
from govchain.dag.tx import Transaction, decode_body, payload_hash, tx_id
from govchain.replica.replica import Execution, Persisted, ReplicaReady
from govchain.state.audit import AuditEntry
from govchain.state.ledger import Executed
from govchain.state.receipts import Reason, Receipt, Status, receipts_root
from govchain.storage.base import StoredTx
from govchain.storage.memory import CommitError, StoreError, check_ready, check_tx

if TYPE_CHECKING:
    from govchain.storage.base import Store

T = TypeVar("T")

SCHEMA_VERSION = 3
APPLICATION_ID = 0x476F7643  # "GovC" in the database header: a govchain store

HARD_STATE_DECODER = msgspec.msgpack.Decoder(HardState)
CHECKPOINT_DECODER = msgspec.msgpack.Decoder(Checkpoint)
CERTIFICATE_DECODER = msgspec.msgpack.Decoder(Certificate)
SEQS_DECODER = msgspec.msgpack.Decoder(list[int])
AUDIT_DECODER = msgspec.msgpack.Decoder(AuditEntry)

_STATUSES = frozenset(s.value for s in Status)
_REASONS = frozenset(r.value for r in Reason)

SCHEMA = (
    """CREATE TABLE schema_version (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
    )""",
    """CREATE TABLE hard_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        data BLOB NOT NULL
    )""",
    """CREATE TABLE decided (
        height INTEGER PRIMARY KEY,
        checkpoint BLOB NOT NULL,
        certificate BLOB NOT NULL
    )""",
    """CREATE TABLE executed (
        height INTEGER PRIMARY KEY REFERENCES decided (height),
        state_hash BLOB NOT NULL,
        receipts_root BLOB NOT NULL,
        audit_head BLOB NOT NULL,
        tx_seqs BLOB NOT NULL
    )""",
    """CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        height INTEGER NOT NULL REFERENCES executed (height),
        entry BLOB NOT NULL
    )""",
    "CREATE INDEX audit_height ON audit (height)",
    """CREATE TABLE redacted (
        id INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL REFERENCES vertices (seq),
        height INTEGER NOT NULL REFERENCES executed (height)
    )""",
    """CREATE TABLE vertices (
        seq INTEGER PRIMARY KEY,
        tx_key INTEGER NOT NULL,
        tx_id BLOB NOT NULL,
        body BLOB NOT NULL,
        signature BLOB NOT NULL,
        payload BLOB
    )""",
    "CREATE INDEX vertices_tx_key ON vertices (tx_key)",
    """CREATE TABLE receipts (
        seq INTEGER PRIMARY KEY REFERENCES vertices (seq),
        height INTEGER NOT NULL REFERENCES executed (height),
        idx INTEGER NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        rule TEXT,
        governance_ref TEXT
    )""",
    "CREATE UNIQUE INDEX receipts_position ON receipts (height, idx)",
)
TABLES = frozenset(
    {
        "schema_version",
        "hard_state",
        "decided",
        "executed",
        "vertices",
        "receipts",
        "audit",
        "redacted",
    }
)

_VERTEX_COLUMNS = (
    "SELECT v.seq, v.tx_id, v.body, v.signature, r.height, r.idx, v.payload "
    "FROM vertices AS v LEFT JOIN receipts AS r ON r.seq = v.seq"
)
_RECEIPT_COLUMNS = (
    "SELECT r.height, r.idx, v.tx_id, r.status, r.reason, r.rule, r.governance_ref "
    "FROM receipts AS r JOIN vertices AS v ON v.seq = r.seq"
)


_KEYS_PER_QUERY = 500  # well below SQLite's limit on bound parameters


def _payload_or_null(tx: Transaction) -> bytes | None:
    """What the payload column holds: NULL once redacted."""
    return None if tx.payload_missing else tx.payload


def tx_key(vid: bytes) -> int:
    """The indexed integer for a tx id: its first 8 bytes, as SQLite's signed 64 bits."""
    return int.from_bytes(vid[:8], "big", signed=True)


class CorruptStoreError(StoreError):
    """A row read back does not hold what was written: the file is damaged."""

    def __init__(self, table: str, key: object, what: str) -> None:
        super().__init__(f"store corrupt: table {table}, {key}: {what}")
        self.table = table


class SchemaError(StoreError):
    """The file is not a govchain store, or one of a schema this code does not read."""


# -- reading rows back, checked ----------------------------------------------------
def _decode(table: str, key: object, data: object, decoder: msgspec.msgpack.Decoder[T]) -> T:
    if not isinstance(data, bytes):
        raise CorruptStoreError(table, key, f"expected bytes, found {type(data).__name__}")
    try:
        return decode_canonical(data, decoder)
    except DecodeError as exc:
        raise CorruptStoreError(table, key, str(exc)) from exc


def _int(table: str, key: object, value: object) -> int:
    if type(value) is not int:
        raise CorruptStoreError(table, key, f"expected an integer, found {value!r}")
    return value


def _bytes(table: str, key: object, value: object, length: int | None = None) -> bytes:
    if not isinstance(value, bytes) or (length is not None and len(value) != length):
        raise CorruptStoreError(
            table, key, f"expected {length or 'some'} bytes, found {value!r:.80}"
        )
    return value


def _text(table: str, key: object, value: object, allowed: frozenset[str] | None) -> str | None:
    if value is None:
        return None
    return _str(table, key, value, allowed)


def _str(table: str, key: object, value: object, allowed: frozenset[str] | None) -> str:
    if not isinstance(value, str) or (allowed is not None and value not in allowed):
        raise CorruptStoreError(table, key, f"unexpected value {value!r:.80}")
    return value


def _vertex(row: tuple[Any, ...]) -> tuple[int, Transaction, tuple[int, int] | None]:
    """(seq, transaction, (covering height, place in its order)) from a _VERTEX_COLUMNS row."""
    seq_raw, vid, body, sig, height, idx, payload = row
    seq = _int("vertices", "seq ?", seq_raw)
    key = f"seq {seq}"
    vid = _bytes("vertices", key, vid, 32)
    body = _bytes("vertices", key, body)
    sig = _bytes("vertices", key, sig, SIGNATURE_BYTES)
    final = None
    if height is not None or idx is not None:
        final = (_int("vertices", key, height), _int("vertices", key, idx))
    try:
        parsed = decode_body(body)
    except DecodeError as exc:
        raise CorruptStoreError("vertices", key, f"body: {exc}") from exc
    if tx_id(body, sig) != vid:
        raise CorruptStoreError("vertices", key, "tx_id does not match the header")
    if payload is None:  # redacted: the header stays and still verifies
        payload = b""
    else:
        payload = _bytes("vertices", key, payload)
        if payload_hash(payload) != parsed.payload_hash:
            raise CorruptStoreError("vertices", key, "payload does not match its hash")
    return seq, Transaction(vid, parsed, body, sig, payload), final


def _receipt(row: tuple[Any, ...]) -> Receipt:
    height, idx, vid, status, reason, rule, gov = row
    key = f"height {height!r}, idx {idx!r}"
    return Receipt(
        _bytes("receipts", key, vid, 32),
        _int("receipts", key, height),
        _int("receipts", key, idx),
        _str("receipts", key, status, _STATUSES),
        _text("receipts", key, reason, _REASONS),
        _text("receipts", key, rule, None),
        _text("receipts", key, gov, None),
    )


def _check_receipts(height: int, receipts: list[Receipt], root: bytes, count: int) -> None:
    if len(receipts) != count or any(rc.index != i for i, rc in enumerate(receipts)):
        raise CorruptStoreError("receipts", f"height {height}", f"expected indexes 0..{count - 1}")
    if receipts_root(receipts) != root:
        raise CorruptStoreError("receipts", f"height {height}", "receipts do not match their root")


class SqliteStore:
    """Store in one SQLite file (plus its -wal and -shm files while open)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open: {exc}") from exc
        self._closed = False
        self._redacted_pending = False
        try:
            self._open_schema()
            self._load_caches()
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
            self._next_seq: int = c.execute(
                "SELECT coalesce(max(seq), 0) + 1 FROM vertices"
            ).fetchone()[0]
            self._decided_height: int = c.execute(
                "SELECT coalesce(max(height), 0) FROM decided"
            ).fetchone()[0]
            self._executed_height: int = c.execute(
                "SELECT coalesce(max(height), 0) FROM executed"
            ).fetchone()[0]
            self._uncovered: dict[bytes, int] = {
                vid: seq
                for seq, vid in c.execute(
                    "SELECT v.seq, v.tx_id FROM vertices AS v LEFT JOIN receipts AS r "
                    "ON r.seq = v.seq WHERE r.seq IS NULL ORDER BY v.seq"
                )
            }
            self._data_version: int = self._pragma("data_version")

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
                next_seq, added, covered = self._write(ready)
        except sqlite3.IntegrityError as exc:
            raise CommitError(f"refused by the database: {exc}") from exc
        if self._redacted_pending:
            # The WAL still holds the pages as they were before the redaction:
            # copy it into the database and truncate it, so the bytes are gone.
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._redacted_pending = False
        # Committed: only now do the caches move.
        self._next_seq = next_seq
        self._decided_height += len(ready.decided)
        self._executed_height += len(ready.executed)
        self._uncovered.update(added)
        for vid in covered:
            self._uncovered.pop(vid, None)

    def _decided_checkpoint(self, height: int) -> Checkpoint | None:
        row = self._conn.execute(
            "SELECT checkpoint FROM decided WHERE height = ?", (height,)
        ).fetchone()
        return _decode("decided", f"height {height}", row[0], CHECKPOINT_DECODER) if row else None

    def _write(self, ready: ReplicaReady) -> tuple[int, dict[bytes, int], list[bytes]]:
        """Write inside the open transaction; returns the cache changes to apply after COMMIT."""
        c = self._conn
        seq = self._next_seq
        new_rows: list[tuple[int, int, bytes, bytes, bytes, bytes | None]] = []
        added: dict[bytes, int] = {}
        for tx in ready.admitted:
            if tx.id in self._uncovered or tx.id in added:
                raise CommitError(f"vertex {tx.id.hex()} is already stored")
            check_tx(tx)
            added[tx.id] = seq
            new_rows.append(
                (seq, tx_key(tx.id), tx.id, tx.body_bytes, tx.signature, _payload_or_null(tx))
            )
            seq += 1
        self._refuse_stored(list(added))
        covered: list[bytes] = []
        covered_ids: set[bytes] = set()
        executed_rows: list[tuple[int, bytes, bytes, bytes, bytes]] = []
        audit_rows: list[tuple[int, int, bytes]] = []
        redacted_rows: list[tuple[bytes, int]] = []
        receipt_rows: list[tuple[Any, ...]] = []
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
                if s is None:
                    found = c.execute(
                        "SELECT r.height FROM vertices AS v LEFT JOIN receipts AS r "
                        "ON r.seq = v.seq WHERE v.tx_key = ? AND v.tx_id = ?",
                        (tx_key(tx.id), tx.id),
                    ).fetchone()
                    if found is not None:
                        raise CommitError(
                            f"vertex {tx.id.hex()} is already covered at height {found[0]}"
                        )
                    check_tx(tx)
                    s = seq
                    seq += 1
                    new_rows.append(
                        (s, tx_key(tx.id), tx.id, tx.body_bytes, tx.signature, _payload_or_null(tx))
                    )
                order.append(s)
            r = ex.result
            executed_rows.append((h, r.state_hash, r.receipts_root, r.audit_head, encode(order)))
            audit_rows.extend((e.seq, h, encode(e)) for e in r.audit)
            redacted_rows.extend((vid, h) for vid in r.redacted)
            if len(r.receipts) != len(order):
                raise CommitError(f"height {h}: {len(r.receipts)} receipts for {len(order)} txs")
            receipt_rows.extend(
                (s, h, rc.index, rc.status, rc.reason, rc.rule, rc.governance_ref)
                for s, rc in zip(order, r.receipts, strict=True)
            )

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
                "INSERT INTO vertices (seq, tx_key, tx_id, body, signature, payload) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                new_rows,
            )
        self._write_receipts(receipt_rows)
        if audit_rows:
            c.executemany("INSERT INTO audit (seq, height, entry) VALUES (?, ?, ?)", audit_rows)
        for vid, h in redacted_rows:
            row = c.execute(
                "SELECT seq FROM vertices WHERE tx_key = ? AND tx_id = ?", (tx_key(vid), vid)
            ).fetchone()
            if row is None:
                raise CommitError(f"redacted vertex {vid.hex()} is not stored")
            c.execute("UPDATE vertices SET payload = NULL WHERE seq = ?", (row[0],))
            c.execute("INSERT INTO redacted (seq, height) VALUES (?, ?)", (row[0], h))
        self._redacted_pending = bool(redacted_rows)
        return seq, added, covered

    def _refuse_stored(self, ids: list[bytes]) -> None:
        """CommitError if any of ids is stored already (final: the cache knows the others)."""
        for start in range(0, len(ids), _KEYS_PER_QUERY):
            chunk = ids[start : start + _KEYS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            wanted = set(chunk)
            for (vid,) in self._conn.execute(
                f"SELECT tx_id FROM vertices WHERE tx_key IN ({marks})",  # noqa: S608 - only ?s
                [tx_key(v) for v in chunk],
            ):
                if vid in wanted:
                    raise CommitError(f"vertex {vid.hex()} is already stored")

    def _write_executed(self, rows: list[tuple[int, bytes, bytes, bytes, bytes]]) -> None:
        if rows:
            self._conn.executemany(
                "INSERT INTO executed (height, state_hash, receipts_root, audit_head, tx_seqs) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def _write_receipts(self, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self._conn.executemany(
                "INSERT INTO receipts (seq, height, idx, status, reason, rule, governance_ref) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    # -- reading ------------------------------------------------------------------
    def load(self) -> Persisted:
        """Rebuild what a Replica resumes from, checking every row on the way."""
        c = self._conn
        with self._read_transaction():
            hs_rows = c.execute("SELECT id, data FROM hard_state").fetchall()
            decided_rows = c.execute(
                "SELECT height, checkpoint, certificate FROM decided ORDER BY height"
            ).fetchall()
            executed_rows = c.execute(
                "SELECT height, state_hash, receipts_root, audit_head, tx_seqs "
                "FROM executed ORDER BY height"
            ).fetchall()
            receipt_rows = c.execute(f"{_RECEIPT_COLUMNS} ORDER BY r.height, r.idx").fetchall()
            audit_rows = c.execute("SELECT seq, height, entry FROM audit ORDER BY seq").fetchall()
            redacted_rows = c.execute(
                "SELECT v.tx_id, r.height FROM redacted AS r JOIN vertices AS v "
                "ON v.seq = r.seq ORDER BY r.id"
            ).fetchall()
            vertex_rows = c.execute(f"{_VERTEX_COLUMNS} ORDER BY v.seq").fetchall()

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

        receipts_by_height: dict[int, list[Receipt]] = {}
        for row in receipt_rows:
            rc = _receipt(row)
            receipts_by_height.setdefault(rc.height, []).append(rc)

        executed: list[Execution] = []
        audit_by_height: dict[int, list[AuditEntry]] = {}
        for seq_raw, height_raw, data in audit_rows:
            akey = f"seq {seq_raw!r}"
            entry = _decode("audit", akey, data, AUDIT_DECODER)
            if entry.seq != seq_raw or entry.height != height_raw:
                raise CorruptStoreError("audit", akey, "seq or height does not match the entry")
            audit_by_height.setdefault(entry.height, []).append(entry)
        redacted_by_height: dict[int, list[bytes]] = {}
        for vid, height_raw in redacted_rows:
            redacted_by_height.setdefault(height_raw, []).append(vid)
        for expected, (height, hash_data, root_data, head_data, seqs_data) in enumerate(
            executed_rows, 1
        ):
            key = f"height {height!r}"
            if height != expected or height > len(decided):
                raise CorruptStoreError("executed", key, "heights must run 1.. within the decided")
            seqs = _decode("executed", key, seqs_data, SEQS_DECODER)
            txs: list[Transaction] = []
            for index, s in enumerate(seqs):
                found = by_seq.get(s)
                if found is not None and found[1] is None:
                    raise CorruptStoreError("receipts", key, f"no receipt for vertex seq {s}")
                if found is None or found[1] != (height, index):
                    raise CorruptStoreError("executed", key, f"vertex seq {s} is not covered here")
                txs.append(found[0])
            if covered_count.pop(height, 0) != len(seqs):
                raise CorruptStoreError("vertices", key, "covered vertices differ from the order")
            receipts = receipts_by_height.pop(height, [])
            root = _bytes("executed", key, root_data, 32)
            _check_receipts(height, receipts, root, len(txs))
            if any(rc.tx_id != tx.id for rc, tx in zip(receipts, txs, strict=True)):
                raise CorruptStoreError("receipts", key, "receipts name other transactions")
            state_hash = _bytes("executed", key, hash_data, 32)
            result = Executed(
                height,
                receipts,
                root,
                state_hash,
                tuple(audit_by_height.pop(height, [])),
                _bytes("executed", key, head_data, 32),
                tuple(redacted_by_height.pop(height, [])),
            )
            executed.append(Execution(decided[height - 1][0], tuple(txs), result))
        if covered_count:
            raise CorruptStoreError(
                "vertices", f"height {min(covered_count)}", "height not executed"
            )
        if receipts_by_height:
            raise CorruptStoreError("receipts", f"height {min(receipts_by_height)}", "not executed")
        if audit_by_height:
            raise CorruptStoreError("audit", f"height {min(audit_by_height)}", "not executed")
        return Persisted(hard_state, decided, executed, vertices)

    def get_tx(self, tx_id: bytes) -> StoredTx | None:
        """A stored transaction with its final height and receipt, if any.

        No snapshot is needed: a vertex's receipt row is written once and never
        changes afterwards.
        """
        self._check_open()
        c = self._conn
        row = c.execute(
            f"{_VERTEX_COLUMNS} WHERE v.tx_key = ? AND v.tx_id = ?", (tx_key(tx_id), tx_id)
        ).fetchone()
        if row is None:
            return None
        _, tx, final = _vertex(row)
        if final is None:
            return StoredTx(tx, None, None)
        height, index = final
        rc_row = c.execute(
            f"{_RECEIPT_COLUMNS} WHERE r.height = ? AND r.idx = ?", (height, index)
        ).fetchone()
        key = f"height {height}, idx {index}"
        if rc_row is None:
            raise CorruptStoreError("receipts", key, f"missing for tx {tx.id.hex()}")
        rc = _receipt(rc_row)
        if rc.tx_id != tx.id:
            raise CorruptStoreError("receipts", key, "names another transaction")
        return StoredTx(tx, height, rc)

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
        c = self._conn
        with self._read_transaction():
            row = c.execute(
                "SELECT receipts_root, tx_seqs FROM executed WHERE height = ?", (height,)
            ).fetchone()
            if row is None:
                return []
            rows = c.execute(
                f"{_RECEIPT_COLUMNS} WHERE r.height = ? ORDER BY r.idx", (height,)
            ).fetchall()
        key = f"height {height}"
        count = len(_decode("executed", key, row[1], SEQS_DECODER))
        out = [_receipt(r) for r in rows]
        _check_receipts(height, out, _bytes("executed", key, row[0], 32), count)
        return out

    def audit(self, from_height: int, to_height: int) -> list[AuditEntry]:
        """Audit entries appended by the executed heights from..to (inclusive), in order."""
        self._check_open()
        rows = self._conn.execute(
            "SELECT seq, height, entry FROM audit WHERE height BETWEEN ? AND ? ORDER BY seq",
            (from_height, to_height),
        ).fetchall()
        out: list[AuditEntry] = []
        for seq, height, data in rows:
            entry = _decode("audit", f"seq {seq!r}", data, AUDIT_DECODER)
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
