"""The SQLite store's pruning (`govchain node --prune`): its tables, its mark, the row move.

`pruned` holds one row: `below_seq`, under which vertices are pruned, and
`height`, the snapshot whose `low_seq` that was (1 and 0: none pruned). A
pruned vertex leaves `vertices` (its pages go to SQLite's free list, for the
rows to come) and keeps only its id in `pruned_ids` (seq, tx_id: about 40
bytes a row, densely packed); its `redacted` row goes too (a load reads only
those after the snapshot). Emptying the rows in place instead freed no page:
rows shrink inside their pages, and new rows go to the right edge.
"""

from __future__ import annotations

import sqlite3

from govchain.storage.sqlite_rows import CorruptStoreError

PRUNED_TABLE = """CREATE TABLE pruned (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        below_seq INTEGER NOT NULL,
        height INTEGER NOT NULL
    )"""
PRUNED_IDS_TABLE = """CREATE TABLE pruned_ids (
        seq INTEGER PRIMARY KEY,
        tx_id BLOB NOT NULL
    )"""
NONE_PRUNED = "INSERT INTO pruned (id, below_seq, height) VALUES (1, 1, 0)"
# The tables a vertex's id may be in, by seq: pruned ones keep only their id.
ID_TABLES = ("vertices", "pruned_ids")


def read_pruned_mark(c: sqlite3.Connection) -> tuple[int, int]:
    """(below_seq, height) of the pruning mark, checked, or CorruptStoreError."""
    rows = c.execute("SELECT below_seq, height FROM pruned").fetchall()
    if len(rows) != 1 or not all(type(v) is int for v in rows[0]) or rows[0][0] < 1:
        raise CorruptStoreError("pruned", "id 1", f"holds {rows!r:.80}")
    below, height = rows[0]
    if height < 0:
        raise CorruptStoreError("pruned", "id 1", f"holds {rows!r:.80}")
    return below, height


def move_to_pruned(c: sqlite3.Connection, low: int, below: int) -> int:
    """Move vertices low <= seq < below to pruned_ids (inside the open transaction); how many."""
    span = (low, below)
    c.execute(
        "INSERT INTO pruned_ids (seq, tx_id) SELECT seq, tx_id FROM vertices "
        "WHERE seq >= ? AND seq < ? ORDER BY seq",
        span,
    )
    c.execute("DELETE FROM redacted WHERE seq >= ? AND seq < ?", span)
    moved: int = c.execute("DELETE FROM vertices WHERE seq >= ? AND seq < ?", span).rowcount
    return moved
