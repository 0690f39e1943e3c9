"""The pieces of the disk-fault handling alone: a fault named in one line, a store set aside."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from govchain.storage.base import CommitError
from govchain.storage.faults import SQLITE_FULL, store_fault
from govchain.storage.integrity import set_aside


def _full() -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("database or disk is full")
    exc.sqlite_errorcode = SQLITE_FULL  # as sqlite3 sets it
    return exc


def test_a_full_disk_is_one_line_naming_the_store(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    fault = store_fault(_full(), store)
    assert fault is not None and fault.kind == "disk_full"
    assert str(fault).startswith(f"disk full writing {store}: database or disk is full (")
    assert "\n" not in str(fault)
    wrapped = CommitError("refused")
    wrapped.__cause__ = _full()
    assert store_fault(wrapped, store) is not None  # found through the cause
    assert store_fault(ValueError("a bug"), store) is None  # a bug keeps its traceback


def test_set_aside_moves_the_store_and_its_wal_and_never_deletes(tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    now = datetime(2026, 12, 4, 16, 15, 46, tzinfo=UTC)
    for n in (1, 2):
        store.write_bytes(b"db %d" % n)
        Path(f"{store}-wal").write_bytes(b"wal %d" % n)
        aside = set_aside(store, now)
        assert aside is not None and not store.exists()
        assert aside.read_bytes() == b"db %d" % n
        assert Path(f"{aside}-wal").read_bytes() == b"wal %d" % n
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "store.sqlite.damaged-20261204T161546Z",
        "store.sqlite.damaged-20261204T161546Z-2",
        "store.sqlite.damaged-20261204T161546Z-2-wal",
        "store.sqlite.damaged-20261204T161546Z-wal",
    ]
    assert set_aside(store, now) is None  # nothing there: nothing moved
