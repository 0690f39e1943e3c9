"""Signature checks in worker processes, driven from the node's event loop.

The node hands a pool wires (a gossip slice, a client's batch); the pool
splits them into chunks, writes each to the worker with the least queued
work (node/verify_worker.py) and returns one future holding the ids whose
signatures verified. The loop never waits on a worker: pipes are written
through asyncio transports and answers arrive as callbacks, with no helper
thread that would compete for the GIL. Before it admits the transactions,
the node hands those ids to the replica (Replica.pre_verified), and the
DAG skips their signature check once.

Whatever goes wrong here only costs speed: a pool with too much queued
work (QUEUED_TXS_MAX) says so (submit returns None) and the node checks
inline; a worker that dies answers its pending chunks with no ids, and the
others carry on (or the node checks everything inline).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from govchain.dag.limits import DagLimits
from govchain.node.verify_worker import FRAME_BYTES_MAX, FRAME_HEADER

log = logging.getLogger("govchain.node.verify")

VERIFY_WORKERS_MAX = 32
# At ~45 µs of event-loop time and ~58 µs of checking a transaction
# (docs/verification.md), two workers already outpace one event loop; four
# leave room for bursts (a client's batch is spread over them), and an idle
# worker costs only its memory (about 20 MB).
DEFAULT_VERIFY_WORKERS_MAX = 4
# A chunk is one request to one worker: small enough that a client's batch is
# spread over the workers, large enough that a pipe round trip (~30 µs,
# measured) is paid once per many verifies (~55 µs each).
CHUNK_TXS_MAX = 64
CHUNK_BYTES_MAX = 1024 * 1024
# Wires above the largest transaction are refused as too_large wherever they
# are admitted: checking their signatures would be wasted.
WIRE_BYTES_MAX = DagLimits().tx_bytes_max
# Transactions written to workers and not yet answered, all workers together
# (about 0.1 s of work for two workers): beyond it the node checks inline, so
# neither memory nor latency grows with a flood.
QUEUED_TXS_MAX = 4_096
# A closing pool waits this long for its workers to exit at the end of their input.
CLOSE_WAIT_S = 2.0
CLOSE_POLL_S = 0.01

_IDS_DECODER = msgspec.msgpack.Decoder(list[bytes])
_WIRES_ENCODER = msgspec.msgpack.Encoder()

assert CHUNK_BYTES_MAX + WIRE_BYTES_MAX + 64 < FRAME_BYTES_MAX, "a chunk must fit a frame"


def default_verify_workers(cpus: int | None = None, nodes: int = 1) -> int:
    """Workers a node uses when its config names none: its share of the cores but one.

    nodes: how many nodes share this machine (a devnet's). One core of each
    share runs the node's event loop, the rest verify, at most
    DEFAULT_VERIFY_WORKERS_MAX. A share of one core gains nothing from a
    worker: the worker would take the loop's own core, and add a pipe round
    trip per chunk on top.
    """
    count = (os.cpu_count() or 1) if cpus is None else cpus
    return max(0, min(DEFAULT_VERIFY_WORKERS_MAX, count // max(1, nodes) - 1))


class _Worker(asyncio.Protocol):
    """One worker process: its pipes, and the chunks it was sent that await an answer."""

    def __init__(
        self, index: int, proc: subprocess.Popen[bytes], on_lost: Callable[[], None]
    ) -> None:
        self.index = index
        self.proc = proc
        self.on_lost = on_lost
        self.stdin: asyncio.WriteTransport | None = None
        self.alive = True
        self.queued_txs = 0
        self._waiting: deque[tuple[asyncio.Future[list[bytes]], int]] = deque()
        self._buffer = bytearray()

    def send(self, wires: Sequence[bytes], fut: asyncio.Future[list[bytes]]) -> None:
        """Write one chunk; fut gets the ids that verified."""
        assert self.stdin is not None
        frame = _WIRES_ENCODER.encode(list(wires))
        self.stdin.write(FRAME_HEADER.pack(len(frame)) + frame)
        self._waiting.append((fut, len(wires)))
        self.queued_txs += len(wires)

    def data_received(self, data: bytes) -> None:
        """Answers from the worker, each completing the oldest chunk sent."""
        buf = self._buffer
        buf += data
        head = FRAME_HEADER.size
        start = 0
        while len(buf) - start >= head:
            (size,) = FRAME_HEADER.unpack_from(buf, start)
            if len(buf) - start - head < size:
                break
            ids = _IDS_DECODER.decode(memoryview(buf)[start + head : start + head + size])
            start += head + size
            if not self._waiting:
                raise RuntimeError(f"verify worker {self.index} answered a chunk never sent")
            fut, count = self._waiting.popleft()
            self.queued_txs -= count
            if not fut.done():
                fut.set_result(ids)
        del buf[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        """The worker's output closed: it exited; what it owed is checked inline."""
        if self.alive:
            self.alive = False
            log.error(
                "verify worker %d (pid %d) stopped; its share is checked inline",
                self.index,
                self.proc.pid,
            )
            self.on_lost()
        self.fail_waiting()

    def fail_waiting(self) -> None:
        """Answer every pending chunk with no ids (so the node checks them inline)."""
        while self._waiting:
            fut, _ = self._waiting.popleft()
            if not fut.done():
                fut.set_result([])
        self.queued_txs = 0


def _worker_env() -> dict[str, str]:
    """The node's environment, with the directory this govchain is imported from first."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class VerifyPool:
    """Worker processes that check signatures; every method runs on the event loop."""

    def __init__(self, workers: int, on_lost: Callable[[], None] | None = None) -> None:
        """workers: processes to start; on_lost: called when one of them stops."""
        if not 1 <= workers <= VERIFY_WORKERS_MAX:
            raise ValueError(f"a verify pool has 1..{VERIFY_WORKERS_MAX} workers")
        self.size = workers
        self.on_lost = on_lost
        self._workers: list[_Worker] = []
        self.closing = False

    async def start(self) -> None:
        """Start the worker processes and connect their pipes."""
        loop = asyncio.get_running_loop()
        env = _worker_env()
        for i in range(self.size):
            proc = subprocess.Popen(  # our own interpreter and module
                [sys.executable, "-m", "govchain.node.verify_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            worker = _Worker(i, proc, self._lost)
            assert proc.stdin is not None and proc.stdout is not None
            await loop.connect_read_pipe(_factory(worker), proc.stdout)
            stdin, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, proc.stdin)
            worker.stdin = stdin
            self._workers.append(worker)
        log.info("verifying signatures in %d worker process(es)", self.size)

    def _lost(self) -> None:
        if self.on_lost is not None and not self.closing:
            self.on_lost()

    @property
    def queued_txs(self) -> int:
        """Transactions sent to workers and not yet answered."""
        return sum(w.queued_txs for w in self._workers)

    def alive(self) -> int:
        """Workers still running."""
        return sum(w.alive for w in self._workers)

    def submit(self, wires: Sequence[bytes]) -> asyncio.Future[list[bytes]] | None:
        """A future of the ids among wires whose signatures verify; None: check them inline.

        None when no worker runs or QUEUED_TXS_MAX transactions wait already.
        """
        live = [w for w in self._workers if w.alive]
        if not live or self.queued_txs + len(wires) > QUEUED_TXS_MAX:
            return None
        loop = asyncio.get_running_loop()
        chunks = _chunks([w for w in wires if len(w) <= WIRE_BYTES_MAX], len(live))
        if not chunks:
            done: asyncio.Future[list[bytes]] = loop.create_future()
            done.set_result([])
            return done
        futs: list[asyncio.Future[list[bytes]]] = []
        for chunk in chunks:
            fut: asyncio.Future[list[bytes]] = loop.create_future()
            min(live, key=lambda w: w.queued_txs).send(chunk, fut)
            futs.append(fut)
        if len(futs) == 1:
            return futs[0]
        return _joined(futs, loop)

    async def close(self) -> None:
        """End the workers' input, wait for them to exit (killing laggards), fail what waits."""
        self.closing = True
        for w in self._workers:
            w.alive = False  # an exit asked for, not a loss
            if w.stdin is not None:
                w.stdin.close()
        deadline = asyncio.get_running_loop().time() + CLOSE_WAIT_S
        for w in self._workers:
            while w.proc.poll() is None and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(CLOSE_POLL_S)
            if w.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    w.proc.kill()
                await asyncio.sleep(CLOSE_POLL_S)
                w.proc.poll()
            w.fail_waiting()
        self._workers.clear()


def _factory(worker: _Worker) -> Callable[[], _Worker]:
    """A protocol factory that hands out this one worker."""
    return lambda: worker


def _chunks(wires: Sequence[bytes], workers: int) -> list[Sequence[bytes]]:
    """wires split into about one chunk per worker, each within the chunk limits."""
    if not wires:
        return []
    per = min(CHUNK_TXS_MAX, -(-len(wires) // workers))
    out: list[Sequence[bytes]] = []
    start = 0
    while start < len(wires):
        end, size = start, 0
        while end < len(wires) and end - start < per and size + len(wires[end]) <= CHUNK_BYTES_MAX:
            size += len(wires[end])
            end += 1
        end = max(end, start + 1)  # a wire of more than CHUNK_BYTES_MAX goes alone
        out.append(wires[start:end])
        start = end
    return out


def _joined(
    futs: list[asyncio.Future[list[bytes]]], loop: asyncio.AbstractEventLoop
) -> asyncio.Future[list[bytes]]:
    """One future of every chunk's ids, in order, once all are answered."""
    joined: asyncio.Future[list[bytes]] = loop.create_future()
    left = [len(futs)]

    def one_done(_: asyncio.Future[list[bytes]]) -> None:
        left[0] -= 1
        if left[0] == 0 and not joined.done():
            joined.set_result([vid for f in futs for vid in f.result()])

    for f in futs:
        f.add_done_callback(one_done)
    return joined
