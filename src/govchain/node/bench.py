"""`govchain bench`: a devnet under load, measured from the outside.

Pre-signs transfers from many funded senders (each sender's transactions
chained through their parents), submits them through every node's API as fast
as the nodes accept them, and reads finality from the first node's event
stream. Reports what the contract names, plus the raw verify rate measured in
the same run so the figures can be compared across machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import secrets
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import nacl.bindings
import websockets

from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.kinds import Kind
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.node.devnet import Devnet, create, free_port_base
from govchain.node.files import read_genesis
from govchain.state.payloads import TransferPayload

SENDERS = 200
SENDER_BALANCE = 10**12
CONCURRENCY_PER_NODE = 2
BATCH_TXS = 100
FINAL_TIMEOUT_S = 600.0
LIVE_TIMEOUT_S = 60.0  # for the devnet's first checkpoint, before any load
RETRY_S = 0.02  # a refused lane comes back soon: the nodes' pools drain a checkpoint at a time
# A paced load (--rate) sends small batches on a schedule, so that a transaction's
# latency is its own, not that of the 100 queued with it.
PACED_BATCH_TXS = 10
# A paced lane sends a batch at most this often: its request (which waits for
# replication) must be answered before the next is due, so a faster rate gets
# more lanes instead.
PACED_LANE_INTERVAL_S = 0.25
RATE_MAX = 100_000.0
BACK_PRESSURE = frozenset({"quota_exceeded", "pool_full"})


def raw_verify_rate(seconds: float = 1.0) -> float:
    """Ed25519 verifies per second on one core, libsodium via PyNaCl, this run."""
    pk, sk = nacl.bindings.crypto_sign_seed_keypair(bytes(32))
    msg = bytes(200)
    signed = nacl.bindings.crypto_sign(msg, sk)
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            nacl.bindings.crypto_sign_open(signed, pk)
        n += 200
    return n / (time.perf_counter() - start)


def presign(
    chain_id: str, genesis_id: bytes, keys: list[SigningKey], total: int
) -> list[list[Transaction]]:
    """Per sender, its transfers in nonce order, each naming the previous as parent."""
    per: list[list[Transaction]] = [[] for _ in keys]
    limits = DagLimits()
    for i in range(total):
        s = i % len(keys)
        prev = per[s][-1].id if per[s] else genesis_id
        per[s].append(
            build(
                keys[s],
                chain_id=chain_id,
                kind=Kind.TRANSFER,
                nonce=len(per[s]),
                parents=[prev],
                valid_until=limits.validity_window_heights_max // 2,
                payload=encode(TransferPayload(keys[(s + 1) % len(keys)].address, 1)),
                stamp_bits_min=limits.stamp_bits_min,
            )
        )
    return per


def _rss_peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; nan elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of a process so far, by name ("main" for the main thread)."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return out
    for tid in tids:
        try:
            name = "main" if tid == pid else Path(f"/proc/{pid}/task/{tid}/comm").read_text()
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        key = name.strip()
        out[key] = out.get(key, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def child_pids(pid: int) -> list[int]:
    """The live child processes of pid (a node's verify workers), from /proc."""
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(name))
    return sorted(found)


def _children_cpu_s(pid: int) -> float:
    return sum(process_cpu_s(c) for c in child_pids(pid))


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class BareReply:
    """Status and body of one HTTP answer."""

    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.text = body.decode(errors="replace")
        self._body = body

    def json(self) -> Any:
        """The body, parsed."""
        return json.loads(self._body)


