"""Warehouse receipts at issue 14's scale: 10,000 receipts, 100 devices at 1 reading/s,
a daily mark-to-market of 10,000 pledges, on the chain's own execution path.

Everything runs in-process on one Ledger with the warehouse application (what
each validator executes; no network, no storage):

1. set-up, timed per kind of transaction: roles and identities, a warehouse with a
   bin per load cell, the devices registered, N lots weighed in (intake), N
   receipts issued (issue + two signatures) and N pledged (pledge + the bank's
   signature), loans at 50-70 % LTV;
2. mark-to-market: the oracle posts a day's settlement price in one height and the
   spot price in the next; the second height marks every pledge. That height's
   Ledger.execute (valuation, calls, the namespace's writes and the state hash)
   is the CPU one node spends per pass: target < 50 ms per 10,000 pledges. Flat
   days (median of several), a day the price falls 12.5 % (warnings) and one it
   falls 25 % (margin calls opened). The pure valuation core's time over the
   same pledges is printed beside it;
3. readings: the devices at 1 reading/s each (apps/warehouse/iot.py: load cells
   with noise, a weighbridge weighing trucks), one `wr.readings` height per
   second; the rate the chain executes them at, and the headroom over the load;
4. plain transfers on the same ledger, for comparison.

State size: bytes of the `warehouse` namespace's writes (what the state hash
commits per height) per receipt, the encoded records per receipt, and the
transaction bytes of a receipt's life (what a node's store keeps of it; no node
runs here, so no SQLite figure).

    PYTHONPATH=src python bench/bench_warehouse.py [--small|--quick] [--json]
        [--receipts N] [--devices D] [--seconds S]
"""

from __future__ import annotations

import gc
import hashlib
import random
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common import (
    Reporter,
    arg_parser,
    fmt_rate,
    load_note,
    machine_info,
    machine_line,
    now,
    raw_verify_rate,
    set_clock,
)
from govchain.apps.catalog import registry_for
from govchain.apps.warehouse import iot
from govchain.apps.warehouse.book import NAMESPACE, WarehouseBook
from govchain.apps.warehouse.commitment import Spec
from govchain.apps.warehouse.iot import DeviceSpec, Event, SimDevice, Simulation
from govchain.apps.warehouse.ops import (
    KIND_READINGS,
    KIND_WR,
    AnyOp,
    Intake,
    Issue,
    OpenWarehouse,
    Pledge,
    PostPrice,
    ReadingsPayload,
    RegisterDevice,
    Sign,
)
from govchain.apps.warehouse.readings import (
    READINGS_PER_BATCH_MAX,
    DeviceKind,
    Reading,
    sign_reading,
)
from govchain.apps.warehouse.units import G_PER_TONNE, yuan_to_fen
from govchain.apps.warehouse.valuation import Pledge as Valued
from govchain.apps.warehouse.valuation import (
    Price,
    Source,
    ValuationParams,
    eligible_value,
    mark_to_market,
)
from govchain.codec import encode
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import Transaction, build
from govchain.state.actions.grant_role import GrantRole
from govchain.state.genesis import Genesis, GenesisIdentity
from govchain.state.ledger import Ledger
from govchain.state.payloads import ProposePayload, TransferPayload
from govchain.state.receipts import Status

CHAIN_ID = "govchain-bench-warehouse"
TARGET_PLEDGES = 10_000
TARGET_MS = 50.0
TXS_PER_HEIGHT = 2_000  # set-up heights: a busy checkpoint's worth
TIER = 2  # the cast's identity tier: 64 KB payloads, 20,000 transactions a height each
PAYLOAD_BYTES_MAX = 65_536  # what tier 2 may send
LOT_NET_G = 25 * G_PER_TONNE  # one lot a truck: 25 t of cathode on 0.5 t of pallets
LOT_TARE_G = G_PER_TONNE // 2
PRICE_FEN = yuan_to_fen(80_000)
HAIRCUT_BP = 500
LTV_RANGE = (0.50, 0.70)
DAY = 20_000
FLAT_DAYS = 5
FALL = 0.875  # the copper story's 12.5 % fall
CRASH = 0.75  # a 25 % fall: every loan above 60 % LTV is called
COMMODITY = "copper_cathode"
FIRMWARE = hashlib.sha256(b"bench firmware").digest()
READING_RATE_PER_S = 1.0
TRANSFER_SENDERS = 50
VALID_UNTIL = 10**9


