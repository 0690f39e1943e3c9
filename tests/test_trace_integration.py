"""The trace engine over a real chain's stores: the index a node commits is what it reads.

A 4-validator cluster (conftest.SimCluster) finalizes a small peel chain,
r0 writing through SQLite and r1 through the in-memory twin; a forward FIFO
trace of the first payment gives the same result, and the same result_root,
on both stores and on the MemorySource built from the same movements.
"""

from __future__ import annotations

from pathlib import Path

from conftest import SimCluster
from govchain.crypto.keys import SigningKey
from govchain.storage.memory import MemoryStore
from govchain.storage.sqlite import SqliteStore
from govchain.trace.case import Limits, Seed, TraceCase
from govchain.trace.engine import trace
from govchain.trace.memory import MemorySource
from govchain.trace.movements import MovementKind
from test_replica import ALICE, BOB, CONFIG, VALIDATORS, genesis, transfer

CAROL = SigningKey.from_label("trace-carol")
DAVE = SigningKey.from_label("trace-dave")


def hops_keys() -> list[SigningKey]:
    """Everyone the payments touched."""
    return [ALICE, BOB, CAROL, DAVE]


def test_a_trace_reads_the_same_movements_from_either_store(tmp_path: Path) -> None:
    sqlite = SqliteStore(tmp_path / "r0.sqlite")
    memory = MemoryStore()
    c = SimCluster(genesis(4), VALIDATORS, CONFIG, stores={"r0": sqlite, "r1": memory})
    try:
        c.run_until(lambda: c.height("r0") >= 1)
        # Alice pays Bob 300; Bob peels 200 to Carol, Carol 150 to Dave.
        hops = [(ALICE, BOB, 300), (BOB, CAROL, 200), (CAROL, DAVE, 150)]
        for key, to, amount in hops:
            tx = transfer(c.replica("r0"), key, to, amount, 0)
            c.submit("r0", tx)
            c.run_until(c.final_everywhere(tx))
        # The seed: Alice's payment to Bob, as the index has it.
        paid = list(sqlite.movements_of(BOB.address, 0, sqlite.top_height()))
        assert paid[0].kind == MovementKind.TRANSFER and paid[0].amount == 300
        top = min(sqlite.top_height(), memory.top_height())
        seed = Seed(BOB.address, 300, tx_id=paid[0].tx_id, label="ransom")
        case = TraceCase((seed,), limits=Limits(to_height=top))
        on_sqlite, on_memory = trace(sqlite, case), trace(memory, case)
        assert on_sqlite.result_root == on_memory.result_root
        every = {m.order: m for a in hops_keys() for m in memory.movements_of(a.address, 0, top)}
        reference = trace(MemorySource(every.values(), top_height=top), case)
        assert reference.result_root == on_sqlite.result_root
        # Taint is conserved: all 300 units are somewhere along the chain.
        held = {n.account: n.tainted for n in on_sqlite.nodes}
        assert sum(held.values()) == 300 and set(held) <= {a.address for a in hops_keys()}
    finally:
        sqlite.close()
