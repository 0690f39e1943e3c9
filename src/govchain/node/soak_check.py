"""The soak's verdict on the nodes' stores: what was lost, what ran twice, who disagrees.

Reads each node's SQLite store after the devnet has stopped (read_view), and
compares the views (check_views) with the ids the soak was promised. The
comparison is pure, so a test can hand it made-up views with a planted loss,
a double execution or a disagreement and see each caught.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from govchain.apps.catalog import registry_for
from govchain.state.genesis import Genesis
from govchain.state.ledger import Ledger
from govchain.state.receipts import Receipt
from govchain.storage.sqlite import SqliteStore


@dataclass(frozen=True, slots=True)
class NodeView:
    """What one node's store holds, as the checker compares it.

    checkpoints: height -> hash of the decided checkpoint; state_hashes: height
    -> state hash after executing it; receipts: height -> that height's receipts
    in final order; supply: balances plus escrow after replaying every executed
    height from genesis (None when not computed); problems: what reading the
    store itself found wrong (a replay that diverged from a stored state hash).
    """

    name: str
    checkpoints: dict[int, bytes]
    state_hashes: dict[int, bytes]
    receipts: dict[int, tuple[Receipt, ...]]
    supply: int | None = None
    problems: tuple[str, ...] = ()


@dataclass(slots=True)
class StoreVerdict:
    """The checker's findings; ids are sorted, disagreements are sentences."""

    final: int = 0  # promised ids final on at least one node
    lost: list[bytes] = field(default_factory=list)
    executed_twice: list[bytes] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    supply_conserved: bool = True
    heights: dict[str, int] = field(default_factory=dict)

    @property
    def agreement(self) -> bool:
        """True when no two nodes hold different checkpoints, state or receipts."""
        return not self.disagreements


def _compare(
    views: Sequence[NodeView],
    pick: Callable[[NodeView], Mapping[int, object]],
    what: str,
    out: list[str],
) -> None:
    """Each height's value on every node that holds it must equal the first holder's."""
    first: dict[int, tuple[str, object]] = {}
    for v in views:
        for h, value in sorted(pick(v).items()):
            ref_node, ref = first.setdefault(h, (v.name, value))
            if value != ref:
                out.append(f"{v.name} holds another {what} than {ref_node} at height {h}")


def check_views(
    promised: Collection[bytes], views: Sequence[NodeView], supply: int
) -> StoreVerdict:
    """Compare every node's store: losses, double executions, disagreement, supply."""
    verdict = StoreVerdict()
    final_anywhere: set[bytes] = set()
    twice: set[bytes] = set()
    for v in views:
        verdict.heights[v.name] = max(v.receipts, default=0)
        seen: set[bytes] = set()
        for _h, receipts in sorted(v.receipts.items()):
            for r in receipts:
                if r.tx_id in seen:
                    twice.add(r.tx_id)
                seen.add(r.tx_id)
        final_anywhere |= seen
        verdict.disagreements.extend(f"{v.name}: {p}" for p in v.problems)
        if v.supply is not None and v.supply != supply:
            verdict.supply_conserved = False
            verdict.disagreements.append(f"{v.name} holds a supply of {v.supply}, not {supply}")
    _compare(views, lambda v: v.checkpoints, "checkpoint", verdict.disagreements)
    _compare(views, lambda v: v.state_hashes, "state hash", verdict.disagreements)
    _compare(views, lambda v: v.receipts, "list of receipts", verdict.disagreements)
    wanted = set(promised)
    verdict.final = len(wanted & final_anywhere)
    verdict.lost = sorted(wanted - final_anywhere)
    verdict.executed_twice = sorted(twice)
    return verdict


def read_view(name: str, store_path: Path, genesis: Genesis) -> NodeView:
    """Read a stopped node's store and replay its executions from genesis for the supply."""
    with SqliteStore(store_path) as store:
        persisted = store.load()
    ledger = Ledger(genesis, registry_for(genesis))
    problems: list[str] = []
    receipts: dict[int, tuple[Receipt, ...]] = {}
    state_hashes: dict[int, bytes] = {}
    for ex in persisted.executed:
        h = ex.checkpoint.height
        receipts[h] = tuple(ex.result.receipts)
        state_hashes[h] = ex.result.state_hash
        # A payload gone (final as rejected, or redacted): its stored receipt stands in.
        known = {
            tx.id: rc
            for tx, rc in zip(ex.txs, ex.result.receipts, strict=True)
            if tx.payload_missing
        }
        replayed = ledger.execute(h, ex.txs, known or None)
        if replayed.state_hash != ex.result.state_hash and not problems:
            problems.append(f"replaying height {h} gives another state hash than the stored one")
    return NodeView(
        name,
        {cp.height: cp.hash for cp, _ in persisted.decided},
        state_hashes,
        receipts,
        ledger.total_supply(),
        tuple(problems),
    )
