"""The SQLite store's tables (schema version SCHEMA_VERSION), as created in a new file."""

from __future__ import annotations

from govchain.storage.base import StoreError
from govchain.storage.sqlite_movements import MOVEMENT_TABLES
from govchain.storage.sqlite_pruning import PRUNED_IDS_TABLE, PRUNED_TABLE
from govchain.storage.sqlite_snapshots import SNAPSHOT_PARTS_TABLE, SNAPSHOTS_TABLE

SCHEMA_VERSION = 9
APPLICATION_ID = 0x476F7643  # "GovC" in the database header: a govchain store


class SchemaError(StoreError):
    """The file is not a govchain store, or one of a schema this code does not read."""


WAITING_TABLE = """CREATE TABLE waiting (
        seq INTEGER PRIMARY KEY,
        tx_id BLOB NOT NULL UNIQUE,
        body BLOB NOT NULL,
        signature BLOB NOT NULL,
        payload BLOB NOT NULL
    )"""
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
        tx_seqs BLOB NOT NULL,
        outcomes BLOB NOT NULL
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
        tx_id BLOB NOT NULL,
        body BLOB NOT NULL,
        signature BLOB NOT NULL,
        payload BLOB
    )""",
    # No foreign keys on the two tables written per transaction: a check per
    # row doubled their cost, and the store checks what it writes itself.
    """CREATE TABLE covered (
        seq INTEGER PRIMARY KEY,
        height INTEGER NOT NULL,
        idx INTEGER NOT NULL
    )""",
    """CREATE TABLE tx_index (
        tx_key INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (tx_key, seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE tx_index_mark (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL
    )""",
    WAITING_TABLE,
    *MOVEMENT_TABLES,
    SNAPSHOTS_TABLE,
    SNAPSHOT_PARTS_TABLE,
    PRUNED_TABLE,
    PRUNED_IDS_TABLE,
)
TABLES = frozenset(
    {
        "schema_version",
        "hard_state",
        "decided",
        "executed",
        "vertices",
        "covered",
        "tx_index",
        "tx_index_mark",
        "audit",
        "redacted",
        "waiting",
        "movements",
        "movement_accounts",
        "movement_index",
        "snapshots",
        "snapshot_parts",
        "pruned",
        "pruned_ids",
    }
)
