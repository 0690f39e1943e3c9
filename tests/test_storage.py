"""One suite for every Store: the in-memory twin and SQLite run the same tests.

The data is real: replicas on the simulated clock and network
(conftest.SimCluster) finalize transfers, and every ready() of r0 is committed
into the store under test. Then r0 is rebuilt from load() and must carry on. The
SQLite-only tests at the end reopen the file, fail commits half-way, corrupt
rows, and kill -9 a writer.
"""

from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import msgspec
import pytest

from conftest import SimCluster, receipt_of
from govchain.codec import encode
from govchain.consensus.tendermint import HardState
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.replica.config import ReplicaConfig
from govchain.replica.execution import Execution
from govchain.replica.messages import CommitRequest
from govchain.replica.outputs import Persisted, ReplicaReady
from govchain.replica.replica import Replica
from govchain.sim.cluster import sim_consensus_config
from govchain.state.genesis import Genesis
from govchain.state.ledger import Executed
from govchain.state.payloads import ProposePayload, RecordPayload, Redact, TransferPayload
from govchain.state.receipts import Receipt, receipts_root
from govchain.storage import sqlite as sqlite_store
from govchain.storage import sqlite_movements
from govchain.storage.base import CommitError, Store, StoredTx, StoreError
from govchain.storage.memory import MemoryStore
from govchain.storage.sqlite import CorruptStoreError, SchemaError, SqliteStore
from govchain.storage.sqlite_rows import outcomes_of
from govchain.trace.movements import Movement

SRC = Path(__file__).resolve().parent.parent / "src"
STAMP_BITS = 4
CONFIG = ReplicaConfig(
    dag=DagLimits(stamp_bits_min=STAMP_BITS),
    consensus=sim_consensus_config(frozenset()),
    idle_checkpoint_ms=0,
)
TICK_MS = 20
ALICE = SigningKey.from_label("storage-alice")
BOB = SigningKey.from_label("storage-bob")
VALIDATORS = [SigningKey.from_label(f"storage-validator-{i}") for i in range(4)]
REGULATOR = SigningKey.from_label("storage-regulator")
GENESIS = Genesis(
    chain_id="storage-test",
    time_ms=0,
    balances=tuple(sorted([(ALICE.address, 1_000), (BOB.address, 500)])),
    validators=ValidatorSet.of({k.public_key: 1 for k in VALIDATORS}),
    committee=((REGULATOR.public_key, 1),),
    threshold=1,
)
NAMES = ["r0", "r1", "r2", "r3"]
OTHERS = {"r1", "r2", "r3"}


# -- a small cluster whose r0 writes through the Store under test -----------------
def cluster(store: Store) -> SimCluster:
    """Four validators on the simulated network; r0 commits each ready() into `store`."""
    return SimCluster(GENESIS, VALIDATORS, CONFIG, stores={"r0": store}, record=["r0"])


def transfer(
    parents: list[bytes], key: SigningKey, to: SigningKey, amount: int, nonce: int
) -> Transaction:
    return build(
        key,
        chain_id=GENESIS.chain_id,
        kind="transfer",
        nonce=nonce,
        parents=parents,
        valid_until=1_000,
        payload=encode(TransferPayload(to.address, amount)),
        stamp_bits_min=STAMP_BITS,
    )


def play(net: SimCluster) -> tuple[list[Transaction], list[Transaction]]:
    """Make four transfers final (one rejected), then cut r0 off and give it two more.

    Returns (final, pending): the pending pair is admitted by r0, child after
    parent, and no checkpoint covers it since r0 alone is no quorum.
    """
    net.run_until(lambda: all(r.ledger.height >= 2 for r in net.replicas.values()))
    tips = net.replicas["r0"].dag.client_tips
    first = transfer(tips(2), ALICE, BOB, 250, nonce=0)
    net.submit("r1", first)
    back = transfer(tips(2), BOB, ALICE, 5, nonce=0)
    net.submit("r0", back)
    clash = transfer(tips(2), ALICE, BOB, 999, nonce=0)  # the same nonce as `first`
    net.submit("r2", clash)
    net.run_until(net.final_everywhere(first, back, clash))
    # r0 misses a decision, then catches up: it learns the checkpoint from a
    # commit, fetches the cone, admits and executes it in one ready().
    net.cut = {"r0"}
    missed = transfer(net.replicas["r1"].dag.client_tips(2), BOB, ALICE, 10, nonce=1)
    net.submit("r1", missed)
    others = [net.replicas[n] for n in sorted(OTHERS)]
    net.run_until(lambda: all(receipt_of(r, missed.id) is not None for r in others))
    net.run_until(
        lambda: all(r.ledger.height >= len(net.replicas["r0"].decided) + 3 for r in others)
    )
    net.cut = set()
    final = [first, back, clash, missed]
    net.run_until(net.final_everywhere(*final))
    net.cut = set(OTHERS)
    parent = transfer(tips(2), ALICE, BOB, 1, nonce=1)
    net.submit("r0", parent)
    child = transfer(tips(2), BOB, ALICE, 1, nonce=2)
    assert parent.id in child.body.parents
    net.submit("r0", child)
    for _ in range(40):  # r0 times out round after round: hard state keeps changing
        net.step()
    return final, [parent, child]


