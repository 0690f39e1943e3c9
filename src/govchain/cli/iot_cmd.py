"""`govchain iot keygen|simulate`: device keys, and signed devices relayed to a devnet.

The shell around apps/warehouse/iot.py: it reads the spec file and key files,
asks the node where each device's counter stands (GET /v1/wr/devices/{id}) and
what its bin holds (GET /v1/wr/warehouses/{address}/bins), then keeps time:
every GATEWAY_FLUSH_S it sends what fell due as `wr.readings` transactions
signed by the gateway's key, prints what the chain did with each batch, and
the alarms the readings raised (GET /v1/wr/alarms). Until a node serves the
/v1/wr/ views, counters start at --counter-start and load cells need book_g.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from govchain.apps.warehouse import iot
from govchain.apps.warehouse.iot import (
    DeviceSpec,
    Event,
    Fault,
    IotError,
    Report,
    SimDevice,
    Simulation,
)
from govchain.apps.warehouse.readings import READINGS_PER_BATCH_MAX, DeviceKind
from govchain.crypto.keys import SigningKey
from govchain.sdk.errors import SdkError
from govchain.state.params import PAYLOAD_BYTES_CAP
from govchain.state.params import specs as param_specs

from .common import default_node, json_option, load_key, node_option, reported, show
from .keys_cmd import new_key_file
from .output import EXIT_FAILURE, EXIT_USAGE, CliError, emit_json, example

if TYPE_CHECKING:
    from govchain.sdk.client import Client

GATEWAY_FLUSH_S: Final = 1.0  # the gateway sends what fell due this often
BOOK_REFRESH_S: Final = 5.0  # load cells re-read their bin's book this often
ALARM_POLL_S: Final = 2.0
POLLS_PER_FLUSH_MAX: Final = 32  # outcome reads per flush (the rest wait for the next)
DURATION_S_MAX: Final = 24 * 3_600.0
SPEC_BYTES_MAX: Final = 4 * 1024 * 1024
TIER_DEFAULT: Final = 0  # an unidentified gateway
UNAVAILABLE: Final = frozenset({404, 501})  # a node without the /v1/wr/ views answers these
LIST_LIMIT: Final = 1_000  # the most alarms or bins one read of the API lists


@click.group("iot", epilog=example("govchain iot keygen --out keys/cell-a1.key"))
def iot_group() -> None:
    """Simulated warehouse devices: their keys, and signed readings relayed to a devnet."""


@iot_group.command("keygen", epilog=example("govchain iot keygen --out keys/cell-a1.key"))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="the device's key file to write (refuses to overwrite one)")  # fmt: skip
@json_option
@reported
def keygen(out: Path, as_json: bool) -> None:
    """Create a device key file; prints the public key that register-device takes."""
    key = new_key_file(out)
    show({"file": str(out), "public_key": key.public_key.hex()}, as_json)


# -- reads of the /v1/wr/ views --------------------------------------------------------------
class WrReads:
    """A node's /v1/wr/ views; None where the node does not serve them (an older node)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.available = self._read(lambda: client.wr_warehouses(limit=1)) is not None

    @staticmethod
    def _read(call: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        try:
            return call()
        except SdkError as exc:
            if exc.status in UNAVAILABLE:
                return None
            raise

    def device(self, device: str) -> dict[str, Any] | None:
        """GET /v1/wr/devices/{id}; None when unknown there."""
        return self._read(lambda: self.client.wr_device(device)) if self.available else None

    def bins(self, warehouse: bytes) -> list[dict[str, Any]]:
        """A warehouse's bins with their goods-match figures ([] when not shown)."""
        call = lambda: self.client.wr_bins(warehouse, limit=LIST_LIMIT)  # noqa: E731
        doc = self._read(call) if self.available else None
        found = doc.get("bins") if doc is not None else None
        return [b for b in found if isinstance(b, dict)] if isinstance(found, list) else []

    def alarms(self) -> list[dict[str, Any]] | None:
        """Every alarm in force, or None when the node has no alarms view."""
        call = lambda: self.client.wr_alarms(limit=LIST_LIMIT)  # noqa: E731
        doc = self._read(call) if self.available else None
        found = doc.get("alarms") if doc is not None else None
        return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else None


# -- setting up ------------------------------------------------------------------------------
def read_spec(path: Path, noise_sd_ppm: int) -> tuple[bytes | None, list[DeviceSpec]]:
    """A JSON or TOML (by suffix) spec file's devices, key paths relative to the file."""
    try:
        raw = path.read_bytes()[: SPEC_BYTES_MAX + 1]
    except OSError as exc:
        raise CliError("bad_file", f"cannot read {path}: {exc.strerror}", EXIT_USAGE) from None
    if len(raw) > SPEC_BYTES_MAX:
        raise CliError("bad_spec", f"{path} is larger than {SPEC_BYTES_MAX} bytes", EXIT_USAGE)
    try:
        doc = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
        spec = iot.spec_of(doc, noise_sd_ppm)
    except (ValueError, UnicodeDecodeError) as exc:  # IotError, JSON and TOML errors
        raise CliError("bad_spec", f"{path}: {exc}", EXIT_USAGE) from None
    base = path.parent
    return spec.warehouse, [replace(d, key=str(base / d.key)) for d in spec.devices]


def with_weighs(specs: list[DeviceSpec], weighs: Sequence[tuple[str, Event]]) -> list[DeviceSpec]:
    """specs with the --weigh events added to their weighbridges."""
    by_id = {s.id: s for s in specs}
    for dev, event in weighs:
        s = by_id.get(dev)
        if s is None or s.kind != DeviceKind.WEIGHBRIDGE:
            raise IotError(f"--weigh {dev}: no simulated weighbridge {dev}")
        events = sorted([*s.events, event], key=lambda e: e.at_ms)
        by_id[dev] = replace(s, events=tuple(events))
    return [by_id[s.id] for s in specs]


@dataclass
class Setup:
    """What the run needs, read from files and the node."""

    devices: list[SimDevice]
    shares: dict[str, tuple[bytes, str, int]]  # load cell -> (warehouse, bin, cells sharing it)
    notes: list[str] = field(default_factory=list)


def on_chain(
    s: DeviceSpec, wr: WrReads, counter_start: int, firmware: bytes | None, notes: list[str]
) -> tuple[DeviceSpec, int, bytes, bytes | None]:
    """The device as the chain has it: spec (its bin), first counter, firmware, warehouse."""
    doc = wr.device(s.id)
    if wr.available and doc is None:
        raise CliError(
            "unknown_device",
            f"device {s.id} is not registered on the chain: register-device it first",
            EXIT_USAGE,
        )
    fw = s.firmware or firmware
    if doc is None:
        if fw is None:
            raise CliError(
                "no_firmware", f"device {s.id}: give its firmware (spec or --firmware)", 2
            )
        return s, counter_start, fw, None
    try:
        if doc["kind"] != s.kind:
            raise CliError("device_kind", f"device {s.id} is a {doc['kind']} on the chain", 2)
        counter = max(counter_start, int(doc["counter"]) + 1)
        fw = fw or iot.firmware_of(doc["firmware"], f"device {s.id}'s firmware")
        where = bytes.fromhex(str(doc["warehouse"]))
        bin_code = str(doc["bin"])
    except (KeyError, TypeError, ValueError) as exc:  # IotError too: a malformed answer
        raise SdkError("bad_response", f"/v1/wr/devices/{s.id}: {exc!r}") from None
    if bin_code != s.bin:
        notes.append(f"device {s.id} is on bin {bin_code} on the chain, not {s.bin}")
        s = replace(s, bin=bin_code)
    return s, counter, fw, where


def resolve_devices(
    specs: list[DeviceSpec],
    keys: dict[str, SigningKey],
    wr: WrReads,
    warehouse: bytes | None,
    counter_start: int,
    firmware: bytes | None,
) -> Setup:
    """Each device's key, firmware, first counter and load, from its spec and the chain."""
    notes: list[str] = []
    if not wr.available:
        notes.append(
            "the node serves no /v1/wr/ views: counters start at --counter-start "
            f"({counter_start}); firmware and load cells' book_g come from the spec"
        )
    resolved = [on_chain(s, wr, counter_start, firmware, notes) for s in specs]
    cells = [s for s, *_ in resolved if s.kind == DeviceKind.LOAD_CELL and s.book_g is None]
    places = {s.id: (w or warehouse or b"", s.bin) for s, _c, _f, w in resolved}
    shares = {
        c.id: (*places[c.id], sum(1 for o in cells if places[o.id] == places[c.id])) for c in cells
    }
    books = books_now(wr, shares)
    for c in cells:
        if c.id not in books:
            raise CliError(
                "no_book",
                f"load cell {c.id}: the node shows no book for its bin: give book_g in the spec",
                EXIT_USAGE,
            )
    devices = [
        SimDevice(s, keys[s.id], fw, counter, _book(s, books)) for s, counter, fw, _w in resolved
    ]
    return Setup(devices, shares, notes)


def _book(s: DeviceSpec, books: dict[str, int]) -> int | None:
    return s.book_g if s.book_g is not None else books.get(s.id)


def books_now(wr: WrReads, shares: dict[str, tuple[bytes, str, int]]) -> dict[str, int]:
    """Each load cell's share of its bin's book as the chain has it now (when it shows it)."""
    books: dict[tuple[bytes, str], int] = {}
    for warehouse in {w for w, _b, _n in shares.values() if w and wr.available}:
        for b in wr.bins(warehouse):
            if isinstance(b.get("book_g"), int):
                books[(warehouse, str(b.get("bin")))] = b["book_g"]
    return {
        device: books[(w, bin_code)] // sharing
        for device, (w, bin_code, sharing) in shares.items()
        if (w, bin_code) in books
    }


def payload_bytes_max(client: Client, gateway: SigningKey) -> int:
    """The largest payload the gateway's identity tier may send (the parameters' defaults)."""
    tier = TIER_DEFAULT
    try:
        tier = int(client.identity(gateway.address).get("tier", TIER_DEFAULT))
    except SdkError as exc:
        if exc.code != "not_found":
            raise
    defaults = {p.name: p.default for p in param_specs(1, 1)}
    value = defaults.get(f"tier{tier}_payload_bytes_max")
    return int(value) if value is not None else PAYLOAD_BYTES_CAP


# -- the command ---------------------------------------------------------------------------
@iot_group.command(
    "simulate",
    epilog=example(
        "govchain iot simulate --spec devices.toml --key gateway.key --duration 60",
        "govchain iot simulate --device cell-a1:load_cell:A1:cell.key --key gw.key \\",
        "    --fault drift:cell-a1:-1@10 --fault forged-key:cell-a1@30 --json",
    ),
)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(path_type=Path),
    default=None,
    help="devices as JSON or TOML (.toml): {warehouse?, firmware?, devices: [...]}",
)
@click.option(
    "--device",
    "device_texts",
    multiple=True,
    metavar="ID:KIND:BIN:KEYFILE",
    help="a device (repeatable; besides --spec)",
)
@click.option(
    "--fault",
    "fault_texts",
    multiple=True,
    metavar="KIND:DEVICE[:ARG][@S]",
    help="drift:D:PCT_PER_MIN, tag-leave:D:TAG, offline:D, tamper:D, forged-key:D",
)
@click.option(
    "--weigh",
    "weigh_texts",
    multiple=True,
    metavar="DEVICE:GRAMS[@S]",
    help="a weighbridge's weighing (repeatable)",
)
@click.option(
    "--firmware",
    "firmware_hex",
    default=None,
    help="firmware hash for devices without one (default: the chain's)",
)
@click.option(
    "--rate", type=float, default=1.0, show_default=True, help="readings per second per device"
)
@click.option(
    "--duration", "duration_s", type=float, default=10.0, show_default=True, help="seconds to run"
)
@click.option(
    "--batch",
    "batch_max",
    type=click.IntRange(1, READINGS_PER_BATCH_MAX),
    default=READINGS_PER_BATCH_MAX,
    show_default=True,
    help="readings per transaction",
)
@click.option(
    "--payload-max",
    "payload_max",
    type=click.IntRange(256, 65_536),
    default=None,
    help="payload bytes per transaction (default: the gateway's tier limit)",
)
@click.option(
    "--noise",
    "noise_pct",
    type=float,
    default=0.05,
    show_default=True,
    help="load cells' noise, standard deviation in percent",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="the noise (a seed replays the same values)",
)
@click.option(
    "--counter-start",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="first counter, when the node cannot tell a device's",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=30.0,
    show_default=True,
    help="seconds to wait at the end for batches to be final",
)
@click.option("--key", "key_path", type=click.Path(path_type=Path), default=None,
              help="the gateway's key file (it signs the wr.readings batches)")  # fmt: skip
