"""The soak's load: paced, nonce-chaining senders that hold each node to its 202.

Each sender sends its next transaction only once the previous one was
promised (`202 pending`): the new one names it as its parent. Both are known
locally, so the next one is built and signed ahead (soak_build.SenderChain).
Every TICK_S the transactions due (the paced slots, taken by senders that
are ready, plus retries whose pause is over, plus any transaction handed to
submit()) are each given a random node and go to it in one
`POST /v1/txs/batch` per node: a batch answers one document per transaction,
so every transaction gets its own promise or refusal (soak_answers.py). A
refusal that asks for a retry (503's codes, `pending_parent`, a dropped
connection) sends the same bytes again, to another node, after the
Retry-After the node gave or a growing back-off. Transactions are never
resubmitted once promised: a promise that is not kept must show up as a
loss, not be papered over by the client.

FinalityWatch follows every node's event stream (reconnecting after kills) and
keeps the time each id was first seen final anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import websockets

from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.kinds import Kind
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction
from govchain.node.soak_answers import Verdict, batch_item_verdict, error_verdict
from govchain.node.soak_build import SenderChain
from govchain.node.soak_http import NodeConnection, Reply, TransportError
from govchain.state.payloads import RecordPayload, TransferPayload

BACKOFF_FIRST_S = 0.05
BACKOFF_MAX_S = 1.0
RETRY_AFTER_MAX_S = 5.0  # a node's Retry-After is honoured up to this
RECONNECT_S = 0.5  # an event stream that dropped (its node was killed) is dialled again
EVENTS_OPEN_TIMEOUT_S = 2.0
TRANSFER_AMOUNT = 1
TICK_S = 0.05  # what became due is sent every tick, one batch per node
BATCH_TXS_MAX = 1_000  # the API's bound on one batch (api/app.py)
IDLE_CONNECTIONS_MAX = 32  # kept open per node between batches
RECORD_MEDIA_TYPE = "text/plain; charset=utf-8"
RECORD_FILLER = "the quick brown fox jumps over the lazy dog; " * 3  # ASCII, ~100 bytes a record
BATCH_ENCODER = msgspec.msgpack.Encoder()
# A sender's next transaction also names another sender's transaction promised
# this long ago (gossiped to every node by then) and not longer: a DAG tip to
# merge, as a wallet names its node's tips (soak_build.py says why).
MERGE_AGE_S = (0.5, 5.0)
MERGE_KEPT_MAX = 4_096


@dataclass(frozen=True, slots=True)
class Promise:
    """A transaction a node answered with a promise (or as already final)."""

    sender: int  # a load sender's index; governance keys are negative
    nonce: int
    node: str  # the node that gave the promise
    first_sent_s: float  # clock time of the first submission of these bytes
    promised_s: float
    kind: str = Kind.TRANSFER.value


@dataclass(slots=True)
class Tally:
    """How the nodes answered, beyond the promises (counts are per transaction)."""

    submitted: int = 0  # distinct transactions sent at least once
    resubmissions: int = 0  # sends of bytes already sent once
    pending_parent: int = 0
    duplicate: int = 0  # 409 duplicate: the node holds the bytes (taken as a promise)
    already_final: int = 0  # 200 executed|rejected|held
    connection_errors: int = 0  # requests refused, reset or timed out
    abandoned: int = 0  # still unpromised when the load's grace ran out
    batches: int = 0  # requests sent
    refused_503: Counter[str] = field(default_factory=Counter)  # by error code
    # Other answers, by "status code": those sent again (a 5xx, back-pressure
    # under another status) and those taken as final (a bad transaction).
    retried_other: Counter[str] = field(default_factory=Counter)
    refused_for_good: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)  # distinct transactions sent, by kind

    def to_json(self) -> dict[str, Any]:
        """The report's "refused" section."""
        return {
            "503": dict(sorted(self.refused_503.items())),
            "retried_other": dict(sorted(self.retried_other.items())),
            "refused_for_good": dict(sorted(self.refused_for_good.items())),
            "pending_parent": self.pending_parent,
            "duplicate": self.duplicate,
            "already_final": self.already_final,
            "connection_errors": self.connection_errors,
            "resubmissions": self.resubmissions,
            "abandoned": self.abandoned,
            "batches": self.batches,
        }


