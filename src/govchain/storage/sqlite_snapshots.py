"""The SQLite store's snapshots table: the newest ledger snapshots, checked on the way back.

Each row holds the encoded Snapshot (replica/snapshot.py), its digest, and
`low_seq`: every vertex with a lower seq was final at or below the
snapshot's height, so a load reads vertices from there on only.

A ledger image is a head and its parts (state/ledger_image.py): since schema
9 a row keeps only the head in its Snapshot, and `parts` lists the digests of
the parts, each stored once in `snapshot_parts` whichever snapshots share it.
The parts a governed chain's load leaves alone (its proposals, identities and
rules: megabytes) are then written once, not at every snapshot. A row whose
`parts` is NULL holds the whole image (written before schema 9, or an image
this code cannot split).
"""

from __future__ import annotations

import sqlite3

import msgspec

from govchain.codec import HASH_BYTES, digest, encode
from govchain.replica.snapshot import SNAPSHOT_BYTES_MAX, SNAPSHOT_DECODER, Snapshot
from govchain.state.image import ImageError
from govchain.state.ledger_image import split_image
from govchain.storage.sqlite_rows import CorruptStoreError, bytes_row, int_row

# data last: SQLite leaves a zeroblob unwritten in memory only when it ends the
# record (with parts after it, every snapshot cost its size in zeros: +60 MB of
# peak RSS at a million live ids).
SNAPSHOTS_TABLE = """CREATE TABLE snapshots (
        height INTEGER PRIMARY KEY,
        low_seq INTEGER NOT NULL,
        digest BLOB NOT NULL,
        parts BLOB,
        data BLOB NOT NULL
    )"""
SNAPSHOT_PARTS_TABLE = """CREATE TABLE snapshot_parts (
        id INTEGER PRIMARY KEY,
        digest BLOB NOT NULL UNIQUE,
        data BLOB NOT NULL
    )"""
SNAPSHOTS_KEPT = 2  # the newest, and the one before it while the newest is young
_DOMAIN = b"govchain/store-snapshot/v1"  # a row holding its whole image
_DOMAIN_PARTS = b"govchain/store-snapshot/v2"  # a row whose image parts are shared
_PART_DOMAIN = b"govchain/store-snapshot-part/v1"
BLOB_SLICE_BYTES = 1 << 20  # a snapshot is written into its row a MiB at a time


def _digest(low_seq: int, data: bytes, parts: bytes | None) -> bytes:
    """What a row's digest covers: its low_seq too (a load trusts it to skip vertices)."""
    low = low_seq.to_bytes(8, "big", signed=True)
    if parts is None:
        return digest(_DOMAIN, low, data)
    return digest(_DOMAIN_PARTS, low, data, parts)


def migrate_to_shared_parts(c: sqlite3.Connection) -> None:
    """Schema 8 to 9: the parts column and table (older rows keep their whole images).

    The table is rebuilt rather than altered, so that data stays its last column.
    """
    columns = [row[1] for row in c.execute("PRAGMA table_info(snapshots)")]
    if "parts" not in columns:
        c.execute("ALTER TABLE snapshots RENAME TO snapshots_8")
        c.execute(SNAPSHOTS_TABLE)
        c.execute(
            "INSERT INTO snapshots (height, low_seq, digest, parts, data) "
            "SELECT height, low_seq, digest, NULL, data FROM snapshots_8"
        )
        c.execute("DROP TABLE snapshots_8")
    found = c.execute("SELECT 1 FROM sqlite_master WHERE name = 'snapshot_parts'").fetchone()
    if found is None:
        c.execute(SNAPSHOT_PARTS_TABLE)


def _write_blob(c: sqlite3.Connection, table: str, rowid: int, data: bytes) -> None:
    # The bytes go in through an incremental blob handle, not as a bound
    # parameter: SQLite would copy a bound blob and build the record in memory,
    # and Python's cached INSERT statement would keep the last snapshot bound
    # until the next one (34 MB steady and ~70 MB of peak at a million live ids).
    with c.blobopen(table, "data", rowid) as blob:
        view = memoryview(data)
        for start in range(0, len(data), BLOB_SLICE_BYTES):
            blob.write(view[start : start + BLOB_SLICE_BYTES])


def _put_part(c: sqlite3.Connection, data: bytes) -> bytes:
    """Store one image part unless an earlier snapshot did; returns its digest."""
    key = digest(_PART_DOMAIN, data)
    if c.execute("SELECT 1 FROM snapshot_parts WHERE digest = ?", (key,)).fetchone() is None:
        cur = c.execute(
            "INSERT INTO snapshot_parts (digest, data) VALUES (?, zeroblob(?))", (key, len(data))
        )
        assert cur.lastrowid is not None
        _write_blob(c, "snapshot_parts", cur.lastrowid, data)
    return key


