"""What a replica hands its shell (ReplicaReady), gets back after a restart (Persisted),
and raises when a store's history does not replay (ReplayDivergedError)."""

from __future__ import annotations

from dataclasses import dataclass, field

from govchain.consensus.messages import Certificate, Checkpoint
from govchain.consensus.tendermint import HardState
from govchain.dag.tx import Transaction
from govchain.replica.execution import Execution
from govchain.replica.messages import AckMsg, Message
from govchain.replica.snapshot import Snapshot


@dataclass(slots=True)
class Persisted:
    """What a replica needs back after a restart (the shell's store holds it)."""

    hard_state: HardState | None = None
    decided: list[tuple[Checkpoint, Certificate]] = field(default_factory=list)
    executed: list[Execution] = field(default_factory=list)
    vertices: list[Transaction] = field(default_factory=list)
    # Clients' transactions stored while they waited for a parent (ReplicaReady.waiting).
    waiting: list[Transaction] = field(default_factory=list)
    # The newest snapshot; `executed` then holds only the heights after it.
    snapshot: Snapshot | None = None


@dataclass(slots=True)
class ReplicaReady:
    """Outputs: persist everything but `sends` atomically, then send.

    admitted vertices are persisted too: a validator that prevoted for a cone
    must still hold it after a crash, or a locked value could become unavailable.
    """

    hard_state: HardState | None = None
    decided: list[tuple[Checkpoint, Certificate]] = field(default_factory=list)
    executed: list[Execution] = field(default_factory=list)
    admitted: list[Transaction] = field(default_factory=list)
    sends: list[tuple[str | None, Message]] = field(default_factory=list)
    # Peers that sent what an honest peer never sends (a forged copy, an
    # unprovable withheld payload): the shell drops them and refuses them a while.
    blamed: list[tuple[str, str]] = field(default_factory=list)
    # Final vertices whose payload must leave the store in this commit: final as
    # rejected, or redacted, at a height whose receipts (and audit head) the
    # checkpoint just decided certifies, so peers catching up can prove them.
    purged: list[bytes] = field(default_factory=list)
    # Clients' transactions answered "pending_parent": stored while they wait in
    # the orphan pool, so that a crash does not lose them; `unwaited` are those
    # that left it (admitted, expired or evicted), whose rows go.
    waiting: list[Transaction] = field(default_factory=list)
    unwaited: list[bytes] = field(default_factory=list)
    # Durability outputs: the shell sends these acknowledgements, and answers the
    # clients of these ids, only once everything admitted up to now is committed
    # (a node may let admitted vertices wait a little for a shared fsync).
    acks: list[tuple[str, AckMsg]] = field(default_factory=list)
    # Clients' transactions now held by validators with more than a third of the
    # weight (replica/replication.py): the shell answers their 202 "pending".
    replicated: list[bytes] = field(default_factory=list)
    # A snapshot after one of `executed` (the store keeps the newest ones).
    snapshot: Snapshot | None = None

    def must_persist(self) -> bool:
        """True when something must reach storage before anything is sent."""
        return (
            self.hard_state is not None
            or bool(self.decided)
            or bool(self.executed)
            or bool(self.admitted)
            or bool(self.purged)
            or bool(self.waiting)
            or bool(self.unwaited)
        )


class ReplayDivergedError(ValueError):
    """Re-executing a stored height gave another state hash or audit head than the store holds.

    The store was written by a release whose execution or ledger image differs
    (the image is part of the state hash at sync heights), or it was altered.
    """

    def __init__(self, height: int) -> None:
        super().__init__(
            f"re-executing height {height} gives another state than this store recorded: it "
            "was written by a govchain whose execution or ledger image differs"
        )
        self.height = height