class Pacer:
    """Hands out send slots at a fixed rate; a slot nobody took is not made up for later."""

    def __init__(self, rate_per_s: float, clock: Callable[[], float]) -> None:
        self.interval_s = 1.0 / rate_per_s
        self.rate_per_s = rate_per_s
        self.clock = clock
        self.next_s: float | None = None
        self.start_s: float | None = None
        self.given = 0  # slots handed out (or let pass) by take()

    async def wait(self) -> None:
        """Until this caller's slot."""
        now = self.clock()
        at = now if self.next_s is None else max(self.next_s, now)
        self.next_s = at + self.interval_s
        if at > now:
            await asyncio.sleep(at - now)

    def take(self, ready: int) -> int:
        """Slots due by now, at most `ready` of them; the rest pass unused."""
        now = self.clock()
        if self.start_s is None:
            self.start_s = now
        due = math.floor((now - self.start_s) * self.rate_per_s) + 1 - self.given
        self.given += max(0, due)
        return max(0, min(due, ready))


class _Rc(msgspec.Struct):
    tx_id: str


class _Event(msgspec.Struct):
    """What the watch reads of an event: the rest is skipped unparsed."""

    type: str = ""
    height: int = 0
    receipts: list[_Rc] = msgspec.field(default_factory=list)


_EVENT_DECODER = msgspec.json.Decoder(_Event)


class FinalityWatch:
    """When each id was first seen final on any node, and the highest height seen."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.final: dict[bytes, float] = {}
        self.height = 0

    def on_event(self, event: dict[str, Any]) -> None:
        """Take one event of WS /v1/events."""
        kind = event.get("type")
        if kind == "receipts":
            t = self.clock()
            for rc in event["receipts"]:
                self.final.setdefault(bytes.fromhex(rc["tx_id"]), t)
        if kind in ("receipts", "checkpoint"):
            self.height = max(self.height, int(event["height"]))

    def on_raw(self, raw: str | bytes) -> None:
        """Take one event as sent (JSON): only type, height and receipts' ids are decoded."""
        try:
            event = _EVENT_DECODER.decode(raw)
        except msgspec.ValidationError:  # a type of event shaped otherwise: read it whole
            self.on_event(msgspec.json.decode(raw))
            return
        if event.type == "receipts":
            t = self.clock()
            final = self.final
            for rc in event.receipts:
                tx_id = bytes.fromhex(rc.tx_id)
                if tx_id not in final:
                    final[tx_id] = t
        if event.type in ("receipts", "checkpoint"):
            self.height = max(self.height, event.height)

    async def follow(self, ws_url: str) -> None:
        """Read one node's events until cancelled, dialling again whenever it drops."""
        while True:
            with contextlib.suppress(
                OSError,
                TimeoutError,
                ValueError,
                KeyError,
                TypeError,
                msgspec.DecodeError,
                websockets.WebSocketException,
            ):
                # One event carries a whole checkpoint's receipts: no frame size limit.
                async with websockets.connect(
                    ws_url, max_size=None, max_queue=None, open_timeout=EVENTS_OPEN_TIMEOUT_S
                ) as ws:
                    async for raw in ws:
                        self.on_raw(raw)
            await asyncio.sleep(RECONNECT_S)


def _retry_after_s(reply: Reply) -> float | None:
    """The Retry-After header in seconds (capped), or None when absent or not a number."""
    try:
        value = float(reply.headers.get("retry-after", ""))
    except ValueError:
        return None
    return min(max(value, 0.0), RETRY_AFTER_MAX_S)


