"""The trace engine: hand-worked cases from the literature, limits, properties vs a reference."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.codec import INT_MAX, encode
from govchain.trace.case import Direction, Limits, Policy, Seed, TraceCase, TraceError
from govchain.trace.engine import trace
from govchain.trace.genesis import WithGenesis
from govchain.trace.memory import MemorySource
from govchain.trace.movements import GENESIS, Movement, MovementKind
from govchain.trace.result import TraceNode, TraceResult, root_of
from test_house_rules import PACKAGE, forbidden_in
from trace_reference import reference_backward, reference_trace


# -- helpers ---------------------------------------------------------------
def addr(name: str) -> bytes:
    return name.encode().ljust(20, b".")


def txid(n: int) -> bytes:
    return n.to_bytes(32, "big")


def history(*steps: tuple[str, str, int]) -> MemorySource:
    """One movement per height, in the order given; tx ids 1, 2, ..."""
    return MemorySource(
        Movement(h, 0, 0, txid(h), addr(s), addr(d), amount, MovementKind.TRANSFER)
        for h, (s, d, amount) in enumerate(steps, start=1)
    )


def node(result: TraceResult, name: str) -> TraceNode:
    (found,) = [n for n in result.nodes if n.account == addr(name)]
    return found


def without_events(result: TraceResult) -> TraceResult:
    """The reference does not count reads; compare everything else."""
    summary = msgspec.structs.replace(result.summary, events=0)
    body = msgspec.structs.replace(result, summary=summary, result_root=b"")
    return msgspec.structs.replace(body, result_root=root_of(body))


DEFAULT_LIMITS = Limits()


def case(*seeds: Seed, policy: str = Policy.FIFO, limits: Limits = DEFAULT_LIMITS) -> TraceCase:
    return TraceCase(tuple(seeds), policy=policy, limits=limits)


# -- hand-worked cases -----------------------------------------------------
def test_clayton_case_first_in_is_first_out() -> None:
    """Clayton's case (Devaynes v Noble, 1816), as in Barlow Clowes v Vaughan (1992).

    A trustee's account T receives 1000 from victim A (height 1), then 500 from
    victim B (height 2), then pays 1200 to X (height 3). First in, first out:
    the 1200 is A's 1000 then 200 of B's; T keeps B's other 300.
    """
    src = history(("A", "T", 1000), ("B", "T", 500), ("T", "X", 1200))
    seeds = (
        Seed(addr("T"), 1000, tx_id=txid(1), label="victim-a"),
        Seed(addr("T"), 500, tx_id=txid(2), label="victim-b"),
    )
    result = trace(src, case(*seeds))
    assert node(result, "T").tainted == 300
    assert node(result, "T").labels == ("victim-a", "victim-b")  # both passed through T
    assert node(result, "X").tainted == 1200
    assert node(result, "X").labels == ("victim-a", "victim-b")
    assert node(result, "X").hop == 1
    # the seeding credits are edges too
    assert [(e.height, e.tainted) for e in result.edges] == [(1, 1000), (2, 500), (3, 1200)]


def test_fifo_own_money_leaves_first_when_it_came_first() -> None:
    """A trustee holds 1000 of his own (from G, height 1), receives 500 stolen (height 2),
    pays 1200 to Y (height 3): FIFO sends his own 1000 and 200 stolen; 300 stolen stays.
    He then pays in 1000 of his own (height 4) and pays 300 to Z (height 5): those are the
    oldest units, the stolen 300, so Z holds 300 and T none.
    """
    src = history(
        ("G", "T", 1000), ("V", "T", 500), ("T", "Y", 1200), ("G", "T", 1000), ("T", "Z", 300)
    )
    result = trace(src, case(Seed(addr("T"), 500, tx_id=txid(2), label="theft")))
    assert (node(result, "T").tainted, node(result, "Y").tainted) == (0, 200)
    assert node(result, "Z").tainted == 300
    assert result.summary.seeded == 500


def test_libr_roscoe_v_winder_caps_at_the_lowest_balance() -> None:
    """Roscoe v Winder (1915): 455 of the claimant's money is paid into W (height 1); W draws
    the account down to 25 (pays 430 to S, height 2); then pays in 400 of his own (height 3).
    The claim on W is capped at the lowest intermediate balance, 25; later deposits do not
    restore it. FIFO agrees here (the oldest 430 left). A further 100 traced to the
    claimant arrives (height 4): FIFO traces 125 into W, but the LIBR cap stays 25 (our
    strict reading: the low-water mark runs from the taint's first arrival).
    """
    src = history(("C", "W", 455), ("W", "S", 430), ("O", "W", 400), ("C", "W", 100))
    seeds = (
        Seed(addr("W"), 455, tx_id=txid(1), label="claim"),
        Seed(addr("W"), 100, tx_id=txid(4), label="claim"),
    )
    fifo = trace(src, case(*seeds))
    libr = trace(src, case(*seeds, policy=Policy.LIBR))
    assert node(fifo, "W").tainted == node(libr, "W").tainted == 125
    assert node(fifo, "W").freezable_cap == 125
    assert node(libr, "W").freezable_cap == 25
    assert node(libr, "S").freezable_cap == node(libr, "S").tainted == 430


def test_haircut_is_proportional_with_the_remainder_kept() -> None:
    """H holds 300 clean, receives 100 stolen (a quarter of 400). Paying 200 to Y carries
    floor(100 * 200 / 400) = 50; paying 133 of the remaining 200 to Z carries
    floor(50 * 133 / 200) = 33 (the 0.25 remainder stays in H, which keeps 17).
    Haircut is a score: nothing is freezable.
    """
    src = history(("G", "H", 300), ("V", "H", 100), ("H", "Y", 200), ("H", "Z", 133))
    result = trace(src, case(Seed(addr("H"), 100, tx_id=txid(2)), policy=Policy.HAIRCUT))
    assert [node(result, n).tainted for n in ("H", "Y", "Z")] == [17, 50, 33]
    assert result.summary.freezable == 0


def test_poison_taints_everything_that_leaves() -> None:
    """P holds 900 clean and receives 1 stolen unit: the 500 it then pays Q is all tainted."""
    src = history(("G", "P", 900), ("V", "P", 1), ("P", "Q", 500))
    result = trace(src, case(Seed(addr("P"), 1, tx_id=txid(2)), policy=Policy.POISON))
    assert node(result, "Q").tainted == 500
    assert [e.tainted for e in result.edges] == [1, 500]


def test_money_cannot_leave_before_it_arrives() -> None:
    """B pays C at height 1; the stolen money reaches B at height 2: C is untouched
    (a hop-BFS that ignores time would taint C)."""
    src = history(("G", "B", 50), ("B", "C", 50), ("V", "B", 70))
    result = trace(src, case(Seed(addr("B"), 70, tx_id=txid(3))))
    assert [n.account for n in result.nodes] == [addr("B")]
    assert [e.height for e in result.edges] == [3]  # only the seeding credit


def test_a_height_seed_taints_the_newest_units() -> None:
    """A holds 100 then 50 (heights 1, 2); a seed of 50 at height 3 taints the newer 50,
    so A's payment of 100 at height 3 leaves clean."""
    src = history(("G", "A", 100), ("H", "A", 50), ("A", "B", 100))
    result = trace(src, case(Seed(addr("A"), 50, height=3)))
    assert node(result, "A").tainted == 50
    assert result.edges == ()


def test_a_seed_is_clipped_to_what_the_account_holds() -> None:
    src = history(("G", "A", 30))
    result = trace(src, case(Seed(addr("A"), 100, tx_id=txid(1))))
    assert result.seeded == (30,)
    assert result.summary.seeded == 30


def test_backward_clayton_names_the_victims_in_order() -> None:
    """Clayton's case backward: T received 1000 from A (height 1) and 500 from B (height 2),
    then paid 1200 to X (height 3). Where did X's 1200 come from? First in, first out:
    A's 1000 and the first 200 of B's. A and B hold no earlier credits, so the trail ends
    in their opening balances (genesis, in a real chain).
    """
    src = history(("A", "T", 1000), ("B", "T", 500), ("T", "X", 1200))
    back = TraceCase((Seed(addr("T"), 1200, tx_id=txid(3), label="x"),), direction="backward")
    result = trace(src, back)
    assert [(n.account, n.hop, n.tainted) for n in result.nodes] == [
        (addr("A"), 1, 1000),
        (addr("B"), 1, 200),
        (addr("T"), 0, 0),
    ]
    assert [(e.height, e.tainted) for e in result.edges] == [(1, 1000), (2, 200), (3, 1200)]


def test_backward_skips_credits_that_had_already_left() -> None:
    """G pays W 100 (height 1), W pays Y 100 (height 2), V pays W 40 (height 3), W pays Z 40
    (height 4): Z's 40 came from V, not G, though G's credit came first."""
    src = history(("G", "W", 100), ("W", "Y", 100), ("V", "W", 40), ("W", "Z", 40))
    back = TraceCase((Seed(addr("W"), 40, tx_id=txid(4)),), direction="backward")
    result = trace(src, back)
    assert {n.account: n.tainted for n in result.nodes} == {addr("W"): 0, addr("V"): 40}


def test_backward_from_a_height_takes_what_would_leave_next() -> None:
    """W holds G's 100 then V's 40 after height 2: the next 120 to leave are G's 100 and
    20 of V's."""
    src = history(("G", "W", 100), ("V", "W", 40))
    back = TraceCase((Seed(addr("W"), 120),), direction="backward")
    result = trace(src, back)
    assert {n.account: n.tainted for n in result.nodes} == {
        addr("W"): 0,
        addr("G"): 100,
        addr("V"): 20,
    }


# -- limits ----------------------------------------------------------------
def chain() -> MemorySource:
    return history(("V", "A", 10), ("A", "B", 10), ("B", "C", 10), ("C", "D", 10))


def test_hops_limit_is_reported() -> None:
    result = trace(chain(), case(Seed(addr("A"), 10, tx_id=txid(1)), limits=Limits(hops_max=1)))
    assert [(t.limit, t.accounts, t.tainted) for t in result.truncations] == [("hops", 1, 10)]
    assert node(result, "C").followed is False
    assert node(result, "C").hop == 2
    assert addr("D") not in {n.account for n in result.nodes}


def test_accounts_limit_is_reported() -> None:
    limits = Limits(accounts_max=2)
    result = trace(chain(), case(Seed(addr("A"), 10, tx_id=txid(1)), limits=limits))
    assert [(t.limit, t.accounts, t.tainted) for t in result.truncations] == [("accounts", 1, 10)]


def test_events_limit_is_reported() -> None:
    limits = Limits(events_max=4)
    result = trace(chain(), case(Seed(addr("A"), 10, tx_id=txid(1)), limits=limits))
    assert [t.limit for t in result.truncations] == ["events"]
    assert result.summary.events <= 4


def test_height_window_bounds_the_snapshot() -> None:
    limits = Limits(to_height=2)
    result = trace(chain(), case(Seed(addr("A"), 10, tx_id=txid(1)), limits=limits))
    assert result.snapshot_height == 2
    assert node(result, "B").tainted == 10


@pytest.mark.parametrize(
    ("seed", "direction", "message"),
    [
        (Seed(b"short", 1), "forward", "20 bytes"),
        (Seed(addr("A"), 0), "forward", "positive"),
        (Seed(addr("A"), 1, tx_id=b"x"), "forward", "32 bytes"),
        (Seed(addr("A"), 1), "sideways", "direction"),
    ],
)
def test_a_bad_case_is_refused(seed: Seed, direction: str, message: str) -> None:
    with pytest.raises(TraceError, match=message):
        trace(chain(), TraceCase((seed,), direction=direction))


@pytest.mark.parametrize("policy", [Policy.HAIRCUT, Policy.POISON])
def test_backward_refuses_the_scoring_policies(policy: str) -> None:
    with pytest.raises(TraceError, match="backward tracing supports fifo and libr"):
        trace(chain(), TraceCase((Seed(addr("A"), 1),), direction="backward", policy=policy))


# -- the result's root -----------------------------------------------------
def test_result_root_is_recomputed_from_the_encoding() -> None:
    result = trace(chain(), case(Seed(addr("A"), 10, tx_id=txid(1))))
    decoded = msgspec.msgpack.decode(encode(result), type=TraceResult)
    assert decoded == result
    assert root_of(decoded) == result.result_root
    assert trace(chain(), case(Seed(addr("A"), 10, tx_id=txid(1)))) == result


# -- properties against the reference --------------------------------------
POOL = [bytes([i]) * 20 for i in range(1, 7)]
POLICIES = [Policy.FIFO, Policy.LIBR, Policy.HAIRCUT, Policy.POISON]


FUNDER = b"\xf0" * 20  # pays every account its opening balance at height 0


def funded(movements: list[Movement]) -> list[Movement]:
    """The movements after height-0 payments from FUNDER of each account's least
    non-negative opening balance: a history whose every balance is known from 0,
    as a chain's is with its genesis balances."""
    running: dict[bytes, int] = {}
    need: dict[bytes, int] = {}
    for m in movements:
        running[m.src] = running.get(m.src, 0) - m.amount
        need[m.src] = max(need.get(m.src, 0), -running[m.src])
        running[m.dst] = running.get(m.dst, 0) + m.amount
    pay = [(a, v) for a, v in sorted(need.items()) if v]
    return [
        *(
            Movement(0, i, 0, txid(10_000 + i), FUNDER, a, v, MovementKind.TRANSFER)
            for i, (a, v) in enumerate(pay)
        ),
        *movements,
    ]


def with_balances(movements: list[Movement]) -> list[Movement]:
    """The movements (in final order) with both ends' balances after each, from
    running balances that start at 0 (FUNDER's at what it pays out)."""
    balance = {FUNDER: sum(m.amount for m in movements if m.src == FUNDER)}
    out = []
    for m in movements:
        balance[m.src] = balance.get(m.src, 0) - m.amount
        balance[m.dst] = balance.get(m.dst, 0) + m.amount
        assert balance[m.src] >= 0, m
        out.append(msgspec.structs.replace(m, src_after=balance[m.src], dst_after=balance[m.dst]))
    return out


@st.composite
def histories(draw: st.DrawFn) -> tuple[MemorySource, TraceCase]:
    steps = draw(
        st.lists(
            st.tuples(st.sampled_from(POOL), st.sampled_from(POOL), st.integers(1, 40)),
            min_size=1,
            max_size=25,
        )
    )
    movements = [
        Movement(k // 3 + 1, k % 3, 0, txid(k), s, d, a, MovementKind.TRANSFER)
        for k, (s, d, a) in enumerate(steps)
    ]
    if draw(st.booleans()):
        movements = with_balances(funded(movements))
    direction = draw(st.sampled_from([Direction.FORWARD, Direction.BACKWARD]))
    seeds = []
    for label in draw(st.lists(st.sampled_from(["x", "y"]), min_size=1, max_size=3)):
        amount = draw(st.integers(1, 60))
        if draw(st.booleans()):
            m = draw(st.sampled_from(movements))
            account = m.dst if direction == Direction.FORWARD else m.src
            seeds.append(Seed(account, amount, tx_id=m.tx_id, label=label))
        else:
            height = draw(st.integers(-1, movements[-1].height + 1))
            seeds.append(Seed(draw(st.sampled_from(POOL)), amount, height=height, label=label))
    top = movements[-1].height
    lo = draw(st.integers(0, top)) if draw(st.booleans()) else 0
    hi = draw(st.integers(lo, top + 1)) if draw(st.booleans()) else INT_MAX
    limits = Limits(
        hops_max=draw(st.integers(1, 4)),
        accounts_max=draw(st.integers(1, 7)),
        from_height=lo,
        to_height=hi,
    )
    policies = POLICIES if direction == Direction.FORWARD else POLICIES[:2]
    policy = draw(st.sampled_from(policies))
    trace_case = TraceCase(tuple(seeds), direction=direction, policy=policy, limits=limits)
    return MemorySource(movements), trace_case


@settings(max_examples=300, deadline=None)
@given(histories())
def test_engine_agrees_with_the_reference(drawn: tuple[MemorySource, TraceCase]) -> None:
    source, trace_case = drawn
    if trace_case.direction == Direction.FORWARD:
        expected = reference_trace(source, trace_case)
    else:
        expected = reference_backward(source, trace_case)
    assert without_events(trace(source, trace_case)) == expected


def unrecorded(source: MemorySource) -> MemorySource:
    """The same movements without their balances, as stored before they were recorded."""
    bare = [msgspec.structs.replace(m, src_after=-1, dst_after=-1) for m in source.movements]
    return MemorySource(bare, top_height=source.top_height())


@settings(max_examples=300, deadline=None)
@given(histories(), st.data())
def test_recorded_balances_give_what_the_whole_history_gives(
    drawn: tuple[MemorySource, TraceCase], data: st.DataObject
) -> None:
    """Reading from the taint's arrival (balances from the movements) or reading every
    account's whole history (balances inferred, as before they were recorded, also
    for some of the movements only) trace the same, reading no more."""
    source, trace_case = drawn
    recorded = trace(source, trace_case)
    bare = unrecorded(source)
    inferred = trace(bare, trace_case)
    assert without_events(recorded) == without_events(inferred)
    assert recorded.summary.events <= inferred.summary.events
    keep = data.draw(st.lists(st.booleans(), min_size=len(bare.movements)))
    mixed = MemorySource(
        [m if k else b for m, b, k in zip(source.movements, bare.movements, keep, strict=False)],
        top_height=source.top_height(),
    )
    assert without_events(trace(mixed, trace_case)) == without_events(recorded)


def test_an_account_is_read_from_the_taints_arrival() -> None:
    """A busy account's movements before the taint reached it are not read."""
    busy = [("G", "B", 1000)] + [("B", f"c{k}", 1) for k in range(50)]
    steps = [*busy, ("V", "A", 10), ("A", "B", 10), ("B", "Z", 5)]
    movements = with_balances(
        funded(
            [
                Movement(h, 0, 0, txid(h), addr(s), addr(d), amount, MovementKind.TRANSFER)
                for h, (s, d, amount) in enumerate(steps, start=1)
            ]
        )
    )
    seed = case(Seed(addr("A"), 10, tx_id=txid(len(busy) + 1)))
    result = trace(MemorySource(movements), seed)
    assert node(result, "B").tainted == 10  # behind B's own 950 (FIFO): Z is paid clean
    assert result.summary.events == 4  # A's 2 and B's last 2, not B's 53
    assert without_events(result) == without_events(
        trace(unrecorded(MemorySource(movements)), seed)
    )


@settings(max_examples=200, deadline=None)
@given(histories())
def test_taint_never_exceeds_the_seed(drawn: tuple[MemorySource, TraceCase]) -> None:
    source, trace_case = drawn
    if trace_case.policy == Policy.POISON:
        trace_case = msgspec.structs.replace(trace_case, policy=Policy.FIFO)
    result = trace(source, trace_case)
    s = result.summary
    assert s.seeded <= sum(seed.amount for seed in trace_case.seeds)
    assert s.tainted_followed + s.tainted_unfollowed == s.seeded
    assert all(e.tainted <= e.amount for e in result.edges)
    assert all(n.freezable_cap <= n.tainted for n in result.nodes)


@settings(max_examples=200, deadline=None)
@given(histories())
def test_libr_cap_is_at_most_the_fifo_taint(drawn: tuple[MemorySource, TraceCase]) -> None:
    source, trace_case = drawn
    fifo = trace(source, msgspec.structs.replace(trace_case, policy=Policy.FIFO))
    libr = trace(source, msgspec.structs.replace(trace_case, policy=Policy.LIBR))
    fifo_taint = {n.account: n.tainted for n in fifo.nodes}
    assert {n.account for n in libr.nodes} == set(fifo_taint)
    assert all(n.freezable_cap <= fifo_taint[n.account] for n in libr.nodes)


STRANGERS = [bytes([0xA0 + i]) * 20 for i in range(4)]


@settings(max_examples=200, deadline=None)
@given(histories(), st.data())
def test_unrelated_accounts_do_not_change_the_root(
    drawn: tuple[MemorySource, TraceCase], data: st.DataObject
) -> None:
    source, trace_case = drawn
    top = source.top_height()
    noise = data.draw(
        st.lists(
            st.tuples(st.sampled_from(STRANGERS), st.sampled_from(STRANGERS), st.integers(1, 99)),
            max_size=15,
        )
    )
    extra = [
        Movement(k % top + 1, 100 + k, 0, txid(1000 + k), s, d, a, MovementKind.TRANSFER)
        for k, (s, d, a) in enumerate(noise)
    ]
    noisy = MemorySource([*source.movements, *extra], top_height=top)
    assert trace(noisy, trace_case).result_root == trace(source, trace_case).result_root


# -- house rules -----------------------------------------------------------
TRACE_CORE = ["case.py", "books.py", "engine.py", "result.py", "memory.py", "movements.py"]


@pytest.mark.parametrize("name", TRACE_CORE)
def test_the_engine_is_pure(name: str) -> None:
    path = PACKAGE / "trace" / name
    assert forbidden_in(path.read_text()) == set()


def test_backward_ends_at_genesis_without_reading_every_genesis_balance() -> None:
    others = [(bytes([1, i % 256, i // 256]) + bytes(17), 10) for i in range(1_000)]
    alice, bob = b"\xaa" * 20, b"\xbb" * 20
    pay = Movement(1, 0, 0, txid(1), alice, bob, 70, MovementKind.TRANSFER)
    source = WithGenesis(MemorySource([pay]), [(alice, 100), *others])
    case = TraceCase((Seed(bob, 70, height=-1),), direction=Direction.BACKWARD)
    result = trace(source, case)
    origin = {n.account: n for n in result.nodes}
    assert origin[GENESIS].tainted == 70 and origin[GENESIS].followed
    assert result.truncations == () and result.summary.events < 10


def test_haircut_taint_never_outgrows_the_balance() -> None:
    """Two seeds of 1 in a balance of 27; 26 leave: each share rounds to 0, but the
    1 unit left cannot hold 2 of taint, so one of them leaves with the 26."""
    a, b, c = b"\x01" * 20, b"\x02" * 20, b"\x03" * 20
    source = MemorySource(
        [
            Movement(0, 0, 0, txid(1), c, a, 27, MovementKind.TRANSFER),
            Movement(1, 0, 0, txid(2), a, b, 26, MovementKind.TRANSFER),
            Movement(1, 1, 0, txid(3), a, b, 1, MovementKind.TRANSFER),
        ]
    )
    seeds = (Seed(a, 1, height=1, label="x"), Seed(a, 1, height=1, label="y"))
    result = trace(source, TraceCase(seeds, policy=Policy.HAIRCUT))
    assert [e.tainted for e in result.edges] == [1, 1]
    assert {n.account: n.tainted for n in result.nodes} == {a: 0, b: 2}
