"""Catch-up: decided checkpoints sent to a peer that is behind, and asked of peers ahead.

A peer whose consensus message names a past height gets the decided
checkpoints from that height on, with their certificates (at most
commits_per_reply_max per reply); a message naming a future height makes
this replica ask that peer for its own next height. Both are stamped in a
books.SentBook, so each peer is helped (or asked) at most once per interval
and within a byte budget and a per-peer share.

A replica cannot take commits far ahead of what it has executed (a
certificate is checked against the validator set of its height, which
execution settles two heights before). So it also asks as soon as it has
executed everything decided and a validator is known to be ahead
(`ask_ahead`), instead of waiting for that validator's next consensus
message: on an idle chain those come once a heartbeat, and catch-up went at
a few heights a second.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from govchain.consensus.messages import Certificate, Checkpoint
from govchain.consensus.tendermint import Relation
from govchain.replica.books import SentBook
from govchain.replica.messages import CommitMsg, CommitRequest, Message


class CatchUp:
    """Help peers that are behind; ask peers that are ahead (through send)."""

    def __init__(
        self,
        decided: Callable[[], Sequence[tuple[Checkpoint, Certificate]]],
        send: Callable[[str, Message], None],
        *,
        interval_ms: int,
        bytes_max: int,
        bytes_per_source_max: int,
        commits_per_reply_max: int,
    ) -> None:
        self._decided = decided
        self._send = send
        self.commits_per_reply_max = commits_per_reply_max
        self.sent = SentBook(interval_ms, bytes_max, bytes_per_source_max)

    def help(self, peer: str, rel: Relation, height: int, our_height: int, now_ms: int) -> None:
        """A consensus message of peer named height; our_height is the one we decide now."""
        if rel is Relation.PAST:
            self.send_commits(peer, height, now_ms)
        elif (
            rel is Relation.FUTURE
            and height > our_height
            # Our own request, stamped under the negated height: apart from our answers.
            and self.sent.allow(peer, -our_height, now_ms)
        ):
            self._send(peer, CommitRequest(our_height))

    def ask_ahead(self, peer: str, our_height: int, now_ms: int) -> None:
        """Ask peer, known to be ahead, for the commits from our_height (once per height)."""
        if self.sent.allow(peer, -our_height, now_ms):
            self._send(peer, CommitRequest(our_height))

    def send_commits(self, peer: str, height: int, now_ms: int) -> None:
        """The decided checkpoints from height on, to peer (unless helped within the interval)."""
        decided = self._decided()
        if not 1 <= height <= len(decided):
            return
        if not self.sent.allow(peer, height, now_ms):
            return  # helped within the interval, or the peer (or everyone) asks too much
        last = min(len(decided), height - 1 + self.commits_per_reply_max)
        for h in range(height, last + 1):
            cp, cert = decided[h - 1]
            self._send(peer, CommitMsg(cp, cert))
