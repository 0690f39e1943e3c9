"""The deterministic order of a checkpoint's newly covered past cone."""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.crypto.keys import SigningKey
from govchain.dag.graph import Dag
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build

CHAIN = "test-chain"
GENESIS = hashlib.sha256(b"test genesis").digest()
KEY = SigningKey.from_label("alice")

# A small DAG by name: vertex -> parents ("G" is the genesis root).
DIAMOND = {
    "a": ["G"],
    "b": ["a"],
    "c": ["a"],
    "d": ["b", "c"],
    "e": ["G"],
    "f": ["d", "e"],
    "g": ["c"],
}


# -- helpers ---------------------------------------------------------------
def new_dag(**limits: Any) -> Dag:  # Any: DagLimits has int and bool fields
    return Dag(CHAIN, GENESIS, DagLimits(stamp_bits_min=2, **limits))


def make_txs(spec: dict[str, list[str]]) -> dict[str, Transaction]:
    """Transactions for a spec whose parents are listed before their children."""
    txs: dict[str, Transaction] = {}
    for nonce, (name, parents) in enumerate(spec.items()):
        txs[name] = build(
            KEY,
            chain_id=CHAIN,
            kind="record",
            nonce=nonce,
            parents=[GENESIS if p == "G" else txs[p].id for p in parents],
            valid_until=1_000,
            payload=name.encode(),
            stamp_bits_min=2,
        )
    return txs


def dag_of(txs: list[Transaction]) -> Dag:
    """A DAG holding txs, admitted in the given order (children may come first)."""
    dag = new_dag()
    for tx in txs:
        dag.admit(tx.to_wire(), 0)
    assert dag.orphan_count() == 0
    return dag


def assert_topological(dag: Dag, order: list[bytes]) -> None:
    """Every parent of an ordered vertex is covered already or comes before it."""
    position = {vid: i for i, vid in enumerate(order)}
    assert len(position) == len(order), "a vertex appears twice"
    for i, vid in enumerate(order):
        for p in dag.vertices[vid].tx.body.parents:
            assert dag.is_covered(p) or position[p] < i


def past_cone(dag: Dag, tips: list[bytes]) -> set[bytes]:
    """Uncovered vertices reachable from tips through parents, tips included."""
    cone: set[bytes] = set()
    todo = [t for t in tips if not dag.is_covered(t)]
    while todo:
        vid = todo.pop()
        if vid in cone:
            continue
        cone.add(vid)
        todo.extend(p for p in dag.vertices[vid].tx.body.parents if not dag.is_covered(p))
    return cone


# -- tests -----------------------------------------------------------------
def test_order_is_topological_and_covers_the_whole_dag() -> None:
    txs = make_txs(DIAMOND)
    dag = dag_of(list(txs.values()))
    order = dag.order_new(dag.uncovered_tips())
    assert_topological(dag, order)
    assert set(order) == {t.id for t in txs.values()}


def test_order_does_not_depend_on_insertion_order() -> None:
    txs = make_txs(DIAMOND)
    forward = dag_of(list(txs.values()))
    other = dag_of([txs[n] for n in ["e", "a", "c", "g", "b", "d", "f"]])
    backward = dag_of(list(reversed(txs.values())))  # every child arrives as an orphan
    assert forward.uncovered_tips() == other.uncovered_tips() == backward.uncovered_tips()
    tips = forward.uncovered_tips()
    assert forward.order_new(tips) == other.order_new(tips) == backward.order_new(tips)


def test_order_does_not_depend_on_how_tips_are_listed() -> None:
    txs = make_txs(DIAMOND)
    dag = dag_of(list(txs.values()))
    tips = [txs["f"].id, txs["g"].id]
    expected = dag.order_new(tips)
    assert dag.order_new(list(reversed(tips))) == expected
    assert dag.order_new([*tips, *tips]) == expected
    # Naming an inner vertex as well changes nothing: it is in the cone already.
    assert dag.order_new([*tips, txs["a"].id]) == expected


def test_order_of_an_inner_vertex_is_its_past_cone_only() -> None:
    txs = make_txs(DIAMOND)
    dag = dag_of(list(txs.values()))
    order = dag.order_new([txs["d"].id])
    assert set(order) == {txs[n].id for n in "abcd"}
    assert order[-1] == txs["d"].id
    assert order[0] == txs["a"].id


def test_covered_vertices_are_not_ordered_again() -> None:
    txs = make_txs(DIAMOND)
    dag = dag_of([txs[n] for n in "abcd"])
    first = dag.order_new(dag.uncovered_tips())
    assert set(first) == {txs[n].id for n in "abcd"}
    dag.cover(first, 1)
    assert all(dag.is_covered(v) for v in first)
    assert dag.uncovered_tips() == []
    assert dag.order_new([txs["d"].id]) == []

    for n in "efg":
        dag.admit(txs[n].to_wire(), 0)
    second = dag.order_new(dag.uncovered_tips())
    assert set(second) == {txs[n].id for n in "efg"}
    assert not set(first) & set(second)
    assert_topological(dag, second)
    dag.cover(second, 2)
    assert dag.height == 2
    assert dag.uncovered_count == 0


