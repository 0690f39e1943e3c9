"""An account's history read backwards (SqliteStore.movements_before), a page at a time.

The history is written through the store's real commit path (bench/bench_trace.py's
Chain: per transfer a transaction, its receipt and its movement), with the account
index merged every few commits, so an account's movements lie in many posting lists
and, the newest, in memory. Paging backwards through everything, restarting the
store between pages or not, gives exactly the forward read reversed; and a page
costs a bounded number of queries wherever it starts, whatever the history's length.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from random import Random

import pytest

# bench/ is no package: its modules import each other as top-level modules.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_trace as bt
from govchain.storage import sqlite as sqlite_store
from govchain.storage import sqlite_movements
from govchain.storage.base import MovementHistory
from govchain.storage.memory import MemoryStore
from govchain.storage.sqlite import SqliteStore
from govchain.storage.sqlite_movements import MOVEMENT_HEIGHT_SHIFT
from govchain.trace.movements import Movement

ACCOUNTS = 6  # 0 is hot: a party to every other transfer
HEIGHTS = 60
PER_HEIGHT = 40
MERGE_ROWS = 64  # account entries gathered in memory before a merge: ~40 merges
GENESIS_BALANCE = 10**12
SEED = 15
QUERIES_PER_PAGE_MAX = 8  # memory's, the list across the cursor, two pages of lists, fetches


def _transfers(rng: Random, height: int) -> list[bt.Transfer]:
    """A height's transfers: every other one to or from the hot account, some to oneself."""
    out: list[bt.Transfer] = []
    for i in range(PER_HEIGHT):
        src = rng.randrange(ACCOUNTS)
        dst = 0 if i % 2 == 0 else rng.randrange(ACCOUNTS)
        if i % 2 == 0 and rng.random() < 0.5:
            src, dst = dst, src
        out.append((src, dst, 1 + rng.randrange(1_000), f"{height}/{i}"))
    return out


def _build(path: Path, restart_every: int = 0) -> bt.Chain:
    """Commit HEIGHTS heights into the store at path (reopened every restart_every)."""
    rng = Random(SEED)
    chain = bt.Chain(ACCOUNTS, SEED, [(a, GENESIS_BALANCE) for a in range(ACCOUNTS)])
    store = SqliteStore(path)
    try:
        for h in range(1, HEIGHTS + 1):
            store.commit(chain.ready(h, _transfers(rng, h))[0])
            if restart_every and h % restart_every == 0:
                store.close()
                store = SqliteStore(path)
    finally:
        store.close()
    return chain


@pytest.fixture(params=["real-keys", "one-key-for-all"])
def merged(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, bt.Chain]]:
    """A store whose index was merged every few commits (one key for all: every list shared)."""
    monkeypatch.setattr(sqlite_store, "MOVEMENT_MERGE_ROWS", MERGE_ROWS)
    if request.param == "one-key-for-all":
        monkeypatch.setattr(sqlite_store, "account_key", lambda _address: 0)
        monkeypatch.setattr(sqlite_movements, "account_key", lambda _address: 0)
    path = tmp_path / "history.db"
    yield path, _build(path, restart_every=7)


def _pages(
    store: SqliteStore, account: bytes, limit: int, before: int | None = None
) -> Iterator[list[tuple[int, Movement]]]:
    """Every page of account's history from the newest (or from before), until one is short."""
    cursor = (1 << 63) - 1 if before is None else before
    while True:
        page = store.movements_before(account, cursor, limit)
        yield page
        if len(page) < limit:
            return
        cursor = page[-1][0]


@pytest.mark.parametrize("limit", [1, 7, 25, 100])
def test_paging_backwards_gives_the_forward_read_reversed(
    merged: tuple[Path, bt.Chain], limit: int
) -> None:
    path, chain = merged
    with SqliteStore(path) as store:
        assert store.settings()  # open
        for account in chain.addresses:
            forward = list(store.movements_of(account, 1, HEIGHTS))
            assert forward  # every account moved
            pairs = [p for page in _pages(store, account, limit) for p in page]
            assert [m for _, m in pairs] == forward[::-1]
            mseqs = [s for s, _ in pairs]
            assert mseqs == sorted(set(mseqs), reverse=True)  # strictly newest first
            assert all(s >> MOVEMENT_HEIGHT_SHIFT == m.height for s, m in pairs)


def test_a_cursor_resumes_after_a_restart_and_new_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cursor is the movement's key: pages read before and after the store reopens,
    and after more heights are committed, join without a gap or a repeat."""
    monkeypatch.setattr(sqlite_store, "MOVEMENT_MERGE_ROWS", MERGE_ROWS)
    path = tmp_path / "history.db"
    chain = _build(path)
    hot = chain.addresses[0]
    with SqliteStore(path) as store:
        first = store.movements_before(hot, (1 << 63) - 1, 30)
        forward = list(store.movements_of(hot, 1, HEIGHTS))
    with SqliteStore(path) as store:
        rng = Random(SEED + 1)
        store.commit(chain.ready(HEIGHTS + 1, _transfers(rng, HEIGHTS + 1))[0])
        rest = [p for page in _pages(store, hot, 30, before=first[-1][0]) for p in page]
    assert [m for _, m in first + rest] == forward[::-1]


@pytest.mark.parametrize("merged", ["real-keys"], indirect=True)  # shared keys cost more
def test_a_page_costs_a_bounded_number_of_queries_wherever_it_starts(
    merged: tuple[Path, bt.Chain],
) -> None:
    path, chain = merged
    hot = chain.addresses[0]
    with SqliteStore(path) as store:
        queries: list[str] = []
        store._conn.set_trace_callback(queries.append)
        pages = 0
        for page in _pages(store, hot, 25):
            assert len(queries) <= QUERIES_PER_PAGE_MAX, queries
            queries.clear()
            pages += len(page) > 0
        store._conn.set_trace_callback(None)
        assert pages >= 20  # the hot account's history spans many pages and lists
        lists = store._conn.execute("SELECT count(*) FROM movement_accounts").fetchone()[0]
        assert lists >= 20


def test_limits_and_cursors_at_the_edges(merged: tuple[Path, bt.Chain]) -> None:
    path, chain = merged
    hot = chain.addresses[0]
    with SqliteStore(path) as store:
        newest = store.movements_before(hot, (1 << 63) - 1, 3)
        assert store.movements_before(hot, (1 << 63) - 1, 0) == []
        assert store.movements_before(hot, newest[0][0] + 1, 3) == newest
        assert store.movements_before(hot, newest[0][0], 2) == newest[1:]
        assert store.movements_before(hot, 1 << MOVEMENT_HEIGHT_SHIFT, 5) == []  # below height 1
        assert store.movements_before(bytes(20), (1 << 63) - 1, 5) == []  # never moved


def test_only_the_sqlite_store_reads_history_backwards() -> None:
    """The in-memory store is no MovementHistory: the API answers 501 over it."""
    assert not isinstance(MemoryStore(), MovementHistory)
    assert isinstance(SqliteStore.__new__(SqliteStore), MovementHistory)
