"""A read-only view of one replica: what the API, the CLI's node reads and the simulator ask.

Every member answers a question and returns values (or frozen records); none
hands out the DAG, the ledger or consensus themselves, so a reader cannot
change a replica by mistake, and the replica may reshape its insides freely.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from govchain.consensus.messages import Certificate, Checkpoint
from govchain.consensus.tendermint import Tendermint
from govchain.consensus.validators import ValidatorSet
from govchain.dag.graph import Dag
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction
from govchain.replica.execution import Execution
from govchain.state.context import Namespace
from govchain.state.governance import Proposal
from govchain.state.holds import Hold
from govchain.state.identities import Identity
from govchain.state.ledger import Ledger
from govchain.state.policy import ContentRules
from govchain.state.redactions import Redaction
from govchain.state.services import Service


class _Limited(Protocol):
    @property
    def dag(self) -> DagLimits: ...


class Viewed(Protocol):
    """What the view reads of a replica (Replica has these): view.py never imports replica.py."""

    @property
    def ledger(self) -> Ledger: ...
    @property
    def dag(self) -> Dag: ...
    @property
    def decided(self) -> Sequence[tuple[Checkpoint, Certificate]]: ...
    @property
    def executions(self) -> Sequence[Execution]: ...
    @property
    def consensus(self) -> Tendermint: ...
    @property
    def config(self) -> _Limited: ...
    def catching_up(self) -> bool: ...
    def budgets(self) -> dict[str, tuple[int, int]]: ...


@dataclass(frozen=True, slots=True)
class AccountState:
    """An account's final balance and nonce (zero for an address never seen)."""

    balance: int
    nonce: int


@dataclass(frozen=True, slots=True)
class Committee:
    """The governance committee: (public key, weight) of each member, and what passes."""

    members: tuple[tuple[bytes, int], ...]
    threshold: int
    total_weight: int
    participation_min: int
    proposal_ttl_heights: int
    emergency_ttl_heights: int


@dataclass(frozen=True, slots=True)
class RecentVertex:
    """A vertex as the DAG view shows it: parents, sender key, kind, covering height."""

    id: bytes
    parents: tuple[bytes, ...]
    sender: bytes  # public key
    kind: str
    height: int | None  # the checkpoint that covered it (None: pending)


@dataclass(frozen=True, slots=True)
class DagCounts:
    """How much the DAG holds: vertices, tips, those no checkpoint covers yet, orphans."""

    vertices: int
    tips: int
    pending: int
    orphans: int