def test_uncovered_tips_are_sorted_and_capped() -> None:
    spec = {f"v{i}": ["G"] for i in range(6)}
    txs = make_txs(spec)
    dag = new_dag(tips_per_checkpoint_max=4)
    for tx in txs.values():
        dag.admit(tx.to_wire(), 0)
    all_ids = sorted(t.id for t in txs.values())
    assert sorted(dag.tips) == all_ids
    assert dag.uncovered_tips() == all_ids[:4]
    dag.cover(dag.order_new(dag.uncovered_tips()), 1)
    assert dag.uncovered_tips() == all_ids[4:]


def test_a_dag_wider_than_the_cap_is_covered_oldest_tips_first() -> None:
    # Lowest ids first would leave the highest tip behind for as long as the
    # DAG stays wider than the cap; oldest first covers every tip in turn.
    spec = {f"v{i}": ["G"] for i in range(6)}
    txs = make_txs(spec)
    dag = new_dag(tips_per_checkpoint_max=4)
    newest_first = sorted(txs.values(), key=lambda t: t.id, reverse=True)
    for at_ms, tx in enumerate(newest_first):
        dag.admit(tx.to_wire(), at_ms)
    highest = [t.id for t in newest_first]
    assert dag.uncovered_tips() == sorted(highest[:4]), "the four admitted first"
    dag.cover(dag.order_new(dag.uncovered_tips()), 1)
    assert dag.uncovered_tips() == sorted(highest[4:])


def test_tips_by_admission_time_cover_only_what_was_admitted_by_then() -> None:
    txs = make_txs({"a": ["G"], "b": ["a"], "c": ["b"], "d": ["G"]})
    dag = new_dag()
    for name, at_ms in (("a", 0), ("d", 0), ("b", 100), ("c", 200)):
        dag.admit(txs[name].to_wire(), at_ms)
    ids = {name: tx.id for name, tx in txs.items()}
    assert dag.uncovered_tips() == sorted([ids["c"], ids["d"]])
    assert dag.uncovered_tips(admitted_by_ms=150) == sorted([ids["b"], ids["d"]])
    assert dag.uncovered_tips(admitted_by_ms=50) == sorted([ids["a"], ids["d"]])
    assert dag.uncovered_tips(admitted_by_ms=-1) == []
    dag.cover(dag.order_new(dag.uncovered_tips(admitted_by_ms=150)), 1)
    assert dag.uncovered_tips(admitted_by_ms=150) == []
    assert dag.uncovered_tips(admitted_by_ms=200) == [ids["c"]]


def test_uncovered_tips_of_an_empty_dag_is_empty() -> None:
    dag = new_dag()
    assert dag.uncovered_tips() == []
    assert dag.order_new(dag.uncovered_tips()) == []
    assert dag.order_new([GENESIS]) == []


@st.composite
def random_specs(draw: st.DrawFn) -> dict[str, list[str]]:
    """A random DAG: each vertex names 1..3 distinct earlier vertices or the root."""
    n = draw(st.integers(1, 18))
    spec: dict[str, list[str]] = {}
    for i in range(n):
        earlier = ["G", *spec]
        parents = draw(
            st.lists(
                st.sampled_from(earlier), min_size=1, max_size=min(3, len(earlier)), unique=True
            )
        )
        spec[f"v{i}"] = parents
    return spec


@settings(database=None, deadline=None, max_examples=60)
@given(spec=random_specs(), data=st.data())
def test_order_property(spec: dict[str, list[str]], data: st.DataObject) -> None:
    txs = make_txs(spec)
    shuffled = data.draw(st.permutations(list(txs.values())), label="arrival order")
    a, b = dag_of(list(txs.values())), dag_of(shuffled)
    assert a.uncovered_tips() == b.uncovered_tips()

    # First checkpoint: a random subset of the vertices as tips.
    chosen = data.draw(st.lists(st.sampled_from(sorted(a.vertices)), max_size=4), label="tips")
    first = a.order_new(chosen)
    assert first == b.order_new(chosen)
    assert set(first) == past_cone(a, chosen)
    assert_topological(a, first)
    a.cover(first, 1)
    b.cover(first, 1)

    # Second checkpoint: everything that is left.
    tips = a.uncovered_tips()
    second = a.order_new(tips)
    assert second == b.order_new(tips)
    assert set(second) == past_cone(a, tips)
    assert_topological(a, second)
    assert not set(first) & set(second)
    assert set(first) | set(second) == set(a.vertices)
