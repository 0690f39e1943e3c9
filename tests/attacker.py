"""An attacker peer for multi-process tests: a fresh random Ed25519 key that completes
the real peer handshake with one node, then sends what the test asks.

The wire is the project's own: `govchain.net.framing` frames and the
`govchain.net.handshake.Handshake` state machine, run as the initiator exactly as
`govchain.net.peers.PeerNetwork` runs it when it dials. Nothing here reimplements
the protocol; it only drives it from a client that owes the node nothing.

`Attacker` runs its loops on a private event loop in a background thread so that a
synchronous test can start a flood, restart nodes and poll their APIs meanwhile:

    with Attacker("127.0.0.1", port, chain_id, genesis_hash) as atk:
        flood = atk.flood([frame, ...])     # keeps a link up (fresh key each time)
        ...
        atk.stop_floods()
        replies = atk.request(encode(TxRequest((tx_id,))))
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import secrets
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from govchain.crypto.keys import SigningKey
from govchain.net.framing import FRAME_BYTES_MAX, FrameDecoder, FrameError, encode_frame
from govchain.net.handshake import (
    HANDSHAKE_FRAME_BYTES_MAX,
    NONCE_BYTES,
    Handshake,
    HandshakeError,
)

T = TypeVar("T")
HANDSHAKE_TIMEOUT_S = 5.0
REDIAL_S = 0.02  # between dials while the node is not up, or after it dropped us
READ_CHUNK_BYTES = 64 * 1024
# What a failed dial or a dropped link raises: the attacker just dials again.
LINK_ERRORS = (OSError, EOFError, TimeoutError, HandshakeError, FrameError)


def fresh_key() -> SigningKey:
    """A throwaway node key: costs the attacker nothing."""
    return SigningKey(secrets.token_bytes(32))


class PeerLink:
    """One authenticated connection to a node's peer port (use on one event loop)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        key: SigningKey,
        peer_key: bytes,
        decoder: FrameDecoder,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.key = key  # ours
        self.peer_key = peer_key  # the node's, proven by its handshake signature
        self._decoder = decoder

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        chain_id: str,
        genesis_hash: bytes,
        key: SigningKey | None = None,
        timeout_s: float = HANDSHAKE_TIMEOUT_S,
    ) -> PeerLink:
        """Dial and run the handshake as the initiator; raises one of LINK_ERRORS."""
        key = key if key is not None else fresh_key()
        decoder = FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX)
        hs = Handshake(key, chain_id, genesis_hash, os.urandom(NONCE_BYTES), initiator=True)
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
            link = cls(reader, writer, key, b"", decoder)
            try:
                writer.write(encode_frame(hs.hello_bytes))
                proof = hs.receive_hello(await link.recv_frame())
                writer.write(encode_frame(proof))
                link.peer_key = hs.receive_proof(await link.recv_frame())
            except BaseException:
                await link.close()
                raise
        decoder.frame_bytes_max = FRAME_BYTES_MAX  # as PeerNetwork does after the handshake
        return link

    async def recv_frame(self) -> bytes:
        """The next whole frame's payload; raises EOFError when the node closed."""
        while (frame := self._decoder.next_frame()) is None:
            chunk = await self.reader.read(READ_CHUNK_BYTES)
            if not chunk:
                raise EOFError("the node closed the connection")
            self._decoder.push(chunk)
        return bytes(frame)

    def send(self, payload: bytes) -> None:
        """Queue one message (framed)."""
        self.writer.write(encode_frame(payload))

    def send_raw(self, data: bytes) -> None:
        """Queue bytes as they are: no framing (garbage, or a bad length prefix)."""
        self.writer.write(data)

    async def drain(self) -> None:
        """Wait until the node has read enough of what we queued (its back-pressure)."""
        await self.writer.drain()

    async def close(self) -> None:
        """Close the socket and wait (briefly) until it is closed."""
        self.writer.close()
        with contextlib.suppress(*LINK_ERRORS):
            async with asyncio.timeout(1.0):
                await self.writer.wait_closed()
        # A node that stopped reading leaves our buffer unflushed, and close()
        # waits for it: drop the connection instead, and let it report lost.
        self.writer.transport.abort()
        await asyncio.sleep(0)


@dataclass
class LoopStats:
    """What one attack loop did; read from the test's thread (ints only, no locking)."""

    handshakes: int = 0  # links established (one fresh key each)
    failed_dials: int = 0  # refused, timed out or failed the handshake
    dropped: int = 0  # links the node closed under us
    frames_sent: int = 0
    frames_received: int = 0
    first_sent_at: float | None = None  # time.monotonic() of the first frame sent
    received: list[bytes] = field(default_factory=list)  # kept only when asked


