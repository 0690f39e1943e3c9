"""A replica's limits and timings (ReplicaConfig): what the node and the simulator tune."""

from __future__ import annotations

from dataclasses import dataclass, field

from govchain.consensus.config import ConsensusConfig
from govchain.dag.limits import DagLimits
from govchain.replica.decided_log import DECIDED_KEPT
from govchain.replica.snapshot import SnapshotPolicy


@dataclass(frozen=True, slots=True)
class ReplicaConfig:
    """Limits and timings of the glue between the cores."""

    dag: DagLimits = field(default_factory=DagLimits)
    consensus: ConsensusConfig = field(default_factory=ConsensusConfig)
    # With nothing new to cover, wait this long after the previous checkpoint's
    # time before proposing an empty one (a heartbeat, not a flood); None: the
    # genesis's empty_checkpoint_interval_ms (which may say never). Keep it
    # below the consensus propose timeout (node_consensus_config). 0: at once.
    idle_checkpoint_ms: int | None = None
    # A missing vertex is asked of the peer that relayed what needs it (or of
    # every peer), then of every peer again after fetch_retry_ms, doubling up
    # to fetch_backoff_max_ms, for as long as an orphan or a checkpoint needs
    # it (orphans wait at most DagLimits.orphan_ttl_ms).
    fetch_retry_ms: int = 250
    fetch_backoff_max_ms: int = 2_000
    # Recent executions kept in memory (the store has all); None: every one (the
    # simulator, whose checkers look back over a whole run).
    executions_kept_max: int | None = 64
    # ... and at most this many of their transactions together (the latest one is
    # always kept): under load a checkpoint covers thousands.
    executions_txs_max: int = 20_000
    # A vertex this replica wanted for itself (a proposal's tip) that no orphan
    # and no decided checkpoint needs any more is given up after this long.
    fetch_give_up_ms: int = 20_000
    # Ids being fetched (books.Wanted), about 20,000 and 5,000 of them: parents
    # wanted for one peer's orphans stay within its share, and this replica's
    # own needs (checkpoint tips) take the place of peers' when all is spent.
    wanted_bytes_max: int = 8 * 1024 * 1024
    wanted_bytes_per_source_max: int = 2 * 1024 * 1024
    commits_per_reply_max: int = 16
    # Decided heights kept in memory when the replica has a decided_source (the
    # store): older ones are read from it (replica/decided_log.py).
    decided_kept: int = DECIDED_KEPT
    catchup_interval_ms: int = 300
    # Catch-up stamps (books.SentBook), about 4,000 and 32 of them: a peer asks
    # a few heights per interval while it catches up; stamps older than the
    # interval are forgotten, and beyond these no help is sent.
    catchup_bytes_max: int = 1024 * 1024
    catchup_bytes_per_source_max: int = 8 * 1024
    # A proposal names only tips of vertices this proposer admitted at least this
    # long ago: by then gossip has most likely brought them to the other
    # validators, who can vote at once instead of fetching parent after parent.
    proposal_tip_age_ms: int = 50
    # A client's transaction is answered 202 once validators with more than a
    # third of the weight hold it (replica/replication.py); counts older than
    # this are forgotten (the shell has answered not_replicated), and at most
    # this many are kept (clients feed them).
    replicate_wait_ms: int = 3_000
    replication_entries_max: int = 50_000
    # Behind: validators with more than a third of the weight named a height at
    # least this far past ours within the window, or decided checkpoints wait
    # for their cones. A replica that is behind refuses clients (catching_up).
    behind_heights_min: int = 2
    behind_window_ms: int = 3_000
    # When to write a snapshot (replica/snapshot.py); None: never, and a restart
    # replays the whole chain. Needs pruned final vertices (DagLimits.prune_covered).
    snapshots: SnapshotPolicy | None = None
