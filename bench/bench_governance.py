"""Governance on a running devnet: vote-to-enforcement delay, and final tx/s with governance state.

Two devnets of --validators nodes on this machine, running side by side, each in a
temporary directory; the load, its presigned transfers and its bare HTTP client
are govchain.node.bench's (`govchain bench`):

1. fresh: as created.
2. governed: first --rules keyword content rules (add-filter; distinct Chinese and
   ASCII terms of 1..16 characters) and --frozen frozen identities (freeze-identity
   of random addresses) are enacted through proposals by regulator-1 and yes votes
   by regulator-2, in rounds of at most 250 (PROPOSALS_OPEN_MAX is 256): propose,
   wait until final, vote, wait until final.

Then --reps pairs of loads, one on each devnet, the first of a pair alternating
(the other devnet idles meanwhile), each load once every node is nearly idle (the
last load's tail done): what else the machine does at a moment, and the chain
each load leaves behind, weigh on both sides of a pair alike. Use an even
--reps, so that each devnet goes first as often. Each
pair's tx/s ratio is reported, with the mean ratio and node CPU per transaction
(less disturbed by other work). Then each devnet's enforcement delay (below).

The load is N presigned transactions: transfers, and --records-pct percent text
records of ~200 bytes (Chinese and ASCII), the same mix in both runs. The records'
characters are disjoint from the rules' terms, so every record is scanned in full
and executed. Enforcement delay: regulator-1 proposes freeze-identity X (a funded
sender), regulator-2 votes yes; from the vote's submission X sends a probe transfer
every ~100 ms until one is final as rejected naming the proposal. Reported per node
(/v1/txs/{id}): the vote's checkpoint, the first checkpoint with X rejected, and the
wall time between the two as that node's event stream reported them.

Before each load two warm-up records are made final and timed, outside the load's
figures: no node calls policy.prepare() at start, so the first record screened by a
keyword rule builds normalize()'s tables inside a checkpoint. The CPU cost of
ContentRules.match on the load's records under the same rules is also timed in this
process, to show what every node pays per record.

Wall clock throughout; the machine may be shared, so the load average is printed
beside every figure, and node CPU per transaction (less disturbed by other work).
Prints figures; never asserts timings.

    PYTHONPATH=src python bench/bench_governance.py [--quick] [--json]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import websockets

from common import Reporter, arg_parser, fmt_rate, load_note, machine_info, machine_line
from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.node.bench import (
    BACK_PRESSURE,
    BATCH_TXS,
    RETRY_S,
    SENDER_BALANCE,
    BareHttp,
    load_until_final,
    presign,
    process_cpu_s,
)
from govchain.node.devnet import Devnet, create, free_port_base
from govchain.node.files import read_genesis, read_key
from govchain.sdk.client import propose_payload, vote_payload
from govchain.state import policy
from govchain.state.governance import PROPOSALS_OPEN_MAX
from govchain.state.payloads import (
    Action,
    AddFilter,
    FreezeIdentity,
    RecordPayload,
    TransferPayload,
)
from govchain.state.policy import (
    KEYWORD_CHARS_MAX,
    ContentRules,
    RuleAction,
    keyword_rule,
    normalize,
)

ROUND_MAX = 250
# Before each load: both devnets' nodes together under this many cores, measured
# over a window, or this long at most.
SETTLE_CORES = 0.15
SETTLE_WINDOW_S = 0.5
SETTLE_S_MAX = 20.0
assert ROUND_MAX <= PROPOSALS_OPEN_MAX - 4  # room for the enforcement proposal
SEED = 20_261_125
LIMITS = DagLimits()
VALID_UNTIL = LIMITS.validity_window_heights_max // 2  # as bench.presign
PROBE_EVERY_S = 0.1
ROUND_TIMEOUT_S = 300.0
ENFORCE_TIMEOUT_S = 120.0
RECORD_BYTES = 200
MEDIA_TYPE = "text/plain; charset=utf-8"
# Rules' terms and records' text draw on disjoint characters: no record matches.
TERM_HAN = (0x4E00, 0x5FFF)
TEXT_HAN = (0x6000, 0x7FFF)
TERM_ASCII = "abcdefghijklm"
TEXT_ASCII = "nopqrstuvwxyz0123456789"


# -- presigned transactions ------------------------------------------------------------
class Chain:
    """One sender's transactions, signed ahead: nonces counted, each naming the previous."""

    def __init__(self, key: SigningKey, chain_id: str, genesis_id: bytes) -> None:
        self.key, self.chain_id = key, chain_id
        self.nonce, self.last = 0, genesis_id

    def sign(self, kind: str, payload: bytes, also: Sequence[bytes] = ()) -> Transaction:
        """The sender's next transaction; `also` are further parents."""
        tx = build(
            self.key,
            chain_id=self.chain_id,
            kind=kind,
            nonce=self.nonce,
            parents=[self.last, *also],
            valid_until=VALID_UNTIL,
            payload=payload,
            stamp_bits_min=LIMITS.stamp_bits_min,
        )
        self.nonce, self.last = self.nonce + 1, tx.id
        return tx


