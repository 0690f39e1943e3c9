"""PeerNetwork: TCP between nodes, length-prefixed frames, a signed handshake.

The shell around `framing.FrameDecoder` and `handshake.Handshake`. It carries
opaque message bytes; what they mean is the replica's business.

- Dials every configured address, with capped exponential backoff, and keeps
  redialling after a disconnect.
- Slots. The ledger layer is open: anyone may connect with a fresh key, so
  strangers must not be able to crowd out the peers a node needs. `reserved`
  names those (a node's configured peers and validators): they are always
  registered. Everyone else shares `connections_max` registered connections;
  one more is closed after its handshake. At most `handshakes_max` connections
  are in the handshake at once: a new one takes the place of the oldest, so a
  flood of half-open connections churns instead of locking a peer out (an
  honest handshake takes one round trip). A stranger that stops reading is
  closed once a write has waited `write_stall_s`: it cannot hold its slot
  with a full window (a reserved peer keeps its connection through a
  partition, as before).
- Every connection runs the handshake within `handshake_timeout_s`, with a
  small frame limit (`HANDSHAKE_FRAME_BYTES_MAX`), then carries frames up to
  `frame_bytes_max` both ways.
- One connection per peer. When two exist (both sides dialled), each side keeps
  the one whose initiator has the lower node key, so both sides keep the same
  one; two from the same initiator (a restarted peer) keep the newer.
- Each peer has two bounded send queues, urgent and bulk, drained by its own
  writer task, urgent first: consensus messages overtake queued gossip. `send`
  never blocks and drops the message (counting it) when its queue is full.
- `on_message` may return an awaitable; the connection reads nothing more
  until it is done. That is how a busy receiver pushes back on a sender.
- Bad input closes that connection only and is counted in `stats`: a frame
  error, a failed handshake, or an exception raised by `on_message`.
- `ban(peer_id, reason)` closes a peer's connection and refuses its key, after
  the handshake, for `blame_ban_s` (at most `bans_max` keys are remembered).

Everything here runs on one event loop; call `send`, `broadcast` and `peers`
from that loop (on_message runs on it too).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from govchain.crypto.keys import SigningKey
from govchain.net.framing import FRAME_BYTES_MAX, FrameDecoder, FrameError, encode_frame
from govchain.net.handshake import (
    HANDSHAKE_FRAME_BYTES_MAX,
    NONCE_BYTES,
    Handshake,
    HandshakeError,
    Reason,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
Address = tuple[str, int]
OnMessage = Callable[[str, bytes], Awaitable[None] | None]
OnPeer = Callable[[str, bool], None]

STAT_KEYS = (
    "connections",  # handshakes completed (a peer registered), ever
    "disconnects",  # registered peers that went away
    "duplicates_closed",  # a second connection to a peer, closed by the tie rule
    "inbound_refused",  # strangers closed after the handshake: connections_max reached
    "handshakes_evicted",  # a connection in the handshake closed for a newer one
    "write_stalls",  # a stranger that read nothing for write_stall_s, closed
    "handshake_failures",  # refused, timed out or cut off before the handshake finished
    "dial_failures",  # a dial that found nobody listening, or timed out connecting
    "frame_errors",  # zero or oversized frame length
    "message_errors",  # on_message raised
    "read_timeouts",  # a peer silent for read_timeout_s
    "dropped_sends",  # send/broadcast found the peer's queue full
    "bans",  # ban() was called
    "banned_refused",  # a handshake from a banned key, closed
    "messages_in",
    "messages_out",
    "bytes_in",
    "bytes_out",
)
_WAIT_CLOSED_S = 1.0  # how long to wait for a closed socket to finish closing


@dataclass(frozen=True, slots=True)
class NetLimits:
    """Every limit of the peer network, units last."""

    frame_bytes_max: int = FRAME_BYTES_MAX  # one message's bytes, after the handshake
    send_queue_max: int = 1024  # frames waiting per peer and lane before send() drops
    send_queue_bytes_max: int = 8 * 1024 * 1024  # bytes waiting per peer and lane, likewise
    connections_max: int = 64  # registered connections of peers not reserved
    handshakes_max: int = 32  # connections in the handshake; a new one closes the oldest
    handshake_timeout_s: float = 5.0  # connect, then the whole handshake
    write_stall_s: float = 30.0  # a peer not reserved that reads nothing this long is closed
    dial_backoff_s_min: float = 0.05  # first redial delay, and after a lost connection
    dial_backoff_s_max: float = 5.0  # redial delay cap; doubles from min up to it
    read_timeout_s: float | None = None  # close a peer silent this long (None: never)
    read_chunk_bytes: int = 64 * 1024  # bytes asked of the socket per read
    blame_ban_s: float = 600.0  # a banned key is refused this long after ban()
    bans_max: int = 4096  # banned keys remembered; beyond it the oldest ban ends early

    def __post_init__(self) -> None:
        if not HANDSHAKE_FRAME_BYTES_MAX <= self.frame_bytes_max < 2**32:
            raise ValueError(f"frame_bytes_max must be within {HANDSHAKE_FRAME_BYTES_MAX}..2**32-1")
        if self.send_queue_bytes_max < self.frame_bytes_max:
            raise ValueError("send_queue_bytes_max must hold at least one largest frame")
        if min(self.send_queue_max, self.connections_max, self.read_chunk_bytes) < 1:
            raise ValueError("send_queue_max, connections_max and read_chunk_bytes must be >= 1")
        if self.handshakes_max < 1:
            raise ValueError("handshakes_max must be >= 1")
        if self.handshake_timeout_s <= 0 or self.write_stall_s <= 0:
            raise ValueError("handshake_timeout_s and write_stall_s must be positive")
        if not 0 < self.dial_backoff_s_min <= self.dial_backoff_s_max:
            raise ValueError("need 0 < dial_backoff_s_min <= dial_backoff_s_max")
        if self.read_timeout_s is not None and self.read_timeout_s <= 0:
            raise ValueError("read_timeout_s must be positive or None")
        if self.blame_ban_s < 0 or self.bans_max < 1:
            raise ValueError("blame_ban_s must not be negative and bans_max must be >= 1")


class _PeerClosedError(Exception):
    """The peer closed the connection (EOF)."""


class _Connection:
    """One TCP connection, from accept/dial to close."""

    __slots__ = (
        "bulk",
        "bulk_bytes",
        "closed",
        "decoder",
        "initiator",
        "label",
        "paused",
        "peer_id",
        "reader",
        "reserved",
        "urgent",
        "urgent_bytes",
        "wake",
        "writer",
        "writer_task",
    )

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        initiator: bool,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.initiator = initiator  # True when we dialled
        self.decoder = FrameDecoder(HANDSHAKE_FRAME_BYTES_MAX)
        self.peer_id: str | None = None  # set once the handshake succeeded
        self.reserved = False  # set at registration: a peer that always gets a slot
        self.paused = False  # True while reading waits for on_message's pushback
        self.urgent: deque[bytes] = deque()  # encoded frames, sent before any bulk frame
        self.urgent_bytes = 0
        self.bulk: deque[bytes] = deque()
        self.bulk_bytes = 0
        self.wake = asyncio.Event()  # set when a lane has something to write
        self.writer_task: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        peer = writer.get_extra_info("peername")
        self.label = f"{'out' if initiator else 'in'}:{peer[0]}:{peer[1]}" if peer else "?"


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How a connection ended, for the dial loop."""

    peer_id: str | None = None  # the peer's id if the handshake succeeded
    self_connection: bool = False


