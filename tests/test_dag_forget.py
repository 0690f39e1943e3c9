"""A pruned DAG forgets final ids once they are expired and stored, and still answers right.

With a final_source (the store's "is this id final?"), Dag keeps a final id in
memory only until the height reaches its valid_until and the store holds the
execution that covered it; after that, a gossiped copy is refused as expired,
and parents, tips and lenient fetches ask final_source.
"""

from __future__ import annotations

import hashlib

import pytest

from govchain.crypto.keys import SigningKey
from govchain.dag.admission import AdmissionError, Reject
from govchain.dag.graph import Dag
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build

CHAIN = "test-chain"
GENESIS = hashlib.sha256(b"test genesis").digest()
KEY = SigningKey.from_label("alice")


def tx(nonce: int, parents: list[bytes], valid_until: int) -> Transaction:
    return build(
        KEY,
        chain_id=CHAIN,
        kind="record",
        nonce=nonce,
        parents=parents,
        valid_until=valid_until,
        payload=b"r%d" % nonce,
        stamp_bits_min=2,
    )


class Store:
    """What the store holds as final: only what a test says was persisted."""

    def __init__(self) -> None:
        self.final: set[bytes] = set()

    def is_final(self, vid: bytes) -> bool:
        return vid in self.final


def finalize(dag: Dag, store: Store, tips: list[bytes], persist: bool = True) -> list[bytes]:
    order = dag.order_new(tips)
    dag.cover(order, dag.height + 1)
    if persist:
        store.final.update(order)
    return order


@pytest.fixture
def setup() -> tuple[Dag, Store, Transaction, Transaction]:
    store = Store()
    dag = Dag(CHAIN, GENESIS, DagLimits(stamp_bits_min=2, prune_covered=True))
    dag.use_final_source(store.is_final)
    short = tx(1, [GENESIS], valid_until=2)
    long = tx(2, [GENESIS], valid_until=100)
    for t in (short, long):
        dag.admit(t.to_wire(), 0)
    finalize(dag, store, [short.id, long.id])  # height 1
    return dag, store, short, long


def test_an_expired_stored_final_id_is_forgotten_and_still_known_as_final(
    setup: tuple[Dag, Store, Transaction, Transaction],
) -> None:
    dag, store, short, long = setup
    count = dag.count()
    dag.forget_final(1)
    assert short.id in dag.covered_ids  # valid until 2: a copy is not refused as expired yet
    finalize(dag, store, [])  # height 2
    dag.forget_final(2)
    assert short.id not in dag.covered_ids and long.id in dag.covered_ids
    assert dag.count() == count
    assert not dag.holds(short.id)
    assert dag.has(short.id) and dag.is_covered(short.id)
    # A gossiped copy is expired; a fetched one is a duplicate; a child is no orphan.
    with pytest.raises(AdmissionError) as gossip:
        dag.admit_tx(short, 0)
    assert gossip.value.reason is Reject.EXPIRED
    with pytest.raises(AdmissionError) as fetched:
        dag.admit_tx(short, 0, lenient=True)
    assert fetched.value.reason is Reject.DUPLICATE
    child = tx(3, [short.id], valid_until=50)
    assert [t.id for t in dag.admit(child.to_wire(), 0).added] == [child.id]
    assert dag.order_new([child.id]) == [child.id]


def test_an_id_the_store_does_not_hold_yet_is_kept(
    setup: tuple[Dag, Store, Transaction, Transaction],
) -> None:
    dag, store, short, _ = setup
    finalize(dag, store, [], persist=False)  # height 2, not persisted yet
    dag.forget_final(1)  # the caller has stored up to height 1 only
    assert short.id in dag.covered_ids  # height 2 >= valid_until, but wait for the store
    dag.forget_final(2)
    assert short.id not in dag.covered_ids and dag.has(short.id)


def test_without_a_final_source_nothing_is_forgotten() -> None:
    dag = Dag(CHAIN, GENESIS, DagLimits(stamp_bits_min=2, prune_covered=True))
    t = tx(1, [GENESIS], valid_until=2)
    dag.admit(t.to_wire(), 0)
    for _ in range(3):
        dag.cover(dag.order_new([t.id]), dag.height + 1)
        dag.forget_final(dag.height)
    assert t.id in dag.covered_ids and dag.holds(t.id)