def write_snapshot(
    c: sqlite3.Connection, snap: Snapshot, low_seq: int, sync_every: int = 0, decided: int = 0
) -> None:
    """Store a snapshot inside the open transaction, and drop all but those kept.

    Kept: the newest SNAPSHOTS_KEPT, the newest at a sync height (a multiple
    of sync_every), and the newest at a sync height that a decided checkpoint
    certifies (below `decided`, the decided height after this commit): the
    one this node offers to joiners until the newest is certified in turn.
    """
    parts: bytes | None = None
    try:
        head, pieces = split_image(snap.ledger)
    except ImageError:
        data = encode(snap)  # not an image this code splits: kept whole
    else:
        data = encode(msgspec.structs.replace(snap, ledger=head))
        parts = b"".join(_put_part(c, piece) for piece in pieces)
    c.execute(
        "INSERT INTO snapshots (height, low_seq, digest, parts, data) "
        "VALUES (?, ?, ?, ?, zeroblob(?))",
        (snap.height, low_seq, _digest(low_seq, data, parts), parts, len(data)),
    )
    _write_blob(c, "snapshots", snap.height, data)  # height is the rowid
    heights = _heights_desc(c)
    keep = set(heights[:SNAPSHOTS_KEPT])
    for below in (None, decided):
        synced = _newest_at_sync_height(heights, sync_every, below)
        if synced is not None:
            keep.add(synced)
    gone = [(h,) for h in heights if h not in keep]
    if gone:
        c.executemany("DELETE FROM snapshots WHERE height = ?", gone)
        _drop_unshared_parts(c)


def _drop_unshared_parts(c: sqlite3.Connection) -> None:
    """Delete the parts no kept snapshot lists (a handful of rows: read them all)."""
    used: set[bytes] = set()
    for (raw,) in c.execute("SELECT parts FROM snapshots WHERE parts IS NOT NULL"):
        if isinstance(raw, bytes):
            used.update(raw[i : i + HASH_BYTES] for i in range(0, len(raw), HASH_BYTES))
    stale = [
        (pid,) for pid, key in c.execute("SELECT id, digest FROM snapshot_parts") if key not in used
    ]
    c.executemany("DELETE FROM snapshot_parts WHERE id = ?", stale)


def _heights_desc(c: sqlite3.Connection) -> list[int]:
    """Every kept snapshot's height, newest first (checked: a damaged row is named)."""
    rows = c.execute("SELECT height FROM snapshots ORDER BY height DESC")
    return [int_row("snapshots", "height", r[0]) for r in rows]


def _newest_at_sync_height(
    heights_desc: list[int], sync_every: int, below: int | None = None
) -> int | None:
    if sync_every <= 0:
        return None
    return next(
        (h for h in heights_desc if h > 0 and h % sync_every == 0 and (below is None or h < below)),
        None,
    )


def sync_snapshot_height(
    c: sqlite3.Connection, sync_every: int, below: int | None = None
) -> int | None:
    """The height of the newest kept snapshot at a sync height (under `below`), or None."""
    return _newest_at_sync_height(_heights_desc(c), sync_every, below)


def newest_low_seq(c: sqlite3.Connection) -> int:
    """low_seq of the newest snapshot (1: none, read every vertex)."""
    row = c.execute("SELECT low_seq FROM snapshots ORDER BY height DESC LIMIT 1").fetchone()
    return int_row("snapshots", "newest", row[0]) if row else 1


def read_snapshot(c: sqlite3.Connection, height: int | None = None) -> tuple[Snapshot, int] | None:
    """The newest snapshot (or the one at height) and its low_seq, checked against its digest."""
    columns = "SELECT height, low_seq, digest, data, parts FROM snapshots"
    if height is None:
        row = c.execute(f"{columns} ORDER BY height DESC LIMIT 1").fetchone()
    else:
        row = c.execute(f"{columns} WHERE height = ?", (height,)).fetchone()
    if row is None:
        return None
    height_raw, low_raw, digest_raw, data, parts_raw = row
    key = f"height {height_raw!r}"
    height = int_row("snapshots", key, height_raw)
    low_seq = int_row("snapshots", key, low_raw)
    if not 1 <= low_seq < 1 << 63:
        raise CorruptStoreError("snapshots", key, f"low_seq {low_seq} out of range")
    recorded = bytes_row("snapshots", key, digest_raw, 32)
    raw = bytes_row("snapshots", key, data)
    parts = None if parts_raw is None else bytes_row("snapshots", key, parts_raw)
    if len(raw) > SNAPSHOT_BYTES_MAX or _digest(low_seq, raw, parts) != recorded:
        raise CorruptStoreError("snapshots", key, "the snapshot does not match its digest")
    try:
        snap = SNAPSHOT_DECODER.decode(raw)
    except msgspec.DecodeError as exc:
        raise CorruptStoreError("snapshots", key, f"undecodable: {exc}") from None
    if snap.height != height:
        raise CorruptStoreError("snapshots", key, "height or low_seq does not match")
    if parts is not None:
        pieces, size = [snap.ledger], len(snap.ledger)
        for at in range(0, len(parts), HASH_BYTES):
            pieces.append(_read_part(c, key, parts, at))
            size += len(pieces[-1])
            if size > SNAPSHOT_BYTES_MAX:  # before joining them, not after
                raise CorruptStoreError("snapshots", key, "the image's parts are too large")
        snap = msgspec.structs.replace(snap, ledger=b"".join(pieces))
    return snap, low_seq


def _read_part(c: sqlite3.Connection, key: str, parts: bytes, at: int) -> bytes:
    """A snapshot's image part by its digest, checked against it."""
    wanted = parts[at : at + HASH_BYTES]
    row = c.execute("SELECT data FROM snapshot_parts WHERE digest = ?", (wanted,)).fetchone()
    if row is None:
        raise CorruptStoreError("snapshot_parts", key, f"part {wanted.hex()[:16]} is missing")
    data = bytes_row("snapshot_parts", key, row[0])
    if len(wanted) != HASH_BYTES or digest(_PART_DOMAIN, data) != wanted:
        raise CorruptStoreError("snapshot_parts", key, "a part does not match its digest")
    return data