@dataclass
class History:
    """r0's committed outputs and r0 itself at the end of play()."""

    readies: list[ReplicaReady]
    replica: Replica
    final: list[Transaction]
    pending: list[Transaction]

    def expected(self) -> Persisted:
        hard = [r.hard_state for r in self.readies if r.hard_state is not None]
        admitted = [tx for r in self.readies for tx in r.admitted]
        return Persisted(
            hard_state=hard[-1],
            decided=list(self.replica.decided),
            executed=list(self.replica.executions),
            vertices=[tx for tx in admitted if not self.replica.dag.is_covered(tx.id)],
        )


@pytest.fixture(scope="module")
def history() -> History:
    net = cluster(MemoryStore())
    final, pending = play(net)
    r0 = net.replicas["r0"]
    assert len(r0.decided) == r0.ledger.height >= 3
    assert any(rc.status == "rejected" for ex in r0.executions for rc in ex.result.receipts)
    both = [r for r in net.readies["r0"] if r.admitted and any(ex.txs for ex in r.executed)]
    assert both, "catching up should admit and execute in one ready()"
    assert any(r.executed and not r.decided for r in net.readies["r0"])
    readies = [replace(r, sends=[]) for r in net.readies["r0"]]
    return History(readies, r0, final, pending)


# -- the store under test: both kinds ----------------------------------------------
class Backend:
    """Opens (and reopens) one kind of store; closes everything it opened."""

    def __init__(self, kind: str, path: Path) -> None:
        self.kind = kind
        self.path = path
        self.opened: list[Store] = []

    def open(self) -> Store:
        store: Store = SqliteStore(self.path) if self.kind == "sqlite" else MemoryStore()
        self.opened.append(store)
        return store

    def reopen(self, store: Store) -> Store:
        """The same data through a new handle (memory: the same object)."""
        if self.kind == "memory":
            return store
        store.close()
        return self.open()


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = Backend(request.param, tmp_path / "store.db")
    yield b
    for store in b.opened:
        store.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()


def commit_all(store: Store, readies: list[ReplicaReady]) -> None:
    for r in readies:
        store.commit(r)


def next_height(
    history: History, txs: list[Transaction], receipts: list[Receipt] | None = None
) -> ReplicaReady:
    """A decision at the next height and its execution over txs (not a real consensus)."""
    cp0, cert0 = history.replica.decided[-1]
    h = cp0.height + 1
    cp = msgspec.structs.replace(cp0, height=h)
    cert = msgspec.structs.replace(cert0, height=h, value=cp.hash)
    if receipts is None:
        receipts = [Receipt(tx.id, h, i, "executed") for i, tx in enumerate(txs)]
    result = Executed(h, receipts, receipts_root(receipts), bytes(32))
    return ReplicaReady(decided=[(cp, cert)], executed=[Execution(cp, tuple(txs), result)])


FRESH = transfer([GENESIS.hash], BOB, ALICE, 7, nonce=9)
OTHER = transfer([GENESIS.hash], BOB, ALICE, 8, nonce=10)


def signed(
    key: SigningKey, kind: str, payload: bytes, parents: list[bytes], nonce: int
) -> Transaction:
    return build(
        key,
        chain_id=GENESIS.chain_id,
        kind=kind,
        nonce=nonce,
        parents=parents,
        valid_until=1_000,
        payload=payload,
        stamp_bits_min=STAMP_BITS,
    )