class PeerNetwork:
    """Authenticated connections to peers, carrying opaque message bytes.

    key: this node's key (its public key is its peer id everywhere).
    chain_id, genesis_hash: what every peer must present in its handshake.
    listen: (host, port) to accept on; port 0 picks a free one (`listen_address`).
    dial: addresses to keep connected to.
    on_message(peer_id, data): called on the event loop for each received
    message; if it raises, the exception is logged and that connection closed.
    on_peer(peer_id, up): optional, called when a peer registers (True) or goes (False).
    reserved(peer_id): True for a peer that always gets a connection (None: nobody).
    clock: monotonic seconds that bans are timed by; None: the event loop's clock
    (tests pass a fake one, or set `clock` before the first ban, to end a ban
    without waiting for it).
    """

    def __init__(
        self,
        key: SigningKey,
        chain_id: str,
        genesis_hash: bytes,
        listen: Address,
        dial: list[Address],
        on_message: OnMessage,
        limits: NetLimits | None = None,
        *,
        on_peer: OnPeer | None = None,
        clock: Callable[[], float] | None = None,
        reserved: Callable[[str], bool] | None = None,
    ) -> None:
        self.limits = limits if limits is not None else NetLimits()
        # Fail on bad configuration now, not on the first connection.
        Handshake(key, chain_id, genesis_hash, bytes(NONCE_BYTES), initiator=True)
        self._key = key
        self._chain_id = chain_id
        self._genesis_hash = genesis_hash
        self._listen = listen
        self._dial = list(dict.fromkeys(dial))
        self._on_message = on_message
        self._on_peer = on_peer
        self._reserved = reserved
        self.clock = clock
        self.node_id = key.public_key.hex()
        self.stats: dict[str, int] = dict.fromkeys(STAT_KEYS, 0)
        self.listen_address: Address | None = None  # the bound address, after start()
        self._server: asyncio.Server | None = None
        self._peers: dict[str, _Connection] = {}  # registered, one per peer id
        self._conns: set[_Connection] = set()  # every live connection
        # Connections still in their handshake, oldest first (the next to go).
        self._handshaking: dict[_Connection, None] = {}
        self._writers: set[asyncio.StreamWriter] = set()  # sockets not yet fully closed
        # One task per closed socket waiting for it to finish closing. Never
        # cancelled: cancelling a wait_closed() cancels the future all its
        # waiters share; each gives up after _WAIT_CLOSED_S instead.
        self._closers: dict[asyncio.StreamWriter, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # Banned key (hex) -> loop time its ban ends, earliest first.
        self._banned: dict[str, float] = {}
        # Addresses being dialled: connecting, in the handshake, or backing off
        # (not while a dial loop rests on a live connection, or has ended).
        self._dial_busy: set[Address] = set()
        self._started = False
        self._stopping = False

    # -- public API --------------------------------------------------------
    async def start(self) -> None:
        """Listen, and start dialling every configured address."""
        if self._started:
            raise RuntimeError("PeerNetwork.start() called twice")
        self._started = True
        host, port = self._listen
        self._server = await asyncio.start_server(self._accept, host, port)
        bound = self._server.sockets[0].getsockname()
        self.listen_address = (str(bound[0]), int(bound[1]))
        for addr in self._dial:
            self._spawn(self._dial_loop(addr), f"net-dial-{addr[0]}:{addr[1]}")
        log.info("p2p %s listening on %s:%d", self.node_id[:12], *self.listen_address)

    def send(self, peer_id: str, data: bytes, *, urgent: bool = False) -> bool:
        """Queue data for peer_id; False if not connected or its lane is full.

        urgent: ahead of every bulk frame not yet written.
        Raises FrameError if data is empty or above frame_bytes_max (a caller bug).
        """
        frame = encode_frame(data, self.limits.frame_bytes_max)
        conn = self._peers.get(peer_id)
        return conn is not None and self._enqueue(conn, frame, urgent)

    def broadcast(self, data: bytes, *, urgent: bool = False) -> int:
        """Queue data for every connected peer; returns how many queues took it."""
        frame = encode_frame(data, self.limits.frame_bytes_max)
        return sum(self._enqueue(conn, frame, urgent) for conn in list(self._peers.values()))

    def peers(self) -> list[str]:
        """Connected peers' ids (lowercase hex node keys), sorted."""
        return sorted(self._peers)

    def settled(self) -> bool:
        """True when nothing is under way: no dial, no handshake, no reading paused.

        Every dial loop rests on a live connection to its peer (its own or an
        inbound one) or has ended, and every connection is registered. Until a
        connection closes or a message arrives, nothing changes; tests wait for
        this instead of sleeping.
        """
        return not self._dial_busy and all(
            c.peer_id is not None and not c.paused for c in self._conns
        )

    def paused(self, peer_id: str) -> bool:
        """True while peer_id's connection reads nothing, waiting for on_message's pushback."""
        conn = self._peers.get(peer_id)
        return conn is not None and conn.paused

    def ban(self, peer_id: str, reason: str) -> None:
        """Close peer_id's connection and refuse its key for blame_ban_s."""
        now = self._now()
        self._forget_bans(now)
        self._banned.pop(peer_id, None)
        if len(self._banned) >= self.limits.bans_max:
            del self._banned[next(iter(self._banned))]  # the ban that ends first
        self._banned[peer_id] = now + self.limits.blame_ban_s
        self.stats["bans"] += 1
        conn = self._peers.get(peer_id)
        if conn is not None:
            self._close(conn, f"banned: {reason}")

    def banned(self, peer_id: str) -> bool:
        """True while peer_id's key is refused."""
        until = self._banned.get(peer_id)
        return until is not None and self._now() < until

    def _now(self) -> float:
        return self.clock() if self.clock is not None else asyncio.get_running_loop().time()

    def _forget_bans(self, now: float) -> None:
        """Drop the bans that have ended (they are kept in order of their end)."""
        while self._banned:
            peer_id, until = next(iter(self._banned.items()))
            if until > now:
                return
            del self._banned[peer_id]

    async def stop(self) -> None:
        """Stop listening and dialling, close every connection, end every task."""
        if self._stopping:
            return
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            self._close(conn, "stopping")
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in list(self._writers):
            self._close_writer(writer)
        while self._closers:
            await asyncio.gather(*self._closers.values(), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        log.info("p2p %s stopped", self.node_id[:12])

    # -- tasks and connections ----------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("p2p task %s failed", task.get_name(), exc_info=exc)

    def _close_writer(self, writer: asyncio.StreamWriter) -> None:
        """Close a socket and start waiting for it to finish closing (once)."""
        writer.close()
        if writer not in self._closers:
            task = asyncio.get_running_loop().create_task(self._finish(writer), name="net-close")
            self._closers[writer] = task

    async def _finish(self, writer: asyncio.StreamWriter) -> None:
        """Wait (briefly) until a closed socket is fully closed, then forget it."""
        try:
            async with asyncio.timeout(_WAIT_CLOSED_S):
                await writer.wait_closed()
        except (OSError, TimeoutError):
            pass
        except asyncio.CancelledError:
            # The shared close future was cancelled by another waiter; only
            # re-raise when this task itself is being cancelled.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        finally:
            self._writers.discard(writer)
            self._closers.pop(writer, None)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self._stopping:
            self._close_writer(writer)
            return
        conn = _Connection(reader, writer, initiator=False)
        self._conns.add(conn)
        self._spawn(self._run(conn), f"net-{conn.label}")

    def _is_reserved(self, peer_id: str) -> bool:
        return self._reserved is not None and self._reserved(peer_id)

    def _strangers(self) -> int:
        """Registered connections of peers not reserved."""
        return sum(not c.reserved for c in self._peers.values())

    async def _dial_loop(self, addr: Address) -> None:
        host, port = addr
        backoff_s = self.limits.dial_backoff_s_min
        known_peer: str | None = None  # who answered at addr last time
        while True:
            if known_peer is not None and (live := self._peers.get(known_peer)) is not None:
                self._dial_busy.discard(addr)
                await live.closed.wait()  # already connected (maybe inbound): wait
                continue
            self._dial_busy.add(addr)
            outcome = _Outcome()
            try:
                async with asyncio.timeout(self.limits.handshake_timeout_s):
                    reader, writer = await asyncio.open_connection(host, port)
            except (OSError, TimeoutError) as exc:
                self.stats["dial_failures"] += 1
                log.debug("p2p dial %s:%d failed: %r", host, port, exc)
            else:
                self._writers.add(writer)
                conn = _Connection(reader, writer, initiator=True)
                self._conns.add(conn)
                outcome = await self._run(conn, dialled=addr)
            self._dial_busy.add(addr)  # the attempt or the connection ended: a redial follows
            if outcome.self_connection:
                log.info("p2p %s:%d is this node; not dialling it again", host, port)
                self._dial_busy.discard(addr)
                return
            if outcome.peer_id is not None:
                known_peer = outcome.peer_id
                backoff_s = self.limits.dial_backoff_s_min
            await asyncio.sleep(backoff_s)
            if outcome.peer_id is None:
                backoff_s = min(2 * backoff_s, self.limits.dial_backoff_s_max)

    async def _run(self, conn: _Connection, dialled: Address | None = None) -> _Outcome:
        """Handshake, register, then read until the connection ends (dialled: our dial's target)."""
        try:
            try:
                peer_id = await self._handshake(conn)
            except HandshakeError as exc:
                self.stats["handshake_failures"] += 1
                log.info("p2p handshake with %s refused: %s", conn.label, exc)
                return _Outcome(self_connection=exc.reason is Reason.SELF)
            except FrameError as exc:
                self.stats["frame_errors"] += 1
                log.info("p2p %s sent a bad frame during the handshake: %s", conn.label, exc)
                return _Outcome()
            except (TimeoutError, OSError, _PeerClosedError) as exc:
                self.stats["handshake_failures"] += 1
                log.info("p2p handshake with %s failed: %r", conn.label, exc)
                return _Outcome()
            if self.banned(peer_id):
                self.stats["banned_refused"] += 1
                log.info("p2p %s is banned; closing %s", peer_id[:12], conn.label)
                return _Outcome()  # a dialler backs off as after a failure
            conn.reserved = self._is_reserved(peer_id)
            if (
                not conn.reserved
                and peer_id not in self._peers
                and self._strangers() >= self.limits.connections_max
            ):
                self.stats["inbound_refused"] += 1
                log.info("p2p refused %s (%s): connections_max strangers", peer_id[:12], conn.label)
                return _Outcome()
            if self._register(conn, peer_id):
                if dialled is not None:
                    self._dial_busy.discard(dialled)  # its dial loop now serves this connection
                await self._read_loop(conn)
            return _Outcome(peer_id=peer_id)
        finally:
            self._close(conn, "ended")

    async def _handshake(self, conn: _Connection) -> str:
        while len(self._handshaking) >= self.limits.handshakes_max:
            oldest = next(iter(self._handshaking))
            self.stats["handshakes_evicted"] += 1
            log.info("p2p %s was still in its handshake; closed for a newer one", oldest.label)
            self._close(oldest, "handshake evicted")
        self._handshaking[conn] = None
        try:
            return await self._shake(conn)
        finally:
            self._handshaking.pop(conn, None)

    async def _shake(self, conn: _Connection) -> str:
        hs = Handshake(
            self._key,
            self._chain_id,
            self._genesis_hash,
            os.urandom(NONCE_BYTES),
            initiator=conn.initiator,
        )
        async with asyncio.timeout(self.limits.handshake_timeout_s):
            self._write_raw(conn, encode_frame(hs.hello_bytes))
            proof = hs.receive_hello(await self._read_frame(conn))
            self._write_raw(conn, encode_frame(proof))
            peer_key = hs.receive_proof(await self._read_frame(conn))
        return peer_key.hex()

    def _write_raw(self, conn: _Connection, frame: bytes) -> None:
        conn.writer.write(frame)
        self.stats["bytes_out"] += len(frame)

    async def _read_chunk(self, conn: _Connection) -> bytes:
        timeout_s = self.limits.read_timeout_s
        async with asyncio.timeout(timeout_s):
            chunk = await conn.reader.read(self.limits.read_chunk_bytes)
        if not chunk:
            raise _PeerClosedError
        self.stats["bytes_in"] += len(chunk)
        return chunk

    async def _read_frame(self, conn: _Connection) -> bytes:
        while (frame := conn.decoder.next_frame()) is None:
            conn.decoder.push(await self._read_chunk(conn))
        return frame

    def _initiator_key(self, conn: _Connection) -> bytes:
        assert conn.peer_id is not None
        return self._key.public_key if conn.initiator else bytes.fromhex(conn.peer_id)

    def _register(self, conn: _Connection, peer_id: str) -> bool:
        """Make conn the peer's connection, or close it if the tie rule keeps the other."""
        conn.peer_id = peer_id
        existing = self._peers.get(peer_id)
        if existing is not None:
            old, new = self._initiator_key(existing), self._initiator_key(conn)
            keep_new = new < old or new == old  # same initiator: the old one is likely dead
            self.stats["duplicates_closed"] += 1
            if not keep_new:
                log.debug("p2p %s duplicates %s; closing it", conn.label, existing.label)
                return False
            log.debug("p2p %s replaces %s", conn.label, existing.label)
            self._close(existing, "replaced")
        self._peers[peer_id] = conn
        self.stats["connections"] += 1
        conn.decoder.frame_bytes_max = self.limits.frame_bytes_max
        conn.writer_task = self._spawn(self._write_loop(conn), f"net-write-{conn.label}")
        log.info("p2p %s connected to %s (%s)", self.node_id[:12], peer_id[:12], conn.label)
        self._notify(peer_id, up=True)
        return True

    def _notify(self, peer_id: str, *, up: bool) -> None:
        if self._on_peer is None:
            return
        try:
            self._on_peer(peer_id, up)
        except Exception:
            log.exception("p2p on_peer callback raised")

    def _close(self, conn: _Connection, why: str) -> None:
        if conn.closed.is_set():
            return
        conn.closed.set()
        self._conns.discard(conn)
        self._handshaking.pop(conn, None)
        if conn.peer_id is not None and self._peers.get(conn.peer_id) is conn:
            del self._peers[conn.peer_id]
            self.stats["disconnects"] += 1
            log.info(
                "p2p %s lost %s (%s: %s)", self.node_id[:12], conn.peer_id[:12], conn.label, why
            )
            self._notify(conn.peer_id, up=False)
        task = conn.writer_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        self._close_writer(conn.writer)

    # -- after the handshake ---------------------------------------------------
    async def _read_loop(self, conn: _Connection) -> None:
        peer_id = conn.peer_id
        assert peer_id is not None
        decoder = conn.decoder
        try:
            while not conn.closed.is_set():
                while (frame := decoder.next_frame()) is not None:
                    self.stats["messages_in"] += 1
                    try:
                        pushback = self._on_message(peer_id, frame)
                        if pushback is not None:
                            conn.paused = True
                            try:
                                await pushback
                            finally:
                                conn.paused = False
                    except Exception:
                        self.stats["message_errors"] += 1
                        log.exception("p2p message from %s refused; closing", peer_id[:12])
                        return
                    if conn.closed.is_set():
                        return
                decoder.push(await self._read_chunk(conn))
        except FrameError as exc:
            self.stats["frame_errors"] += 1
            log.info("p2p %s sent a bad frame: %s", peer_id[:12], exc)
        except TimeoutError:
            self.stats["read_timeouts"] += 1
            log.info("p2p %s silent for %ss; closing", peer_id[:12], self.limits.read_timeout_s)
        except (OSError, _PeerClosedError) as exc:
            log.debug("p2p %s closed: %r", peer_id[:12], exc)

    def _enqueue(self, conn: _Connection, frame: bytes, urgent: bool) -> bool:
        lane = conn.urgent if urgent else conn.bulk
        queued = conn.urgent_bytes if urgent else conn.bulk_bytes
        if (
            queued + len(frame) > self.limits.send_queue_bytes_max
            or len(lane) >= self.limits.send_queue_max
        ):
            self.stats["dropped_sends"] += 1
            return False
        lane.append(frame)
        if urgent:
            conn.urgent_bytes += len(frame)
        else:
            conn.bulk_bytes += len(frame)
        conn.wake.set()
        return True

    async def _write_loop(self, conn: _Connection) -> None:
        writer, chunk = conn.writer, self.limits.read_chunk_bytes
        try:
            while True:
                await conn.wake.wait()
                conn.wake.clear()
                count = size = 0
                # Urgent frames first; bulk frames only up to one chunk per drain,
                # so an urgent frame queued meanwhile waits for at most that much.
                while conn.urgent:
                    frame = conn.urgent.popleft()
                    conn.urgent_bytes -= len(frame)
                    writer.write(frame)
                    count, size = count + 1, size + len(frame)
                while conn.bulk and size < chunk:
                    frame = conn.bulk.popleft()
                    conn.bulk_bytes -= len(frame)
                    writer.write(frame)
                    count, size = count + 1, size + len(frame)
                if conn.bulk:
                    conn.wake.set()
                self.stats["messages_out"] += count
                self.stats["bytes_out"] += size
                if conn.reserved:
                    await writer.drain()
                    continue
                async with asyncio.timeout(self.limits.write_stall_s):
                    await writer.drain()
        except TimeoutError:  # before OSError, which it is a kind of
            self.stats["write_stalls"] += 1
            log.info("p2p %s read nothing for %ss; closing", conn.label, self.limits.write_stall_s)
        except OSError as exc:
            log.debug("p2p write to %s failed: %r", conn.label, exc)
        self._close(conn, "write failed")


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(main), on uvloop's event loop when uvloop is installed."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return asyncio.run(main)
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