def key(name: str) -> SigningKey:
    """A reproducible key of the cast."""
    return SigningKey.from_label(f"bench-wr-{name}")


OPERATOR, SUPERVISOR, DEPOSITOR = key("operator"), key("supervisor"), key("depositor")
BANK, ORACLE, GATEWAY, AUTHORITY = key("bank"), key("oracle"), key("gateway"), key("authority")
ROLES = {
    OPERATOR: "warehouse",
    SUPERVISOR: "supervisor",
    DEPOSITOR: "depositor",
    BANK: "bank",
    ORACLE: "oracle",
}


@dataclass
class Chain:
    """A ledger running the warehouse, the nonces of every key, and what each height costs."""

    ledger: Ledger
    writes_bytes: list[int] = field(default_factory=list)  # the namespace's, per height
    last_writes: list[Any] | None = None  # what the namespace wrote at the last height
    nonces: dict[bytes, int] = field(default_factory=dict)
    tx_bytes: Counter[str] = field(default_factory=Counter)  # wire bytes by phase

    @property
    def book(self) -> WarehouseBook:
        ns = self.ledger.namespace(NAMESPACE)
        assert isinstance(ns, WarehouseBook)
        return ns

    def tx(self, k: SigningKey, kind: str, payload: object) -> Transaction:
        """The key's next transaction (built and signed; not timed)."""
        n = self.nonces.get(k.public_key, 0)
        self.nonces[k.public_key] = n + 1
        return build(
            k,
            chain_id=CHAIN_ID,
            kind=kind,
            nonce=n,
            parents=[self.ledger.genesis.hash],
            valid_until=VALID_UNTIL,
            payload=encode(payload),
            stamp_bits_min=0,
        )

    def wr(self, k: SigningKey, op: AnyOp) -> Transaction:
        return self.tx(k, KIND_WR, op)

    def run(
        self, txs: list[Transaction], phase: str = "", collect: bool = False
    ) -> tuple[float, list[str]]:
        """Execute txs as one height: CPU seconds and each outcome ('executed' or the reason).

        collect: a full garbage collection first, so that one falling due is not
        charged to this height (single heights only: set-up would pay seconds).
        """
        self.tx_bytes[phase] += sum(len(t.to_wire()) for t in txs)
        if collect:
            gc.collect()
        t0 = now()
        result = self.ledger.execute(self.ledger.height + 1, txs)
        took = now() - t0
        # Sized after the clock stopped: the node encodes the writes once, inside execute.
        last, self.last_writes = self.last_writes, None
        self.writes_bytes.append(len(encode(last)) if last is not None else 0)
        return took, [r.reason or r.status for r in result.receipts]

    def run_all(self, txs: list[Transaction], phase: str) -> float:
        """Execute txs in heights of TXS_PER_HEIGHT; CPU seconds; every one must execute."""
        total = 0.0
        for i in range(0, len(txs), TXS_PER_HEIGHT):
            took, outs = self.run(txs[i : i + TXS_PER_HEIGHT], phase)
            bad = Counter(o for o in outs if o != Status.EXECUTED.value)
            assert not bad, f"{phase}: {dict(bad)}"
            total += took
        return total


def counting_writes(chain: Chain) -> None:
    """Keep the namespace's writes of each height (the state hash's input) to size them."""
    book = chain.book
    inner = book.writes

    def writes() -> list[Any] | None:
        chain.last_writes = out = inner()
        return out

    book.writes = writes  # type: ignore[method-assign]


