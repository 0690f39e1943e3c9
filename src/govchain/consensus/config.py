"""Timeouts, limits and the negative-control switches of the consensus core."""

from __future__ import annotations

from dataclasses import dataclass, field

# Bugs that only the simulator's negative controls switch on, to show that its
# checkers can fail. Never set in a node.
PLANTABLE = frozenset(
    {
        "skip-lock",
        "double-count",
        "persist-after-send",
        "unordered-exec",
        # The replica takes any receipt-proven vertex without its payload, as
        # before issue 9: a forged "redacted" copy of a transfer splits state.
        "accept-forged-redaction",
        # The replica reports a client's transaction replicated (the node's 202)
        # as soon as it admits it, before any other validator holds it.
        "ack-before-replicate",
        # The shell (shell/shell.py) lets a new hard state wait for its deferred
        # commit while the vote it signed leaves: a crash then forgets the vote.
        "defer-hard-state",
        # The shell acknowledges vertices, and answers their clients, before the
        # deferred commit that stores them: a 202 then promises what no disk holds.
        "ack-before-sync",
        # At a sync height the replica seals its state hash without the live
        # final ids (state/sync_point.py), as if it had lost its DAG's memory.
        "seal-without-live",
        # The ledger keeps every part's cached image across heights that change
        # it (state/ledger_image.py): images, snapshots and sync heights go stale.
        "image-cache-stale",
        # The ledger reads an emptied parameter, rule or permission set ([] from
        # writes()) as unchanged and keeps its cached image part (the bug the
        # kill soak found when the last parameter was cleared).
        "image-cache-emptied",
    }
)


@dataclass(frozen=True, slots=True)
class ConsensusConfig:
    """Round timeouts grow linearly with the round so that rounds eventually overlap."""

    propose_delay_ms: int = 100  # pause after a decision so checkpoints gather vertices
    propose_timeout_ms: int = 1_500  # above the replica's idle checkpoint interval (1 s)
    prevote_timeout_ms: int = 500
    precommit_timeout_ms: int = 500
    timeout_delta_ms: int = 250
    rebroadcast_ms: int = 800
    time_drift_ms_max: int = 5_000
    # Messages for the next height (or for this one before its validator set is
    # known) wait in a queue: validators' signed messages only, at most this
    # many, these bytes (about what they hold in memory: tendermint.future_cost_bytes)
    # and, per signer, this share of the bytes, so one Byzantine validator
    # signing message after message cannot push out the others.
    future_messages_max: int = 256
    future_bytes_max: int = 1024 * 1024
    future_bytes_per_sender_max: int = 64 * 1024
    rounds_ahead_max: int = 64
    plants: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if min(self.propose_timeout_ms, self.prevote_timeout_ms, self.precommit_timeout_ms) < 1:
            raise ValueError("timeouts must be positive")
        if self.propose_delay_ms >= self.propose_timeout_ms:
            raise ValueError("propose_delay_ms must be below propose_timeout_ms")
        if not 0 < self.future_bytes_per_sender_max <= self.future_bytes_max:
            raise ValueError("need 0 < future_bytes_per_sender_max <= future_bytes_max")
        if not self.plants <= PLANTABLE:
            raise ValueError(f"unknown planted bug(s): {sorted(self.plants - PLANTABLE)}")

    def timeout_ms(self, base_ms: int, round_: int) -> int:
        """Timeout of a step in a round."""
        return base_ms + round_ * self.timeout_delta_ms