def record_text(rng: random.Random) -> bytes:
    """~RECORD_BYTES of UTF-8: runs of Chinese characters and ASCII words."""
    parts: list[str] = []
    size = 0
    while size < RECORD_BYTES:
        if rng.random() < 0.5:
            s = "".join(chr(rng.randint(*TEXT_HAN)) for _ in range(rng.randint(2, 8)))
            s += "\uff0c"  # a full-width comma
        else:
            s = "".join(rng.choice(TEXT_ASCII) for _ in range(rng.randint(2, 9))) + " "
        parts.append(s)
        size += len(s.encode())
    return "".join(parts).encode()


def load_workload(
    chain_id: str, genesis_id: bytes, keys: list[SigningKey], txs: int, records_pct: float
) -> list[list[Transaction]]:
    """Per sender, its chain: bench.presign's transfers for most senders, text records
    for records_pct percent of the transactions from the others; senders shuffled with
    a fixed seed so records are spread over the load's lanes and its duration."""
    rng = random.Random(SEED)
    n_records = round(txs * records_pct / 100)
    record_senders = min(len(keys) - 1, max(1, round(len(keys) * records_pct / 100)))
    if n_records == 0:
        record_senders = 0
    per = presign(chain_id, genesis_id, keys[record_senders:], txs - n_records)
    chains = [Chain(k, chain_id, genesis_id) for k in keys[:record_senders]]
    recs: list[list[Transaction]] = [[] for _ in chains]
    for i in range(n_records):
        c = i % len(chains)
        payload = encode(RecordPayload("", MEDIA_TYPE, record_text(rng)))
        recs[c].append(chains[c].sign("record", payload))
    per += recs
    rng.shuffle(per)
    return per


