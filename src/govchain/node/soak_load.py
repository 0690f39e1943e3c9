"""The soak's load: paced, nonce-chaining senders that hold each node to its 202.

Each sender builds its next transfer only once the previous one was promised
(`202 pending`): the new one names it as its parent. A refusal that asks for a
retry (503, `pending_parent`, a dropped connection) sends the same bytes again,
to another node, after the Retry-After the node gave or a growing back-off.
Transactions are never resubmitted once promised: a promise that is not kept
must show up as a loss, not be papered over by the client.

FinalityWatch follows every node's event stream (reconnecting after kills) and
keeps the time each id was first seen final anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import websockets

from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.kinds import Kind
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.node.soak_http import NodeConnection, Reply, TransportError
from govchain.sdk.client import FINAL_STATUSES
from govchain.state.payloads import TransferPayload

# Refusals that say "not now, or not here": the same bytes go again elsewhere.
# not_replicated, catching_up and pool_full are the codes of issue 10's
# semantics; quota_exceeded and orphan_pool_full are back-pressure too.
RETRY_CODES = frozenset(
    {"not_replicated", "catching_up", "pool_full", "quota_exceeded", "orphan_pool_full"}
)
BACKOFF_FIRST_S = 0.05
BACKOFF_MAX_S = 1.0
RETRY_AFTER_MAX_S = 5.0  # a node's Retry-After is honoured up to this
RECONNECT_S = 0.5  # an event stream that dropped (its node was killed) is dialled again
EVENTS_OPEN_TIMEOUT_S = 2.0
TRANSFER_AMOUNT = 1


@dataclass(frozen=True, slots=True)
class Promise:
    """A transaction a node answered with a promise (or as already final)."""

    sender: int
    nonce: int
    node: str  # the node that gave the promise
    first_sent_s: float  # clock time of the first submission of these bytes
    promised_s: float


@dataclass(slots=True)
class Tally:
    """How the nodes answered, beyond the promises."""

    submitted: int = 0  # distinct transactions sent at least once
    resubmissions: int = 0  # sends of bytes already sent once
    pending_parent: int = 0
    duplicate: int = 0  # 409 duplicate: the node holds the bytes (taken as a promise)
    already_final: int = 0  # 200 executed|rejected|held
    connection_errors: int = 0  # refused, reset or timed out
    abandoned: int = 0  # still unpromised when the load's grace ran out
    refused_503: Counter[str] = field(default_factory=Counter)  # by error code
    # Other answers, by "status code": those sent again (a 5xx, back-pressure
    # under another status) and those taken as final (a bad transaction).
    retried_other: Counter[str] = field(default_factory=Counter)
    refused_for_good: Counter[str] = field(default_factory=Counter)

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
        }


class Pacer:
    """Hands out send slots at a fixed rate; a slot nobody took is not made up for later."""

    def __init__(self, rate_per_s: float, clock: Callable[[], float]) -> None:
        self.interval_s = 1.0 / rate_per_s
        self.clock = clock
        self.next_s: float | None = None

    async def wait(self) -> None:
        """Until this caller's slot."""
        now = self.clock()
        at = now if self.next_s is None else max(self.next_s, now)
        self.next_s = at + self.interval_s
        if at > now:
            await asyncio.sleep(at - now)


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
                        self.on_event(msgspec.json.decode(raw))
            await asyncio.sleep(RECONNECT_S)


def _retry_after_s(reply: Reply) -> float | None:
    """The Retry-After header in seconds (capped), or None when absent or not a number."""
    try:
        value = float(reply.headers.get("retry-after", ""))
    except ValueError:
        return None
    return min(max(value, 0.0), RETRY_AFTER_MAX_S)


def _status(reply: Reply) -> str:
    try:
        return str(reply.json()["status"])
    except (ValueError, KeyError, TypeError):
        return "unreadable"


