"""Clients' transactions waiting until enough validators hold them: what a 202 promises.

A node answers a client's submission only once validators with more than a
third of the voting weight (f+1: at least one of them honest) hold the
transaction durably, the answering node itself included when it is a
validator. Then the transaction becomes final even if the answering node dies
at once and never returns, as long as the network keeps its quorum: an honest
holder proposes it, or serves it to a proposer that names it, as Narwhal's
workers acknowledge a batch only once f+1 others store it.

Holders say so with an `AckMsg`, which their shell sends only after the commit
that stored what it names. This book counts them. It is bounded in entries
(clients feed it) and forgets an entry after `wait_ms`: the shell has answered
`not_replicated` by then, and a resubmission starts a new count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from govchain.consensus.validators import ValidatorSet


class SubmitState(StrEnum):
    """Where a client's transaction stands once the replica took it."""

    ADMITTED = "pending"  # in the DAG; the shell answers 202 once it is replicated
    WAITING = "pending_parent"  # stored, waiting in the orphan pool for parents
    FINAL = "final"  # a checkpoint covers it already (a resubmission)


@dataclass(frozen=True, slots=True)
class Submitted:
    """A client's transaction taken by the replica (refusals are AdmissionErrors)."""

    tx_id: bytes
    state: SubmitState
    missing: tuple[bytes, ...] = ()  # WAITING: the parents not here yet


@dataclass(slots=True)
class _Count:
    since_ms: int
    holders: set[bytes]  # public keys of validators that hold it


class Replication:
    """Ids of clients' transactions and the validators known to hold each."""

    def __init__(self, entries_max: int, wait_ms: int) -> None:
        if entries_max < 1 or wait_ms < 1:
            raise ValueError("entries_max and wait_ms must be positive")
        self.entries_max = entries_max
        self.wait_ms = wait_ms
        self._counts: dict[bytes, _Count] = {}  # in tracking order: the oldest first

    def __len__(self) -> int:
        return len(self._counts)

    def __contains__(self, tx_id: bytes) -> bool:
        return tx_id in self._counts

    def track(
        self, tx_id: bytes, now_ms: int, own_key: bytes | None, valset: ValidatorSet | None
    ) -> bool:
        """Start (or restart) counting holders of tx_id; True: own_key alone suffices.

        own_key: this node's key when it holds tx_id (the shell answers only
        after the commit that stores it). Beyond entries_max the oldest count
        goes: its client has waited longest and is answered not_replicated, as
        after wait_ms.
        """
        self._counts.pop(tx_id, None)
        holders = {own_key} if own_key is not None else set()
        if _enough(valset, holders):
            return True
        while len(self._counts) >= self.entries_max:
            del self._counts[next(iter(self._counts))]
        self._counts[tx_id] = _Count(now_ms, holders)
        return False

    def on_ack(
        self, holder: bytes, ids: Iterable[bytes], valset: ValidatorSet | None
    ) -> list[bytes]:
        """holder (a public key) stores ids durably; returns those now held by enough weight.

        Keys outside valset count for nothing, so an observer's or a stranger's
        acknowledgement is worthless.
        """
        if valset is None or not valset.weight_of(holder):
            return []
        done: list[bytes] = []
        for i in ids:
            count = self._counts.get(i)
            if count is None:
                continue
            count.holders.add(holder)
            if _enough(valset, count.holders):
                del self._counts[i]
                done.append(i)
        return done

    def expire(self, now_ms: int) -> int:
        """Forget counts older than wait_ms (the oldest come first); returns how many went."""
        gone = 0
        while self._counts:
            i, count = next(iter(self._counts.items()))
            if now_ms - count.since_ms < self.wait_ms:
                break
            del self._counts[i]
            gone += 1
        return gone


def _enough(valset: ValidatorSet | None, holders: set[bytes]) -> bool:
    """More than a third of valset's weight: at least one honest holder."""
    return valset is not None and sum(valset.weight_of(k) for k in holders) >= valset.skip
