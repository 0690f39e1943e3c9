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
from govchain.state.governance import ProposalStatus
from govchain.state.ledger import Ledger
from govchain.state.receipts import Receipt
from govchain.state.registry import NO_OP_WORDS
from govchain.state.sync_point import LiveIds, seal
from govchain.storage.sqlite import SqliteStore

# A proposal as a node's replayed state holds it: status, enacted height, outcome.
ProposalState = tuple[str, int | None, str]
RECEIPT_MISMATCHES_SHOWN = 10  # sentences per kind of finding; the counts cover all


@dataclass(frozen=True, slots=True)
class NodeView:
    """What one node's store holds, as the checker compares it.

    checkpoints: height -> hash of the decided checkpoint; state_hashes: height
    -> state hash after executing it; receipts: height -> that height's receipts
    in final order; supply: balances plus escrow after replaying every executed
    height from genesis (None when not computed); problems: what reading the
    store itself found wrong (a replay that diverged from a stored state hash);
    proposals: proposal id -> (status, enacted height, outcome) in the
    replayed state.
    """

    name: str
    checkpoints: dict[int, bytes]
    state_hashes: dict[int, bytes]
    receipts: dict[int, tuple[Receipt, ...]]
    supply: int | None = None
    problems: tuple[str, ...] = ()
    proposals: dict[str, ProposalState] = field(default_factory=dict)


@dataclass(slots=True)
class StoreVerdict:
    """The checker's findings; ids are sorted, disagreements are sentences."""

    final: int = 0  # promised ids final on at least one node
    lost: list[bytes] = field(default_factory=list)
    executed_twice: list[bytes] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    supply_conserved: bool = True
    heights: dict[str, int] = field(default_factory=dict)
    receipts_compared: int = 0  # transactions final on two nodes or more, receipts compared
    receipt_mismatches: list[bytes] = field(default_factory=list)  # another receipt elsewhere
    # Promised and final, but missing from a node that executed past its height.
    missing_somewhere: list[bytes] = field(default_factory=list)
    not_enacted: list[str] = field(default_factory=list)  # "proposal id: why" sentences
    enacted: int = 0  # the soak's proposals passed and enacted on every node

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
    promised: Collection[bytes],
    views: Sequence[NodeView],
    supply: int,
    proposals: Collection[str] = (),
) -> StoreVerdict:
    """Compare every node's store: losses, double executions, disagreement, supply, proposals."""
    verdict = StoreVerdict()
    final_anywhere: set[bytes] = set()
    twice: set[bytes] = set()
    held_by: list[set[bytes]] = []
    for v in views:
        verdict.heights[v.name] = max(v.receipts, default=0)
        seen: set[bytes] = set()
        for _h, receipts in sorted(v.receipts.items()):
            for r in receipts:
                if r.tx_id in seen:
                    twice.add(r.tx_id)
                seen.add(r.tx_id)
        final_anywhere |= seen
        held_by.append(seen)
        verdict.disagreements.extend(f"{v.name}: {p}" for p in v.problems)
        if v.supply is not None and v.supply != supply:
            verdict.supply_conserved = False
            verdict.disagreements.append(f"{v.name} holds a supply of {v.supply}, not {supply}")
    _compare(views, lambda v: v.checkpoints, "checkpoint", verdict.disagreements)
    _compare(views, lambda v: v.state_hashes, "state hash", verdict.disagreements)
    _compare(views, lambda v: v.receipts, "list of receipts", verdict.disagreements)
    _compare_receipts(views, verdict)
    wanted = set(promised)
    verdict.final = len(wanted & final_anywhere)
    verdict.lost = sorted(wanted - final_anywhere)
    verdict.executed_twice = sorted(twice)
    _check_holes(wanted & final_anywhere, views, held_by, verdict)
    _check_proposals(proposals, views, verdict)
    return verdict


def _check_holes(
    final: set[bytes], views: Sequence[NodeView], held_by: list[set[bytes]], verdict: StoreVerdict
) -> None:
    """Promised transactions final elsewhere that a node lacks though it got past their height.

    A node that stopped below a transaction's height is behind, not wrong (the
    soak tells that apart: it waits until every node reached the same height).
    """
    height_of: dict[bytes, int] = {}
    for v in views:
        for h, receipts in v.receipts.items():
            for r in receipts:
                if r.tx_id in final:
                    height_of.setdefault(r.tx_id, h)
    lacking: dict[bytes, list[str]] = {}
    for v, held in zip(views, held_by, strict=True):
        top = verdict.heights[v.name]
        for tx_id in final - held:
            if height_of[tx_id] <= top:
                lacking.setdefault(tx_id, []).append(v.name)
    verdict.missing_somewhere = sorted(lacking)
    verdict.disagreements.extend(
        f"{', '.join(lacking[i])} lack promised transaction {i.hex()}, final elsewhere"
        f" at height {height_of[i]}"
        for i in verdict.missing_somewhere[:RECEIPT_MISMATCHES_SHOWN]
    )