class ChainView:
    """Reads of one replica's chain (executed state), DAG (pending) and consensus progress."""

    def __init__(self, replica: Viewed) -> None:
        self._r = replica

    # -- chain ------------------------------------------------------------------
    @property
    def height(self) -> int:
        """The highest executed checkpoint."""
        return self._r.ledger.height

    @property
    def decided_height(self) -> int:
        """The highest decided checkpoint (execution may trail it)."""
        return len(self._r.decided)

    def decided(self) -> Sequence[tuple[Checkpoint, Certificate]]:
        """Every decided checkpoint with its certificate, height 1 first."""
        return tuple(self._r.decided)

    def decided_tail(self, count: int) -> Sequence[tuple[Checkpoint, Certificate]]:
        """The last `count` decided checkpoints with their certificates, oldest first.

        A slice, so a reader of the latest few never copies the whole chain.
        """
        return tuple(self._r.decided[-count:]) if count > 0 else ()

    def recent_executions(self) -> Sequence[Execution]:
        """The executions kept in memory, oldest first (the store has them all)."""
        return tuple(self._r.executions)

    @property
    def audit_head(self) -> bytes:
        """The audit head after the executed height."""
        return self._r.ledger.audit_head

    def validator_set(self, height: int) -> ValidatorSet | None:
        """The set certifying height, once execution knows it."""
        return self._r.ledger.validator_set(height)

    def validator_set_starts(self) -> list[int]:
        """The heights from which each set after the genesis's certifies, in order."""
        return [start for start, _ in self._r.ledger.valsets[1:]]

    def account(self, address: bytes) -> AccountState:
        """An address's final balance and nonce."""
        acct = self._r.ledger.accounts.get(address)
        return AccountState(acct.balance, acct.nonce) if acct is not None else AccountState(0, 0)

    def total_supply(self) -> int:
        """Every balance and escrow together."""
        return self._r.ledger.total_supply()

    def identity(self, address: bytes) -> Identity | None:
        """The identity, freeze or roles recorded for an address."""
        return self._r.ledger.identity(address)

    def service(self, service_id: str) -> Service | None:
        """A registered service."""
        return self._r.ledger.service(service_id)

    def services(self) -> list[Service]:
        """Every registered service, by id."""
        by_id = self._r.ledger.stores.services.by_id
        return [by_id[k] for k in sorted(by_id)]

    def namespace(self, name: str) -> Namespace | None:
        """A registered namespace's state (None: this chain has none of that name)."""
        return self._r.ledger.stores.extensions.get(name)

    def proposal(self, proposal_id: str) -> Proposal | None:
        """A governance proposal by id."""
        return self._r.ledger.proposal(proposal_id)

    def proposals(self) -> list[Proposal]:
        """Every governance proposal, oldest first."""
        return self._r.ledger.proposals()

    def committee(self) -> Committee:
        """The governance committee in force: members' weights and the threshold."""
        gov = self._r.ledger.governance
        return Committee(
            tuple(sorted(gov.members.items())),
            gov.threshold,
            gov.total_weight,
            gov.params.participation_min,
            gov.params.proposal_ttl_heights,
            gov.params.emergency_ttl_heights,
        )

    def param(self, name: str) -> int | None:
        """A governance parameter's value."""
        return self._r.ledger.param(name)

    def holds(self) -> Iterator[Hold]:
        """Every held transaction's hold, in the order they were held."""
        return iter(list(self._r.ledger.holds.by_tx.values()))

    def hold(self, tx_id: bytes) -> Hold | None:
        """A transaction's hold, if review held it."""
        return self._r.ledger.hold(tx_id)

    def redaction(self, tx_id: bytes) -> Redaction | None:
        """The redaction of a record, if governance redacted it."""
        return self._r.ledger.redaction(tx_id)

    @property
    def rules(self) -> ContentRules:
        """The content rules in force (read them; execution alone changes them)."""
        return self._r.ledger.rules

    # -- DAG (admitted, not final yet) --------------------------------------------
    @property
    def dag_height(self) -> int:
        """The DAG's height: what a new transaction's valid_until counts from."""
        return self._r.dag.height

    def dag_counts(self) -> DagCounts:
        """How much the DAG holds now."""
        dag = self._r.dag
        return DagCounts(dag.count(), len(dag.tips), dag.uncovered_count, dag.orphan_count())

    def pending_tx(self, tx_id: bytes) -> Transaction | None:
        """An admitted transaction held in the DAG."""
        return self._r.dag.get(tx_id)

    def waiting_tx(self, tx_id: bytes) -> Transaction | None:
        """A transaction waiting in the orphan pool for a parent."""
        return self._r.dag.orphan(tx_id)

    def waiting_for(self, tx_id: bytes) -> tuple[bytes, ...]:
        """The parents a waiting transaction still lacks."""
        return self._r.dag.orphan_missing(tx_id)

    def holds_tx(self, tx_id: bytes) -> bool:
        """True when the DAG or its orphan pool holds tx_id."""
        return self._r.dag.holds(tx_id)

    def has_vertex(self, tx_id: bytes) -> bool:
        """True when tx_id is a vertex of the DAG (admitted, final or not)."""
        return self._r.dag.has(tx_id)

    def is_final_id(self, tx_id: bytes) -> bool:
        """True when a decided checkpoint covers tx_id."""
        return self._r.dag.is_covered(tx_id)

    def vertex_ids_between(self, lo: bytes, hi: bytes) -> list[bytes]:
        """Ids of DAG vertices in lo..hi (inclusive), not yet all stored."""
        return [vid for vid in self._r.dag.vertices if lo <= vid <= hi]

    def recent_vertices(self, count: int) -> list[RecentVertex]:
        """The most recently admitted vertices memory holds, newest first, at most count.

        First the DAG's, in reverse admission order (it keeps that order); then
        the final ones of the executions kept in memory, newest height first and
        each height's order reversed: a node prunes final vertices from the DAG
        once covered, and its recent executions still hold them. The work is
        that of the vertices returned, whatever the DAG's size.
        """
        out: list[RecentVertex] = []
        if count <= 0:
            return out
        vertices = self._r.dag.vertices
        for vid in reversed(vertices):
            v = vertices[vid]
            out.append(_recent(v.tx, v.height))
            if len(out) >= count:
                return out
        shown = {r.id for r in out}
        for ex in reversed(self._r.executions):
            for tx in reversed(ex.txs):
                if tx.id not in shown:
                    out.append(_recent(tx, ex.checkpoint.height))
                    if len(out) >= count:
                        return out
        return out

    def client_tips(self, count: int) -> list[bytes]:
        """Parents a client's next transaction should name (at most count)."""
        return self._r.dag.client_tips(count)

    def pending_of(self, sender: bytes) -> int:
        """A sender's admitted transactions that are not final yet."""
        return self._r.dag.pending_of(sender)

    def latest_by_sender(self, sender: bytes) -> bytes | None:
        """The id of a sender's latest admitted transaction, if any."""
        return self._r.dag.latest_by_sender.get(sender)

    def pool_full(self) -> bool:
        """True while the DAG refuses clients' transactions (back-pressure)."""
        return self._r.dag.client_pool_full()

    def client_room(self) -> int:
        """About how many more client transactions the DAG takes before it refuses (0: none)."""
        dag = self._r.dag
        if dag.client_pool_full():
            return 0
        return max(0, dag.limits.client_pending_max - dag.uncovered_count)

    # -- consensus and limits ------------------------------------------------------
    @property
    def chain_id(self) -> str:
        """The chain's id (from its genesis)."""
        return self._r.ledger.genesis.chain_id

    @property
    def consensus_height(self) -> int:
        """The height consensus is deciding."""
        return self._r.consensus.height

    @property
    def round(self) -> int:
        """The consensus round at the height being decided."""
        return self._r.consensus.round

    @property
    def equivocations(self) -> int:
        """Equivocating messages consensus has seen."""
        return self._r.consensus.equivocations

    def catching_up(self) -> bool:
        """True while this replica is behind the network (it refuses clients)."""
        return self._r.catching_up()

    def budgets(self) -> dict[str, tuple[int, int]]:
        """(bytes used, byte budget) of every buffer the network feeds."""
        return self._r.budgets()

    def status_fields(self) -> dict[str, Any]:
        """What registered state namespaces add to the status (e.g. filing_number)."""
        return self._r.ledger.status_fields()

    @property
    def tx_bytes_max(self) -> int:
        """The largest transaction admission takes, encoded."""
        return self._r.config.dag.tx_bytes_max

    @property
    def payload_bytes_max(self) -> int:
        """The largest payload admission takes."""
        return self._r.config.dag.payload_bytes_max


def _recent(tx: Transaction, height: int | None) -> RecentVertex:
    body = tx.body
    return RecentVertex(tx.id, body.parents, body.sender, body.kind, height)
