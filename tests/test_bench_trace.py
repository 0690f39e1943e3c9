"""bench/bench_trace.py at a tiny size: the history it plants is there, its traces are sound.

No timing is asserted (speed goes in bench/). The builder writes through the
store's real commit path; the traces read the node's way (a snapshot with the
genesis balances in front).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# bench/ is no package: its modules import each other as top-level modules.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_trace as bt
from govchain.storage import sqlite as sqlite_store
from govchain.storage import sqlite_movements
from govchain.storage.sqlite import SqliteStore
from govchain.trace.case import Direction

TRANSFERS = 2_000
ACCOUNTS = 400
SEED = 7


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> bt.Built:
    return bt.build(
        tmp_path_factory.mktemp("bench-trace"), TRANSFERS, ACCOUNTS, SEED, cases=1, baseline=False
    )


def test_the_builder_commits_every_transfer_and_plants_each_pattern(built: bt.Built) -> None:
    assert built.transfers == TRANSFERS
    assert [p.kind for p in built.plants] == ["peel", "smurf", "mix"]
    peel = built.plants[0]
    assert len(peel.chain) == bt.PEEL_HOPS + 1
    with SqliteStore(built.path) as store:
        assert store.top_height() == built.heights
        # The ransom lands in the chain's first account and leaves its last.
        ransom = built.tagged[peel.forward_tag]
        assert (ransom.dst, ransom.amount) == (peel.chain[0], bt.RANSOM)
        assert built.tagged[peel.backward_tag].src == peel.chain[-1]
        # Every hop pays the next account (and peels to a busy one).
        for here, nxt in zip(peel.chain, peel.chain[1:], strict=False):
            moved = list(store.movements_of(here, 1, built.heights))
            assert any(m.src == here and m.dst == nxt for m in moved)


@pytest.fixture
def merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bt.Built:
    """The same history with the account index merged every few commits, read a
    posting list at a time, every account under one key (a posting list shared)."""
    monkeypatch.setattr(sqlite_store, "MOVEMENT_MERGE_ROWS", 64)
    monkeypatch.setattr(sqlite_movements, "MOVEMENT_PAGE_ROWS", 1)
    monkeypatch.setattr(sqlite_store, "account_key", lambda _address: 0)
    monkeypatch.setattr(sqlite_movements, "account_key", lambda _address: 0)
    return bt.build(tmp_path, TRANSFERS, ACCOUNTS, SEED, cases=1, baseline=False)


@pytest.mark.parametrize("which", ["built", "merged"])
def test_the_index_records_each_movements_balances_and_looks_back(
    which: str, request: pytest.FixtureRequest
) -> None:
    """Every stored movement records both ends' balances after it (from the genesis
    balances on), and the store finds an account's last movement below a height."""
    built: bt.Built = request.getfixturevalue(which)
    balance = dict(built.genesis)
    with SqliteStore(built.path) as store:
        for account in {m for t in built.tagged.values() for m in (t.src, t.dst)}:
            moved = list(store.movements_of(account, 1, built.heights))
            running = balance.get(account, 0)
            for m in moved:
                running += (m.amount if m.dst == account else 0) - (
                    m.amount if m.src == account else 0
                )
                after = m.dst_after if m.dst == account else m.src_after
                assert after == running, m
            for h in (1, moved[0].height, moved[-1].height, moved[-1].height + 1):
                below = [m for m in moved if m.height < h]
                assert store.last_before(account, h) == (below[-1] if below else None)


def test_traces_long_enough_reach_the_peel_chains_ends_and_never_exceed_the_seed(
    built: bt.Built,
) -> None:
    with SqliteStore(built.path) as store:
        sets = bt.run_all(store, built, hops=bt.PEEL_HOPS)
    assert set(sets) == {ts.name for ts in (*bt.SETS, bt.WIDE)}
    for runs in sets.values():
        assert runs
        for run in runs:
            assert run.problems == [], (run.label, run.problems)
            assert 0 < run.seeded <= run.amount
    # check() found the chain's end at hop 12 forward, and its start at hop 12 backward.
    peel = built.plants[0]
    assert bt.starts(built, Direction.FORWARD, bt.PEEL_HOPS)[0].must_reach == peel.chain[-1]
    assert bt.starts(built, Direction.BACKWARD, bt.PEEL_HOPS)[0].must_reach == peel.chain[0]
    forward = {r.label: r for r in sets["forward fifo"]}
    assert forward["peel0"].edges >= bt.PEEL_HOPS + 1
    assert forward["smurf0"].accounts >= bt.FAN + 2  # the source, 50 mules, the collector


def test_the_history_and_its_traces_are_the_same_for_a_seed(
    built: bt.Built, tmp_path: Path
) -> None:
    again = bt.build(tmp_path, TRANSFERS, ACCOUNTS, SEED, cases=1, baseline=False)
    assert again.tagged == built.tagged
    roots = []
    for b in (built, again):
        with SqliteStore(b.path) as store:
            roots.append(bt.roots_digest(bt.run_all(store, b, hops=bt.HOPS, wide=False)))
    assert roots[0] == roots[1]


def test_a_trace_that_misses_the_chains_end_is_reported(built: bt.Built) -> None:
    start = bt.starts(built, Direction.FORWARD, bt.PEEL_HOPS)[0]
    with SqliteStore(built.path) as store:
        runs = bt.run_set(store, built, [start], bt.SETS[0], bt.HOPS)  # 6 hops: not that far
    assert runs[0].problems == [f"the chain's hop-{bt.PEEL_HOPS} account reached at hop None"]