# -- shared suite -----------------------------------------------------------------
def test_load_gives_back_what_the_replica_produced(store: Store, history: History) -> None:
    commit_all(store, history.readies)
    got = store.load()
    want = history.expected()
    assert got.hard_state == want.hard_state
    assert got.decided == want.decided
    assert got.executed == want.executed
    assert got.vertices == want.vertices == history.pending  # parent before child


def test_a_replica_resumes_from_the_store_and_keeps_finalizing(backend: Backend) -> None:
    net = cluster(backend.open())
    _, pending = play(net)
    old = net.replica("r0")
    before = (old.ledger.height, old.ledger.state_hash, old.consensus.height)

    new = net.restart("r0", backend.reopen(net.store("r0")))  # in-flight messages die too
    assert new is not old
    assert (new.ledger.height, new.ledger.state_hash, new.consensus.height) == before
    assert new.executions == old.executions
    assert all(new.dag.has(p.id) and not new.dag.is_covered(p.id) for p in pending)

    net.cut = set()
    net.run_until(net.final_everywhere(*pending))
    more = transfer(new.dag.client_tips(2), ALICE, BOB, 3, nonce=2)
    net.submit("r0", more)
    net.run_until(net.final_everywhere(more))
    assert new.ledger.height > before[0]
    assert new.ledger.balance(BOB.address) == old.ledger.balance(BOB.address) + 3

    again = Replica(
        "r0", GENESIS, VALIDATORS[0], NAMES, CONFIG, backend.reopen(net.store("r0")).load()
    )
    assert (again.ledger.height, again.ledger.state_hash) == (
        new.ledger.height,
        new.ledger.state_hash,
    )


def indexed(executions: list[Execution], account: bytes, lo: int, hi: int) -> list[Movement]:
    """What the index must give: the executions' movements of account in lo..hi, in order."""
    return [
        m
        for ex in executions
        for m in ex.result.movements
        if account in (m.src, m.dst) and lo <= m.height <= hi
    ]


def test_the_movement_index_gives_each_accounts_movements_in_final_order(
    backend: Backend, history: History
) -> None:
    store = backend.open()
    commit_all(store, history.readies)
    executions = history.replica.executions
    top = len(executions)
    kinds = [m.kind for ex in executions for m in ex.result.movements]
    assert kinds == ["transfer"] * 3  # first, back and missed (caught up); clash rejected
    store = backend.reopen(store)
    assert isinstance(store, SqliteStore | MemoryStore)
    assert store.top_height() == top and store.movements_from() == 1
    for key in (ALICE, BOB, REGULATOR):
        for lo, hi in [(1, top), (1, 1), (3, top), (top, 1)]:
            got = list(store.movements_of(key.address, lo, hi))
            assert got == indexed(executions, key.address, lo, hi)
    assert len(list(store.movements_of(BOB.address, 1, top))) == 3


@pytest.mark.parametrize("merge_rows", [1, 3, sqlite_store.MOVEMENT_MERGE_ROWS])
@pytest.mark.parametrize("colliding", [False, True], ids=["real-keys", "one-key-for-all"])
def test_sqlite_movements_merged_into_the_account_index_stay_found(
    db: Path, history: History, monkeypatch: pytest.MonkeyPatch, merge_rows: int, colliding: bool
) -> None:
    monkeypatch.setattr(sqlite_movements, "MOVEMENT_PAGE_ROWS", 1)  # page by page
    monkeypatch.setattr(sqlite_store, "MOVEMENT_MERGE_ROWS", merge_rows)
    if colliding:
        monkeypatch.setattr(sqlite_store, "account_key", lambda _address: 0)
        monkeypatch.setattr(sqlite_movements, "account_key", lambda _address: 0)
    executions = history.replica.executions
    top = len(executions)
    for i, ready in enumerate(history.readies):
        with SqliteStore(db) as store:  # a restart after every commit
            store.commit(ready)
            if i % 4 == 0 or i == len(history.readies) - 1:
                h = store.top_height()
                for key in (ALICE, BOB):
                    got = list(store.movements_of(key.address, 1, h))
                    assert got == indexed(executions, key.address, 1, h)
    with SqliteStore(db) as store:
        for key in (ALICE, BOB):
            for lo, hi in [(1, top), (2, 3), (top, top)]:
                got = list(store.movements_of(key.address, lo, hi))
                assert got == indexed(executions, key.address, lo, hi)
        assert store.load() == reference(history.readies)


