"""A 4-validator devnet with traffic, so that every explorer page has something to show.

`live_devnet(root)` starts the devnet (tests/procs.py) and, before it yields:

- funds a traffic account from the faucet and registers a service it owns;
- plays the warehouse demo (`govchain demo warehouse`): a receipt, a bin, a pledge;
- sends two records with the SDK's Sender, one of which governance then redacts
  (`gov propose redact TX` + a vote);
- passes a content rule (`add-filter --keyword`, shown as a hash only) and
  `hold_amount_min`, then sends a transfer that is final as held;
- starts a thread sending transfers and records in the background until the end.

What the tests need to name (ids, addresses, texts) comes back as `Live`.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govchain.crypto.keys import ADDRESS_BYTES
from govchain.node.files import read_key
from govchain.sdk.errors import SdkError
from govchain.sdk.sender import Sender
from govprocs import FINAL_S, GovNet
from procs import cluster

VALIDATORS = 4
TRAFFIC_FUNDS = 10**6  # the traffic account's balance: every transfer it sends is tiny
TRAFFIC_AMOUNT_MAX = 9
TRAFFIC_PAUSE_S = 0.25  # between two background transactions: a few a second, gentle on 2 cores
TRAFFIC_BATCH = 20  # background transactions between two waits for their finality
TRAFFIC_ERROR_PAUSE_S = 1.0
TRAFFIC_RECIPIENTS = 3
TRAFFIC_JOIN_S = 30.0
HOLD_AMOUNT_MIN = 10**9  # far above any traffic transfer: only the one meant to be held is
KEYWORD = "违禁词browser"  # a content rule's keyword (16 characters at most); pages show its hash
REASON = "browser tests"


@dataclass(frozen=True, slots=True)
class Live:
    """What the devnet holds for the explorer to show (hex ids, addresses, texts)."""

    url: str  # node 0's API root, where its explorer is
    address: str  # the traffic account: a history of transfers and records
    recipient: str  # an account it pays, in the background too
    funding_tx: str  # faucet -> address: the funds a trace follows
    tx: str  # a record of address, final as executed
    record_text: str  # tx's text
    height: int  # the checkpoint that made tx final
    checkpoint_hash: str  # that checkpoint's hash
    redacted_tx: str  # a record that governance redacted
    redacted_text: str  # its text, which no page may show any more
    held_tx: str  # a transfer final as held (hold_amount_min)
    proposal: str  # the passed redaction: proposed by regulator-1, voted by regulator-2
    voters: tuple[str, ...]  # regulator-1's and regulator-2's addresses
    rule_hash: str  # the hash of the content rule's keyword
    keyword: str  # the keyword itself, which no page may show
    audit_hash: str  # the newest audit entry's hash when the devnet was ready
    service: str  # a service the traffic account registered; its records belong to it
    receipt: str  # the warehouse demo's receipt number
    warehouse: str  # its warehouse (the operator's address)
    bin_id: str  # its bin
    pledge: str  # its pledge (repaid and released)


class Traffic:
    """Transfers and records from one key, through the SDK's Sender, until stop()."""

    def __init__(self, sender: Sender, recipients: list[str]) -> None:
        self.sender = sender
        self.recipients = [bytes.fromhex(a) for a in recipients]
        self.service = ""  # the records' service, once registered
        self.sent = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="browser-traffic", daemon=True)

    def start(self) -> None:
        """Start sending in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sending, wait for the thread (if it started), close the sender's connections."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(TRAFFIC_JOIN_S)
        self.sender.close()

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            try:
                self._send_one(i)
            except SdkError as exc:
                # A node busy or behind: note it and go on; the pages still get traffic.
                self.errors.append(f"{exc.code}: {exc}")
                self._stop.wait(TRAFFIC_ERROR_PAUSE_S)
            i += 1
            self._stop.wait(TRAFFIC_PAUSE_S)

    def _send_one(self, i: int) -> None:
        if i % 2 == 0:
            to = self.recipients[i // 2 % len(self.recipients)]
            self.sender.transfer(to, 1 + i % TRAFFIC_AMOUNT_MAX)
        else:
            self.sender.record(f"traffic {i}: 流量记录".encode(), service=self.service)
        self.sent += 1
        if self.sent % TRAFFIC_BATCH == 0:
            self.sender.wait_all(FINAL_S)  # and forget their records: nothing piles up


@dataclass(slots=True)
class LiveNet:
    """The running devnet (GovNet: CLI and HTTP), what it holds, and its traffic."""

    net: GovNet
    live: Live
    traffic: Traffic


def _address_of(key_file: str) -> str:
    return read_key(Path(key_file)).address.hex()


def _record(sender: Sender, text: str, service: str) -> dict[str, Any]:
    """Send a record and wait until it is final as executed; its record."""
    rec = sender.wait_final(sender.record(text.encode(), service=service), FINAL_S)
    assert rec["status"] == "executed", rec
    return rec


def _populate(
    net: GovNet, sender: Sender, traffic_file: str, recipients: list[str]
) -> tuple[Live, str]:
    """Fill the devnet with one of everything a page shows: the ids, and the service's id."""
    token = secrets.token_hex(4)
    address = sender.key.address.hex()
    funding = net.transfer(net.key("faucet"), address, TRAFFIC_FUNDS)
    assert funding["status"] == "executed", funding
    service = f"browser-{token}"
    net.ok("service", "register", service, "--key", traffic_file, "--wait")
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The demo signs with the faucet's and committee's keys, the records with the
        # traffic account's: no nonce is shared, so both go at once.
        demo = pool.submit(net.ok, "demo", "warehouse", "--devnet", str(net.c.root))
        record_text = f"浏览器测试记录 browser record {token}"
        rec = _record(sender, record_text, service)
        redacted_text = f"待删除 to be redacted {token}"
        redacted = _record(sender, redacted_text, service)
        wr = demo.result()
    assert wr["ok"] is True, [s["name"] for s in wr["steps"] if not s["ok"]]
    proposal = net.passed("redact", redacted["tx_id"], reason=REASON)
    rule_pid = net.passed("add-filter", "--keyword", KEYWORD, reason=REASON)
    net.passed("set-param", "hold_amount_min", str(HOLD_AMOUNT_MIN), reason=REASON)
    held = net.transfer(net.key("faucet"), recipients[0], HOLD_AMOUNT_MIN)
    assert held["status"] == "held", held
    net.wait_everywhere(redacted["tx_id"], lambda r: r["redacted"], "the redaction", nodes=[0])
    height = int(rec["checkpoint"])
    entries = net.get("/v1/audit")["entries"]
    rule = net.get(f"/v1/governance/proposals/{rule_pid}")["action"]["args"]["rule"]
    live = Live(
        url=net.c.url(0),
        address=address,
        recipient=recipients[0],
        funding_tx=funding["tx_id"],
        tx=rec["tx_id"],
        record_text=record_text,
        height=height,
        checkpoint_hash=net.get(f"/v1/checkpoints/{height}")["hash"],
        redacted_tx=redacted["tx_id"],
        redacted_text=redacted_text,
        held_tx=held["tx_id"],
        proposal=proposal,
        voters=(_address_of(net.key("regulator-1")), _address_of(net.key("regulator-2"))),
        rule_hash=rule["hash"],
        keyword=KEYWORD,
        audit_hash=entries[-1]["hash"],
        service=service,
        receipt=wr["receipt"],
        warehouse=wr["warehouse"],
        bin_id=wr["bin"],
        pledge=wr["pledge"],
    )
    return live, service


@contextlib.contextmanager
def live_devnet(root: Path) -> Iterator[LiveNet]:
    """A 4-validator devnet holding one of everything, with background traffic; cleaned up."""
    with cluster(root / "net", validators=VALIDATORS) as c:
        net = GovNet(c, root)
        traffic_file, _ = net.new_key("traffic")
        urls = [c.url(i) for i in range(VALIDATORS)]
        recipients = [secrets.token_bytes(ADDRESS_BYTES).hex() for _ in range(TRAFFIC_RECIPIENTS)]
        # One Sender for the account's whole life: it chains the nonces, first for the
        # records _populate waits for, then in the background thread.
        traffic = Traffic(Sender(read_key(Path(traffic_file)), urls), recipients)
        try:
            live, traffic.service = _populate(net, traffic.sender, traffic_file, recipients)
            traffic.start()
            yield LiveNet(net, live, traffic)
        finally:
            traffic.stop()