def _error_code(reply: Reply) -> str:
    try:
        return str(reply.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "unreadable"


class Load:
    """Senders chaining transfers at a paced rate over random nodes; see the module doc."""

    def __init__(
        self,
        nodes: dict[str, str],
        chain_id: str,
        genesis_id: bytes,
        keys: list[SigningKey],
        rate_per_s: float,
        rng: random.Random,
        watch: FinalityWatch,
    ) -> None:
        self.nodes = nodes  # name -> API URL
        self.chain_id = chain_id
        self.genesis_id = genesis_id
        self.keys = keys
        self.rng = rng
        self.watch = watch
        self.clock = watch.clock
        self.pacer = Pacer(rate_per_s, self.clock)
        self.limits = DagLimits()
        self.promises: dict[bytes, Promise] = {}
        self.tally = Tally()
        self.until_s = 0.0  # no new transaction from then on
        self.give_up_s = 0.0  # an unpromised one is abandoned from then on

    async def run(self, until_s: float, grace_s: float, timeout_s: float) -> None:
        """Load until until_s; transactions in flight then get grace_s more to be promised.

        Each sender keeps its own connection to each node; a request gets timeout_s.
        """
        self.until_s, self.give_up_s = until_s, until_s + grace_s
        await asyncio.gather(*(self._sender(i, timeout_s) for i in range(len(self.keys))))

    def _build(self, sender: int, nonce: int, parent: bytes) -> Transaction:
        to = self.keys[(sender + 1) % len(self.keys)].address
        return build(
            self.keys[sender],
            chain_id=self.chain_id,
            kind=Kind.TRANSFER,
            nonce=nonce,
            parents=[parent],
            # Half the window from the height last seen: never too far, never near expiry.
            valid_until=self.watch.height + self.limits.validity_window_heights_max // 2,
            payload=encode(TransferPayload(to, TRANSFER_AMOUNT)),
            stamp_bits_min=self.limits.stamp_bits_min,
        )

    async def _sender(self, sender: int, timeout_s: float) -> None:
        conns = {name: NodeConnection(url, timeout_s) for name, url in self.nodes.items()}
        parent, nonce = self.genesis_id, 0
        try:
            while True:
                await self.pacer.wait()
                if self.clock() >= self.until_s:
                    return
                tx = self._build(sender, nonce, parent)
                if not await self._until_promised(conns, sender, nonce, tx):
                    return  # refused for good, or out of time: its successors cannot run
                parent, nonce = tx.id, nonce + 1
        finally:
            for conn in conns.values():
                conn.close()

    async def _until_promised(
        self, conns: dict[str, NodeConnection], sender: int, nonce: int, tx: Transaction
    ) -> bool:
        """Send tx's bytes until a node promises it; False when refused for good or too late."""
        wire = tx.to_wire()
        first_s = self.clock()
        self.tally.submitted += 1
        avoid: str | None = None
        backoff_s = BACKOFF_FIRST_S
        while True:
            name = self.rng.choice([n for n in self.nodes if n != avoid] or list(self.nodes))
            verdict, wait_s = await self._post(conns[name], wire)
            if verdict == "promised":
                self.promises[tx.id] = Promise(sender, nonce, name, first_s, self.clock())
                return True
            if verdict == "refused":
                return False
            avoid = name
            pause_s = backoff_s if wait_s is None else wait_s
            backoff_s = min(backoff_s * 2, BACKOFF_MAX_S)
            if self.clock() + pause_s >= self.give_up_s:
                self.tally.abandoned += 1
                return False
            await asyncio.sleep(pause_s)
            self.tally.resubmissions += 1

    async def _post(self, conn: NodeConnection, wire: bytes) -> tuple[str, float | None]:
        """One submission: ("promised" | "retry" | "refused", seconds to wait or None)."""
        try:
            reply = await conn.request("POST", "/v1/txs", wire, "application/octet-stream")
        except TransportError:
            self.tally.connection_errors += 1
            return "retry", None
        code = reply.status
        if code in (200, 202):
            status = _status(reply)
            if status == "pending":
                return "promised", None
            if status == "pending_parent":
                self.tally.pending_parent += 1
                return "retry", None
            if code == 200 and status in FINAL_STATUSES:
                self.tally.already_final += 1
                return "promised", None
            self.tally.refused_for_good[f"{code} {status}"] += 1
            return "refused", None
        error = _error_code(reply)
        if code == 409 and error == "duplicate":
            # Before issue 10 a node answered a resubmission it held with 409: it has it.
            self.tally.duplicate += 1
            return "promised", None
        if code == 503:
            self.tally.refused_503[error] += 1
            return "retry", _retry_after_s(reply)
        if code >= 500 or error in RETRY_CODES:
            self.tally.retried_other[f"{code} {error}"] += 1
            return "retry", _retry_after_s(reply)
        self.tally.refused_for_good[f"{code} {error}"] += 1
        return "refused", None


def clock() -> float:
    """The soak's clock: seconds, monotonic."""
    return time.perf_counter()