def genesis(extra: list[SigningKey]) -> Genesis:
    """The cast identified at tier 2, the bank and the transfer senders funded."""
    cast = [*ROLES, GATEWAY]
    return Genesis(
        chain_id=CHAIN_ID,
        time_ms=0,
        balances=tuple(sorted([(BANK.address, 10**16), *((k.address, 10**12) for k in extra)])),
        validators=ValidatorSet.of({key("validator").public_key: 1}),
        committee=((AUTHORITY.public_key, 1),),
        threshold=1,
        identities=tuple(
            sorted(
                (GenesisIdentity(k.address, "organization", TIER) for k in cast),
                key=lambda i: i.address,
            )
        ),
        apps=("warehouse",),
    )


# -- set-up ---------------------------------------------------------------------------------
@dataclass
class Scale:
    """The workload's size."""

    receipts: int
    devices: int  # one weighbridge, the rest load cells (one bin each)
    seconds: int  # of readings
    transfers: int
    flat_days: int

    @property
    def cells(self) -> int:
        return self.devices - 1


def offer(chain: Chain, opener: SigningKey, op: AnyOp, *signers: SigningKey) -> list[Transaction]:
    """An offer and its signatures, in order (they execute in one height)."""
    first = chain.wr(opener, op)
    return [first, *(chain.wr(s, Sign(first.id)) for s in signers)]


def cell_reading(
    chain: Chain, counters: dict[str, int], books: dict[str, int]
) -> list[Transaction]:
    """Every load cell reads its bin's book exactly (the set-up's goods-match evidence)."""
    signed = []
    for dev, grams in books.items():
        counters[dev] += 1
        r = Reading(dev, counters[dev], counters[dev] * 1_000, grams, (), FIRMWARE)
        signed.append(sign_reading(key(f"device-{dev}"), r))
    return [
        chain.tx(
            GATEWAY, KIND_READINGS, ReadingsPayload(tuple(signed[i : i + READINGS_PER_BATCH_MAX]))
        )
        for i in range(0, len(signed), READINGS_PER_BATCH_MAX)
    ]