class Attacker:
    """Attack loops against one node's peer port, on a private event loop thread."""

    def __init__(self, host: str, port: int, chain_id: str, genesis_hash: bytes) -> None:
        self.host = host
        self.port = port
        self.chain_id = chain_id
        self.genesis_hash = genesis_hash
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="attacker")
        self._floods: list[concurrent.futures.Future[None]] = []
        self._stop_floods: asyncio.Event | None = None

    # -- the thread ------------------------------------------------------------
    def __enter__(self) -> Attacker:
        self._thread.start()
        self._stop_floods = self._call(self._make_event())
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every loop, close every socket, end the thread."""
        if not self._thread.is_alive():
            return
        self.stop_floods()
        with contextlib.suppress(Exception):
            self._call(self._cancel_all(), 15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @staticmethod
    async def _cancel_all() -> None:
        """Cancel whatever still runs on the attacker's loop and wait until it has ended."""
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _make_event() -> asyncio.Event:
        return asyncio.Event()

    def _call(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    def _start(self, coro: Coroutine[Any, Any, None]) -> None:
        self._floods.append(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def stop_floods(self) -> None:
        """Stop every flood started so far and wait until each has closed its link."""
        event = self._stop_floods
        if event is not None:
            self._loop.call_soon_threadsafe(event.set)
        for fut in self._floods:
            with contextlib.suppress(Exception):
                fut.result(15)
        for fut in self._floods:  # one stuck on a node that stopped reading
            if not fut.done():
                fut.cancel()
                with contextlib.suppress(BaseException):
                    fut.result(5)
        self._floods.clear()
        if event is not None:
            self._stop_floods = self._call(self._make_event())

    # -- attacks -----------------------------------------------------------------
    def flood(self, frames: Sequence[bytes], keep_received: bool = False) -> LoopStats:
        """Keep a link to the node (a fresh key for each, redialling at once while the
        node is down or after it drops us) and send `frames` over and over, as fast as
        the node reads them. What the node sends back is read (and kept if asked)."""
        stats = LoopStats()
        assert self._stop_floods is not None, "use Attacker as a context manager"
        self._start(self._flood(list(frames), stats, self._stop_floods, keep_received))
        return stats

    def junk(self, bad_messages: Sequence[bytes], garbage_every: int = 4) -> LoopStats:
        """Authenticated junk: every round sends bad_messages (well-framed messages, e.g.
        transactions with bad signatures), then every garbage_every-th round one frame
        of random bytes (which costs the link: the node closes it, and we redial with a
        fresh key), plus a raw socket that sends random bytes without a handshake."""
        stats = LoopStats()
        assert self._stop_floods is not None, "use Attacker as a context manager"
        self._start(self._junk(list(bad_messages), garbage_every, stats, self._stop_floods))
        return stats

    def request(
        self,
        message: bytes,
        wait_s: float = 10.0,
        until: Callable[[list[bytes]], bool] | None = None,
    ) -> list[bytes]:
        """Open a fresh link, send one message, and return the frames the node sends
        back: all of them within wait_s, or those up to the one after which until(frames)
        holds (the node may send other messages too: filter by type)."""
        coro = self._request(message, wait_s, until)
        return self._call(coro, wait_s + 2 * HANDSHAKE_TIMEOUT_S)

    # -- the loops (on the attacker's event loop) ---------------------------------
    async def _dial(self, stats: LoopStats, stop: asyncio.Event) -> PeerLink | None:
        while not stop.is_set():
            try:
                link = await PeerLink.open(self.host, self.port, self.chain_id, self.genesis_hash)
            except LINK_ERRORS:
                stats.failed_dials += 1
                await _sleep_unless(stop, REDIAL_S)
                continue
            stats.handshakes += 1
            return link
        return None

    async def _reader(self, link: PeerLink, stats: LoopStats, keep: bool) -> None:
        with contextlib.suppress(*LINK_ERRORS):
            while True:
                frame = await link.recv_frame()
                stats.frames_received += 1
                if keep:
                    stats.received.append(frame)

    async def _linked(
        self,
        stats: LoopStats,
        stop: asyncio.Event,
        keep: bool,
        send: Callable[[PeerLink], Coroutine[Any, Any, None]],
    ) -> None:
        """Dial, run `send` once per round while the link lives, redial when dropped."""
        while (link := await self._dial(stats, stop)) is not None:
            reader = asyncio.create_task(self._reader(link, stats, keep))
            try:
                while not stop.is_set() and not reader.done():
                    await send(link)
                    if stats.first_sent_at is None:
                        stats.first_sent_at = time.monotonic()
                if not stop.is_set():
                    stats.dropped += 1  # the node closed the link (the reader ended)
            except LINK_ERRORS:
                stats.dropped += 1
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
                await link.close()
            await _sleep_unless(stop, REDIAL_S)

    async def _flood(
        self, frames: list[bytes], stats: LoopStats, stop: asyncio.Event, keep: bool
    ) -> None:
        async def send(link: PeerLink) -> None:
            for frame in frames:
                link.send(frame)
            await link.drain()
            stats.frames_sent += len(frames)

        await self._linked(stats, stop, keep, send)

    async def _junk(
        self, bad: list[bytes], garbage_every: int, stats: LoopStats, stop: asyncio.Event
    ) -> None:
        rounds = 0

        async def send(link: PeerLink) -> None:
            nonlocal rounds
            rounds += 1
            for message in bad:
                link.send(message)
            stats.frames_sent += len(bad)
            if rounds % garbage_every == 0:
                link.send(os.urandom(300))  # not a message: the node drops the link
                stats.frames_sent += 1
            await link.drain()
            await self._raw_garbage()
            await _sleep_unless(stop, 0.05)

        await self._linked(stats, stop, False, send)

    async def _raw_garbage(self) -> None:
        """Random bytes on a fresh socket, no handshake (the node must just drop it)."""
        with contextlib.suppress(*LINK_ERRORS):
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
                _, writer = await asyncio.open_connection(self.host, self.port)
                try:
                    writer.write(os.urandom(2048))
                    await writer.drain()
                finally:
                    writer.close()
                    with contextlib.suppress(*LINK_ERRORS):
                        await writer.wait_closed()

    async def _request(
        self, message: bytes, wait_s: float, until: Callable[[list[bytes]], bool] | None
    ) -> list[bytes]:
        link = await PeerLink.open(self.host, self.port, self.chain_id, self.genesis_hash)
        got: list[bytes] = []
        try:
            link.send(message)
            await link.drain()
            deadline = asyncio.get_running_loop().time() + wait_s
            with contextlib.suppress(*LINK_ERRORS):
                async with asyncio.timeout_at(deadline):
                    while until is None or not until(got):
                        got.append(await link.recv_frame())
        finally:
            await link.close()
        return got


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
