"""Invariant checkers that watch replicas from outside, after every step."""

from __future__ import annotations

from dataclasses import dataclass

from govchain.codec import encode
from govchain.consensus.messages import Certificate, Checkpoint, Proposal, Vote, certificate_error
from govchain.consensus.validators import ValidatorSet
from govchain.replica.replica import Execution


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken invariant: which, at which step, and what was seen."""

    invariant: str
    step: int
    detail: str


class Checkers:
    """Cross-node invariants over honest nodes' decisions, executions and signatures."""

    def __init__(self, supply: int) -> None:
        self.supply = supply
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
        """
        h = ex.checkpoint.height
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
                self.fail("receipt", f"{node} has another receipt for {r.tx_id.hex()[:16]}")
            if r.tx_id in seen:
                self.fail("exactly_once", f"{node} finalized {r.tx_id.hex()[:16]} twice")
            seen.add(r.tx_id)
        if supply_now != self.supply:
            self.fail("conservation", f"{node} holds {supply_now}, genesis minted {self.supply}")

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

    def decided_heights(self) -> int:
        """Highest height any honest node decided."""
        return max(self._decided, default=0)