def set_up(chain: Chain, scale: Scale, rng: random.Random, out: Reporter) -> dict[str, Any]:
    """Warehouse, devices, lots, receipts and pledges; the execution time of each kind."""
    n, cells = scale.receipts, scale.cells
    grants = [
        chain.tx(
            AUTHORITY, "gov.propose", ProposePayload(GrantRole(k.address, r), "bench", b"", False)
        )
        for k, r in ROLES.items()
    ]
    chain.run_all(grants, "roles")
    per_bin = -(-n // cells)
    capacity = per_bin * LOT_NET_G * 2
    bins = tuple((f"B{i:03d}", capacity) for i in range(cells))
    chain.run_all(
        offer(chain, OPERATOR, OpenWarehouse("bench", SUPERVISOR.address, bins), SUPERVISOR), "open"
    )
    devices = {f"cell-{i:03d}": (DeviceKind.LOAD_CELL, f"B{i:03d}") for i in range(cells)}
    devices["scale-1"] = (DeviceKind.WEIGHBRIDGE, "B000")
    regs = [
        tx
        for dev, (kind, b) in devices.items()
        for tx in offer(
            chain,
            OPERATOR,
            RegisterDevice(dev, kind, b, key(f"device-{dev}").public_key, VALID_UNTIL, FIRMWARE),
            SUPERVISOR,
        )
    ]
    rates: dict[str, Any] = {
        "register-device": {"txs": len(regs), "s": chain.run_all(regs, "devices")}
    }
    counters = dict.fromkeys(devices, 0)

    # Intake: each lot needs its own weighing (one weighing books one lot), relayed just
    # before it; the rate counts both transactions.
    out.progress(f"intake of {n} lots...")
    spec = Spec(COMMODITY, "JCC", "Cu-CATH-1", 10, LOT_NET_G + LOT_TARE_G, LOT_TARE_G, LOT_NET_G)
    lots = [(f"LOT-{i:06d}", f"B{i % cells:03d}") for i in range(n)]
    scale_key = key("device-scale-1")
    intakes = []
    for i, (lot, b) in enumerate(lots):
        counters["scale-1"] += 1
        c = counters["scale-1"]
        weighed = Reading("scale-1", c, 1_000 * c, LOT_NET_G + LOT_TARE_G, (), FIRMWARE)
        batch = ReadingsPayload((sign_reading(scale_key, weighed),))
        intakes.append(chain.tx(GATEWAY, KIND_READINGS, batch))
        intakes.append(
            chain.wr(
                OPERATOR,
                Intake(lot, b, (f"T-{i:06d}",), spec, i.to_bytes(32, "big"), b"", "scale-1"),
            )
        )
    rates["intake with its weighing (2 txs)"] = {
        "txs": len(intakes),
        "s": chain.run_all(intakes, "intake"),
    }
    books = {
        f"cell-{i:03d}": chain.book.bins[(OPERATOR.address, f"B{i:03d}")].book_g
        for i in range(cells)
    }
    chain.run_all(cell_reading(chain, counters, books), "readings")

    out.progress(f"issue of {n} receipts...")
    doc = hashlib.sha256(b"receipt document").digest()
    issues = [
        tx
        for i, (lot, _b) in enumerate(lots)
        for tx in offer(
            chain,
            OPERATOR,
            Issue(f"WR-{i:06d}", DEPOSITOR.address, ((lot, LOT_NET_G),), doc),
            SUPERVISOR,
            DEPOSITOR,
        )
    ]
    rates["issue (3 txs)"] = {"txs": len(issues), "s": chain.run_all(issues, "issue")}

    out.progress(f"pledge of {n} receipts...")
    chain.run_all(
        [chain.wr(ORACLE, PostPrice(COMMODITY, s.value, PRICE_FEN, DAY)) for s in Source], "prices"
    )
    eligible = eligible_value(LOT_NET_G, PRICE_FEN, HAIRCUT_BP)
    pledges = [
        tx
        for i in range(n)
        for tx in offer(
            chain,
            DEPOSITOR,
            Pledge(
                (f"WR-{i:06d}",), BANK.address, int(eligible * rng.uniform(*LTV_RANGE)), HAIRCUT_BP
            ),
            BANK,
        )
    ]
    rates["pledge (2 txs)"] = {"txs": len(pledges), "s": chain.run_all(pledges, "pledge")}
    assert len(chain.book.pledges) == n and len(chain.book.live_receipts()) == n
    return {"rates": rates, "counters": counters, "books": books}


# -- mark-to-market ---------------------------------------------------------------------------
def mark_day(chain: Chain, day: int, fen_per_tonne: int) -> tuple[float, float, int]:
    """Post a day's two prices (one height each); CPU of both heights and the writes' bytes."""
    first = chain.wr(ORACLE, PostPrice(COMMODITY, "settlement", fen_per_tonne, day))
    second = chain.wr(ORACLE, PostPrice(COMMODITY, "spot", fen_per_tonne, day))
    t1, o1 = chain.run([first], "prices", collect=True)
    t2, o2 = chain.run([second], "prices", collect=True)
    assert o1 == o2 == ["executed"], (o1, o2)
    assert chain.book.marked.get(COMMODITY) == day
    return t1, t2, chain.writes_bytes[-1]


def core_pass(chain: Chain, fen_per_tonne: int, day: int, repeats: int) -> float:
    """The pure valuation core over the same pledges (median seconds), for comparison."""
    valued = [
        Valued(p.id, p.commodity, p.quantity_g, p.outstanding_fen, p.haircut_bp)
        for p in chain.book.pledges.values()
    ]
    prices = [Price(s, COMMODITY, fen_per_tonne, day) for s in Source]
    times = []
    for _ in range(repeats):
        t0 = now()
        mark_to_market(valued, prices, day, ValuationParams())
        times.append(now() - t0)
    return statistics.median(times)


def mtm(chain: Chain, scale: Scale) -> dict[str, Any]:
    """Flat days (median) and a 12.5 % fall: the marking height's CPU, scaled to 10,000."""
    per_10k = TARGET_PLEDGES / scale.receipts * 1e3
    flat = [mark_day(chain, DAY + d, PRICE_FEN) for d in range(1, scale.flat_days + 1)]
    core = core_pass(chain, PRICE_FEN, DAY + scale.flat_days, 5)
    bands_flat = Counter(str(m[-1].band) for m in chain.book.marks.values())
    fall_day = DAY + scale.flat_days + 1
    fall = mark_day(chain, fall_day, int(PRICE_FEN * FALL))
    bands_fall = Counter(str(m[-1].band) for m in chain.book.marks.values())
    crash = mark_day(chain, fall_day + 1, int(PRICE_FEN * CRASH))
    bands_crash = Counter(str(m[-1].band) for m in chain.book.marks.values())
    calls = sum(1 for p in chain.book.pledges.values() if p.open_call is not None)
    return {
        "pledges": scale.receipts,
        "flat_ms_per_10k_median": statistics.median(t2 for _t1, t2, _w in flat) * per_10k,
        "flat_ms_per_10k_best": min(t2 for _t1, t2, _w in flat) * per_10k,
        "first_price_height_ms": statistics.median(t1 for t1, _t2, _w in flat) * 1e3,
        "fall_ms_per_10k": fall[1] * per_10k,
        "crash_ms_per_10k": crash[1] * per_10k,
        "core_ms_per_10k": core * per_10k,
        "writes_bytes_per_pledge_flat": flat[-1][2] / scale.receipts,
        "writes_bytes_per_pledge_crash": crash[2] / scale.receipts,
        "bands_flat": dict(sorted(bands_flat.items())),
        "bands_fall": dict(sorted(bands_fall.items())),
        "bands_crash": dict(sorted(bands_crash.items())),
        "calls_after_crash": calls,
    }


# -- readings and transfers ---------------------------------------------------------------------
def readings(
    chain: Chain, scale: Scale, counters: dict[str, int], books: dict[str, int]
) -> dict[str, Any]:
    """The devices at 1 reading/s for scale.seconds, one height a second, batches <= 256."""
    devices = [
        SimDevice(
            DeviceSpec(dev, DeviceKind.LOAD_CELL, "-", "-"),
            key(f"device-{dev}"),
            FIRMWARE,
            counters[dev] + 1,
            grams,
        )
        for dev, grams in books.items()
    ]
    trucks = tuple(Event(s * 1_000, grams=LOT_NET_G + LOT_TARE_G) for s in range(scale.seconds))
    scale_spec = DeviceSpec("scale-1", DeviceKind.WEIGHBRIDGE, "-", "-", events=trucks)
    devices.append(SimDevice(scale_spec, key("device-scale-1"), FIRMWARE, counters["scale-1"] + 1))
    sim = Simulation(devices, [], seed=14, rate_per_s=READING_RATE_PER_S, start_ms=10**12)
    heights = []
    for s in range(scale.seconds):
        planned = sim.due(s * 1_000 + 999)
        batches = iot.batches(planned, READINGS_PER_BATCH_MAX, PAYLOAD_BYTES_MAX)
        heights.append(
            [chain.tx(GATEWAY, KIND_READINGS, ReadingsPayload(b.readings)) for b in batches]
        )
    total, txs = 0.0, 0
    for txs_of_second in heights:
        took, outs = chain.run(txs_of_second, "readings")
        assert set(outs) == {"executed"}, Counter(outs)
        total += took
        txs += len(txs_of_second)
    count = sum(d.sent for d in sim.devices)
    alarms = sum(len(b.alarms) for b in chain.book.bins.values())
    return {
        "devices": scale.devices,
        "seconds": scale.seconds,
        "readings": count,
        "batches": txs,
        "readings_per_s": count / total,
        "batches_per_s": txs / total,
        "us_per_reading": total / count * 1e6,
        "cpu_share_of_load": (count / scale.seconds) / (count / total),
        "alarms": alarms,
    }


def transfers(
    chain: Chain, senders: list[SigningKey], count: int, rng: random.Random
) -> dict[str, Any]:
    """Plain transfers on the same ledger, in heights of TXS_PER_HEIGHT."""
    txs = [
        chain.tx(
            senders[i % len(senders)],
            "transfer",
            TransferPayload(rng.choice(senders).address, rng.randint(1, 1_000)),
        )
        for i in range(count)
    ]
    took = chain.run_all(txs, "transfers")
    return {"txs": count, "tx_per_s": count / took, "us_per_tx": took / count * 1e6}


# -- state size ---------------------------------------------------------------------------------
def state_size(chain: Chain, n: int) -> dict[str, Any]:
    """Encoded records per receipt, the namespace's writes per receipt, transaction bytes."""
    book = chain.book
    tables: dict[str, Callable[[], int]] = {
        "receipts": lambda: sum(len(encode(r)) for r in book.receipts.values()),
        "lots": lambda: sum(len(encode(x)) for x in book.lots.values()),
        "pledges": lambda: sum(len(encode(p)) for p in book.pledges.values()),
        "marks": lambda: sum(len(encode(m)) for m in book.marks.values()),
        "bins": lambda: sum(len(encode(b)) for b in book.bins.values()),
        "devices": lambda: sum(len(encode(d)) for d in book.devices.values()),
    }
    records = {name: f() for name, f in tables.items()}
    life = ("intake", "issue", "pledge")
    return {
        "records_bytes_per_receipt": sum(records.values()) / n,
        "records_bytes_per_receipt_by_table": {k: v / n for k, v in records.items()},
        "writes_bytes_per_receipt_total": sum(chain.writes_bytes) / n,
        "tx_bytes_per_receipt_life": sum(chain.tx_bytes[p] for p in life) / n,
        "tx_bytes_by_phase": dict(chain.tx_bytes),
    }


# -- main ---------------------------------------------------------------------------------------
def main() -> None:
    p = arg_parser(__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="a run of a few seconds (tests)")
    p.add_argument("--receipts", type=int, help="receipts and pledges (default 10000)")
    p.add_argument("--devices", type=int, help="devices at 1 reading/s (default 100)")
    p.add_argument("--seconds", type=int, help="seconds of readings (default 60)")
    p.add_argument("--seed", type=int, default=14)
    args = p.parse_args()
    set_clock(args.clock)
    out = Reporter(args.json)
    info = machine_info()
    small, quick = args.small, args.quick and not args.small
    scale = Scale(
        receipts=args.receipts or (300 if small else 2_000 if quick else TARGET_PLEDGES),
        devices=args.devices or (10 if small else 100),
        seconds=args.seconds or (5 if small else 20 if quick else 60),
        transfers=500 if small else 5_000 if quick else 20_000,
        flat_days=2 if small else FLAT_DAYS,
    )
    if scale.devices < 2 or scale.receipts < 1 or scale.seconds < 1:
        raise SystemExit("--devices must be >= 2, --receipts and --seconds >= 1")
    rng = random.Random(args.seed)
    senders = [key(f"sender-{i}") for i in range(TRANSFER_SENDERS)]
    g = genesis(senders)
    chain = Chain(Ledger(g, registry_for(g)))
    counting_writes(chain)

    t_setup = now()
    setup = set_up(chain, scale, rng, out)
    setup_s = now() - t_setup
    out.progress("mark-to-market...")
    marks = mtm(chain, scale)
    out.progress(f"readings: {scale.devices} devices x {scale.seconds} s...")
    reads = readings(chain, scale, setup["counters"], setup["books"])
    out.progress(f"{scale.transfers} transfers...")
    plain = transfers(chain, senders, scale.transfers, rng)
    size = state_size(chain, scale.receipts)
    raw = raw_verify_rate(0.3 if small else 2.0)  # for scale: a reading costs about one verify
    wr_rates = {
        k: {"txs": v["txs"], "tx_per_s": v["txs"] / v["s"], "us_per_tx": v["s"] / v["txs"] * 1e6}
        for k, v in setup["rates"].items()
    }

    out.line(
        f"warehouse at scale ({args.clock} time): {scale.receipts} receipts and pledges, "
        f"{scale.devices} devices at 1 reading/s"
    )
    out.line(f"{machine_line(info)}; raw Ed25519 verify {fmt_rate(raw)}/s in this run")
    note = load_note(info)
    if note:
        out.line(note)
    out.line()
    m = marks
    out.line(f"mark-to-market: the height with the day's second price, ms per 10,000 pledges "
             f"(target < {TARGET_MS:g}):")  # fmt: skip
    flat = f"{m['flat_ms_per_10k_median']:8.1f}"
    out.line(f"  flat day     {flat} (median of {scale.flat_days}, "
             f"best {m['flat_ms_per_10k_best']:.1f})  bands {m['bands_flat']}")  # fmt: skip
    out.line(f"  12.5 % fall  {m['fall_ms_per_10k']:8.1f}  bands {m['bands_fall']}")
    out.line(f"  25 % fall    {m['crash_ms_per_10k']:8.1f}  bands {m['bands_crash']}, "
             f"{m['calls_after_crash']} margin calls opened")  # fmt: skip
    out.line(f"  the valuation core alone: {m['core_ms_per_10k']:.1f}; the namespace writes "
             f"{m['writes_bytes_per_pledge_flat']:.0f} B a pledge a day")  # fmt: skip
    out.line()
    out.line("execution on one core (Ledger.execute), next to plain transfers:")
    for name, r in wr_rates.items():
        out.line(f"  {name:<24} {fmt_rate(r['tx_per_s']):>9} tx/s  {r['us_per_tx']:7.1f} us/tx")
    out.line(
        f"  {'wr.readings':<24} {fmt_rate(reads['batches_per_s']):>9} tx/s  "
        f"({fmt_rate(reads['readings_per_s'])} readings/s, {reads['us_per_reading']:.1f} us each)"
    )
    out.line(
        f"  {'transfer':<24} {fmt_rate(plain['tx_per_s']):>9} tx/s  {plain['us_per_tx']:7.1f} us/tx"
    )
    out.line(
        f"  readings load: {reads['readings'] / scale.seconds:.0f} readings/s take "
        f"{reads['cpu_share_of_load'] * 100:.2f} % of a core"
    )
    out.line()
    out.line(
        f"state per receipt: {size['records_bytes_per_receipt']:.0f} B of records "
        f"{ {k: round(v) for k, v in size['records_bytes_per_receipt_by_table'].items()} }, "
        f"{size['writes_bytes_per_receipt_total']:.0f} B of namespace writes over the run; "
        f"{size['tx_bytes_per_receipt_life']:.0f} B of transactions (intake, issue, pledge)"
    )
    out.line(f"set-up took {setup_s:.1f} s ({args.clock})")
    out.emit(
        {
            "bench": "warehouse",
            "quick": args.quick,
            "small": small,
            "clock": args.clock,
            "machine": info,
            "scale": scale.__dict__,
            "mark_to_market": marks,
            "wr_rates": wr_rates,
            "readings": reads,
            "transfers": plain,
            "state": size,
            "setup_seconds": setup_s,
            "raw_verify_per_s": raw,
        }
    )


if __name__ == "__main__":
    main()