def keyword_terms(count: int, rng: random.Random) -> list[str]:
    """count distinct terms: alternately Chinese (1..8 characters) and ASCII (3..16)."""
    terms: list[str] = []
    seen: set[str] = set()
    i = 0
    while len(terms) < count:
        if i % 2 == 0:
            n = 1 + (i // 2) % 8
            term = "".join(chr(rng.randint(*TERM_HAN)) for _ in range(n))
        else:
            n = 3 + (i // 2) % (KEYWORD_CHARS_MAX - 2)
            term = "".join(rng.choice(TERM_ASCII) for _ in range(n))
        i += 1
        if normalize(term) not in seen:
            seen.add(normalize(term))
            terms.append(term)
    return terms


def governance_actions(rules: int, frozen: int) -> tuple[list[Action], list[bytes]]:
    """rules keyword add-filters, then frozen freezes of random addresses (and those)."""
    rng = random.Random(SEED + 1)
    actions: list[Action] = [
        AddFilter(keyword_rule(t), RuleAction.REJECT) for t in keyword_terms(rules, rng)
    ]
    addresses = [rng.randbytes(20) for _ in range(frozen)]
    actions += [FreezeIdentity(a) for a in addresses]
    return actions, addresses


# -- talking to the devnet -----------------------------------------------------------
class Seen(NamedTuple):
    """A receipt as a node's event stream reported it."""

    t: float  # time.perf_counter() at arrival
    height: int
    status: str
    reason: str | None


class Watcher:
    """Every receipt on the event streams of some nodes: seen[node][tx id hex]."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.seen: list[dict[str, Seen]] = [{} for _ in ports]
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Connect to every stream; returns once all are subscribed."""
        ready = [asyncio.Event() for _ in self.ports]
        self.tasks = [
            asyncio.create_task(self._listen(i, port, ready[i]))
            for i, port in enumerate(self.ports)
        ]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 10)

    async def _listen(self, i: int, port: int, ready: asyncio.Event) -> None:
        url = f"ws://127.0.0.1:{port}/v1/events"
        async with websockets.connect(url, max_size=None, max_queue=None) as ws:
            ready.set()
            async for raw in ws:
                ev = json.loads(raw)
                if ev.get("type") == "receipts":
                    t = time.perf_counter()
                    seen = self.seen[i]
                    for rc in ev["receipts"]:
                        seen.setdefault(
                            rc["tx_id"], Seen(t, ev["height"], rc["status"], rc["reason"])
                        )
        raise RuntimeError(f"the event stream of port {port} ended")

    async def wait(self, ids: list[str], nodes: Sequence[int], timeout_s: float) -> None:
        """Until every id is final on every given node."""
        deadline = time.perf_counter() + timeout_s
        for i in nodes:
            for tx_id in ids:
                while tx_id not in self.seen[i]:
                    for task in self.tasks:
                        if task.done():
                            task.result()
                    if time.perf_counter() > deadline:
                        raise RuntimeError(f"{tx_id} not final on node {i} after {timeout_s:g} s")
                    await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Close every stream."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def submit(http: BareHttp, txs: list[Transaction], chunk: int = BATCH_TXS) -> None:
    """POST txs through /v1/txs/batch, chunk at a time, again what back-pressure refused."""
    for start in range(0, len(txs), chunk):
        batch = txs[start : start + chunk]
        while batch:
            r = await http.post("/v1/txs/batch", encode([t.to_wire() for t in batch]))
            if r.status_code == 503:
                await asyncio.sleep(RETRY_S)
                continue
            if r.status_code != 202:
                raise RuntimeError(f"a batch was refused: {r.status_code} {r.text}")
            again: list[Transaction] = []
            for t, res in zip(batch, r.json()["results"], strict=True):
                code = res.get("error", {}).get("code")
                if code in BACK_PRESSURE:
                    again.append(t)
                elif code not in (None, "duplicate"):
                    raise RuntimeError(f"{t.id.hex()} ({t.body.kind}) rejected: {res}")
            batch = again
            if batch:
                await asyncio.sleep(RETRY_S)


def check_executed(watch: Watcher, txs: list[Transaction]) -> None:
    """Raise unless every tx was final as executed on node 0."""
    for t in txs:
        s = watch.seen[0][t.id.hex()]
        if s.status != "executed":
            raise RuntimeError(f"{t.body.kind} {t.id.hex()} final as {s.status} ({s.reason})")


async def install(
    http: BareHttp, watch: Watcher, proposals: list[Transaction], votes: list[Transaction], out: Any
) -> dict[str, Any]:
    """Propose a round, wait until final, vote on it, wait; repeat. Seconds and checkpoints."""
    t0 = time.perf_counter()
    h0 = None
    rounds = 0
    for start in range(0, len(proposals), ROUND_MAX):
        for group in (proposals[start : start + ROUND_MAX], votes[start : start + ROUND_MAX]):
            await submit(http, group, chunk=ROUND_MAX)
            await watch.wait([t.id.hex() for t in group], [0], ROUND_TIMEOUT_S)
            check_executed(watch, group)
            if h0 is None:
                h0 = min(watch.seen[0][t.id.hex()].height for t in group)
        rounds += 1
        done = min(start + ROUND_MAX, len(proposals))
        if rounds % 10 == 0 or done == len(proposals):
            out.progress(
                f"  {done}/{len(proposals)} proposals passed, {time.perf_counter() - t0:.0f} s"
            )
    h1 = watch.seen[0][votes[-1].id.hex()].height
    return {
        "seconds": round(time.perf_counter() - t0, 2),
        "rounds": rounds,
        "checkpoints": h1 - (h0 or h1) + 1,
        "proposals": len(proposals),
        "votes": len(votes),
    }


async def verify_installed(
    urls: list[str], first: Transaction, last: Transaction, frozen: list[bytes]
) -> None:
    """On every node: no proposal open, the first and last passed, a frozen address frozen."""
    async with httpx.AsyncClient(timeout=10) as c:
        for url in urls:
            r = await c.get(f"{url}/v1/governance/proposals", params={"status": "open", "limit": 1})
            if r.json()["proposals"]:
                raise RuntimeError(f"{url}: proposals still open after the installation")
            for t in (first, last):
                p = (await c.get(f"{url}/v1/governance/proposals/{t.id.hex()}")).json()
                if p.get("status") != "passed":
                    raise RuntimeError(f"{url}: proposal {t.id.hex()} is {p}")
            if frozen:
                ident = (await c.get(f"{url}/v1/identities/{frozen[-1].hex()}")).json()
                if not ident.get("frozen"):
                    raise RuntimeError(f"{url}: {frozen[-1].hex()} is not frozen: {ident}")


async def enforcement(
    urls: list[str], watch: Watcher, reg1: Chain, reg2: Chain, x: Chain, sink: bytes
) -> dict[str, Any]:
    """Freeze X by proposal and vote; probe X's transfers until one is rejected."""
    http = BareHttp(urls[0])
    everyone = range(len(urls))
    try:
        reason = "bench: enforcement delay"
        prop = reg1.sign("gov.propose", propose_payload(FreezeIdentity(x.key.address), reason))
        await submit(http, [prop])
        await watch.wait([prop.id.hex()], [0], ENFORCE_TIMEOUT_S)
        check_executed(watch, [prop])
        vote = reg2.sign("gov.vote", vote_payload(prop.id.hex(), True), [prop.id])
        vote_id = vote.id.hex()
        await submit(http, [vote])
        probes: list[Transaction] = []
        sent: dict[bytes, float] = {}
        first_rejected: Transaction | None = None
        deadline = time.perf_counter() + ENFORCE_TIMEOUT_S
        while first_rejected is None:
            t_next = time.perf_counter() + PROBE_EVERY_S
            probe = x.sign("transfer", encode(TransferPayload(sink, 1)))
            probes.append(probe)
            sent[probe.id] = time.perf_counter()
            await submit(http, [probe])
            for p in probes:  # nonce order: the first rejected is the earliest
                s = watch.seen[0].get(p.id.hex())
                if s is not None and s.status == "rejected":
                    first_rejected = p
                    break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no probe rejected {ENFORCE_TIMEOUT_S:g} s after the vote")
            await asyncio.sleep(max(0.0, t_next - time.perf_counter()))
        probe_id = first_rejected.id.hex()
        await watch.wait([vote_id, probe_id], everyone, ENFORCE_TIMEOUT_S)
        # Every probe sent before the first rejected one is final too (its ancestors).
        earlier = probes[: probes.index(first_rejected)]
        executed_h = [watch.seen[0][p.id.hex()].height for p in earlier]
        nodes = []
        async with httpx.AsyncClient(timeout=10) as c:
            for i, url in enumerate(urls):
                v = (await c.get(f"{url}/v1/txs/{vote_id}")).json()
                r = (await c.get(f"{url}/v1/txs/{probe_id}")).json()
                seen_v, seen_r = watch.seen[i][vote_id], watch.seen[i][probe_id]
                nodes.append(
                    {
                        "vote_status": v["status"],
                        "vote_checkpoint": v["checkpoint"],
                        "rejected_from_checkpoint": r["checkpoint"],
                        "checkpoints_after_vote": r["checkpoint"] - v["checkpoint"],
                        "probe_status": r["status"],
                        "probe_reason": r["receipt"]["rule"],
                        "names_proposal": r["receipt"]["governance_ref"] == prop.id.hex(),
                        "vote_final_to_rejected_ms": round((seen_r.t - seen_v.t) * 1000, 1),
                    }
                )
    finally:
        http.close()
    # The first probe sent once node 0 had reported the vote final.
    t_vote0 = watch.seen[0][vote_id].t
    after = [p for p in probes if sent[p.id] >= t_vote0]
    first_after = watch.seen[0].get(after[0].id.hex()) if after else None
    return {
        "proposal": prop.id.hex(),
        "probes": len(probes),
        "last_executed_probe_checkpoint": max(executed_h) if executed_h else None,
        "first_probe_after_vote_final": None if first_after is None else first_after.status,
        "nodes": nodes,
        "same_everywhere": len(
            {(n["vote_checkpoint"], n["rejected_from_checkpoint"]) for n in nodes}
        )
        == 1,
    }


async def warmup(urls: list[str], net: Devnet, warm: Chain) -> list[float]:
    """Two records, one after the other: ms from submission to final on every node.

    Nothing in a node calls policy.prepare() at start, so the first record screened
    against a keyword rule builds normalize()'s tables inside a checkpoint (~0.4 s of
    CPU on an idle core); the load must not pay that one-off cost.
    """
    watch = Watcher([n.api_port for n in net.nodes])
    await watch.start()
    http = BareHttp(urls[0])
    rng = random.Random(SEED + 2)
    out = []
    try:
        for _ in range(2):
            rec = warm.sign("record", encode(RecordPayload("", MEDIA_TYPE, record_text(rng))))
            t0 = time.perf_counter()
            await submit(http, [rec])
            await watch.wait([rec.id.hex()], range(len(urls)), ENFORCE_TIMEOUT_S)
            check_executed(watch, [rec])
            slowest = max(seen[rec.id.hex()].t for seen in watch.seen)
            out.append(round((slowest - t0) * 1000, 1))
    finally:
        http.close()
        await watch.stop()
    return out


async def throughput(
    urls: list[str], net: Devnet, per_sender: list[list[Transaction]], txs: int
) -> dict[str, Any]:
    """bench's load on the devnet: final tx/s, latency, CPU per transaction."""
    ws_url = f"ws://127.0.0.1:{net.nodes[0].api_port}/v1/events"
    load_before = os.getloadavg()[0]
    cpu0 = [process_cpu_s(p.pid) for p in net.procs.values()]
    own0 = os.times()
    t0 = time.perf_counter()
    submitted, _, final, refused = await load_until_final(urls, per_sender, ws_url, txs)
    own1 = os.times()
    node_cpu = [process_cpu_s(p.pid) - c for p, c in zip(net.procs.values(), cpu0, strict=True)]
    elapsed = max(final.values()) - t0
    latencies = sorted((final[i] - submitted[i]) * 1000 for i in submitted if i in final)
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    loader_cpu = (own1.user - own0.user) + (own1.system - own0.system)
    return {
        "final_tps": round(txs / elapsed, 1),
        "elapsed_s": round(elapsed, 2),
        "latency_ms": {"p50": round(q[49], 1), "p99": round(q[98], 1)},
        "node_cpu_us_per_tx": [round(c / txs * 1e6) for c in node_cpu],
        "loader_cpu_us_per_tx": round(loader_cpu / txs * 1e6),
        "refused_retried": refused.total(),
        "refused_by_code": dict(sorted(refused.items())),
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


async def sample_records(
    url: str, per_sender: list[list[Transaction]], count: int
) -> dict[str, int]:
    """Statuses of up to count of the load's records, read back from one node."""
    records = [t for chain in per_sender for t in chain if t.body.kind == "record"]
    pick = random.Random(SEED).sample(records, min(count, len(records)))
    statuses: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=10) as c:
        for t in pick:
            doc = (await c.get(f"{url}/v1/txs/{t.id.hex()}")).json()
            statuses[doc["status"]] = statuses.get(doc["status"], 0) + 1
    return statuses


@dataclass
class Side:
    """One devnet of the comparison, running, with its presigned transactions."""

    label: str
    net: Devnet
    urls: list[str]
    loads: list[list[list[Transaction]]]
    proposals: list[Transaction]
    votes: list[Transaction]
    frozen: list[bytes]
    reg1: Chain
    reg2: Chain
    x: Chain
    warm: Chain
    sink: bytes
    result: dict[str, Any] = field(default_factory=dict)


def start_devnet(args: Any, governed: bool, out: Reporter, stack: contextlib.ExitStack) -> Side:
    """A devnet started in a temporary directory (both leave with stack), its load presigned."""
    label = "governed" if governed else "fresh"
    load_keys = [
        [SigningKey.from_label(f"bench-gov-sender-{r}-{i}") for i in range(args.senders)]
        for r in range(args.reps)
    ]
    x_key = SigningKey.from_label("bench-gov-x")
    warm_key = SigningKey.from_label("bench-gov-warmup")
    funded = {k.address: SENDER_BALANCE for keys in load_keys for k in keys}
    funded[x_key.address] = funded[warm_key.address] = SENDER_BALANCE
    root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="govchain-bench-gov-")))
    nodes = create(root, args.validators, 0, free_port_base(args.validators), funded)
    genesis = read_genesis(nodes[0].home / "genesis.json")
    cid, gid = genesis.chain_id, genesis.hash
    reg1 = Chain(read_key(root / "keys" / "regulator-1.key"), cid, gid)
    reg2 = Chain(read_key(root / "keys" / "regulator-2.key"), cid, gid)
    t0 = time.perf_counter()
    loads = [load_workload(cid, gid, keys, args.txs, args.records_pct) for keys in load_keys]
    proposals: list[Transaction] = []
    votes: list[Transaction] = []
    frozen: list[bytes] = []
    if governed:
        actions, frozen = governance_actions(args.rules, args.frozen)
        for i, a in enumerate(actions):
            proposals.append(reg1.sign("gov.propose", propose_payload(a, f"bench {i}")))
        votes = [reg2.sign("gov.vote", vote_payload(p.id.hex(), True), [p.id]) for p in proposals]
    out.progress(
        f"{label}: presigned {args.reps} x {args.txs} load transactions and "
        f"{len(proposals) + len(votes)} governance ones in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    net = Devnet(root, nodes)
    net.start()
    stack.callback(net.stop)
    net.wait_ready()
    return Side(
        label,
        net,
        [f"http://127.0.0.1:{n.api_port}" for n in nodes],
        loads,
        proposals,
        votes,
        frozen,
        reg1,
        reg2,
        Chain(x_key, cid, gid),
        Chain(warm_key, cid, gid),
        SigningKey.from_label("bench-gov-sink").address,
        {"devnet": label, "loads": []},
    )


async def prepare(side: Side, args: Any, out: Reporter) -> None:
    """Governance state (on the governed side), then the warm-up records."""
    if side.proposals:
        watch = Watcher([side.net.nodes[0].api_port])
        await watch.start()
        http = BareHttp(side.urls[0])
        load = os.getloadavg()[0]
        try:
            out.progress(f"installing {args.rules} content rules and {args.frozen} freezes...")
            side.result["install"] = await install(http, watch, side.proposals, side.votes, out)
        finally:
            http.close()
            await watch.stop()
        side.result["install"]["loadavg_1m"] = [round(load, 2), round(os.getloadavg()[0], 2)]
        await verify_installed(side.urls, side.proposals[0], side.proposals[-1], side.frozen)
    side.result["warmup_record_ms"] = await warmup(side.urls, side.net, side.warm)


async def finish(side: Side) -> None:
    """The loads' records read back, and the enforcement delay."""
    side.result["record_statuses"] = await sample_records(side.urls[0], side.loads[-1], 20)
    watch = Watcher([n.api_port for n in side.net.nodes])
    await watch.start()
    load = os.getloadavg()[0]
    try:
        side.result["enforcement"] = await enforcement(
            side.urls, watch, side.reg1, side.reg2, side.x, side.sink
        )
    finally:
        await watch.stop()
    side.result["enforcement"]["loadavg_1m"] = round(load, 2)


async def settle(sides: Sequence[Side]) -> float:
    """Wait until every node is nearly idle (a load's tail done); returns the seconds waited.

    After a load its devnet still works a while (the last heights' snapshot, the
    tx-id index merge, WAL checkpoints): run under the next load, that cost the
    next load's devnet several percent of its throughput.
    """
    procs = [p.pid for side in sides for p in side.net.procs.values()]
    t0 = time.perf_counter()
    before = sum(process_cpu_s(pid) for pid in procs)
    while time.perf_counter() - t0 < SETTLE_S_MAX:
        await asyncio.sleep(SETTLE_WINDOW_S)
        now = sum(process_cpu_s(pid) for pid in procs)
        if (now - before) / SETTLE_WINDOW_S < SETTLE_CORES:
            break
        before = now
    return round(time.perf_counter() - t0, 1)


async def paired(fresh: Side, governed: Side, args: Any, out: Reporter) -> None:
    """The loads in pairs, fresh and governed one after the other, in turns.

    Both devnets run throughout (the one not loaded idles), so what else the
    machine does at a moment, and what each load leaves behind in the chain,
    weighs on both sides of a pair alike; the first of a pair alternates.
    """
    await prepare(fresh, args, out)
    await prepare(governed, args, out)
    for r in range(args.reps):
        for side in (fresh, governed) if r % 2 == 0 else (governed, fresh):
            waited = await settle((fresh, governed))
            out.progress(f"load {r + 1}/{args.reps} on {side.label}: {args.txs} transactions...")
            load = await throughput(side.urls, side.net, side.loads[r], args.txs)
            side.result["loads"].append({**load, "settled_s": waited})
    out.progress("enforcement delay...")
    await finish(fresh)
    await finish(governed)


def match_cost(rules: int, count: int = 300) -> float:
    """CPU us per ContentRules.match on the load's records under the same keyword rules,
    in this process, normalize()'s tables built first: what each node pays per record."""
    policy.prepare()
    rng = random.Random(SEED + 1)
    cr = ContentRules()
    for i, term in enumerate(keyword_terms(rules, rng)):
        cr.add(f"rule-{i}", keyword_rule(term), RuleAction.REJECT, "bench")
    texts_rng = random.Random(SEED)
    texts = [record_text(texts_rng) for _ in range(count)]
    t0 = time.process_time()
    for data in texts:
        if cr.match(bytes(32), MEDIA_TYPE, data) is not None:
            raise RuntimeError("a load record matches a rule: the benchmark's texts are wrong")
    return (time.process_time() - t0) / count * 1e6


def main() -> None:
    p = arg_parser(__doc__.splitlines()[0])
    p.add_argument("--validators", type=int, default=4)
    p.add_argument("--txs", type=int, help="transactions per load (default 6000, quick 1500)")
    p.add_argument("--senders", type=int, default=200, help="senders per load")
    p.add_argument("--records-pct", type=float, default=10.0, help="share of text records")
    p.add_argument("--rules", type=int, help="keyword content rules (default 100, quick 20)")
    p.add_argument("--frozen", type=int, help="frozen identities (default 10000, quick 500)")
    p.add_argument("--reps", type=int, default=1, help="loads per devnet (fresh senders each)")
    args = p.parse_args()
    args.txs = args.txs or (1_500 if args.quick else 6_000)
    args.rules = args.rules if args.rules is not None else (20 if args.quick else 100)
    args.frozen = args.frozen if args.frozen is not None else (500 if args.quick else 10_000)
    out = Reporter(args.json)
    info = machine_info()

    match_us = match_cost(args.rules) if args.rules else 0.0
    with contextlib.ExitStack() as stack:
        sides = start_devnet(args, False, out, stack), start_devnet(args, True, out, stack)
        asyncio.run(paired(*sides, args, out))
    fresh, governed = sides[0].result, sides[1].result
    tps_fresh = statistics.mean(x["final_tps"] for x in fresh["loads"])
    tps_gov = statistics.mean(x["final_tps"] for x in governed["loads"])
    pair_ratios = [
        round(g["final_tps"] / f["final_tps"], 3)
        for f, g in zip(fresh["loads"], governed["loads"], strict=True)
    ]
    cpu_f = statistics.mean(c for ld in fresh["loads"] for c in ld["node_cpu_us_per_tx"])
    cpu_g = statistics.mean(c for ld in governed["loads"] for c in ld["node_cpu_us_per_tx"])
    result: dict[str, Any] = {
        "bench": "governance",
        "quick": args.quick,
        "machine": info,
        "validators": args.validators,
        "txs": args.txs,
        "senders": args.senders,
        "records_pct": args.records_pct,
        "rules": args.rules,
        "frozen": args.frozen,
        "reps": args.reps,
        "fresh": fresh,
        "governed": governed,
        "tps_ratio": round(tps_gov / tps_fresh, 3),
        "pair_tps_ratios": pair_ratios,
        "pair_tps_ratio_median": statistics.median(pair_ratios),
        "node_cpu_ratio": round(cpu_f / cpu_g, 3),
        "match_cpu_us_per_record": round(match_us, 1),
    }

    out.line(f"machine: {machine_line(info)}")
    note = load_note(info)
    if note:
        out.line(note)
    out.line(
        f"governance on a {args.validators}-validator devnet; load: {args.txs} presigned "
        f"transactions from {args.senders} senders, {args.records_pct:g}% text records "
        f"of ~{RECORD_BYTES} bytes; wall clock"
    )
    out.line()
    inst = governed["install"]
    out.line(
        f"installing {args.rules} keyword rules + {args.frozen} freezes: "
        f"{inst['proposals']} proposals + {inst['votes']} votes in {inst['rounds']} rounds, "
        f"{inst['seconds']:.1f} s over {inst['checkpoints']} checkpoints "
        f"({(inst['proposals'] + inst['votes']) / inst['seconds']:.0f} gov tx/s; "
        f"load {inst['loadavg_1m'][0]:.1f} -> {inst['loadavg_1m'][1]:.1f})"
    )
    out.line()
    out.line(
        f"  {'final throughput':<28} {'tx/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'node us/tx':>22} {'load 1m':>12}"
    )
    for name, run in (("fresh", fresh), (f"{args.rules} rules, {args.frozen} frozen", governed)):
        for ld in run["loads"]:
            cpu = "/".join(str(c) for c in ld["node_cpu_us_per_tx"])
            out.line(
                f"  {name:<28} {fmt_rate(ld['final_tps']):>8} {ld['latency_ms']['p50']:>8.0f} "
                f"{ld['latency_ms']['p99']:>8.0f} {cpu:>22} "
                f"{ld['loadavg_1m'][0]:>5.1f}->{ld['loadavg_1m'][1]:<5.1f}"
            )
    out.line(
        f"  governed / fresh: tx/s {tps_gov / tps_fresh:.2f} (aim >= 0.90; each pair: "
        f"{', '.join(f'{r:.2f}' for r in pair_ratios)}); node CPU per tx, fresh / governed "
        f"{cpu_f / cpu_g:.2f}; sampled records final as {governed['record_statuses']}"
    )
    out.line(
        f"  ContentRules.match on these records under the {args.rules} rules, in this "
        f"process: {match_us:,.0f} us CPU per record, so ~{match_us * args.records_pct / 100:.0f}"
        " us per load transaction on every node"
    )
    out.line(
        "  first two records after the rules, submission to final on every node: "
        f"{governed['warmup_record_ms'][0]:.0f} ms, then {governed['warmup_record_ms'][1]:.0f} ms"
        f" (fresh devnet: {fresh['warmup_record_ms'][0]:.0f}, "
        f"{fresh['warmup_record_ms'][1]:.0f}); not in the load's figures"
    )
    out.line()
    out.line("enforcement delay (freeze X: regulator-1 proposes, regulator-2's vote decides):")
    for name, run in (("fresh", fresh), ("governed", governed)):
        e = run["enforcement"]
        for i, n in enumerate(e["nodes"]):
            out.line(
                f"  {name:<9} node {i}: vote final at {n['vote_checkpoint']}, X rejected from "
                f"{n['rejected_from_checkpoint']} (+{n['checkpoints_after_vote']}, "
                f"{n['probe_reason']}, names the proposal: {n['names_proposal']}), "
                f"{n['vote_final_to_rejected_ms']:.0f} ms after the vote was final"
            )
        out.line(
            f"  {name:<9} {e['probes']} probes; last executed at "
            f"{e['last_executed_probe_checkpoint']}; "
            f"first sent after the vote was final: {e['first_probe_after_vote_final']}; same "
            f"heights on every node: {e['same_everywhere']}; load {e['loadavg_1m']:.1f}"
        )
    out.emit(result)


if __name__ == "__main__":
    main()
