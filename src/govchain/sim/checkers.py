"""Invariant checkers that watch replicas from outside, after every step."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import msgspec

from govchain.codec import encode
from govchain.consensus.messages import Certificate, Checkpoint, Proposal, Vote, certificate_error
from govchain.consensus.validators import ValidatorSet
from govchain.dag.tx import WIRE_DECODER, tx_id
from govchain.replica.execution import Execution
from govchain.replica.messages import Message, RedactedTxMsg, TxMsg
from govchain.replica.outputs import Persisted
from govchain.replica.snapshot import Snapshot
from govchain.replica.view import ChainView
from govchain.state.ledger import Ledger
from govchain.state.ledger_image import read_image, stale_parts
from govchain.state.receipts import Receipt, Status
from govchain.state.sync_point import LiveIds, live_digest, sealed_by_digest
from govchain.storage.base import Store

_REJECTED = Status.REJECTED.value


def _outcome(r: Receipt) -> str:
    """A receipt's status, reason and place, as a violation's detail shows it."""
    why = f" ({r.reason})" if r.reason else ""
    return f"{r.status}{why} at index {r.index}"


@dataclass(frozen=True, slots=True)
class Accepted:
    """A client's transaction that an honest replica answered 202 (its promise)."""

    tx_id: bytes
    node: str
    at_ms: int
    valid_until: int  # the last height at which it may execute


