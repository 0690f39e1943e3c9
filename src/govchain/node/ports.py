"""The shell's clock and transport in a running node: asyncio timers, wall time, TCP peers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from govchain.codec import encode
from govchain.net.framing import FrameError
from govchain.net.peers import PeerNetwork
from govchain.replica.messages import Message, RedactedTxMsg, TxMsg, TxRequest
from govchain.shell.ports import Timer

log = logging.getLogger("govchain.node")

# Bulk messages take the slow lane: votes, proposals and acknowledgements never
# queue behind a backlog of gossip.
BULK_MESSAGES = (TxMsg, TxRequest, RedactedTxMsg)


def now_ms() -> int:
    """Wall-clock milliseconds: checkpoint times are wall time."""
    return time.time_ns() // 1_000_000


class AsyncioClock:
    """Wall time for the replica, the running loop's monotonic timers for the shell.

    A callback that raises stops the node through on_error: a store that
    refuses a commit must not leave a node running on in a state it never saved.
    """

    def __init__(self, on_error: Callable[[BaseException], None]) -> None:
        self._on_error = on_error

    def now_ms(self) -> int:
        """Wall-clock milliseconds."""
        return now_ms()

    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> Timer:
        """Run callback on the running loop after delay_ms."""

        def run() -> None:
            try:
                callback()
            except Exception as exc:  # reported, and the node stops
                self._on_error(exc)

        return asyncio.get_running_loop().call_later(delay_ms / 1000, run)


class PeerTransport:
    """Encodes the shell's messages once each and hands them to the peer network."""

    def __init__(self, net: PeerNetwork, on_refuse: Callable[[str, str], None]) -> None:
        self.net = net
        self._on_refuse = on_refuse

    def send(self, sends: Sequence[tuple[str | None, Message]]) -> None:
        """Send each message, encoding a message shared by several peers once."""
        cache: dict[int, bytes] = {}
        for dst, msg in sends:
            data = cache.get(id(msg))
            if data is None:
                data = cache[id(msg)] = encode(msg)
            urgent = not isinstance(msg, BULK_MESSAGES)
            try:
                if dst is None:
                    self.net.broadcast(data, urgent=urgent)
                else:
                    self.net.send(dst, data, urgent=urgent)
            except FrameError:
                log.error("dropped a %d-byte %s: above the frame limit", len(data), type(msg))

    def refuse(self, peer: str, reason: str) -> None:
        """Ban the peer's key and drop what it queued (the node's blame)."""
        self._on_refuse(peer, reason)
