"""Transaction ids by prefix in both stores: the same answers as a scan of every stored id.

The SQLite store answers from tx_index (its key is the id's first 8 bytes, so
a prefix is a key range) and from the ids above the mark it keeps in memory;
both must agree with the in-memory twin, through merges and restarts.
"""

# ruff: noqa: F811 (`history`, `backend`, `store` are test_storage's fixtures, imported to be used)
from __future__ import annotations

from pathlib import Path

import pytest

from govchain.storage import sqlite as sqlite_store
from govchain.storage.base import Store, prefix_bounds
from govchain.storage.memory import MemoryStore
from govchain.storage.sqlite import SqliteStore
from test_storage import History, backend, commit_all, history, store  # noqa: F401


def _stored_ids(history: History) -> list[bytes]:
    ids = {tx.id for r in history.readies for tx in r.admitted}
    ids |= {tx.id for r in history.readies for ex in r.executed for tx in ex.txs}
    return sorted(ids)


def _prefixes(ids: list[bytes]) -> list[str]:
    """Prefixes that match one id, several, or none, of every length that matters."""
    out = [f"{d:x}" for d in range(16)]  # one digit: many ids each
    for vid in ids[:6]:
        h = vid.hex()
        out += [h[:8], h[:9], h[:15], h[:16], h[:17], h]
    out += ["0" * 8, "f" * 8, "7fffffff", "80000000", "8", "7"]  # around the sign bit
    return out


def _brute(ids: list[bytes], prefix: str, limit: int) -> list[bytes]:
    return [vid for vid in ids if vid.hex().startswith(prefix)][:limit]


def test_a_prefix_finds_exactly_the_ids_that_start_with_it(store: Store, history: History) -> None:
    commit_all(store, history.readies)
    ids = _stored_ids(history)
    assert len(ids) >= 6
    for prefix in _prefixes(ids):
        for limit in (1, 3, 1_000):
            assert store.tx_ids_with_prefix(prefix, limit) == _brute(ids, prefix, limit), prefix


def test_an_unknown_prefix_finds_nothing(store: Store, history: History) -> None:
    commit_all(store, history.readies)
    taken = {vid.hex()[:8] for vid in _stored_ids(history)}
    free = next(f"{n:08x}" for n in range(1_000) if f"{n:08x}" not in taken)
    assert store.tx_ids_with_prefix(free, 16) == []
    assert store.tx_ids_with_prefix(free + "0" * 56, 16) == []


@pytest.mark.parametrize("bad", ["", "G0000000", "ABCDEF12", "0" * 65, "12 34"])
def test_a_malformed_prefix_is_refused(store: Store, bad: str) -> None:
    with pytest.raises(ValueError, match="lowercase hex"):
        store.tx_ids_with_prefix(bad, 16)


def test_prefix_bounds_are_the_least_and_greatest_matching_ids() -> None:
    lo, hi = prefix_bounds("abc")
    assert lo.hex() == "abc" + "0" * 61 and hi.hex() == "abc" + "f" * 61


@pytest.mark.parametrize("restart_every", [0, 3], ids=["no-restart", "restarts"])
@pytest.mark.parametrize("colliding", [False, True], ids=["real-keys", "one-key-for-all"])
def test_sqlite_answers_as_the_memory_store_through_merges(
    tmp_path: Path,
    history: History,
    monkeypatch: pytest.MonkeyPatch,
    colliding: bool,
    restart_every: int,
) -> None:
    """Ids in tx_index, in memory above the mark, and half-way through a merge are all found."""
    monkeypatch.setattr(sqlite_store, "INDEX_MERGE_ROWS", 4)
    monkeypatch.setattr(sqlite_store, "INDEX_SLICE_ROWS", 3)
    if colliding:
        monkeypatch.setattr(sqlite_store, "tx_key", lambda vid: 7)
    mem = MemoryStore()
    db = tmp_path / "store.db"
    sql = SqliteStore(db)
    try:
        for i, ready in enumerate(history.readies):
            sql.commit(ready)
            mem.commit(ready)
            if restart_every and i % restart_every == 1:
                sql.close()
                sql = SqliteStore(db)
            ids = sorted({tx.id for r in history.readies[: i + 1] for tx in r.admitted})
            for prefix in _prefixes(ids)[16:]:  # the one-digit ones are checked above
                assert sql.tx_ids_with_prefix(prefix, 16) == mem.tx_ids_with_prefix(prefix, 16)
    finally:
        sql.close()
