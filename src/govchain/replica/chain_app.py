"""What consensus asks of the chain: validator sets, a checkpoint to propose, a verdict.

ChainApp is the Tendermint app (consensus.tendermint.ConsensusApp): pure reads
of the DAG and the ledger, so consensus never calls back into the replica and
nothing it asks changes state. What a verdict finds missing goes out as
Verdict.MISSING (Tendermint's Ready.wanted): the replica fetches it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from govchain.consensus.messages import Checkpoint
from govchain.consensus.tendermint import Verdict
from govchain.consensus.validators import ValidatorSet
from govchain.dag.graph import Dag
from govchain.dag.limits import DagLimits
from govchain.state.genesis import Genesis
from govchain.state.ledger import Ledger


class ChainApp:
    """Consensus's read-only window on one replica's DAG and ledger."""

    def __init__(
        self,
        genesis: Genesis,
        dag: Dag,
        ledger: Ledger,
        *,
        limits: DagLimits,
        time_drift_ms_max: int,
        proposal_tip_age_ms: int,
        idle_checkpoint_ms: int | None,
        purges_waiting: Callable[[], bool],
    ) -> None:
        self.genesis = genesis
        self.dag = dag
        self.ledger = ledger
        self.limits = limits
        self.time_drift_ms_max = time_drift_ms_max
        self.proposal_tip_age_ms = proposal_tip_age_ms
        self.idle_checkpoint_ms = idle_checkpoint_ms  # None: never an empty one
        # True while payloads wait for the next checkpoint to certify their purge.
        self.purges_waiting = purges_waiting

    def validator_set(self, height: int) -> ValidatorSet | None:
        """The set certifying height, once execution knows it."""
        return self.ledger.validator_set(height)

    def propose(self, height: int, previous: Checkpoint | None, now_ms: int) -> Checkpoint | None:
        """Our tips as a new checkpoint, once the previous height is executed."""
        ledger = self.ledger
        if ledger.height != height - 1:
            return None
        valset = ledger.validator_set(height)
        assert valset is not None, "an executed height knows the next validator set"
        genesis = self.genesis
        prev_time = previous.time_ms if previous else genesis.time_ms
        spacing = max(1, genesis.checkpoint_interval_ms)
        if now_ms < prev_time + spacing:
            return None  # the chain's pace: not before the interval has passed
        tips = self.dag.uncovered_tips(now_ms - self.proposal_tip_age_ms)
        # Payloads to delete wait for the next checkpoint: do not make them wait
        # for the idle heartbeat as well.
        idle = self.idle_checkpoint_ms
        if not tips and (idle is None or now_ms - prev_time < idle) and not self.purges_waiting():
            return None
        return Checkpoint(
            chain_id=genesis.chain_id,
            height=height,
            previous=previous.hash if previous else genesis.hash,
            time_ms=max(now_ms, prev_time + spacing),
            tips=tuple(tips),
            state_hash=ledger.state_hash,
            receipts_root=ledger.receipts_root,
            audit_head=ledger.audit_head,
            validator_set_hash=valset.hash,
        )

    def check(self, cp: Checkpoint, previous: Checkpoint | None, now_ms: int) -> Verdict:
        """Valid when it extends our chain, matches our execution, and we hold its tips."""
        ledger = self.ledger
        if ledger.height != cp.height - 1:
            return Verdict.PENDING
        genesis = self.genesis
        prev_time = previous.time_ms if previous else genesis.time_ms
        valset = ledger.validator_set(cp.height)
        tips = cp.tips
        if (
            cp.previous != (previous.hash if previous else genesis.hash)
            or not prev_time + max(1, genesis.checkpoint_interval_ms)
            <= cp.time_ms
            <= now_ms + self.time_drift_ms_max
            or len(tips) > self.limits.tips_per_checkpoint_max
            or any(a >= b for a, b in itertools.pairwise(tips))
            or cp.state_hash != ledger.state_hash
            or cp.receipts_root != ledger.receipts_root
            or cp.audit_head != ledger.audit_head
            or valset is None
            or cp.validator_set_hash != valset.hash
        ):
            return Verdict.INVALID
        if self.dag.missing(tips):
            return Verdict.MISSING
        return Verdict.VALID