def test_sqlite_a_version_5_store_opens_and_indexes_from_the_next_height(
    db: Path, history: History
) -> None:
    half = len(history.readies) // 2
    with SqliteStore(db) as store:
        commit_all(store, history.readies[:half])
        migrated_at = store.top_height()
    raw = sqlite3.connect(db)  # as version 5 left it: no movement tables
    with raw:
        for table in ("movements", "movement_accounts", "movement_index"):
            raw.execute(f"DROP TABLE {table}")
        raw.execute("UPDATE schema_version SET version = 5")
    raw.close()
    with SqliteStore(db) as store:
        assert store.settings()["schema_version"] == 9
        assert store.movements_from() == migrated_at + 1
        commit_all(store, history.readies[half:])
        top = store.top_height()
        executions = history.replica.executions
        for key in (ALICE, BOB):
            got = list(store.movements_of(key.address, 1, top))
            assert got == indexed(executions, key.address, migrated_at + 1, top)
    with SqliteStore(db) as store:  # and it reopens as a version 6 store
        assert store.movements_from() == migrated_at + 1
        assert len(store.load().executed) == top


def test_get_tx_gives_final_height_and_receipt(store: Store, history: History) -> None:
    commit_all(store, history.readies)
    r0 = history.replica
    for tx in history.final:
        rc = receipt_of(r0, tx.id)
        assert rc is not None
        # A transaction final as rejected is stored without its payload.
        kept = tx.without_payload() if rc.status == "rejected" else tx
        assert store.get_tx(tx.id) == StoredTx(kept, rc.height, rc)
    statuses = {rc.status for tx in history.final if (rc := receipt_of(r0, tx.id))}
    assert statuses == {"executed", "rejected"}
    for tx in history.pending:
        assert store.get_tx(tx.id) == StoredTx(tx, None, None)
    assert store.get_tx(bytes(32)) is None
    assert store.get_tx(FRESH.id) is None


def test_checkpoints_and_receipts_agree_with_the_replica(store: Store, history: History) -> None:
    assert store.decided_height() == 0
    assert store.get_checkpoint(1) is None
    commit_all(store, history.readies)
    r0 = history.replica
    assert store.decided_height() == len(r0.decided)
    for h, decided in enumerate(r0.decided, 1):
        assert store.get_checkpoint(h) == decided
        assert store.receipts(h) == r0.executions[h - 1].result.receipts
    top = len(r0.decided)
    assert store.get_checkpoint(0) is None
    assert store.get_checkpoint(top + 1) is None
    assert store.receipts(top + 1) == []
    assert sum(len(store.receipts(h)) for h in range(1, top + 1)) == len(history.final)


def test_committing_an_empty_ready_changes_nothing(store: Store, history: History) -> None:
    commit_all(store, history.readies)
    before = store.load()
    store.commit(ReplicaReady())
    store.commit(ReplicaReady(sends=[(None, CommitRequest(1)), ("r1", CommitRequest(2))]))
    assert store.load() == before
    assert store.decided_height() == len(before.decided)


def test_what_load_returns_and_what_was_committed_can_be_mutated_safely(
    store: Store, history: History
) -> None:
    ready = next_height(history, [FRESH])
    ready.admitted = [FRESH]
    ready.hard_state = HardState(height=50, round=0, step=0)
    commit_all(store, history.readies)
    store.commit(ready)
    before = store.load()
    got = store.load()
    got.decided.clear()
    got.vertices.append(OTHER)
    got.executed[-1].result.receipts.clear()
    assert got.hard_state is not None
    got.hard_state.round = 7
    ready.executed[0].result.receipts.clear()
    ready.hard_state.round = 8
    ready.decided.clear()
    assert store.load() == before
    assert store.receipts(before.executed[-1].result.height) == before.executed[-1].result.receipts


def bad_readies(history: History) -> dict[str, ReplicaReady]:
    cp1, cert1 = history.replica.decided[0]
    good = next_height(history, [FRESH])
    swapped = next_height(
        history,
        [FRESH, OTHER],
        [
            Receipt(OTHER.id, good.decided[0][0].height, 0, "executed"),
            Receipt(FRESH.id, good.decided[0][0].height, 1, "executed"),
        ],
    )
    return {
        "decided height already stored": ReplicaReady(decided=[(cp1, cert1)]),
        "certificate for another checkpoint": ReplicaReady(decided=[(good.decided[0][0], cert1)]),
        "execution of an undecided checkpoint": ReplicaReady(executed=good.executed),
        "receipts name other transactions": swapped,
        "final vertex admitted again": ReplicaReady(admitted=[history.final[0]]),
        "pending vertex admitted again": ReplicaReady(admitted=[history.pending[0]]),
        "vertex admitted twice at once": ReplicaReady(admitted=[FRESH, FRESH]),
        "final vertex covered again": next_height(history, [history.final[0]]),
        "vertex covered twice at once": next_height(history, [FRESH, FRESH]),
        "id does not match the header": ReplicaReady(
            admitted=[msgspec.structs.replace(FRESH, signature=bytes(64))]
        ),
        "payload does not match its hash": ReplicaReady(
            admitted=[msgspec.structs.replace(FRESH, payload=b"other")]
        ),
    }