def _error_code(reply: Reply) -> str:
    try:
        return str(reply.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "unreadable"


@dataclass(slots=True)
class _Item:
    """One transaction on its way to a promise."""

    tx: Transaction
    wire: bytes
    sender: int
    first_sent_s: float | None = None
    avoid: str | None = None  # the node that last failed it
    backoff_s: float = BACKOFF_FIRST_S
    done: asyncio.Future[bool] | None = None  # for submit(): promised or not


class Load:
    """Senders chaining transfers and records at a paced rate over random nodes."""

    def __init__(
        self,
        nodes: dict[str, str],
        chain_id: str,
        genesis_id: bytes,
        keys: list[SigningKey],
        rate_per_s: float,
        rng: random.Random,
        watch: FinalityWatch,
        record_share: float = 0.0,
    ) -> None:
        self.nodes = nodes  # name -> API URL
        self.names = list(nodes)
        self.chain_id = chain_id
        self.keys = keys
        self.rng = rng
        self.watch = watch
        self.clock = watch.clock
        self.pacer = Pacer(rate_per_s, self.clock)
        self.limits = DagLimits()
        self.record_share = record_share
        self.promises: dict[bytes, Promise] = {}
        self.tally = Tally()
        self.until_s = math.inf  # no new transaction from then on
        self.give_up_s = math.inf  # an unpromised one is abandoned from then on
        self.timeout_s = 10.0
        self._promised: deque[tuple[float, bytes]] = deque(maxlen=MERGE_KEPT_MAX)
        self.chains = [
            SenderChain(
                key,
                chain_id,
                genesis_id,
                self._payload_maker(i),
                self._valid_until,
                self.limits.stamp_bits_min,
                merge=self._merge_parent,
            )
            for i, key in enumerate(keys)
        ]
        self._ready: deque[int] = deque(range(len(keys)))  # senders whose next tx may go
        self._extra: deque[_Item] = deque()  # handed to submit(): sent at the next tick
        self._retries: list[tuple[float, int, _Item]] = []  # (due, seq, item): a heap
        self._seq = itertools.count()
        self._inflight: set[asyncio.Task[None]] = set()
        self._idle: dict[str, list[NodeConnection]] = {n: [] for n in nodes}
        self._closed = False  # run() has returned: submit() sends nothing more
        self.build_cpu_s = 0.0  # CPU spent taking and building the senders' transactions

    def _merge_parent(self) -> bytes | None:
        """Another sender's transaction promised MERGE_AGE_S ago, to name as a parent, or None."""
        young_s, old_s = MERGE_AGE_S
        now = self.clock()
        recent = self._promised
        while recent and now - recent[0][0] > old_s:
            recent.popleft()
        for _ in range(3):  # the older part is most of it: a few draws find one
            if not recent:
                return None
            at, vid = recent[self.rng.randrange(len(recent))]
            if now - at >= young_s:
                return vid
        return None

    def _valid_until(self) -> int:
        # Half the window from the height last seen: never too far, never near expiry.
        return self.watch.height + self.limits.validity_window_heights_max // 2

    def _payload_maker(self, sender: int) -> Callable[[int], tuple[str, bytes]]:
        to = self.keys[(sender + 1) % len(self.keys)].address

        def payload(nonce: int) -> tuple[str, bytes]:
            if self.record_share > 0 and self.rng.random() < self.record_share:
                text = f"soak record {sender}/{nonce}: {RECORD_FILLER}"
                return Kind.RECORD, encode(RecordPayload("", RECORD_MEDIA_TYPE, text.encode()))
            return Kind.TRANSFER, encode(TransferPayload(to, TRANSFER_AMOUNT))

        return payload

    async def submit(self, tx: Transaction, sender: int) -> bool:
        """Send tx (unpaced) like the load's own until promised: True once promised.

        False when refused for good, or abandoned at the load's end. sender: a
        negative number naming the caller's key in the report's promises.
        """
        if self._closed:
            return False
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._extra.append(_Item(tx, tx.to_wire(), sender, done=done))
        return await done

    async def run(self, until_s: float, grace_s: float, timeout_s: float) -> None:
        """Load until until_s; transactions in flight then get grace_s more to be promised.

        A request gets timeout_s.
        """
        self.until_s, self.give_up_s, self.timeout_s = until_s, until_s + grace_s, timeout_s
        try:
            while True:
                now = self.clock()
                if now >= self.give_up_s:
                    self._abandon_waiting()
                    if not self._inflight:
                        return
                elif now >= self.until_s and not (self._inflight or self._retries or self._extra):
                    return
                self._dispatch(self._due(now))
                await asyncio.sleep(TICK_S)
        finally:
            self._closed = True
            self._abandon_waiting()
            for task in self._inflight:
                task.cancel()
            await asyncio.gather(*self._inflight, return_exceptions=True)
            for conns in self._idle.values():
                for conn in conns:
                    conn.close()

    def _due(self, now: float) -> list[_Item]:
        """What goes at this tick: retries whose time came, submit()'s, paced new transactions.

        In that order: a node admits a batch's transactions in order until its
        pool is full, so under back-pressure the oldest go first, not the new.
        """
        items: list[_Item] = []
        while self._retries and self._retries[0][0] <= now:
            items.append(heapq.heappop(self._retries)[2])
        while self._extra:
            items.append(self._extra.popleft())
        if now < self.until_s:
            cpu0_s = time.process_time()
            for _ in range(self.pacer.take(len(self._ready))):
                sender = self._ready.popleft()
                tx = self.chains[sender].take()  # and builds the sender's next one
                items.append(_Item(tx, tx.to_wire(), sender))
            self.build_cpu_s += time.process_time() - cpu0_s
        return items

    def _dispatch(self, items: list[_Item]) -> None:
        """Each item to a random node (not the one that last failed it), a batch per node."""
        groups: dict[str, list[_Item]] = {}
        for item in items:
            choices = [n for n in self.names if n != item.avoid] or self.names
            groups.setdefault(self.rng.choice(choices), []).append(item)
        for name, group in groups.items():
            for start in range(0, len(group), BATCH_TXS_MAX):
                task = asyncio.create_task(self._post(name, group[start : start + BATCH_TXS_MAX]))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)

    async def _post(self, name: str, items: list[_Item]) -> None:
        """One batch to one node, and each transaction's fate from its answer."""
        now = self.clock()
        for item in items:
            if item.first_sent_s is None:
                item.first_sent_s = now
                self.tally.submitted += 1
                self.tally.kinds[item.tx.body.kind] += 1
            else:
                self.tally.resubmissions += 1
        self.tally.batches += 1
        body = BATCH_ENCODER.encode([item.wire for item in items])
        idle = self._idle[name]
        conn = idle.pop() if idle else NodeConnection(self.nodes[name], self.timeout_s)
        try:
            reply = await conn.request("POST", "/v1/txs/batch", body, "application/msgpack")
        except TransportError:
            self.tally.connection_errors += 1
            for item in items:
                self._retry(item, name, None)
            return
        finally:
            if len(idle) < IDLE_CONNECTIONS_MAX:
                idle.append(conn)
            else:
                conn.close()
        self._answers(name, items, reply)

    def _answers(self, name: str, items: list[_Item], reply: Reply) -> None:
        wait_s = _retry_after_s(reply)
        results: Any = None
        if reply.status == 202:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                results = reply.json()["results"]
        if not isinstance(results, list) or len(results) != len(items):
            error = _error_code(reply)
            verdict, label = error_verdict(reply.status, error)
            for item in items:
                self._count(label, error, reply.status)
                self._settle(item, name, verdict, wait_s)
            return
        for item, result in zip(items, results, strict=True):
            verdict, label, code = batch_item_verdict(result, item.tx.id.hex())
            self._count(label, code, 503 if label == "503" else 422)
            self._settle(item, name, verdict, wait_s)

    def _count(self, label: str, code: str, status: int) -> None:
        t = self.tally
        if label == "503":
            t.refused_503[code] += 1
        elif label == "retried_other":
            t.retried_other[f"{status} {code}"] += 1
        elif label == "pending_parent":
            t.pending_parent += 1
        elif label == "duplicate":
            t.duplicate += 1
        elif label == "already_final":
            t.already_final += 1
        elif label != "pending":
            t.refused_for_good[label if " " in label else f"{status} {label}"] += 1

    def _settle(self, item: _Item, name: str, verdict: Verdict, wait_s: float | None) -> None:
        if verdict is Verdict.PROMISED:
            assert item.first_sent_s is not None  # set by _post before any answer
            body = item.tx.body
            self.promises[item.tx.id] = Promise(
                item.sender, body.nonce, name, item.first_sent_s, self.clock(), body.kind
            )
            self._promised.append((self.clock(), item.tx.id))
            self._finish(item, True)
        elif verdict is Verdict.RETRY:
            self._retry(item, name, wait_s)
        else:
            self._finish(item, False)

    def _finish(self, item: _Item, promised: bool) -> None:
        """A transaction's last answer: its sender goes on when promised, else stops."""
        if item.done is not None:
            if not item.done.done():
                item.done.set_result(promised)
        elif promised:
            self._ready.append(item.sender)

    def _retry(self, item: _Item, name: str, wait_s: float | None) -> None:
        pause_s = item.backoff_s if wait_s is None else wait_s
        item.backoff_s = min(item.backoff_s * 2, BACKOFF_MAX_S)
        item.avoid = name
        due_s = self.clock() + pause_s
        if due_s >= self.give_up_s:
            self.tally.abandoned += 1
            self._finish(item, False)
            return
        heapq.heappush(self._retries, (due_s, next(self._seq), item))

    def _abandon_waiting(self) -> None:
        """The grace is over: whatever waits to be sent (again) is abandoned."""
        waiting = [entry[2] for entry in self._retries] + list(self._extra)
        self._retries.clear()
        self._extra.clear()
        for item in waiting:
            self.tally.abandoned += 1
            self._finish(item, False)


def clock() -> float:
    """The soak's clock: seconds, monotonic."""
    return time.perf_counter()
