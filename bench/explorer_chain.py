"""Part 1's chain: a devnet loaded through the API with chunked presigned transfers,
text records, governance and the warehouse demo; built in --dir (kept with --keep) or
reused from it (see bench_explorer.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from common import Reporter
from explorer_measure import loadavg
from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.kinds import Kind
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.node.bench import SENDER_BALANCE, SENDERS, load_until_final
from govchain.node.devnet import (
    Devnet,
    busy_ports,
    create,
    existing,
    free_port_base,
    release_port_base,
)
from govchain.node.files import read_genesis, read_key
from govchain.sdk.client import Client
from govchain.state.payloads import AddFilter, RecordPayload, SetFilingNumber, SetParam
from govchain.state.payloads import TransferPayload as Pay
from govchain.state.policy import RuleAction, keyword_rule

CHUNK_TXS = 50_000  # signed ahead, then sent, a chunk at a time: memory stays ~100 MB
HUB_EVERY = 10  # every 10th transfer pays the hub: the busiest account
RECORDS = 300
RECORD_SENDERS = 3
RECORD_MEDIA = "text/plain; charset=utf-8"
SERVICE_ID = "bench-explorer"
RULE_TERM = "基准测试违禁词"  # passed as a content rule; no record contains it
FILING_NUMBER = "京ICP备20261203号-15"
OPEN_PARAM = ("hold_amount_min", 10**12)  # proposed, never voted: the open proposal
IDLE_TIMEOUT_S = 600.0
IDLE_POLL_S = 0.5
SETUP_TIMEOUT_S = 60.0
DEMO_TIMEOUT_S = 600.0
MANIFEST = "bench_explorer.json"  # in --dir: what a complete build left for the next run
MANIFEST_VERSION = 1
GOVCHAIN = [sys.executable, "-m", "govchain.cli.main"]
LIMITS = DagLimits()


def src_env() -> dict[str, str]:
    """The environment for a govchain subprocess: src/ on PYTHONPATH."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class Chains:
    """Senders whose chains go on across chunks: each transaction names its sender's previous."""

    def __init__(self, keys: list[SigningKey], chain_id: str, genesis_id: bytes) -> None:
        self.keys, self.chain_id = keys, chain_id
        self.last = [genesis_id] * len(keys)
        self.nonce = [0] * len(keys)

    def sign(self, s: int, kind: str, payload: bytes, valid_until: int) -> Transaction:
        """Sender s's next transaction."""
        tx = build(
            self.keys[s],
            chain_id=self.chain_id,
            kind=kind,
            nonce=self.nonce[s],
            parents=[self.last[s]],
            valid_until=valid_until,
            payload=payload,
            stamp_bits_min=LIMITS.stamp_bits_min,
        )
        self.last[s], self.nonce[s] = tx.id, self.nonce[s] + 1
        return tx


def transfer_chunk(
    chains: Chains, start: int, count: int, valid_until: int
) -> list[list[Transaction]]:
    """Transfers start..start+count-1, per sender: i is sent by i % senders to the next
    sender, or to the hub (sender 0) when i % HUB_EVERY == 0."""
    n = len(chains.keys)
    per: list[list[Transaction]] = [[] for _ in range(n)]
    for i in range(start, start + count):
        s = i % n
        to = 0 if i % HUB_EVERY == 0 and s != 0 else (s + 1) % n
        payload = encode(Pay(chains.keys[to].address, 1 + i % 1_000))
        per[s].append(chains.sign(s, Kind.TRANSFER, payload, valid_until))
    return per


def record_chunk(chains: Chains, count: int, valid_until: int) -> list[list[Transaction]]:
    """count text records, per sender; every third belongs to SERVICE_ID."""
    per: list[list[Transaction]] = [[] for _ in chains.keys]
    for i in range(count):
        s = i % len(chains.keys)
        text = f"bench explorer record {i}: 仓单与运输记录 {secrets.token_hex(8)}".encode()
        service = SERVICE_ID if i % 3 == 0 else ""
        payload = encode(RecordPayload(service, RECORD_MEDIA, text))
        per[s].append(chains.sign(s, Kind.RECORD, payload, valid_until))
    return per


