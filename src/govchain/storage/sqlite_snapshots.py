"""The SQLite store's snapshots table: the newest ledger snapshots, checked on the way back.

Each row holds the encoded Snapshot (replica/snapshot.py), its digest, and
`low_seq`: every vertex with a lower seq was final at or below the
snapshot's height, so a load reads vertices from there on only.
"""

from __future__ import annotations

import sqlite3

import msgspec

from govchain.codec import digest, encode
from govchain.replica.snapshot import SNAPSHOT_BYTES_MAX, SNAPSHOT_DECODER, Snapshot
from govchain.storage.sqlite_rows import CorruptStoreError, bytes_row, int_row

SNAPSHOTS_TABLE = """CREATE TABLE snapshots (
        height INTEGER PRIMARY KEY,
        low_seq INTEGER NOT NULL,
        digest BLOB NOT NULL,
        data BLOB NOT NULL
    )"""
SNAPSHOTS_KEPT = 2  # the newest, and the one before it while the newest is young
_DOMAIN = b"govchain/store-snapshot/v1"
BLOB_SLICE_BYTES = 1 << 20  # a snapshot is written into its row a MiB at a time


def _digest(low_seq: int, data: bytes) -> bytes:
    """What a row's digest covers: its low_seq too (a load trusts it to skip vertices)."""
    return digest(_DOMAIN, low_seq.to_bytes(8, "big", signed=True), data)


def write_snapshot(
    c: sqlite3.Connection, snap: Snapshot, low_seq: int, sync_every: int = 0
) -> None:
    """Store a snapshot inside the open transaction, and drop all but those kept.

    Kept: the newest SNAPSHOTS_KEPT, and the newest at a sync height (a
    multiple of sync_every: the one this node offers to joiners).
    """
    data = encode(snap)
    # The bytes go in through an incremental blob handle, not as a bound
    # parameter: SQLite would copy a bound blob and build the record in memory,
    # and Python's cached INSERT statement would keep the last snapshot bound
    # until the next one (34 MB steady and ~70 MB of peak at a million live ids).
    c.execute(
        "INSERT INTO snapshots (height, low_seq, digest, data) VALUES (?, ?, ?, zeroblob(?))",
        (snap.height, low_seq, _digest(low_seq, data), len(data)),
    )
    with c.blobopen("snapshots", "data", snap.height) as blob:  # height is the rowid
        view = memoryview(data)
        for start in range(0, len(data), BLOB_SLICE_BYTES):
            blob.write(view[start : start + BLOB_SLICE_BYTES])
    heights = _heights_desc(c)
    keep = set(heights[:SNAPSHOTS_KEPT])
    synced = _newest_at_sync_height(heights, sync_every)
    if synced is not None:
        keep.add(synced)
    c.executemany(
        "DELETE FROM snapshots WHERE height = ?", [(h,) for h in heights if h not in keep]
    )


def _heights_desc(c: sqlite3.Connection) -> list[int]:
    """Every kept snapshot's height, newest first (checked: a damaged row is named)."""
    rows = c.execute("SELECT height FROM snapshots ORDER BY height DESC")
    return [int_row("snapshots", "height", r[0]) for r in rows]


def _newest_at_sync_height(heights_desc: list[int], sync_every: int) -> int | None:
    if sync_every <= 0:
        return None
    return next((h for h in heights_desc if h > 0 and h % sync_every == 0), None)


def sync_snapshot_height(c: sqlite3.Connection, sync_every: int) -> int | None:
    """The height of the newest kept snapshot at a sync height, or None."""
    return _newest_at_sync_height(_heights_desc(c), sync_every)


def newest_low_seq(c: sqlite3.Connection) -> int:
    """low_seq of the newest snapshot (1: none, read every vertex)."""
    row = c.execute("SELECT low_seq FROM snapshots ORDER BY height DESC LIMIT 1").fetchone()
    return int_row("snapshots", "newest", row[0]) if row else 1


def read_snapshot(c: sqlite3.Connection, height: int | None = None) -> tuple[Snapshot, int] | None:
    """The newest snapshot (or the one at height) and its low_seq, checked against its digest."""
    if height is None:
        row = c.execute(
            "SELECT height, low_seq, digest, data FROM snapshots ORDER BY height DESC LIMIT 1"
        ).fetchone()
    else:
        row = c.execute(
            "SELECT height, low_seq, digest, data FROM snapshots WHERE height = ?", (height,)
        ).fetchone()
    if row is None:
        return None
    height_raw, low_raw, digest_raw, data = row
    key = f"height {height_raw!r}"
    height = int_row("snapshots", key, height_raw)
    low_seq = int_row("snapshots", key, low_raw)
    if not 1 <= low_seq < 1 << 63:
        raise CorruptStoreError("snapshots", key, f"low_seq {low_seq} out of range")
    recorded = bytes_row("snapshots", key, digest_raw, 32)
    raw = bytes_row("snapshots", key, data)
    if len(raw) > SNAPSHOT_BYTES_MAX or _digest(low_seq, raw) != recorded:
        raise CorruptStoreError("snapshots", key, "the snapshot does not match its digest")
    try:
        snap = SNAPSHOT_DECODER.decode(raw)
    except msgspec.DecodeError as exc:
        raise CorruptStoreError("snapshots", key, f"undecodable: {exc}") from None
    if snap.height != height:
        raise CorruptStoreError("snapshots", key, "height or low_seq does not match")
    return snap, low_seq