# How many lost ids a violation's detail names (the rest are counted).
LOST_SHOWN_MAX = 5


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken invariant: which, at which step, and what was seen."""

    invariant: str
    step: int
    detail: str


class Checkers:
    """Cross-node invariants over honest nodes' decisions, executions and signatures."""

    def __init__(self, supply: int, validators: Iterable[str] = (), sync_every: int = 0) -> None:
        self.supply = supply
        self.sync_every = sync_every
        # The live final ids of the chain, from the executions alone (no DAG):
        # what each sync height's state hash must have sealed (on_snapshot).
        self._live = LiveIds()
        self._live_upto = 0
        self._live_at: dict[int, bytes] = {}  # sync height -> live_digest
        # Names of validator nodes (honest or not): who may receive a payload a
        # node still holds for catch-up (see _pending).
        self.validators = frozenset(validators)
        self.step = 0
        self.violations: list[Violation] = []
        self._decided: dict[int, bytes] = {}
        self._certs_ok: set[tuple[int, bytes, bytes]] = set()
        self._state: dict[int, bytes] = {}
        self._audit: dict[int, bytes] = {}
        self._receipts: dict[bytes, bytes] = {}
        self._executed_by: dict[str, set[bytes]] = {}
        self._signed: dict[tuple[bytes, int, int, int], bytes] = {}
        # (height, round) -> {(value, valid_round)} of every proposal anyone sent.
        self._proposed: dict[tuple[int, int], set[tuple[bytes, int]]] = {}
        # (voter, height) -> (round, value) of its latest non-nil precommit: its lock.
        self._locks: dict[tuple[bytes, int], tuple[int, bytes]] = {}
        # Height at which each transaction became final (the same on every honest node).
        self._final_at: dict[bytes, int] = {}
        # node -> {id: "rejected" | "redacted"}: what that node has executed as
        # final-and-hidden, so must neither serve nor keep the payload of. Per
        # node, because a node that has not executed the height yet cannot know.
        # Keyed by name, so it outlives a crash: the store holds those executions.
        self._hidden: dict[str, dict[bytes, str]] = {}
        # node -> height -> [(id, why)] executed as hidden but not yet certified
        # there: a node deletes those payloads once it has decided height + 1,
        # whose roots prove the receipts (and audit head) to a peer catching up.
        self._awaiting: dict[str, dict[int, list[tuple[bytes, str]]]] = {}
        # The same ids by node, while they wait: until then the payload may go to
        # a validator that asks for it, never to anyone else.
        self._pending: dict[str, dict[bytes, str]] = {}
        # The first 202 of each client's transaction, in the order they were given.
        self._accepted: dict[bytes, Accepted] = {}

    def on_snapshot(self, node: str, snap: Snapshot, ledger: Ledger) -> None:
        """A snapshot holds what a fresh walk images; at a sync height, one a joiner accepts.

        The image reuses the parts cached since the last one: each must be what
        a walk of the ledger gives now (when the ledger is still at the
        snapshot's height). The live ids are the checker's own, from the
        executions (a joiner gets them from the peer, and the certified hash
        decides).
        """
        if ledger.height == snap.height:
            stale = stale_parts(ledger, snap.ledger)
            if stale:
                self.fail(
                    "image_cache",
                    f"{node}'s image at height {snap.height} holds stale parts {stale}:"
                    " a node restored from it, or one that walked afresh, would differ",
                )
        live = self._live_at.get(snap.height)
        if live is None:
            return  # not a sync height
        inner = read_image(snap.ledger).state_hash
        if sealed_by_digest(inner, snap.ledger, live) != snap.state_hash:
            self.fail(
                "sync_seal",
                f"{node}'s snapshot at sync height {snap.height} does not give its state hash"
                " from its image and the chain's live ids: a joiner would refuse it",
            )

    def fail(self, invariant: str, detail: str) -> None:
        """Record a violation at the current step."""
        self.violations.append(Violation(invariant, self.step, detail))

    def on_decided(
        self, node: str, cp: Checkpoint, cert: Certificate, valset: ValidatorSet | None
    ) -> None:
        """Agreement, and a certificate that really finalizes the checkpoint."""
        h = cp.height
        have = self._decided.setdefault(h, cp.hash)
        if have != cp.hash:
            self.fail("agreement", f"{node} decided another checkpoint at height {h}")
        key = (h, cp.hash, encode(cert))
        if key in self._certs_ok:
            return
        if valset is None:
            self.fail("certificate", f"{node} decided height {h} without a known validator set")
            return
        err = certificate_error(cert, cp, valset)
        if err is not None:
            self.fail("certificate", f"{node} at height {h}: {err}")
        else:
            self._certs_ok.add(key)

    def on_executed(self, node: str, ex: Execution, supply_now: int) -> None:
        """Same state hash and audit head, same receipts, nothing twice, supply conserved.

        supply_now counts escrow: held transfers' amounts stay part of the supply.
        The ids this height finalized as rejected, and those it redacted, wait
        for on_certified.
        """
        h = ex.checkpoint.height
        if h == self._live_upto + 1:  # the first execution of h: every height in order
            self._live.add(h, ex.txs)
            self._live_upto = h
            if self.sync_every and h % self.sync_every == 0:
                self._live_at[h] = live_digest(self._live.after(h))
        have = self._state.setdefault(h, ex.result.state_hash)
        if have != ex.result.state_hash:
            self.fail("state_hash", f"{node} has another state hash at height {h}")
        head = self._audit.setdefault(h, ex.result.audit_head)
        if head != ex.result.audit_head:
            self.fail("audit_head", f"{node} has another audit head at height {h}")
        seen = self._executed_by.setdefault(node, set())
        for r in ex.result.receipts:
            enc = encode(r)
            prior = self._receipts.setdefault(r.tx_id, enc)
            if prior != enc:
                was = msgspec.msgpack.decode(prior, type=Receipt)
                self.fail(
                    "receipt",
                    f"{node} has another receipt for {r.tx_id.hex()[:16]}: "
                    f"{_outcome(r)} where another has {_outcome(was)}",
                )
            if r.tx_id in seen:
                self.fail("exactly_once", f"{node} finalized {r.tx_id.hex()[:16]} twice")
            seen.add(r.tx_id)
        if supply_now != self.supply:
            self.fail("conservation", f"{node} holds {supply_now}, genesis minted {self.supply}")
        waiting: list[tuple[bytes, str]] = []
        for r in ex.result.receipts:
            self._final_at.setdefault(r.tx_id, r.height)
            if r.status == _REJECTED:
                waiting.append((r.tx_id, "rejected"))
        waiting.extend((vid, "redacted") for vid in ex.result.redacted)
        if waiting:
            self._awaiting.setdefault(node, {})[h] = waiting
            self._pending.setdefault(node, {}).update(waiting)

    def on_certified(self, node: str, decided_count: int) -> list[bytes]:
        """The ids whose payloads the node must no longer keep or serve, now that it has
        decided decided_count heights: those of every executed height below that."""
        awaiting = self._awaiting.get(node)
        if not awaiting:
            return []
        hidden = self._hidden.setdefault(node, {})
        pending = self._pending.setdefault(node, {})
        new: list[bytes] = []
        for h in sorted(h for h in awaiting if h < decided_count):
            for vid, why in awaiting.pop(h):
                hidden[vid] = why
                pending.pop(vid, None)
                new.append(vid)
        return new

    # -- what is kept and served (DESIGN: "What is kept, what is served") -----
    def on_served(self, node: str, dsts: Sequence[str], msg: Message) -> None:
        """An honest node never sends the payload of what it executed as rejected or
        redacted; before the next checkpoint, only to validators (dsts: the recipients)."""
        hidden = self._hidden.get(node, {})
        pending = self._pending.get(node, {})
        if not hidden and not pending:
            return
        if isinstance(msg, TxMsg):
            wires = msg.wires
        elif isinstance(msg, RedactedTxMsg):
            wires = (msg.wire,)
        else:
            return
        for wire in wires:
            w = WIRE_DECODER.decode(wire)  # honest wires: the sim checks they decode
            if not w.payload:
                continue
            vid = tx_id(w.body, w.signature)
            why = hidden.get(vid)
            if why is not None:
                self.fail(
                    "served",
                    f"{node} sent {dsts[0]} the payload of {vid.hex()[:16]}, final as {why}",
                )
                continue
            why = pending.get(vid)
            outsider = next((d for d in dsts if d not in self.validators), None)
            if why is not None and outsider is not None:
                self.fail(
                    "served",
                    f"{node} sent non-validator {outsider} the payload of {vid.hex()[:16]}, "
                    f"final as {why}, before the next checkpoint",
                )

    def check_kept(self, node: str, view: ChainView, store: Store, ids: Iterable[bytes]) -> None:
        """After the commit that made ids final-and-hidden, no payload of theirs is left
        in the replica's memory (DAG, recent executions) or in its store."""
        hidden = self._hidden.get(node, {})
        for vid in ids:
            places = self._payload_places(view, store, vid)
            if places:
                self.fail(
                    "kept",
                    f"{node} keeps the payload of {vid.hex()[:16]}, final as "
                    f"{hidden.get(vid, '?')}, in {' and '.join(places)}",
                )

    def sweep_kept(self, node: str, view: ChainView | None, store: Store) -> None:
        """Everything the node ever executed as hidden, against all it holds (end of run)."""
        hidden = self._hidden.get(node)
        if not hidden:
            return
        if view is not None:
            self.check_kept(node, view, store, hidden)
        self.check_loaded(node, store.load())

    def check_loaded(self, node: str, persisted: Persisted) -> None:
        """What a node reads back from its store holds no payload it must not keep."""
        hidden = self._hidden.get(node)
        if not hidden:
            return
        txs = [tx for ex in persisted.executed for tx in ex.txs] + persisted.vertices
        for tx in txs:
            why = hidden.get(tx.id)
            if why is not None and tx.payload:
                self.fail(
                    "kept",
                    f"{node} keeps the payload of {tx.id.hex()[:16]}, final as {why}, "
                    "in what it loads from its store",
                )

    def _payload_places(self, view: ChainView, store: Store, vid: bytes) -> list[str]:
        places: list[str] = []
        tx = view.pending_tx(vid)
        if tx is not None and tx.payload:
            places.append("its DAG")
        h = self._final_at.get(vid)
        # Executions are kept in ascending height: look back from the newest.
        for ex in reversed(view.recent_executions()):
            if h is None or ex.checkpoint.height < h:
                break
            if ex.checkpoint.height == h:
                if any(t.id == vid and t.payload for t in ex.txs):
                    places.append("its executions")
                break
        stored = store.get_tx(vid)
        if stored is not None and stored.tx.payload:
            places.append("its store")
        return places

    # -- buffers and standing ----------------------------------------------------
    def on_budgets(self, node: str, budgets: Mapping[str, tuple[int, int]]) -> None:
        """Every buffer the network feeds stays within its byte budget."""
        for name, (used, budget) in budgets.items():
            if used > budget:
                self.fail("budget", f"{node}'s {name} holds {used} bytes, over its {budget}")

    def on_blamed(self, node: str, peer: str, reason: str, peer_honest: bool) -> None:
        """An honest node never blames an honest peer (it would cut itself off from it)."""
        if peer_honest:
            self.fail("blame", f"honest {node} blamed honest {peer}: {reason}")

    def on_signed(self, node: str, msg: Proposal | Vote) -> None:
        """An honest validator never signs two different messages for one slot."""
        if isinstance(msg, Proposal):
            slot = (msg.proposer, msg.height, msg.round, 0)
            value = msg.checkpoint.hash
        else:
            slot = (msg.voter, msg.height, msg.round, msg.kind)
            value = msg.value
        have = self._signed.setdefault(slot, value)
        if have != value:
            self.fail("no_equivocation", f"honest {node} signed twice at {slot[1:]}")
        if isinstance(msg, Vote) and msg.value:
            self._check_lock(node, msg)

    def on_proposal_sent(self, p: Proposal) -> None:
        """Remember every proposal on the wire, honest or not, to judge prevotes by."""
        self._proposed.setdefault((p.height, p.round), set()).add(
            (p.checkpoint.hash, p.valid_round)
        )

    def _check_lock(self, node: str, v: Vote) -> None:
        """Locks hold: after precommitting value x in round r, an honest validator
        prevotes another value only for a proposal whose valid round is >= r (L22, L28)."""
        key = (v.voter, v.height)
        lock = self._locks.get(key)
        if v.kind == 2:
            if lock is None or v.round > lock[0]:
                self._locks[key] = (v.round, v.value)
            return
        if lock is None or v.round <= lock[0] or v.value == lock[1]:
            return
        justified = any(
            value == v.value and vr >= lock[0]
            for value, vr in self._proposed.get((v.height, v.round), ())
        )
        if not justified:
            self.fail(
                "lock",
                f"honest {node} locked in round {lock[0]} prevoted another value "
                f"in round {v.round} of height {v.height} without a newer polka",
            )

    # -- a 202 is a promise (issue 10) ----------------------------------------------
    def on_accepted(self, node: str, tx_id: bytes, at_ms: int, valid_until: int) -> None:
        """An honest replica answered 202 for tx_id (ReplicaReady.replicated, once persisted)."""
        self._accepted.setdefault(tx_id, Accepted(tx_id, node, at_ms, valid_until))

    def on_promised(self, node: str, tx_id: bytes, held: int, total: int) -> None:
        """At node's 202 for tx_id, validators storing it must weigh more than a third."""
        if 3 * held <= total:
            self.fail(
                "promise",
                f"{node} answered 202 for {tx_id.hex()[:16]} while validators storing it "
                f"weigh {held} of {total}",
            )

    def accepted(self, before_ms: int) -> list[Accepted]:
        """Every first 202 given before before_ms, oldest first."""
        return [a for a in self._accepted.values() if a.at_ms < before_ms]

    def unsettled(self, before_ms: int) -> list[Accepted]:
        """202s given before before_ms whose transaction is neither final on an honest
        node nor expired: its valid_until lies above the highest height an honest node
        executed, so a checkpoint could still finalize it."""
        top = self.executed_height()
        return [
            a
            for a in self.accepted(before_ms)
            if a.tx_id not in self._final_at and a.valid_until > top
        ]

    def check_accepted(self, before_ms: int, why: str) -> None:
        """Every 202 given before before_ms is final or expired; why: the bound that passed."""
        lost = self.unsettled(before_ms)
        if not lost:
            return
        shown = ", ".join(
            f"{a.tx_id.hex()[:16]} (202 from {a.node} at {a.at_ms} ms, valid until {a.valid_until})"
            for a in lost[:LOST_SHOWN_MAX]
        )
        more = f" and {len(lost) - LOST_SHOWN_MAX} more" if len(lost) > LOST_SHOWN_MAX else ""
        self.fail(
            "accepted-final",
            f"{len(lost)} transaction(s) answered 202 before the heal are not final at "
            f"height {self.executed_height()} ({why}): {shown}{more}",
        )

    def executed_height(self) -> int:
        """Highest height any honest node executed."""
        return max(self._state, default=0)

    def decided_heights(self) -> int:
        """Highest height any honest node decided."""
        return max(self._decided, default=0)