@dataclass
class Built:
    """What a complete build left: enough to find every page's data again."""

    version: int
    validators: int
    txs: int
    records: int
    hub: str
    first_tx: str
    last_transfer: str
    service: str
    rule_proposal: str
    filing_proposal: str
    open_proposal: str
    receipt: str
    build_s: float
    load_s: float
    presign_s: float
    height_after: int
    loadavg_1m: list[float] = field(default_factory=list)


def wait_idle(url: str, timeout_s: float = IDLE_TIMEOUT_S) -> dict[str, Any]:
    """Until the node holds no pending vertex; its status then."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=10) as http:
        while True:
            st: dict[str, Any] = http.get(url + "/v1/status").json()
            if st["dag"]["pending"] == 0:
                return st
            if time.monotonic() > deadline:
                raise RuntimeError(f"still {st['dag']['pending']} pending after {timeout_s:g} s")
            time.sleep(IDLE_POLL_S)


def governance_setup(url: str, root: Path, out: Reporter) -> dict[str, str]:
    """A service, a content rule and a filing number passed (propose + vote), one open proposal."""
    faucet = read_key(root / "keys" / "faucet.key")
    reg1 = read_key(root / "keys" / "regulator-1.key")
    reg2 = read_key(root / "keys" / "regulator-2.key")
    found: dict[str, str] = {"service": SERVICE_ID}
    with Client(url, timeout_s=SETUP_TIMEOUT_S) as c:
        rec = c.wait_final(c.submit(c.register_service(faucet, SERVICE_ID)), SETUP_TIMEOUT_S)
        if rec["status"] != "executed":
            raise RuntimeError(f"service registration final as {rec['status']}")
        for name, action in (
            ("rule_proposal", AddFilter(keyword_rule(RULE_TERM), RuleAction.REJECT)),
            ("filing_proposal", SetFilingNumber(FILING_NUMBER)),
        ):
            pid = c.submit_proposal(reg1, action, f"bench_explorer: {name}")["proposal_id"]
            got = c.submit_vote(reg2, pid, True)
            if got["status"] != "passed":
                raise RuntimeError(f"{name} {pid} is {got['status']} after the second vote")
            found[name] = pid
        action_open = SetParam(*OPEN_PARAM)
        found["open_proposal"] = c.submit_proposal(
            reg1, action_open, "bench_explorer: left open, one vote of two"
        )["proposal_id"]
    out.progress(f"  service {SERVICE_ID}, 2 proposals passed, 1 open")
    return found


def warehouse_demo(root: Path, out: Reporter) -> str:
    """`govchain demo warehouse --devnet root --json`; the receipt number it issued."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*GOVCHAIN, "demo", "warehouse", "--devnet", str(root), "--json"],
        env=src_env(),
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"demo warehouse failed ({proc.returncode}): {proc.stderr[-2000:]}")
    doc = json.loads(proc.stdout)
    out.progress(
        f"  warehouse demo: receipt {doc['receipt']}, {len(doc['steps'])} steps in "
        f"{time.perf_counter() - t0:.0f} s"
    )
    return str(doc["receipt"])