class BareHttp:
    """A bare keep-alive HTTP/1.1 client for the load: the loader shares the nodes'
    cores, so its own CPU per request must stay small (httpx costs ~4x more)."""

    def __init__(self, url: str, content_type: str = "application/msgpack") -> None:
        self.content_type = content_type
        host_port = url.removeprefix("http://")
        host, _, port = host_port.partition(":")
        self.host, self.port = host, int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> BareReply:
        """POST a body (msgpack by default); reconnects once if the server closed the connection."""
        for attempt in (1, 2):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                assert self.reader is not None
                head = (
                    f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\n"
                    f"content-type: {self.content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
                )
                self.writer.write(head.encode() + body)
                status_line = await self.reader.readuntil(b"\r\n")
                length, chunked = 0, False
                while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
                    name, _, value = line.decode().partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value)
                    elif name == "transfer-encoding" and "chunked" in value.lower():
                        chunked = True
                body = await (self._chunks() if chunked else self.reader.readexactly(length))
                return BareReply(int(status_line.split()[1]), body)
            except (OSError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _chunks(self) -> bytes:
        """A chunked body (etcd's larger answers), trailers skipped."""
        assert self.reader is not None
        parts = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
        while await self.reader.readuntil(b"\r\n") != b"\r\n":
            pass
        return b"".join(parts)

    def close(self) -> None:
        """Close the connection, if open."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def load_until_final(
    urls: list[str],
    per_sender: list[list[Transaction]],
    ws_url: str,
    expect: int,
    lanes_per_node: int = CONCURRENCY_PER_NODE,
    rate: float | None = None,
) -> tuple[dict[bytes, float], dict[bytes, float], dict[bytes, float], Counter[str]]:
    """Send every sender's transactions, in order, until expect receipts arrive.

    lanes_per_node: requests each node has in flight at once (BATCH_TXS each).
    rate: None for a flood (each lane sends its next batch once the last is
    answered); else transactions per second over all lanes, PACED_BATCH_TXS a
    request, each lane on its own schedule (a lane behind it sends at once).

    Returns when each was accepted, when the request that got its 202 left, and
    when it was final (perf_counter seconds, by id), and how many submissions
    were refused and sent again, by the code the node gave.
    """
    submitted: dict[bytes, float] = {}
    sent: dict[bytes, float] = {}  # when the request that got the 202 left
    final: dict[bytes, float] = {}
    refused: Counter[str] = Counter()  # by the code a node gave ("503": the whole request)
    done = asyncio.Event()

    async def listen() -> None:
        # One event carries a whole checkpoint's receipts: no frame size limit here.
        async with websockets.connect(ws_url, max_size=None, max_queue=None) as ws:
            ready.set()
            async for raw in ws:
                ev = json.loads(raw)
                if ev.get("type") == "receipts":
                    t = time.perf_counter()
                    for rc in ev["receipts"]:
                        final.setdefault(bytes.fromhex(rc["tx_id"]), t)
                    if len(final) >= expect:
                        done.set()
                        return

    async def lane_worker(url: str, queue: list[Transaction]) -> None:
        # A lane sends its senders' transactions in order, BATCH_TXS at a time;
        # what a node refuses under back-pressure is sent again, and only that.
        http = BareHttp(url)
        try:
            await _send_lane(http, url, queue)
        finally:
            http.close()

    size = BATCH_TXS if rate is None else PACED_BATCH_TXS

    async def _send_lane(http: BareHttp, url: str, queue: list[Transaction]) -> None:
        began = time.perf_counter()
        for start in range(0, len(queue), size):
            batch = queue[start : start + size]
            if rate is not None:  # this batch's moment on the lane's schedule
                due = began + start / (rate / lanes_count)
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            while batch:
                t_sent = time.perf_counter()
                r = await http.post("/v1/txs/batch", encode([t.to_wire() for t in batch]))
                t_now = time.perf_counter()
                if r.status_code == 503:
                    refused["503"] += len(batch)
                    await asyncio.sleep(RETRY_S)
                    continue
                if r.status_code != 202:
                    raise RuntimeError(f"{url} refused a batch: {r.status_code} {r.text}")
                again: list[Transaction] = []
                for t, res in zip(batch, r.json()["results"], strict=True):
                    code = res.get("error", {}).get("code")
                    if code in BACK_PRESSURE:
                        again.append(t)
                        refused[code] += 1
                    elif code is None or code == "duplicate":
                        submitted.setdefault(t.id, t_now)  # latency runs from acceptance
                        sent.setdefault(t.id, t_sent)
                    else:
                        raise RuntimeError(f"{url} rejected {t.id.hex()}: {res}")
                batch = again
                if batch:
                    await asyncio.sleep(RETRY_S)

    ready = asyncio.Event()
    listener = asyncio.create_task(listen())
    await asyncio.wait_for(ready.wait(), 10)
    # Senders are spread over nodes; a sender always uses one node, in order.
    lanes_count = lanes_per_node * len(urls)
    lanes: list[list[Transaction]] = [[] for _ in range(lanes_count)]
    if rate is None:
        for s, txs in enumerate(per_sender):
            lanes[s % len(lanes)].extend(txs)
    else:
        # Paced: a lane takes its senders in turn, each sender's transactions in
        # order, so that no sender has more pending than the rate gives it (a
        # sender's quota would refuse a whole chain sent at once).
        mine: list[list[list[Transaction]]] = [[] for _ in lanes]
        for s, txs in enumerate(per_sender):
            mine[s % len(lanes)].append(txs)
        for lane, chains in zip(lanes, mine, strict=True):
            lane.extend(t for turn in itertools.zip_longest(*chains) for t in turn if t)
    await asyncio.gather(*(lane_worker(urls[i % len(urls)], lane) for i, lane in enumerate(lanes)))
    try:
        finished, _ = await asyncio.wait(
            [asyncio.ensure_future(done.wait()), listener],
            timeout=FINAL_TIMEOUT_S,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if listener in finished and not done.is_set():
            listener.result()  # the event stream failed: say why
            raise RuntimeError("the event stream ended before every transaction was final")
        if not finished:
            raise RuntimeError(f"not every transaction was final after {FINAL_TIMEOUT_S:g} s")
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
    return submitted, sent, final, refused


def _wait_live(urls: list[str]) -> None:
    """Until every node has executed a first checkpoint: the load meets a live chain.

    Nodes answer before their peers are all connected; a load sent then measures
    the devnet's start (a paced one found every pool full before height 1).
    """
    deadline = time.monotonic() + LIVE_TIMEOUT_S
    with httpx.Client(timeout=2.0) as http:
        for url in urls:
            while http.get(url + "/v1/status").json()["height"] < 1:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} decided no checkpoint in {LIVE_TIMEOUT_S:g} s")
                time.sleep(0.05)


def run_bench(
    validators: int,
    txs: int,
    port_base: int | None = None,
    verify_workers: int | None = None,
    lanes_per_node: int = CONCURRENCY_PER_NODE,
    client_pending_max: int | None = None,
    rate: float | None = None,
) -> dict[str, Any]:
    """Start a devnet in a temporary directory, load it, measure, stop it.

    verify_workers: each node's (node.json); None: the devnet's own choice.
    lanes_per_node: the loader's requests in flight at each node (a paced load
    takes more when its rate needs them).
    client_pending_max: each node's back-pressure threshold (None: the default).
    rate: transactions per second of a paced load (None: a flood, as fast as taken).
    """
    keys = [SigningKey(secrets.token_bytes(32)) for _ in range(SENDERS)]
    if rate is not None:
        lanes_needed = rate * PACED_LANE_INTERVAL_S / PACED_BATCH_TXS
        lanes_per_node = max(lanes_per_node, math.ceil(lanes_needed / validators))
    verify_rate = raw_verify_rate()
    with tempfile.TemporaryDirectory(prefix="govchain-bench-") as tmp:
        root = Path(tmp)
        base = port_base or free_port_base(validators)
        balances = {k.address: SENDER_BALANCE for k in keys}
        nodes = create(
            root,
            validators,
            0,
            base,
            balances,
            verify_workers=verify_workers,
            client_pending_max=client_pending_max,
        )
        genesis = read_genesis(nodes[0].home / "genesis.json")
        per_sender = presign(genesis.chain_id, genesis.hash, keys, txs)
        net = Devnet(root, nodes)
        net.start()
        try:
            net.wait_ready()
            urls = [f"http://127.0.0.1:{n.api_port}" for n in nodes]
            _wait_live(urls)
            ws_url = f"ws://127.0.0.1:{nodes[0].api_port}/v1/events"
            cpu0 = [process_cpu_s(p.pid) for p in net.procs.values()]
            workers0 = [_children_cpu_s(p.pid) for p in net.procs.values()]
            threads0 = [thread_cpu_s(p.pid) for p in net.procs.values()]
            workers_n = [len(child_pids(p.pid)) for p in net.procs.values()]
            own0 = os.times()
            t0 = time.perf_counter()
            submitted, sent, final, refused = asyncio.run(
                load_until_final(urls, per_sender, ws_url, txs, lanes_per_node, rate)
            )
            own1 = os.times()
            node_cpu = [
                process_cpu_s(p.pid) - c for p, c in zip(net.procs.values(), cpu0, strict=True)
            ]
            loader_cpu = (own1.user - own0.user) + (own1.system - own0.system)
            procs = list(net.procs.values())
            workers_cpu = [_children_cpu_s(p.pid) - c for p, c in zip(procs, workers0, strict=True)]
            threads_cpu = [
                {k: v - t0_.get(k, 0.0) for k, v in thread_cpu_s(p.pid).items()}
                for p, t0_ in zip(net.procs.values(), threads0, strict=True)
            ]
            height = httpx.get(urls[0] + "/v1/status", timeout=10).json()["height"]
            elapsed = max(final.values()) - t0
            latencies = sorted((final[i] - submitted[i]) * 1000 for i in submitted if i in final)
            from_sent = sorted((final[i] - sent[i]) * 1000 for i in sent if i in final)
            rss = [_rss_peak_mb(p.pid) for p in net.procs.values()]
            disk = _dir_bytes(nodes[0].home / "data")
        finally:
            net.stop()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    qs = statistics.quantiles(from_sent, n=100, method="inclusive")
    return {
        "final_tps": round(txs / elapsed, 1),
        "latency_ms": {"p50": round(q[49], 1), "p99": round(q[98], 1)},
        # From the request that got the 202 (which waits for replication) to final.
        "sent_to_final_ms": {"p50": round(qs[49], 1), "p99": round(qs[98], 1)},
        "rss_mb_max": round(max(rss), 1),
        "disk_bytes_per_tx": round(disk / txs, 1),
        "verify_per_s": round(verify_rate, 1),
        "validators": validators,
        "txs": txs,
        "elapsed_s": round(elapsed, 2),
        "checkpoints": height,
        # CPU per final transaction during the load: each node, and this loader.
        "node_cpu_us_per_tx": [round(c / txs * 1e6) for c in node_cpu],
        "loader_cpu_us_per_tx": round(loader_cpu / txs * 1e6),
        # Each node's verify worker processes (docs/verification.md), apart from the above,
        # and its own CPU by thread.
        "verify_workers": workers_n,
        "verify_workers_cpu_us_per_tx": [round(c / txs * 1e6) for c in workers_cpu],
        "node_thread_cpu_us_per_tx": [
            {k: round(v / txs * 1e6) for k, v in sorted(t.items()) if v > 0} for t in threads_cpu
        ],
        "refused_retried": refused.total(),
        # Why: "pool_full" (the node's pending pool), "quota_exceeded" (the
        # sender's share of it), "503" (a whole request, the node's intake full).
        "refused_by_code": dict(sorted(refused.items())),
        "cpus": os.cpu_count(),
        # None: a flood; else the paced load's transactions per second, as asked.
        "rate": rate,
    }
