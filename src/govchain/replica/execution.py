"""One executed checkpoint, as the replica keeps it and the store persists it."""

from __future__ import annotations

from dataclasses import dataclass

from govchain.consensus.messages import Checkpoint
from govchain.dag.tx import Transaction
from govchain.state.ledger import Executed


@dataclass(frozen=True, slots=True)
class Execution:
    """One executed checkpoint: the order it finalized and what came of it."""

    checkpoint: Checkpoint
    txs: tuple[Transaction, ...]
    result: Executed