def build_chain(root: Path, net: Devnet, args: Any, out: Reporter) -> Built:
    """Load the new devnet's chain; the manifest of what it holds."""
    node0 = net.nodes[0]
    url = f"http://127.0.0.1:{node0.api_port}"
    ws_url = f"ws://127.0.0.1:{node0.api_port}/v1/events"
    urls = [f"http://127.0.0.1:{n.api_port}" for n in net.nodes]
    genesis = read_genesis(node0.home / "genesis.json")
    keys = [SigningKey.from_label(f"bench-explorer-sender-{i}") for i in range(SENDERS)]
    rkeys = [SigningKey.from_label(f"bench-explorer-writer-{i}") for i in range(RECORD_SENDERS)]
    chains = Chains(keys, genesis.chain_id, genesis.hash)
    writers = Chains(rkeys, genesis.chain_id, genesis.hash)
    load0 = loadavg()
    t_build = time.perf_counter()
    gov = governance_setup(url, root, out)
    first_tx = last_transfer = ""
    presign_s = load_s = 0.0
    done = 0
    with httpx.Client(timeout=10) as http:
        while done < args.txs:
            count = min(CHUNK_TXS, args.txs - done)
            height = int(http.get(url + "/v1/status").json()["height"])
            valid_until = height + LIMITS.validity_window_heights_max // 2
            t0 = time.perf_counter()
            per = transfer_chunk(chains, done, count, valid_until)
            if done == 0:
                first_tx = per[0][0].id.hex()
                per += record_chunk(writers, RECORDS, valid_until)
            last_transfer = per[(done + count - 1) % SENDERS][-1].id.hex()
            t1 = time.perf_counter()
            expect = sum(len(p) for p in per)
            asyncio.run(load_until_final(urls, per, ws_url, expect))
            t2 = time.perf_counter()
            presign_s += t1 - t0
            load_s += t2 - t1
            done += count
            out.progress(
                f"  {done:,}/{args.txs:,} transfers final: chunk signed in {t1 - t0:.0f} s, "
                f"final in {t2 - t1:.0f} s ({expect / (t2 - t1):,.0f} tx/s); load "
                f"{loadavg():.1f}"
            )
    net.write_description()  # the demo finds the devnet by its devnet.json
    receipt = warehouse_demo(root, out)
    st = wait_idle(url)
    return Built(
        version=MANIFEST_VERSION,
        validators=len(net.nodes),
        txs=args.txs,
        records=RECORDS,
        hub=keys[0].address.hex(),
        first_tx=first_tx,
        last_transfer=last_transfer,
        service=gov["service"],
        rule_proposal=gov["rule_proposal"],
        filing_proposal=gov["filing_proposal"],
        open_proposal=gov["open_proposal"],
        receipt=receipt,
        build_s=round(time.perf_counter() - t_build, 1),
        load_s=round(load_s, 1),
        presign_s=round(presign_s, 1),
        height_after=int(st["height"]),
        loadavg_1m=[load0, loadavg()],
    )


@contextlib.contextmanager
def chain_devnet(args: Any, out: Reporter) -> Iterator[tuple[Devnet, Built, bool]]:
    """A running devnet holding the chain: reused from --dir's manifest, else built there
    (or in a temporary directory); stopped, and removed unless kept, on exit."""
    named = args.dir is not None
    root = Path(args.dir) if named else Path(tempfile.mkdtemp(prefix="govchain-bench-explorer-"))
    manifest = root / MANIFEST
    reused = manifest.is_file()
    base: int | None = None
    if reused:
        built = Built(**json.loads(manifest.read_text()))
        net = Devnet(root, existing(root))
        busy = busy_ports(net.nodes)
        if busy:
            raise SystemExit(f"ports {busy} of the devnet in {root} are taken: is it running?")
        out.progress(f"reusing the chain in {root}: {built.txs:,} transfers, built earlier")
    else:
        if named and root.exists() and any(root.iterdir()):
            raise SystemExit(
                f"{root} holds something but no {MANIFEST}: remove it, or name another"
            )
        base = free_port_base(args.validators)
        accounts = {
            SigningKey.from_label(f"bench-explorer-{who}-{i}").address: SENDER_BALANCE
            for who, n in (("sender", SENDERS), ("writer", RECORD_SENDERS))
            for i in range(n)
        }
        if named:
            root.mkdir(parents=True, exist_ok=True)
        create(root, args.validators, 0, base, accounts)
        net = Devnet(root, existing(root))
    net.start()
    try:
        net.wait_ready()
        if not reused:
            out.progress(
                f"building {args.txs:,} transfers on {args.validators} validator(s) in {root}"
            )
            built = build_chain(root, net, args, out)
            manifest.write_text(json.dumps(asdict(built), indent=2) + "\n")
        yield net, built, reused
    finally:
        net.stop()
        if base is not None:
            release_port_base(base)
        if not args.keep and not reused:
            shutil.rmtree(root, ignore_errors=True)
        elif not reused:
            out.progress(f"chain kept in {root}: run again with --dir {root} to reuse it")