@node_option
@json_option
@reported
def simulate(
    spec_path: Path | None,
    device_texts: tuple[str, ...],
    fault_texts: tuple[str, ...],
    weigh_texts: tuple[str, ...],
    firmware_hex: str | None,
    rate: float,
    duration_s: float,
    batch_max: int,
    payload_max: int | None,
    noise_pct: float,
    seed: int,
    counter_start: int,
    timeout_s: float,
    key_path: Path | None,
    node_url: str | None,
    as_json: bool,
) -> None:
    """Run signed devices with realistic noise against a devnet, relayed by a gateway key.

    The devices must be registered on the chain (register-device). The gateway
    (--key) sends their readings in `wr.readings` batches; each batch's outcome
    (executed, or rejected with the chain's reason) and every alarm raised are
    printed. Exit 1 when a batch without an injected fault was refused.
    """
    if not 0 < duration_s <= DURATION_S_MAX:
        raise CliError("bad_duration", f"--duration must lie in (0, {DURATION_S_MAX:g}] s", 2)
    if not iot.RATE_PER_S_MIN <= rate <= iot.RATE_PER_S_MAX:
        raise CliError(
            "bad_rate", f"--rate must lie in {iot.RATE_PER_S_MIN:g}..{iot.RATE_PER_S_MAX:g}", 2
        )
    try:
        noise = iot.pct_to_ppm(noise_pct, "--noise", iot.NOISE_SD_PPM_MAX)
        firmware = iot.firmware_of(firmware_hex, "--firmware") if firmware_hex else None
        warehouse, specs = read_spec(spec_path, noise) if spec_path else (None, [])
        specs += [iot.device_option(t, noise, firmware) for t in device_texts]
        if not specs:
            raise IotError("no devices: give --spec FILE or --device ID:KIND:BIN:KEYFILE")
        specs = list(iot.unique(specs))
        specs = with_weighs(specs, [iot.parse_weigh(t) for t in weigh_texts])
        faults = [iot.parse_fault(t) for t in fault_texts]
        iot.check_faults(faults, specs)
    except IotError as exc:
        raise CliError("bad_argument", str(exc), EXIT_USAGE) from None
    gateway = load_key(key_path)
    keys = {s.id: load_key(Path(s.key)) for s in specs}  # every file read before any is sent
    url = node_url or default_node()
    run = Run(url, gateway, faults, as_json)
    try:
        doc = run.go(specs, keys, warehouse, firmware, counter_start, seed, rate, duration_s,
                     batch_max, payload_max, timeout_s)  # fmt: skip
    except IotError as exc:
        raise CliError("bad_argument", str(exc), EXIT_USAGE) from None
    finally:
        run.close()
    if as_json:
        emit_json(doc)
    else:
        _summary(doc)
    if "error" in doc:
        raise SystemExit(EXIT_FAILURE)


