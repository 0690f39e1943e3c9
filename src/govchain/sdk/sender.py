"""A sender that chains its own nonces and sees every transaction final (issue 10).

One signing key, one or more nodes. What it guarantees (docs/sdk.md):

- **The chain is the sender's, not a node's.** It reads the account once (the
  highest `next_nonce` any node reports, with its `last_tx`); from then on
  transaction n+1 takes nonce n+1 and names transaction n as a parent, so it
  can never be ordered before n and never depends on what a node remembers of
  pending transactions.
- **Every retry sends the same bytes.** The id is the hash of the signed
  header, so however many nodes get a copy, at most one copy executes.
- **send() returns once a node promised finality**: 202 "pending" (durable on
  validators holding more than a third of the voting weight) or 200 (final
  already). A 503 (not_replicated, catching_up, pool_full) or an unreachable
  node sends the bytes to another node; the one that answered 503 rests for
  its Retry-After. A 202 "pending_parent" is not a promise: the same bytes go
  again to that node until it says "pending", for a bounded time.
- **A transaction not final within its timeout goes to another node** (same
  bytes), a bounded number of times; wait_final() and wait_all() read the
  record from any node, passing over one that is down or behind.
- **A refused transaction gives its nonce back.** A 4xx means the transaction
  is bad and no node stored it: the next one takes its nonce and parent. One
  that no node took (all busy or down) stays the chain's last, and the next
  send() or wait delivers those same bytes before anything else.

It is synchronous: each call blocks until its answer; `fanout > 1` posts the
same bytes to that many nodes at once on worker threads, and the first node
to promise finality is enough.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

import httpx

from govchain.apps.warehouse.ops import KIND_READINGS, KIND_WR, Op
from govchain.apps.warehouse.readings import SignedReading
from govchain.codec import HASH_BYTES, encode
from govchain.crypto.keys import ADDRESS_BYTES, SigningKey
from govchain.dag.kinds import Kind
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.sdk.client import FINAL_STATUSES, PENDING, VALIDITY_HEIGHTS, Client, Submission
from govchain.sdk.errors import SdkError
from govchain.sdk.wr import readings_payload, wr_payload
from govchain.state.payloads import RecordPayload, TransferPayload

# Answers after which the same bytes go to another node: that node cannot take
# the transaction now, but nothing says the transaction is bad. orphan_pool_full
# and quota_exceeded are back-pressure too, though nodes send them as 4xx.
RETRYABLE_CODES = frozenset(
    {
        "not_replicated",
        "catching_up",
        "pool_full",
        "orphan_pool_full",
        "quota_exceeded",
        "unreachable",
        "bad_response",
    }
)

SUBMIT_ATTEMPTS_MAX = 12
RETRY_AFTER_DEFAULT_S = 1.0
RETRY_AFTER_MAX_S = 30.0
PENDING_PARENT_POLL_S = 0.2
PENDING_PARENT_TIMEOUT_S = 30.0
FINAL_TIMEOUT_S = 10.0
RESUBMITS_MAX = 5
POLL_S = 0.1
TIPS_MAX_AGE_S = 0.5
RECORDS_KEPT_MAX = 10_000

_DAG = DagLimits()
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SenderLimits:
    """How hard a Sender tries, and how much it keeps; every bound explicit."""

    # Failed posts (503, unreachable) of one delivery before send() gives up.
    submit_attempts_max: int = SUBMIT_ATTEMPTS_MAX
    # How long a node rests after a 503 without Retry-After, or when unreachable.
    retry_after_default_s: float = RETRY_AFTER_DEFAULT_S
    # A node may ask for longer; it rests no more than this.
    retry_after_max_s: float = RETRY_AFTER_MAX_S
    pending_parent_poll_s: float = PENDING_PARENT_POLL_S
    # A "pending_parent" answer still not "pending" after this: send() gives up.
    pending_parent_timeout_s: float = PENDING_PARENT_TIMEOUT_S
    # Accepted but not final this long: the same bytes go to another node.
    final_timeout_s: float = FINAL_TIMEOUT_S
    resubmits_max: int = RESUBMITS_MAX
    poll_s: float = POLL_S
    # Transactions not final yet; send() waits for the oldest beyond it. The
    # default is what a node lets one sender have pending.
    in_flight_max: int = _DAG.sender_pending_max
    # Final records kept until wait_final()/wait_all() returns them; the oldest go first.
    records_kept_max: int = RECORDS_KEPT_MAX
    # Tips named as parents are reused this long before asking a node again.
    tips_max_age_s: float = TIPS_MAX_AGE_S

    def __post_init__(self) -> None:
        counts = (self.submit_attempts_max, self.in_flight_max, self.records_kept_max)
        if min(counts) < 1 or self.resubmits_max < 0:
            raise ValueError("attempts, in-flight and kept counts are >= 1, resubmits >= 0")
        times = (
            self.retry_after_default_s,
            self.retry_after_max_s,
            self.pending_parent_poll_s,
            self.pending_parent_timeout_s,
            self.final_timeout_s,
            self.poll_s,
        )
        if min(times) <= 0 or self.tips_max_age_s < 0:
            raise ValueError("waits and timeouts are > 0 s")
        if self.in_flight_max > self.records_kept_max:
            raise ValueError("records_kept_max must hold every transaction in flight")


class Clock(Protocol):
    """Where a Sender reads time and waits: the system's, or a test's fake one."""

    def now_s(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    def sleep_s(self, seconds: float) -> None:
        """Block for this many seconds."""
        ...


class SystemClock:
    """The monotonic clock and time.sleep."""

    def now_s(self) -> float:
        """time.monotonic()."""
        return time.monotonic()

    def sleep_s(self, seconds: float) -> None:
        """time.sleep(seconds)."""
        time.sleep(seconds)


@dataclass(slots=True, eq=False)
class _Flight:
    """One transaction of the chain, from signing until its record is returned."""

    tx: Transaction
    wire: bytes
    previous: bytes | None  # the sender's transaction before it: where a rollback returns
    holders: set[int] = field(default_factory=set)  # nodes that answered pending or final
    accepted: bool = False
    deadline_s: float = 0.0  # not final by then: the same bytes go to another node
    resubmits: int = 0
    record: dict[str, Any] | None = None

    @property
    def tx_id(self) -> str:
        """The id as the API spells it."""
        return self.tx.id.hex()


def retryable(exc: SdkError) -> bool:
    """True when the same bytes may be sent again (to this node later, or to another now)."""
    return exc.code in RETRYABLE_CODES or (exc.status is not None and exc.status >= 500)


class Sender:
    """Signs one key's transactions, chains their nonces locally, and delivers them.

    urls: the nodes to use (any may be down). fanout: how many of them get each
    transaction's bytes at once. transport: an httpx transport for every
    node's Client (tests pass an httpx.MockTransport); clock: a Clock (tests
    pass a fake one).
    """

    def __init__(
        self,
        key: SigningKey,
        urls: Sequence[str],
        *,
        fanout: int = 1,
        limits: SenderLimits | None = None,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if not urls:
            raise ValueError("a Sender needs at least one node URL")
        if not 1 <= fanout <= len(urls):
            raise ValueError(f"fanout must lie in 1..{len(urls)} (the number of nodes)")
        self.key = key
        self.fanout = fanout
        self.limits = limits or SenderLimits()
        self._clock: Clock = clock or SystemClock()
        self._clients = [Client(u, timeout_s, transport) for u in urls]
        self._rest_until_s = [0.0] * len(urls)  # a node that answered 503 rests until then
        self._preferred = 0  # where the next transaction goes first: the last that accepted one
        self._reader = 0  # where the next read goes first
        self._chain_id = ""
        self._next_nonce: int | None = None
        self._last_tx: bytes | None = None
        self._tips: tuple[list[bytes], int, float] | None = None  # tips, height, read at
        self._flights: dict[str, _Flight] = {}  # by id, in nonce order
        self._undelivered: _Flight | None = None  # the last one, while no node has taken it
        self._pool = (
            ThreadPoolExecutor(max_workers=fanout, thread_name_prefix="govchain-sender")
            if fanout > 1
            else None
        )

    def close(self) -> None:
        """Wait for posts still running, then close every connection pool."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for client in self._clients:
            client.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def next_nonce(self) -> int | None:
        """The nonce the next transaction takes (None until the account was read)."""
        return self._next_nonce

    @property
    def in_flight(self) -> int:
        """How many of this sender's transactions are not known final yet."""
        return sum(1 for f in self._flights.values() if f.record is None)

    # -- sending --------------------------------------------------------------------
    def transfer(self, to: bytes, amount: int) -> str:
        """Send a transfer; its id once a node promised finality."""
        if len(to) != ADDRESS_BYTES:
            raise SdkError("bad_address", f"an address is {ADDRESS_BYTES} bytes")
        return self.send(Kind.TRANSFER, encode(TransferPayload(to, amount)))

    def record(self, data: bytes, service: str = "", media_type: str = "text/plain") -> str:
        """Send a data record; its id once a node promised finality."""
        return self.send(Kind.RECORD, encode(RecordPayload(service, media_type, data)))

    def wr(self, op: Op) -> str:
        """Send one warehouse transition (`wr`); its id (an offer's id when it opens one)."""
        return self.send(KIND_WR, wr_payload(op))

    def wr_readings(self, readings: Sequence[SignedReading]) -> str:
        """Relay a batch of device-signed readings (`wr.readings`); its id."""
        return self.send(KIND_READINGS, readings_payload(readings))

    def send(self, kind: str, payload: bytes) -> str:
        """Sign the chain's next transaction and deliver it; its id once a node promised it.

        Raises SdkError when no node took it (the same bytes go first at the
        next call) or when nodes refused it as bad (its nonce is given back).
        """
        self._deliver_last()
        self._bound_in_flight()
        self._start()
        assert self._next_nonce is not None  # set by _start
        tx = self._build(kind, payload)
        flight = _Flight(tx, tx.to_wire(), previous=self._last_tx)
        self._flights[flight.tx_id] = flight
        self._next_nonce += 1
        self._last_tx = tx.id
        self._undelivered = flight
        self._forget_oldest_records()
        self._deliver_last()
        return flight.tx_id

    def _deliver_last(self) -> None:
        """Deliver the chain's last transaction if no node took it yet."""
        flight = self._undelivered
        if flight is None:
            return
        try:
            self._deliver(flight)
        except SdkError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and not retryable(exc):
                # Refused as bad: no node stored it, so its nonce and parent
                # go to the next transaction. Should a copy survive somewhere
                # after all, it shares that nonce: at most one of them executes.
                del self._flights[flight.tx_id]
                self._next_nonce, self._last_tx = flight.tx.body.nonce, flight.previous
                self._undelivered = None
            raise
        self._undelivered = None

    def _bound_in_flight(self) -> None:
        """Wait for the oldest transaction while in_flight_max are not final."""
        if self.in_flight >= self.limits.in_flight_max:
            oldest = next(f for f in self._flights.values() if f.record is None)
            self._await(oldest, None)

    def _forget_oldest_records(self) -> None:
        """Drop the oldest uncollected final records beyond records_kept_max."""
        excess = len(self._flights) - self.limits.records_kept_max
        if excess > 0:
            done = [k for k, f in self._flights.items() if f.record is not None][:excess]
            for k in done:
                del self._flights[k]

    def _start(self) -> None:
        """Read the chain id and the account once: the highest next_nonce any node reports."""
        if self._next_nonce is not None:
            return
        best: tuple[int, bytes | None, str] | None = None
        last: SdkError | None = None
        for client in self._clients:
            try:
                answer = _checked(partial(self._account_of, client))
            except SdkError as exc:
                last = exc
                continue
            # The highest: a node behind knows fewer of this key's pending transactions.
            if best is None or answer[0] > best[0]:
                best = answer
        if best is None:
            assert last is not None
            raise last
        self._next_nonce, self._last_tx, self._chain_id = best

    def _account_of(self, client: Client) -> tuple[int, bytes | None, str]:
        """One node's view: next nonce, the key's last pending transaction, chain id."""
        chain_id = str(client.status()["chain_id"])
        acct = client.account(self.key.address, self.key.public_key)
        nonce = int(acct.get("next_nonce", acct["nonce"]))
        last_tx = bytes.fromhex(acct["last_tx"]) if acct.get("last_tx") else None
        if nonce < 0 or (last_tx is not None and len(last_tx) != HASH_BYTES):
            raise ValueError(f"next_nonce {nonce}, last_tx {acct.get('last_tx')!r}")
        return nonce, last_tx, chain_id

    def _build(self, kind: str, payload: bytes) -> Transaction:
        """The next transaction: next nonce, the previous one and current tips as parents."""
        assert self._next_nonce is not None
        tips, height = self._current_tips()
        return build(
            self.key,
            chain_id=self._chain_id,
            kind=kind,
            nonce=self._next_nonce,
            parents=self._parents(tips),
            valid_until=height + VALIDITY_HEIGHTS,
            payload=payload,
            stamp_bits_min=_DAG.stamp_bits_min,
        )

    def _parents(self, tips: list[bytes]) -> list[bytes]:
        """The previous transaction always, then tips up to parents_count_max, ascending."""
        own = [self._last_tx] if self._last_tx is not None else []
        others = sorted(set(tips) - set(own))
        parents = sorted(own + others[: _DAG.parents_count_max - len(own)])
        if not parents:
            raise SdkError("no_parents", "the nodes named no tips to build on")
        return parents

    def _current_tips(self) -> tuple[list[bytes], int]:
        """Tips and height from the preferred node (cached for tips_max_age_s)."""
        now = self._clock.now_s()
        if self._tips is not None and now - self._tips[2] < self.limits.tips_max_age_s:
            return self._tips[0], self._tips[1]
        last: SdkError | None = None
        for i in self._order(self._preferred):
            try:
                tips, height = _checked(self._clients[i].tips)
            except SdkError as exc:
                last = exc
                continue
            self._tips = (tips, height, now)
            return tips, height
        if self._tips is not None:
            # Older tips are still valid parents: the chain does not wait for a read.
            return self._tips[0], self._tips[1]
        assert last is not None
        raise last

    # -- delivering -----------------------------------------------------------------
    def _deliver(self, flight: _Flight, avoid: frozenset[int] = frozenset()) -> Submission:
        """Post the flight's bytes until a node accepts them; avoid: nodes to try last."""
        lim = self.limits
        failures = 0
        last: SdkError | None = None
        waiting: list[int] = []  # answered pending_parent: they hold it and fetch its parents
        parents_deadline_s: float | None = None
        while True:
            answers = self._post(self._pick(waiting, avoid), flight)
            waiting, refused = [], None
            for i, answer in answers:
                if isinstance(answer, Submission):
                    if answer.accepted:
                        self._accepted(flight, i)
                        return answer
                    waiting.append(i)
                elif answer.code == "duplicate":
                    # A node from before issue 10 (409 for what it holds).
                    self._accepted(flight, i)
                    return Submission(flight.tx_id, PENDING)
                elif retryable(answer):
                    self._rest(i, answer)
                    failures, last = failures + 1, answer
                elif refused is None:
                    refused = answer
            if waiting:
                now = self._clock.now_s()
                if parents_deadline_s is None:
                    parents_deadline_s = now + lim.pending_parent_timeout_s
                elif now >= parents_deadline_s:
                    raise SdkError(
                        "parent_missing",
                        f"{flight.tx_id} still waits for its parents after "
                        f"{lim.pending_parent_timeout_s:g} s",
                    )
                self._clock.sleep_s(lim.pending_parent_poll_s)
                continue
            if refused is not None:
                raise refused
            assert last is not None
            if failures >= lim.submit_attempts_max:
                raise SdkError(
                    last.code,
                    f"no node took {flight.tx_id} in {failures} attempts: {last.message}",
                    last.status,
                    last.retry_after_s,
                )

    def _pick(self, first: list[int], avoid: frozenset[int]) -> list[int]:
        """Up to fanout nodes not resting: first, then from the preferred one on.

        Nodes in avoid are used only when there is no other; when every node
        rests, it sleeps until the first one may be asked again.
        """
        order = first + [i for i in self._order(self._preferred) if i not in first]
        allowed = [i for i in order if i not in avoid] or order
        while True:
            now = self._clock.now_s()
            ready = [i for i in allowed if self._rest_until_s[i] <= now]
            if ready:
                return ready[: self.fanout]
            self._clock.sleep_s(min(self._rest_until_s[i] for i in allowed) - now)

    def _post(self, nodes: list[int], flight: _Flight) -> list[tuple[int, Submission | SdkError]]:
        """The same bytes to each node (at once when several); stops at the first acceptance."""
        if self._pool is None or len(nodes) == 1:
            return [(i, self._post_one(i, flight)) for i in nodes]
        futures = {self._pool.submit(self._post_one, i, flight): i for i in nodes}
        answers: list[tuple[int, Submission | SdkError]] = []
        running: set[Future[Submission | SdkError]] = set(futures)
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=futures.__getitem__):
                answer = fut.result()
                answers.append((futures[fut], answer))
                if isinstance(answer, Submission) and answer.accepted:
                    # One promise is enough; the other posts finish in the background.
                    return answers
        return answers

    def _post_one(self, i: int, flight: _Flight) -> Submission | SdkError:
        """One post of the flight's bytes to node i: its answer, or its error."""
        try:
            answer = _checked(lambda: self._clients[i].submit_detailed(flight.wire))
        except SdkError as exc:
            return exc
        if answer.tx_id != flight.tx_id:
            return SdkError("bad_response", f"node {i} answered for {answer.tx_id}")
        return answer

    def _rest(self, i: int, exc: SdkError) -> None:
        """Node i is not asked again before its Retry-After (bounded), or a default rest."""
        lim = self.limits
        wait_s = lim.retry_after_default_s if exc.retry_after_s is None else exc.retry_after_s
        self._rest_until_s[i] = self._clock.now_s() + min(wait_s, lim.retry_after_max_s)
        if i == self._preferred:
            self._preferred = (i + 1) % len(self._clients)

    def _accepted(self, flight: _Flight, i: int) -> None:
        """Node i promised the flight (or said it is final): its clock starts."""
        flight.accepted = True
        flight.holders.add(i)
        flight.deadline_s = self._clock.now_s() + self.limits.final_timeout_s
        self._preferred = i  # it holds this one: the next one's parent is there

    # -- waiting --------------------------------------------------------------------
    def wait_final(self, tx_id: str, timeout_s: float | None = None) -> dict[str, Any]:
        """The record of one of this sender's transactions once final; then forgets it.

        Not final within limits.final_timeout_s: the same bytes go to another
        node, up to limits.resubmits_max times; then SdkError("timeout"), as
        when timeout_s (if given) runs out first.
        """
        flight = self._flights.get(tx_id)
        if flight is None:
            raise SdkError("unknown_tx", f"{tx_id} is not a transaction this sender tracks")
        record = self._await(flight, timeout_s)
        del self._flights[tx_id]
        return record

    def wait_all(self, timeout_s: float | None = None) -> list[dict[str, Any]]:
        """Every tracked transaction's record once final, in nonce order; then forgets them."""
        start_s = self._clock.now_s()
        records = []
        for flight in list(self._flights.values()):
            left_s = None if timeout_s is None else timeout_s - (self._clock.now_s() - start_s)
            records.append(self._await(flight, left_s))
        self._flights.clear()
        return records

    def _await(self, flight: _Flight, timeout_s: float | None) -> dict[str, Any]:
        """Poll until the flight is final, resubmitting it when its timeout passes."""
        if flight.record is not None:
            return flight.record
        if flight is self._undelivered:
            self._deliver_last()
        start_s = self._clock.now_s()
        while True:
            record = self._read_final(flight)
            if record is not None:
                flight.record = record
                return record
            now = self._clock.now_s()
            if timeout_s is not None and now - start_s >= timeout_s:
                raise SdkError("timeout", f"{flight.tx_id} was not final within {timeout_s:g} s")
            if now >= flight.deadline_s:
                self._resubmit(flight)
            self._clock.sleep_s(self.limits.poll_s)

    def _resubmit(self, flight: _Flight) -> None:
        """The same bytes to a node that has not accepted them yet."""
        lim = self.limits
        if flight.resubmits >= lim.resubmits_max:
            raise SdkError(
                "timeout",
                f"{flight.tx_id} was not final after {flight.resubmits} resubmissions "
                f"({lim.final_timeout_s:g} s each)",
            )
        flight.resubmits += 1
        try:
            self._deliver(flight, avoid=frozenset(flight.holders))
        except SdkError:
            # No node took the bytes now (busy, down, or one that forgot it as
            # final): keep reading, the record decides; the next timeout tries again.
            flight.deadline_s = self._clock.now_s() + lim.final_timeout_s

    def _read_final(self, flight: _Flight) -> dict[str, Any] | None:
        """The record if final, read from the first node that answers; else None.

        A node that is down, or does not know the transaction yet, is passed
        over; a node that says "not final" is asked after the others next time,
        so a node that is behind does not hold the answer back.
        """
        for i in self._order(self._reader):
            try:
                record = _checked(partial(self._clients[i].tx, flight.tx_id))
            except SdkError:
                continue
            if record.get("status") in FINAL_STATUSES:
                self._reader = i
                return record
            self._reader = (i + 1) % len(self._clients)
            return None
        return None

    def _order(self, start: int) -> list[int]:
        """Every node index once, from start on."""
        n = len(self._clients)
        return [(start + k) % n for k in range(n)]


def _checked(call: Callable[[], _T]) -> _T:
    """call(), with a malformed answer (missing key, wrong type) as SdkError('bad_response')."""
    try:
        return call()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SdkError("bad_response", f"malformed answer: {exc!r}") from None