def _compare_receipts(views: Sequence[NodeView], verdict: StoreVerdict) -> None:
    """Per transaction: its receipt on every node that holds it equals the first holder's."""
    first: dict[bytes, tuple[str, Receipt]] = {}
    compared: set[bytes] = set()
    mismatched: dict[bytes, str] = {}
    for v in views:
        for receipts in v.receipts.values():
            for r in receipts:
                ref_node, ref = first.setdefault(r.tx_id, (v.name, r))
                if ref_node == v.name:
                    continue
                compared.add(r.tx_id)
                if r != ref and r.tx_id not in mismatched:
                    mismatched[r.tx_id] = (
                        f"{v.name} holds another receipt for transaction {r.tx_id.hex()} than"
                        f" {ref_node}: height {r.height} #{r.index} {r.status}"
                        f" against height {ref.height} #{ref.index} {ref.status}"
                    )
    verdict.receipts_compared = len(compared)
    verdict.receipt_mismatches = sorted(mismatched)
    verdict.disagreements.extend(
        mismatched[i] for i in verdict.receipt_mismatches[:RECEIPT_MISMATCHES_SHOWN]
    )


def _check_proposals(
    proposals: Collection[str], views: Sequence[NodeView], verdict: StoreVerdict
) -> None:
    """Each proposal passed and enacted, not as a no-op, the same on every node."""
    for pid in proposals:
        states = {v.name: v.proposals.get(pid) for v in views}
        problems = sorted(
            {
                f"{name}: {_not_enacted(state)}"
                for name, state in states.items()
                if _not_enacted(state) is not None
            }
        )
        if len(set(states.values())) > 1:
            problems.append("the nodes hold it differently")
        if problems:
            verdict.not_enacted.append(f"{pid}: {'; '.join(problems)}")
        else:
            verdict.enacted += 1


def _not_enacted(state: ProposalState | None) -> str | None:
    """Why a proposal's state is not "passed and enacted", or None when it is."""
    if state is None:
        return "no such proposal"
    status, enacted_height, outcome = state
    if status != ProposalStatus.PASSED.value:
        return f"status {status}"
    if enacted_height is None:
        return "passed, not enacted"
    if NO_OP_WORDS in outcome:
        return f"enacted as a no-op ({outcome})"
    return None


def read_view(name: str, store_path: Path, genesis: Genesis) -> NodeView:
    """Read a stopped node's store and replay its executions from genesis for the supply.

    Height by height through the store's public reads (receipts, state hash,
    each transaction by id), not SqliteStore.load(): a store with a snapshot
    loads only what follows it, and the soak compares whole histories.
    """
    ledger = Ledger(genesis, registry_for(genesis))
    live = LiveIds()
    problems: list[str] = []
    receipts: dict[int, tuple[Receipt, ...]] = {}
    state_hashes: dict[int, bytes] = {}
    checkpoints: dict[int, bytes] = {}
    with SqliteStore(store_path) as store:
        for h in range(1, store.top_height() + 1):
            rcs = store.receipts(h)
            state_hash = store.state_hash_at(h)
            if state_hash is None:
                problems.append(f"height {h} is not executed, though later ones are")
                break
            receipts[h] = tuple(rcs)
            state_hashes[h] = state_hash
            txs = []
            for rc in rcs:
                stored = store.get_tx(rc.tx_id)
                if stored is None:
                    problems.append(f"height {h} names transaction {rc.tx_id.hex()}, not stored")
                    break
                txs.append(stored.tx)
            if len(txs) < len(rcs):
                break
            # A payload gone (final as rejected, or redacted): its stored receipt stands in.
            known = {tx.id: rc for tx, rc in zip(txs, rcs, strict=True) if tx.payload_missing}
            replayed_hash = ledger.execute(h, txs, known or None).state_hash
            live.add(h, txs)
            if genesis.is_sync_height(h):
                seal(ledger, live.after(h))
                replayed_hash = ledger.state_hash
            if replayed_hash != state_hash and not problems:
                problems.append(
                    f"replaying height {h} gives another state hash than the stored one"
                )
        for h in range(1, store.decided_height() + 1):
            decided = store.get_checkpoint(h)
            if decided is not None:
                checkpoints[h] = decided[0].hash
    return NodeView(
        name,
        checkpoints,
        state_hashes,
        receipts,
        ledger.total_supply(),
        tuple(problems),
        {p.id: (p.status, p.enacted_height, p.outcome) for p in ledger.proposals()},
    )