class Run:
    """One simulation against one node: the gateway's sender, the reads, the report."""

    def __init__(self, url: str, gateway: SigningKey, faults: list[Fault], as_json: bool) -> None:
        from govchain.sdk.client import Client  # noqa: PLC0415
        from govchain.sdk.sender import Sender  # noqa: PLC0415

        self.url, self.gateway, self.faults, self.as_json = url, gateway, faults, as_json
        self.client = Client(url)
        self.sender = Sender(gateway, [url])
        self.wr = WrReads(self.client)
        self.report = Report()
        self.seen_alarms: list[dict[str, Any]] = []

    def close(self) -> None:
        """Close every connection."""
        self.sender.close()
        self.client.close()

    def say(self, line: str) -> None:
        """A line for people (nothing with --json)."""
        if not self.as_json:
            click.echo(line)

    def go(
        self, specs: list[DeviceSpec], keys: dict[str, SigningKey], warehouse: bytes | None,
        firmware: bytes | None,
        counter_start: int, seed: int, rate: float, duration_s: float, batch_max: int,
        payload_max: int | None, timeout_s: float,
    ) -> dict[str, Any]:  # fmt: skip
        """Run for duration_s, then wait for the batches; the JSON summary."""
        setup = resolve_devices(specs, keys, self.wr, warehouse, counter_start, firmware)
        bytes_max = payload_max or payload_bytes_max(self.client, self.gateway)
        start_ms = time.time_ns() // 1_000_000
        sim = Simulation(setup.devices, self.faults, seed=seed, rate_per_s=rate, start_ms=start_ms)
        before = {int(a["seq"]) for a in self.wr.alarms() or [] if isinstance(a.get("seq"), int)}
        mine = {d.spec.id for d in setup.devices}
        for note in setup.notes:
            self.say(f"note: {note}")
        self.say(
            f"{len(setup.devices)} devices, {rate:g} readings/s each, {duration_s:g} s, "
            f"seed {seed}; gateway {self.gateway.address.hex()} (payloads <= {bytes_max} B)"
        )
        try:
            self._loop(sim, setup, duration_s, batch_max, bytes_max, before, mine)
        except KeyboardInterrupt:  # Ctrl-C ends the run early: what was sent is still reported
            setup.notes.append("interrupted: the run ended early")
            self.say("interrupted: waiting for the batches sent")
        self._finish(timeout_s)
        self._alarms(before, mine)
        return self._doc(setup, seed, rate, duration_s, bytes_max)

    def _loop(
        self, sim: Simulation, setup: Setup, duration_s: float, batch_max: int, bytes_max: int,
        before: set[int], mine: set[str],
    ) -> None:  # fmt: skip
        """Every GATEWAY_FLUSH_S: follow the books, send what fell due, read outcomes and alarms."""
        t0 = time.monotonic()
        last_book = last_alarm = t0
        duration_ms = round(duration_s * 1_000)
        while True:
            now = time.monotonic()
            elapsed_ms = min(duration_ms, round((now - t0) * 1_000))
            if setup.shares and now - last_book >= BOOK_REFRESH_S:
                self._books(sim, setup)
                last_book = now
            for batch in iot.batches(sim.due(elapsed_ms), batch_max, bytes_max):
                self._send(batch)
            self._poll(POLLS_PER_FLUSH_MAX)
            if now - last_alarm >= ALARM_POLL_S:
                self._alarms(before, mine)
                last_alarm = now
            if elapsed_ms >= duration_ms:
                return
            time.sleep(max(0.0, GATEWAY_FLUSH_S - (time.monotonic() - now)))

    def _books(self, sim: Simulation, setup: Setup) -> None:
        """Load cells follow their bins' books; a failed read keeps the last ones."""
        try:
            books = books_now(self.wr, setup.shares)
        except SdkError as exc:
            self.say(f"note: bins not read this time: {exc.message or exc.code}")
            return
        for device, grams in books.items():
            sim.set_book(device, grams)

    def _send(self, batch: iot.Batch) -> None:
        try:
            tx_id = self.sender.wr_readings(batch.readings)
        except SdkError as exc:
            log = self.report.refused(batch, exc.code, exc.message)
            self.say(f"refused   {_what(log)}: {log.reason}")
            return
        self.report.sent(batch, tx_id)

    def _poll(self, limit: int) -> None:
        for tx_id in self.report.pending()[:limit]:
            try:
                rec = self.client.tx(tx_id)
            except SdkError:
                return  # not known here yet, or the node is busy: the next flush asks again
            if rec.get("status") not in ("executed", "rejected", "held"):
                return  # in sending order: later ones are not final either
            self._final(rec)

    def _final(self, rec: dict[str, Any]) -> None:
        receipt = rec.get("receipt") or {}
        # rule: the chain's code (wr_reading_signature); reason: the same in words.
        reason = receipt.get("rule") or receipt.get("reason")
        reason = reason if rec.get("status") == "rejected" else None
        log = self.report.final(str(rec.get("tx_id")), str(rec.get("status")), reason)
        if log is not None:
            outcome = log.status + (f" {log.reason}" if log.reason else "")
            self.say(f"{outcome:<32} {_what(log)}  tx {log.tx_id[:16]}")

    def _finish(self, timeout_s: float) -> None:
        """Wait for every batch to be final (the sender resubmits what a node lost)."""
        try:
            records = self.sender.wait_all(timeout_s)
        except SdkError as exc:
            self.say(f"note: not every batch was final: {exc.message}")
            self._poll(len(self.report.logs))
            return
        for rec in records:
            self._final(rec)

    def _alarms(self, before: set[int], mine: set[str]) -> None:
        try:
            found = self.wr.alarms()
        except SdkError as exc:
            self.say(f"note: alarms not read this time: {exc.message or exc.code}")
            return
        if found is None:
            return
        known = {int(a["seq"]) for a in self.seen_alarms}
        for a in iot.new_alarms(found, before, mine):
            if int(a["seq"]) not in known:
                self.seen_alarms.append(a)
                self.say(
                    f"ALARM {a.get('kind')} on bin {a.get('bin')} by {a.get('device')}: "
                    f"{a.get('detail')} (height {a.get('height')})"
                )

    def _doc(
        self, setup: Setup, seed: int, rate: float, duration_s: float, bytes_max: int
    ) -> dict[str, Any]:
        devices = [
            {
                "id": d.spec.id,
                "kind": d.spec.kind.value,
                "bin": d.spec.bin,
                "readings": d.sent,
                "first_counter": d.first_counter,
                "last_counter": d.counter - 1 if d.sent else None,
            }
            for d in setup.devices
        ]
        return {
            "node": self.url,
            "gateway": self.gateway.address.hex(),
            "seed": seed,
            "rate_per_s": rate,
            "duration_s": duration_s,
            "payload_bytes_max": bytes_max,
            "devices": devices,
            "faults": [f.text() for f in self.faults],
            "readings": sum(d.sent for d in setup.devices),
            **self.report.counts(),
            "batch_log": self.report.batch_docs(),
            "alarms": self.seen_alarms if self.wr.available else None,
            "notes": setup.notes,
        } | self._error()

    def _error(self) -> dict[str, Any]:
        """An "error" object when a batch without injected faults was refused."""
        bad = self.report.first_honest_failure()
        if bad is None:
            return {}
        message = f"a batch without injected faults was {bad.status}: {bad.reason}"
        return {"error": {"code": "honest_batch_refused", "message": message}}


def _what(log: iot.BatchLog) -> str:
    devices = ",".join(log.devices[:4]) + ("..." if len(log.devices) > 4 else "")
    fault = f" [{log.faults}]" if log.faults else ""
    return f"{log.readings:>3} readings from {devices}{fault}"


def _summary(doc: dict[str, Any]) -> None:
    def counted(by: dict[str, int]) -> str:
        inner = ", ".join(f"{n} {why}" for why, n in by.items())
        return f"{sum(by.values())}" + (f" ({inner})" if inner else "")

    click.echo(
        f"{doc['readings']} readings in {doc['batches']} batches: {doc['executed']} executed "
        f"({doc['readings_recorded']} readings recorded), {counted(doc['rejected'])} rejected, "
        f"{counted(doc['refused'])} refused, {doc['pending']} pending"
    )
    alarms = doc["alarms"]
    if alarms is None:
        click.echo("alarms: the node serves no /v1/wr/alarms view")
    else:
        click.echo(f"alarms raised: {len(alarms)}")
    if "error" in doc:
        click.echo(f"error: {doc['error']['message']}", err=True)