BAD_CASES = [
    "decided height already stored",
    "certificate for another checkpoint",
    "execution of an undecided checkpoint",
    "receipts name other transactions",
    "final vertex admitted again",
    "pending vertex admitted again",
    "vertex admitted twice at once",
    "final vertex covered again",
    "vertex covered twice at once",
    "id does not match the header",
    "payload does not match its hash",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_a_refused_commit_changes_nothing(store: Store, history: History, case: str) -> None:
    commit_all(store, history.readies)
    before = store.load()
    cases = bad_readies(history)
    assert list(cases) == BAD_CASES
    bad = cases[case]
    # Valid parts ride along and must not land either.
    bad.hard_state = HardState(height=99, round=0, step=0)
    if OTHER not in bad.admitted and not any(OTHER in ex.txs for ex in bad.executed):
        bad.admitted.insert(0, OTHER)
    with pytest.raises(CommitError):
        store.commit(bad)
    assert store.load() == before
    assert store.get_tx(OTHER.id) is None
    assert store.decided_height() == len(before.decided)

    good = next_height(history, [FRESH])
    good.admitted = [OTHER]
    store.commit(good)
    after = store.load()
    assert len(after.executed) == len(before.executed) + 1
    assert after.vertices == [*before.vertices, OTHER]
    stored = store.get_tx(FRESH.id)
    assert stored is not None and stored.height == len(after.decided)


def test_a_closed_store_refuses_to_work(store: Store, history: History) -> None:
    store.commit(history.readies[0])
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.load()
    with pytest.raises(StoreError, match="closed"):
        store.commit(history.readies[1])


# -- SQLite only -------------------------------------------------------------------
@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "node.db"


def reference(readies: list[ReplicaReady]) -> Persisted:
    mem = MemoryStore()
    commit_all(mem, readies)
    return mem.load()


def test_sqlite_reopened_gives_the_same_load(db: Path, history: History) -> None:
    with SqliteStore(db) as store:
        commit_all(store, history.readies)
        first = store.load()
    with SqliteStore(db) as store:
        assert store.load() == first == reference(history.readies)
        assert store.decided_height() == len(first.decided)
        store.commit(next_height(history, [FRESH]))  # the caches came back too
    with SqliteStore(db) as store:
        assert store.get_tx(FRESH.id) is not None


@pytest.mark.parametrize("restart_every", [0, 3], ids=["no-restart", "restarts"])
@pytest.mark.parametrize("colliding", [False, True], ids=["real-keys", "one-key-for-all"])
def test_sqlite_ids_merged_into_the_index_a_slice_per_commit_stay_found(
    db: Path,
    history: History,
    monkeypatch: pytest.MonkeyPatch,
    colliding: bool,
    restart_every: int,
) -> None:
    """Through merges (some cut short by a restart), every stored id is found, once."""
    monkeypatch.setattr(sqlite_store, "INDEX_MERGE_ROWS", 4)
    monkeypatch.setattr(sqlite_store, "INDEX_SLICE_ROWS", 3)
    if colliding:  # the index key is a prefix: ids that share it are told apart
        monkeypatch.setattr(sqlite_store, "tx_key", lambda vid: 7)
    mem = MemoryStore()
    store = SqliteStore(db)
    try:
        for i, ready in enumerate(history.readies):
            store.commit(ready)
            mem.commit(ready)
            if restart_every and i % restart_every == 1:  # often in the middle of a merge
                store.close()
                store = SqliteStore(db)
        ids = [tx.id for r in history.readies for tx in r.admitted]
        ids += [tx.id for r in history.readies for ex in r.executed for tx in ex.txs]
        for vid in ids:
            assert store.get_tx(vid) == mem.get_tx(vid)
        assert store.load() == mem.load()
        raw = sqlite3.connect(db)
        indexed = raw.execute("SELECT count(*) FROM tx_index").fetchone()[0]
        mark = raw.execute("SELECT seq FROM tx_index_mark").fetchone()[0]
        raw.close()
        assert 0 < mark <= indexed <= len(set(ids))
        # An id that lives only in the index now is still refused a second time.
        again = ReplicaReady(admitted=[history.final[0]])
        with pytest.raises(CommitError, match="already stored"):
            store.commit(again)
    finally:
        store.close()


def test_sqlite_durability_settings(db: Path) -> None:
    with SqliteStore(db) as store:
        s = store.settings()
    assert s["journal_mode"] == "wal"
    assert s["synchronous"] == 2  # FULL: every commit is fsync'd
    assert s["secure_delete"] == 1
    assert s["foreign_keys"] == 1
    assert s["schema_version"] == 9


TARGETS: dict[str, Callable[[ReplicaReady], bool]] = {
    # admits the missing cone and executes the decided checkpoints it completes
    "catch-up": lambda r: bool(r.admitted) and any(ex.txs for ex in r.executed),
    # decides and executes a checkpoint with transactions, with new hard state
    "decision": lambda r: (
        bool(r.decided) and any(ex.txs for ex in r.executed) and r.hard_state is not None
    ),
}


@pytest.mark.parametrize("failing", ["_write_executed", "_write_covered"])
@pytest.mark.parametrize("target_kind", list(TARGETS))
def test_sqlite_a_commit_failing_midway_leaves_the_previous_state(
    db: Path,
    history: History,
    monkeypatch: pytest.MonkeyPatch,
    failing: str,
    target_kind: str,
) -> None:
    i = next(k for k, r in enumerate(history.readies) if TARGETS[target_kind](r))
    target = history.readies[i]
    with SqliteStore(db) as store:
        commit_all(store, history.readies[:i])
        before = store.load()

        def boom(*args: object) -> None:
            raise OSError("disk on fire")

        monkeypatch.setattr(SqliteStore, failing, boom)
        with pytest.raises(OSError, match="disk on fire"):
            store.commit(target)
        assert store.load() == before
        assert store.decided_height() == len(before.decided)
        monkeypatch.undo()
        commit_all(store, history.readies[i:])
        assert store.load() == reference(history.readies)
    with SqliteStore(db) as store:
        assert store.load() == reference(history.readies)


def test_sqlite_a_second_writer_is_refused(db: Path, history: History) -> None:
    with SqliteStore(db) as a, SqliteStore(db) as b:
        first, second = [r for r in history.readies if r.must_persist()][:2]
        a.commit(first)
        with pytest.raises(StoreError, match="another connection"):
            b.commit(second)


CORRUPTIONS = {
    "payload": "UPDATE vertices SET payload = x'00' WHERE seq = 1",
    "vertices": "UPDATE vertices SET signature = zeroblob(64) WHERE seq = 1",
    "decided": "UPDATE decided SET checkpoint = x'c1' WHERE height = 2",
    "executed": "UPDATE executed SET state_hash = x'00' WHERE height = 1",
    "covered": "UPDATE covered SET idx = idx + 1 WHERE seq = (SELECT min(seq) FROM covered)",
    "outcomes": "UPDATE executed SET outcomes = x'9194a56d61796265c0c0c0' WHERE height = "
    "(SELECT min(height) FROM executed WHERE length(tx_seqs) = 2)",
    "hard_state": "UPDATE hard_state SET data = x'93'",
}


@pytest.mark.parametrize(("table", "sql"), list(CORRUPTIONS.items()), ids=list(CORRUPTIONS))
def test_sqlite_a_corrupted_row_is_an_error_naming_its_table(
    db: Path, history: History, table: str, sql: str
) -> None:
    with SqliteStore(db) as store:
        commit_all(store, history.readies)
    raw = sqlite3.connect(db)
    with raw:
        assert raw.execute(sql).rowcount == 1
    raw.close()
    table = {"payload": "vertices", "outcomes": "executed"}.get(table, table)
    with SqliteStore(db) as store, pytest.raises(CorruptStoreError, match=f"table {table},"):
        store.load()


def test_sqlite_a_corrupted_movement_is_an_error_naming_its_table(
    db: Path, history: History
) -> None:
    with SqliteStore(db) as store:
        commit_all(store, history.readies)
    raw = sqlite3.connect(db)
    with raw:
        sql = "UPDATE movements SET movement = x'c1' WHERE mseq = (SELECT min(mseq) FROM movements)"
        assert raw.execute(sql).rowcount == 1
    raw.close()
    with pytest.raises(CorruptStoreError, match="table movements,"):
        SqliteStore(db)  # unmerged movements are read on opening


def test_sqlite_a_missing_receipt_is_noticed(db: Path, history: History) -> None:
    with SqliteStore(db) as store:
        commit_all(store, history.readies)
    raw = sqlite3.connect(db)
    with raw:
        raw.execute("DELETE FROM covered WHERE height = (SELECT max(height) FROM covered)")
    raw.close()
    with SqliteStore(db) as store, pytest.raises(CorruptStoreError, match="table covered"):
        store.load()


@pytest.mark.parametrize(("version", "match"), [(10, "newer govchain"), (3, "cannot read")])
def test_sqlite_refuses_another_schema_version(db: Path, version: int, match: str) -> None:
    SqliteStore(db).close()
    raw = sqlite3.connect(db)
    with raw:
        raw.execute("UPDATE schema_version SET version = ?", (version,))
    raw.close()
    with pytest.raises(SchemaError, match=match):
        SqliteStore(db)


def test_sqlite_refuses_files_that_are_not_govchain_stores(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    raw = sqlite3.connect(other)
    raw.execute("CREATE TABLE t (x)")
    raw.commit()
    raw.close()
    with pytest.raises(SchemaError, match="not a govchain store"):
        SqliteStore(other)
    raw = sqlite3.connect(other)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # left as it was
    raw.close()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all\n" * 200)
    with pytest.raises(SchemaError, match="not an SQLite database"):
        SqliteStore(junk)


ENDLESS = 10**6
CHILD = f"""
import itertools, pickle, sys
from pathlib import Path
from govchain.consensus.tendermint import HardState
from govchain.replica.outputs import ReplicaReady
from govchain.storage.sqlite import SqliteStore
ENDLESS = {ENDLESS}
readies = pickle.loads(Path(sys.argv[1]).read_bytes())
marker = int(sys.argv[3])
store = SqliteStore(Path(sys.argv[2]))
for i, ready in enumerate(readies, 1):
    store.commit(ready)
    if i == marker:
        print("committed", i, flush=True)
for i in itertools.count(1):  # keep writing until the kill lands, mid-commit or not
    store.commit(ReplicaReady(hard_state=HardState(height=ENDLESS + i, round=0, step=0)))
"""


def prefix_states(readies: list[ReplicaReady]) -> list[Persisted]:
    """load() after each prefix of readies: states[k] after the first k."""
    mem = MemoryStore()
    states = [mem.load()]
    for r in readies:
        mem.commit(r)
        states.append(mem.load())
    return states


@pytest.mark.parametrize("where", ["early", "middle", "last"])
def test_sqlite_kill_9_loses_nothing_committed(
    tmp_path: Path, history: History, where: str
) -> None:
    readies = history.readies
    persisting = [i + 1 for i, r in enumerate(readies) if r.must_persist()]
    marker = {"early": persisting[1], "middle": persisting[len(persisting) // 2]}.get(
        where, len(readies)
    )
    data = tmp_path / "readies.pickle"
    data.write_bytes(pickle.dumps(readies))
    db = tmp_path / "killed.db"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data), str(db), str(marker)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert line == f"committed {marker}\n"
    assert proc.returncode == -signal.SIGKILL

    states = prefix_states(readies)
    with SqliteStore(db) as store:
        got = store.load()
    if got.hard_state is not None and got.hard_state.height > ENDLESS:
        # Killed in the endless tail: everything else is all of the readies.
        got.hard_state = states[-1].hard_state
        assert got == states[-1]
    else:
        # Exactly some whole prefix of the commits, and at least those before the marker.
        assert any(got == s for s in states[marker:])


MARKER = b"redact-me-7f3a9c1e5b"


def test_a_redaction_removes_the_payload_and_a_restart_replays_without_it(
    backend: Backend, tmp_path: Path
) -> None:
    net = cluster(backend.open())
    net.run_until(lambda: all(r.ledger.height >= 2 for r in net.replicas.values()))
    tips = net.replicas["r0"].dag.client_tips
    rec = signed(ALICE, "record", encode(RecordPayload("", "text/plain", MARKER)), tips(2), 0)
    net.submit("r0", rec)
    net.run_until(net.final_everywhere(rec))
    if backend.kind == "sqlite":  # the search below would find it: it is there now
        assert any(MARKER in f.read_bytes() for f in tmp_path.iterdir())
    action = ProposePayload(Redact(rec.id), "court order 17", bytes(32))
    prop = signed(REGULATOR, "gov.propose", encode(action), tips(2), 0)
    net.submit("r1", prop)
    r0 = net.replicas["r0"]
    net.run_until(lambda: all(r.ledger.redaction(rec.id) for r in net.replicas.values()))
    net.run_until(lambda: r0.ledger.height > r0.ledger.redaction(rec.id).height)  # type: ignore[union-attr]

    store = net.store("r0")
    stored = store.get_tx(rec.id)
    assert stored is not None and stored.redacted and stored.tx.payload == b""
    assert stored.receipt is not None and stored.receipt.status == "executed"
    assert all(MARKER not in tx.payload for ex in r0.executions for tx in ex.txs)
    top = r0.ledger.height
    entries = store.audit(1, top)
    assert [e.kind for e in entries if e.subject == f"tx:{rec.id.hex()}"][-1] == "redaction"
    assert store.audit_head(top) == r0.ledger.audit_head
    assert [e.seq for e in entries] == list(range(len(entries)))
    if isinstance(store, SqliteStore | MemoryStore):  # redaction leaves the index alone
        assert list(store.movements_of(ALICE.address, 1, top)) == indexed(
            r0.executions, ALICE.address, 1, top
        )

    # A restart replays the redacted record from its stored receipt.
    again = net.restart("r0", backend.reopen(store))
    assert again.ledger.state_hash == r0.ledger.state_hash
    assert again.ledger.audit_head == r0.ledger.audit_head
    assert again.ledger.redaction(rec.id) is not None
    if backend.kind == "sqlite":
        for f in tmp_path.iterdir():
            assert MARKER not in f.read_bytes(), f"{f.name} still holds the redacted bytes"


def test_a_node_catching_up_after_a_redaction_never_receives_the_bytes() -> None:
    net = cluster(MemoryStore())
    net.run_until(lambda: all(r.ledger.height >= 2 for r in net.replicas.values()))
    net.cut = {"r3"}
    tips = net.replicas["r0"].dag.client_tips
    rec = signed(ALICE, "record", encode(RecordPayload("", "text/plain", MARKER)), tips(2), 0)
    net.submit("r0", rec)
    up = [net.replicas[n] for n in ("r0", "r1", "r2")]
    net.run_until(lambda: all(receipt_of(r, rec.id) is not None for r in up))
    action = ProposePayload(Redact(rec.id), "court order 18", bytes(32))
    net.submit("r1", signed(REGULATOR, "gov.propose", encode(action), tips(2), 0))
    net.run_until(lambda: all(r.ledger.redaction(rec.id) for r in up))
    lagging = net.replicas["r3"]
    assert lagging.ledger.height < receipt_of(net.replicas["r0"], rec.id).height  # type: ignore[union-attr]

    net.cut = set()
    r0 = net.replicas["r0"]
    net.run_until(lambda: lagging.ledger.height >= r0.ledger.height > 0)
    assert lagging.ledger.redaction(rec.id) is not None
    same = [ex for ex in r0.executions if ex.result.height == lagging.ledger.height]
    assert same and same[0].result.state_hash == lagging.ledger.state_hash
    assert receipt_of(lagging, rec.id) == receipt_of(r0, rec.id)
    stored = net.store("r3").load()
    held = [tx for ex in stored.executed for tx in ex.txs] + stored.vertices
    held += [tx for ex in lagging.executions for tx in ex.txs]
    assert any(tx.id == rec.id for tx in held)
    assert all(MARKER not in tx.payload for tx in held)


@pytest.mark.parametrize(
    ("reason", "ok"),
    [("wr_encumbered", True), ("frozen", True), ("Bad Reason", False), ("x" * 65, False)],
)
def test_sqlite_stored_outcomes_accept_application_reasons_only_well_formed(
    reason: str, ok: bool
) -> None:
    # A warehouse refusal ("wr_encumbered") is stored like any rejection; a node
    # reading it back must not call its own store corrupt (issue 14's demo found it).
    data = msgspec.msgpack.encode([["rejected", reason, None, None]])
    if ok:
        assert outcomes_of(1, data, 1)[0].reason == reason
    else:
        with pytest.raises(CorruptStoreError):
            outcomes_of(1, data, 1)
