"""Simulated warehouse devices: specs, noise models, faults, a reading plan and gateway batches.

The pure half of `govchain iot simulate` (the shell, cli/iot_cmd.py, reads files,
talks to a node and keeps time). Given each device's key, firmware and first
counter, `Simulation.due(ms)` yields every reading scheduled up to `ms` after the
start, signed, with the faults in force applied; `batches` groups them the way a
gateway relays them. Nothing here reads a clock or draws chance: a reading's
noise is a pure function of (seed, device, its index in the run), so a seed
replays the same values whatever the counters, the rate of sending or the node.

Models (docs/warehouse.md, "Goods match receipts"):
- load cell: the grams it carries (its bin's book) x (1 + gaussian noise, sd in
  ppm, clipped at NOISE_CLIP_SD) + drift per minute, at the rate;
- weighbridge: only its weigh events (a heartbeat would replace the weighing
  an intake relies on);
- rfid reader and gate: a heartbeat with no tags at the rate, and tag events;
- camera: a heartbeat at the rate.

Faults, `KIND:DEVICE[:ARG][@SECONDS]` (from SECONDS after the start, default 0):
drift:DEVICE:PCT_PER_MIN, tag-leave:DEVICE:TAG, offline:DEVICE (sends nothing),
tamper:DEVICE (bytes altered after signing), forged-key:DEVICE (signed with a
key that is not the device's). A tampered or forged reading makes the chain
refuse its whole batch, so the gateway sends those in batches of their own: the
refusal names its culprit and honest readings keep flowing.
"""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from govchain.apps.warehouse.env import number_ok
from govchain.apps.warehouse.readings import (
    READING_TAGS_MAX,
    READINGS_PER_BATCH_MAX,
    DeviceKind,
    Reading,
    SignedReading,
    sign_reading,
)
from govchain.codec import HASH_BYTES, encode
from govchain.crypto.keys import ADDRESS_BYTES, SigningKey

PPM: Final = 1_000_000
PPM_PER_PCT: Final = 10_000
MS_PER_S: Final = 1_000
MS_PER_MIN: Final = 60_000
GRAMS_MAX: Final = 10**12  # what a reading may report (readings.reading_problem)
TAG_CHARS_MAX: Final = 128
NOISE_SD_PPM_DEFAULT: Final = 500  # 0.05 %: a good load-cell tray
NOISE_SD_PPM_MAX: Final = 100_000  # 10 %
NOISE_CLIP_SD: Final = 4  # noise never exceeds 4 sd: a sane cell, and a bound tests can check
DRIFT_PPM_PER_MIN_MAX: Final = PPM  # 100 % of the load per minute
RATE_PER_S_MIN: Final = 0.01
RATE_PER_S_MAX: Final = 50.0
DEVICES_MAX: Final = 1_000
EVENTS_PER_DEVICE_MAX: Final = 10_000
AT_S_MAX: Final = 7 * 24 * 3_600  # an event or fault at most a week into a run
TAMPER_DELTA_G: Final = 1_000  # what tampering adds to a reading's grams (a kilogram)
# A ReadingsPayload is a msgpack array holding one array of readings: at most
# 1 + 3 header bytes outside the readings themselves; 8 leaves room.
PAYLOAD_OVERHEAD_BYTES: Final = 8
FORGED_LABEL: Final = "govchain/iot/forged"
NOISE_DOMAIN: Final = b"govchain/iot/noise/v1"
PERIODIC_KINDS: Final = frozenset(
    {DeviceKind.LOAD_CELL, DeviceKind.RFID, DeviceKind.GATE, DeviceKind.CAMERA}
)
TAG_KINDS: Final = frozenset({DeviceKind.RFID, DeviceKind.GATE})


class IotError(ValueError):
    """A device spec, option or fault is bad; the message names which and why."""


class FaultKind(enum.StrEnum):
    """What goes wrong with a device."""

    DRIFT = "drift"
    TAG_LEAVE = "tag-leave"
    OFFLINE = "offline"
    TAMPER = "tamper"
    FORGED_KEY = "forged-key"


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault on one device, in force from at_ms after the start."""

    kind: FaultKind
    device: str
    at_ms: int = 0
    drift_ppm_per_min: int = 0  # drift
    tag: str = ""  # tag-leave

    def text(self) -> str:
        """The fault as the command line spells it."""
        arg = {FaultKind.DRIFT: f":{self.drift_ppm_per_min / PPM_PER_PCT:g}"}.get(self.kind, "")
        arg = f":{self.tag}" if self.kind == FaultKind.TAG_LEAVE else arg
        return f"{self.kind}:{self.device}{arg}@{self.at_ms / MS_PER_S:g}"


@dataclass(frozen=True, slots=True)
class Event:
    """A weighing (grams) or tags seen (tags), at_ms after the start."""

    at_ms: int
    grams: int = 0
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A simulated device: what it is, where, its key file, and how it behaves."""

    id: str
    kind: DeviceKind
    bin: str
    key: str  # the device's key file, as written (the shell resolves it)
    book_g: int | None = None  # load cell: grams it carries (None: its bin's book on the chain)
    noise_sd_ppm: int = NOISE_SD_PPM_DEFAULT
    drift_ppm_per_min: int = 0
    firmware: bytes | None = None  # None: the firmware registered on the chain
    events: tuple[Event, ...] = ()  # weighings (weighbridge) or tags seen (rfid, gate)


@dataclass(frozen=True, slots=True)
class SimSpec:
    """What to simulate: the warehouse (when known) and its devices."""

    warehouse: bytes | None
    devices: tuple[DeviceSpec, ...]


# -- parsing: spec files, options, faults --------------------------------------------------
def pct_to_ppm(value: object, what: str, bound_ppm: int, signed: bool = False) -> int:
    """A percentage as ppm, within +-bound_ppm (0..bound_ppm unless signed)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise IotError(f"{what} must be a number (percent)")
    ppm = round(value * PPM_PER_PCT)
    if not (-bound_ppm if signed else 0) <= ppm <= bound_ppm:
        raise IotError(f"{what} must lie within {bound_ppm / PPM_PER_PCT:g} %")
    return ppm


def _seconds_to_ms(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise IotError(f"{what} must be a number of seconds")
    if not 0 <= value <= AT_S_MAX:
        raise IotError(f"{what} must lie in 0..{AT_S_MAX} seconds")
    return round(value * MS_PER_S)


def _grams(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= GRAMS_MAX:
        raise IotError(f"{what} must be a whole number of grams in 0..{GRAMS_MAX}")
    return value


def _tag(value: object, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= TAG_CHARS_MAX:
        raise IotError(f"{what} must be a tag of 1 to {TAG_CHARS_MAX} characters")
    return value


def firmware_of(text: object, what: str) -> bytes:
    """A firmware hash from its lowercase hex."""
    try:
        raw = bytes.fromhex(text) if isinstance(text, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != HASH_BYTES or text != str(text).lower():
        raise IotError(f"{what} must be {HASH_BYTES * 2} lowercase hex characters")
    return raw


def _device_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not number_ok(value):
        raise IotError(f"{what} {value!r} is not a device id ([A-Za-z0-9][A-Za-z0-9_.-]{{0,63}})")
    return value


def _kind(value: object, what: str) -> DeviceKind:
    try:
        return DeviceKind(str(value))
    except ValueError:
        kinds = ", ".join(k.value for k in DeviceKind)
        raise IotError(f"{what}: kind {value!r} is not one of {kinds}") from None


_DEVICE_KEYS = frozenset(
    {"id", "kind", "bin", "key", "book_g", "noise_pct", "drift_pct_per_min", "firmware"}
    | {"weighs", "tags"}
)


def _events(raw: object, what: str, weighs: bool) -> list[Event]:
    if not isinstance(raw, list) or len(raw) > EVENTS_PER_DEVICE_MAX:
        raise IotError(f"{what} must be a list of at most {EVENTS_PER_DEVICE_MAX} events")
    out: list[Event] = []
    for i, e in enumerate(raw):
        where = f"{what}[{i}]"
        want = {"at_s", "grams"} if weighs else {"at_s", "tags"}
        if not isinstance(e, dict) or set(e) != want:
            raise IotError(f"{where} must be an object with exactly {sorted(want)}")
        at = _seconds_to_ms(e["at_s"], f"{where}.at_s")
        if weighs:
            out.append(Event(at, grams=_grams(e["grams"], f"{where}.grams")))
            continue
        tags = e["tags"]
        if not isinstance(tags, list) or not 0 < len(tags) <= READING_TAGS_MAX:
            raise IotError(f"{where}.tags must list 1 to {READING_TAGS_MAX} tags")
        out.append(Event(at, tags=tuple(_tag(t, f"{where}.tags") for t in tags)))
    return out


def device_of(doc: object, where: str, noise_sd_ppm: int, firmware: bytes | None) -> DeviceSpec:
    """One device of a spec file (JSON or TOML object), checked."""
    if not isinstance(doc, dict):
        raise IotError(f"{where} must be an object")
    unknown = sorted(set(doc) - _DEVICE_KEYS)
    if unknown:
        raise IotError(f"{where}: unknown field {unknown[0]!r}")
    for need in ("id", "kind", "bin", "key"):
        if need not in doc:
            raise IotError(f"{where}: field {need!r} is missing")
    dev = _device_id(doc["id"], f"{where}.id")
    where = f"device {dev}"
    kind = _kind(doc["kind"], where)
    bin_code, key = doc["bin"], doc["key"]
    if not isinstance(bin_code, str) or not number_ok(bin_code):
        raise IotError(f"{where}: bin {bin_code!r} is not a bin code")
    if not isinstance(key, str) or not key:
        raise IotError(f"{where}: key must name the device's key file")
    book = doc.get("book_g")
    if book is not None and kind != DeviceKind.LOAD_CELL:
        raise IotError(f"{where}: book_g is for load cells")
    if ("weighs" in doc and kind != DeviceKind.WEIGHBRIDGE) or (
        "tags" in doc and kind not in TAG_KINDS
    ):
        raise IotError(f"{where}: weighs are for weighbridges, tags for rfid readers and gates")
    events = _events(doc.get("weighs", doc.get("tags", [])), f"{where} events", "weighs" in doc)
    return DeviceSpec(
        dev,
        kind,
        bin_code,
        key,
        None if book is None else _grams(book, f"{where}: book_g"),
        pct_to_ppm(doc["noise_pct"], f"{where}: noise_pct", NOISE_SD_PPM_MAX)
        if "noise_pct" in doc
        else noise_sd_ppm,
        pct_to_ppm(
            doc.get("drift_pct_per_min", 0),
            f"{where}: drift_pct_per_min",
            DRIFT_PPM_PER_MIN_MAX,
            signed=True,
        ),
        firmware_of(doc["firmware"], f"{where}: firmware") if "firmware" in doc else firmware,
        tuple(sorted(events, key=lambda e: e.at_ms)),
    )


def spec_of(doc: object, noise_sd_ppm: int = NOISE_SD_PPM_DEFAULT) -> SimSpec:
    """A spec file's document: {"warehouse"?, "firmware"?, "devices": [...]}, checked."""
    if not isinstance(doc, dict):
        raise IotError("a spec is an object with a devices list")
    unknown = sorted(set(doc) - {"warehouse", "firmware", "devices"})
    if unknown:
        raise IotError(f"unknown spec field {unknown[0]!r}")
    warehouse = None
    if "warehouse" in doc:
        w = str(doc["warehouse"]).lower().removeprefix("0x")
        try:
            warehouse = bytes.fromhex(w)
        except ValueError:
            warehouse = b""
        if len(warehouse) != ADDRESS_BYTES:
            raise IotError(f"warehouse must be an address ({ADDRESS_BYTES * 2} hex characters)")
    firmware = firmware_of(doc["firmware"], "firmware") if "firmware" in doc else None
    devices = doc.get("devices")
    if not isinstance(devices, list) or not 0 < len(devices) <= DEVICES_MAX:
        raise IotError(f"devices must list 1 to {DEVICES_MAX} devices")
    specs = tuple(
        device_of(d, f"devices[{i}]", noise_sd_ppm, firmware) for i, d in enumerate(devices)
    )
    return SimSpec(warehouse, unique(specs))


def unique(specs: Sequence[DeviceSpec]) -> tuple[DeviceSpec, ...]:
    """specs, refused when a device id appears twice or there are too many."""
    if len(specs) > DEVICES_MAX:
        raise IotError(f"at most {DEVICES_MAX} devices")
    seen: set[str] = set()
    for s in specs:
        if s.id in seen:
            raise IotError(f"device {s.id} is listed twice")
        seen.add(s.id)
    return tuple(specs)


def device_option(text: str, noise_sd_ppm: int, firmware: bytes | None) -> DeviceSpec:
    """--device ID:KIND:BIN:KEYFILE."""
    parts = text.split(":", 3)
    if len(parts) != 4:
        raise IotError(f"--device {text!r}: give ID:KIND:BIN:KEYFILE")
    dev, kind, bin_code, key = parts
    doc = {"id": dev, "kind": kind, "bin": bin_code, "key": key}
    return device_of(doc, f"--device {text!r}", noise_sd_ppm, firmware)


def _split_at(text: str) -> tuple[str, int]:
    """TEXT@SECONDS -> (TEXT, ms); no @SECONDS suffix -> (text, 0)."""
    head, sep, tail = text.rpartition("@")
    if sep:
        try:
            seconds = float(tail)
        except ValueError:
            return text, 0
        return head, _seconds_to_ms(seconds, f"{text!r}: @SECONDS")
    return text, 0


def parse_fault(text: str) -> Fault:
    """KIND:DEVICE[:ARG][@SECONDS] (see the module's docstring)."""
    body, at_ms = _split_at(text)
    kind_text, _, rest = body.partition(":")
    try:
        kind = FaultKind(kind_text)
    except ValueError:
        kinds = ", ".join(k.value for k in FaultKind)
        raise IotError(f"--fault {text!r}: {kind_text!r} is not one of {kinds}") from None
    dev, _, arg = rest.partition(":")
    dev = _device_id(dev, f"--fault {text!r}: device")
    if kind == FaultKind.DRIFT:
        try:
            pct = float(arg)
        except ValueError:
            raise IotError(f"--fault {text!r}: give drift:DEVICE:PCT_PER_MIN") from None
        ppm = pct_to_ppm(pct, f"--fault {text!r}: drift", DRIFT_PPM_PER_MIN_MAX, signed=True)
        return Fault(kind, dev, at_ms, drift_ppm_per_min=ppm)
    if kind == FaultKind.TAG_LEAVE:
        if not arg:
            raise IotError(f"--fault {text!r}: give tag-leave:DEVICE:TAG")
        return Fault(kind, dev, at_ms, tag=_tag(arg, f"--fault {text!r}: tag"))
    if arg:
        raise IotError(f"--fault {text!r}: {kind} takes no argument")
    return Fault(kind, dev, at_ms)


def parse_weigh(text: str) -> tuple[str, Event]:
    """--weigh DEVICE:GRAMS[@SECONDS]: the device and its weigh event."""
    body, at_ms = _split_at(text)
    dev, _, grams = body.partition(":")
    if not grams.isdigit():
        raise IotError(f"--weigh {text!r}: give DEVICE:GRAMS[@SECONDS]")
    return _device_id(dev, f"--weigh {text!r}: device"), Event(
        at_ms, grams=_grams(int(grams), f"--weigh {text!r}: grams")
    )


def check_faults(faults: Sequence[Fault], specs: Sequence[DeviceSpec]) -> None:
    """Refuse a fault on an unknown device or one of the wrong kind."""
    kinds = {s.id: s.kind for s in specs}
    for f in faults:
        kind = kinds.get(f.device)
        if kind is None:
            raise IotError(f"--fault {f.text()}: no simulated device {f.device}")
        if f.kind == FaultKind.DRIFT and kind != DeviceKind.LOAD_CELL:
            raise IotError(f"--fault {f.text()}: drift is for load cells, {f.device} is a {kind}")
        if f.kind == FaultKind.TAG_LEAVE and kind not in TAG_KINDS:
            raise IotError(f"--fault {f.text()}: a tag leaves past an rfid reader or a gate")


# -- models --------------------------------------------------------------------------------
def noise_ppm(seed: int, device: str, index: int, sd_ppm: int) -> int:
    """Gaussian noise (ppm) of a device's index-th reading in a run, clipped at 4 sd.

    Box-Muller over SHA-256 of (seed, device, index): the same inputs give the
    same noise on any machine.
    """
    h = hashlib.sha256(b"%s|%d|%s|%d" % (NOISE_DOMAIN, seed, device.encode(), index)).digest()
    u1 = (int.from_bytes(h[:8], "big") + 1) / 2**64  # in (0, 1]: log is finite
    u2 = int.from_bytes(h[8:16], "big") / 2**64
    z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
    z = max(-NOISE_CLIP_SD, min(NOISE_CLIP_SD, z))
    return round(z * sd_ppm)


def drift_ppm(rate_ppm_per_min: int, elapsed_ms: int) -> int:
    """Drift (ppm) after elapsed_ms at a rate per minute (towards zero)."""
    total = rate_ppm_per_min * elapsed_ms
    return total // MS_PER_MIN if total >= 0 else -(-total // MS_PER_MIN)


def load_cell_grams(book_g: int, off_ppm: int) -> int:
    """What a load cell carrying book_g reads off by off_ppm (noise plus drift), in range."""
    return max(0, min(GRAMS_MAX, book_g + book_g * off_ppm // PPM))


def tampered(signed: SignedReading) -> SignedReading:
    """The reading with its grams altered after signing, its signature kept."""
    r = signed.reading
    grams = r.grams + TAMPER_DELTA_G if r.grams <= GRAMS_MAX - TAMPER_DELTA_G else r.grams - 1
    return SignedReading(msgspec.structs.replace(r, grams=grams), signed.signature)


def forged_key(seed: int, device: str) -> SigningKey:
    """The key a forger signs the device's readings with (not the device's)."""
    return SigningKey.from_label(f"{FORGED_LABEL}/{seed}/{device}")


# -- the plan ------------------------------------------------------------------------------
@dataclass(slots=True)
class SimDevice:
    """A device as the simulation runs it: its spec, key, firmware, counter and load."""

    spec: DeviceSpec
    key: SigningKey
    firmware: bytes
    counter: int  # the counter its next reading takes (above the chain's)
    book_g: int | None = None  # load cells: the grams it carries now
    sent: int = 0  # readings made
    first_counter: int = 0

    def __post_init__(self) -> None:
        if self.spec.kind == DeviceKind.LOAD_CELL and self.book_g is None:
            raise IotError(f"load cell {self.spec.id} needs the grams it carries (book_g)")
        if len(self.firmware) != HASH_BYTES:
            raise IotError(f"device {self.spec.id}: firmware must be a {HASH_BYTES}-byte hash")
        if not 0 < self.counter < 2**63:
            raise IotError(f"device {self.spec.id}: counter must be positive")
        self.first_counter = self.counter


@dataclass(frozen=True, slots=True)
class Planned:
    """One reading the gateway relays, and the faults that make the chain refuse it."""

    signed: SignedReading
    faults: str = ""  # "tamper", "forged-key" or both joined by "+": "" when honest
    size_bytes: int = 0  # its encoded size, for the payload bound


@dataclass(slots=True)
class _Clock:
    """Where a device stands in the run."""

    next_ms: int  # its next heartbeat
    index: int = 0  # heartbeats made (the noise's index)
    event: int = 0  # events made
    events: list[Event] = field(default_factory=list)


class Simulation:
    """Every device's readings in time order: signed, faults applied, as they fall due."""

    def __init__(
        self,
        devices: Sequence[SimDevice],
        faults: Sequence[Fault],
        *,
        seed: int,
        rate_per_s: float,
        start_ms: int,
    ) -> None:
        if not RATE_PER_S_MIN <= rate_per_s <= RATE_PER_S_MAX:
            raise IotError(f"rate must lie in {RATE_PER_S_MIN}..{RATE_PER_S_MAX} readings/s")
        check_faults(faults, [d.spec for d in devices])
        self.devices = list(devices)
        self.faults = list(faults)
        self.seed = seed
        self.start_ms = start_ms
        self.period_ms = max(1, round(MS_PER_S / rate_per_s))
        n = len(self.devices)
        self._clocks: list[_Clock] = []
        for i, d in enumerate(self.devices):
            leaving = [Event(f.at_ms, tags=(f.tag,)) for f in self._of(d, FaultKind.TAG_LEAVE)]
            events = sorted([*d.spec.events, *leaving], key=lambda e: e.at_ms)
            # Heartbeats spread over the period, so a gateway's batches stay even.
            self._clocks.append(_Clock(i * self.period_ms // max(1, n), events=events))

    def _of(self, d: SimDevice, kind: FaultKind) -> list[Fault]:
        return [f for f in self.faults if f.device == d.spec.id and f.kind == kind]

    def set_book(self, device: str, grams: int) -> None:
        """A load cell now carries grams (the bin's book changed on the chain)."""
        for d in self.devices:
            if d.spec.id == device:
                d.book_g = _grams(grams, f"device {device}: book")

    def due(self, until_ms: int) -> list[Planned]:
        """Every reading scheduled at or before until_ms (after the start) not made yet."""
        slots: list[tuple[int, int, int, Event | None]] = []  # (at, device, index, event)
        for i, (d, c) in enumerate(zip(self.devices, self._clocks, strict=True)):
            if d.spec.kind in PERIODIC_KINDS:
                while c.next_ms <= until_ms:
                    slots.append((c.next_ms, i, c.index, None))
                    c.next_ms += self.period_ms
                    c.index += 1
            while c.event < len(c.events) and c.events[c.event].at_ms <= until_ms:
                slots.append((c.events[c.event].at_ms, i, c.event, c.events[c.event]))
                c.event += 1
        slots.sort(key=lambda s: (s[0], s[1], s[3] is None, s[2]))
        out: list[Planned] = []
        for at, i, index, event in slots:
            planned = self._reading(self.devices[i], at, index, event)
            if planned is not None:
                out.append(planned)
        return out

    def _active(self, d: SimDevice, kind: FaultKind, at: int) -> list[Fault]:
        return [f for f in self._of(d, kind) if f.at_ms <= at]

    def _reading(self, d: SimDevice, at: int, index: int, event: Event | None) -> Planned | None:
        if self._active(d, FaultKind.OFFLINE, at):
            return None
        spec = d.spec
        grams, tags = (event.grams, event.tags) if event is not None else (0, ())
        if spec.kind == DeviceKind.LOAD_CELL and event is None:
            assert d.book_g is not None  # SimDevice refuses a load cell without one
            off = noise_ppm(self.seed, spec.id, index, spec.noise_sd_ppm)
            off += drift_ppm(spec.drift_ppm_per_min, at)
            for f in self._active(d, FaultKind.DRIFT, at):
                off += drift_ppm(f.drift_ppm_per_min, at - f.at_ms)
            grams = load_cell_grams(d.book_g, off)
        reading = Reading(spec.id, d.counter, self.start_ms + at, grams, tags, d.firmware)
        d.counter += 1
        d.sent += 1
        faults: list[str] = []
        key = d.key
        if self._active(d, FaultKind.FORGED_KEY, at):
            key = forged_key(self.seed, spec.id)
            faults.append(FaultKind.FORGED_KEY.value)
        signed = sign_reading(key, reading)
        if self._active(d, FaultKind.TAMPER, at):
            signed = tampered(signed)
            faults.append(FaultKind.TAMPER.value)
        return Planned(signed, "+".join(sorted(faults)), len(encode(signed)))


# -- gateway batches -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Batch:
    """Readings one `wr.readings` transaction relays."""

    readings: tuple[SignedReading, ...]
    faults: str  # the faults its readings carry ("" when honest)

    @property
    def devices(self) -> tuple[str, ...]:
        """The devices whose readings it carries, in order of first reading."""
        return tuple(dict.fromkeys(s.reading.device for s in self.readings))


def batches(planned: Sequence[Planned], count_max: int, bytes_max: int) -> list[Batch]:
    """Group readings into batches of at most count_max readings and bytes_max payload bytes.

    Honest readings go first, together; each faulted device's readings go
    apart (one bad reading refuses a whole batch). Order within a device is
    kept, so its counters rise from one transaction to the next.
    """
    if not 0 < count_max <= READINGS_PER_BATCH_MAX:
        raise IotError(f"--batch must lie in 1..{READINGS_PER_BATCH_MAX}")
    groups: dict[tuple[str, str], list[Planned]] = {}
    for p in planned:
        key = ("", "") if not p.faults else (p.faults, p.signed.reading.device)
        groups.setdefault(key, []).append(p)
    out: list[Batch] = []
    for (faults, _dev), items in groups.items():
        chunk: list[Planned] = []
        size = PAYLOAD_OVERHEAD_BYTES
        for p in items:
            if PAYLOAD_OVERHEAD_BYTES + p.size_bytes > bytes_max:
                raise IotError(
                    f"a reading of {p.signed.reading.device} alone exceeds {bytes_max} B"
                )
            if chunk and (len(chunk) >= count_max or size + p.size_bytes > bytes_max):
                out.append(Batch(tuple(c.signed for c in chunk), faults))
                chunk, size = [], PAYLOAD_OVERHEAD_BYTES
            chunk.append(p)
            size += p.size_bytes
        if chunk:
            out.append(Batch(tuple(c.signed for c in chunk), faults))
    return out


# -- what happened -------------------------------------------------------------------------
BATCHES_LISTED_MAX: Final = 1_000  # the JSON summary lists this many batches, then counts


@dataclass(slots=True)
class BatchLog:
    """One batch sent and what the chain did with it."""

    tx_id: str
    readings: int
    devices: tuple[str, ...]
    faults: str
    status: str = "pending"  # pending, executed, rejected, held; refused: no node took it
    reason: str | None = None

    def doc(self) -> dict[str, Any]:
        """As the JSON summary lists it."""
        return {
            "tx_id": self.tx_id,
            "readings": self.readings,
            "devices": list(self.devices),
            "faults": self.faults or None,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(slots=True)
class Report:
    """Every batch and its outcome, in sending order."""

    logs: list[BatchLog] = field(default_factory=list)
    by_tx: dict[str, BatchLog] = field(default_factory=dict)

    def sent(self, batch: Batch, tx_id: str) -> BatchLog:
        """A batch a node promised to make final."""
        log = BatchLog(tx_id, len(batch.readings), batch.devices, batch.faults)
        self.logs.append(log)
        self.by_tx[tx_id] = log
        return log

    def refused(self, batch: Batch, code: str, message: str) -> BatchLog:
        """A batch no node took (bad, or every node busy)."""
        log = BatchLog("", len(batch.readings), batch.devices, batch.faults, "refused")
        log.reason = f"{code}: {message}" if message else code
        self.logs.append(log)
        return log

    def final(self, tx_id: str, status: str, reason: str | None) -> BatchLog | None:
        """A batch's final outcome (None: not one of ours, or known already)."""
        log = self.by_tx.get(tx_id)
        if log is None or log.status != "pending":
            return None
        log.status, log.reason = status, reason
        return log

    def pending(self) -> list[str]:
        """Ids of batches not final yet, oldest first."""
        return [log.tx_id for log in self.logs if log.status == "pending"]

    def counts(self) -> dict[str, Any]:
        """Batches and readings by outcome; rejections and refusals by reason."""
        rejected: dict[str, int] = {}
        refused: dict[str, int] = {}
        for log in self.logs:
            if log.status == "rejected":
                rejected[log.reason or "?"] = rejected.get(log.reason or "?", 0) + 1
            elif log.status == "refused":
                code = (log.reason or "?").split(":", 1)[0]
                refused[code] = refused.get(code, 0) + 1
        executed = [log for log in self.logs if log.status in ("executed", "held")]
        return {
            "batches": len(self.logs),
            "executed": len(executed),
            "readings_recorded": sum(log.readings for log in executed),
            "rejected": dict(sorted(rejected.items())),
            "refused": dict(sorted(refused.items())),
            "pending": len(self.pending()),
        }

    def first_honest_failure(self) -> BatchLog | None:
        """The first batch without injected faults that the chain or the nodes refused."""
        bad = ("rejected", "refused")
        return next((g for g in self.logs if not g.faults and g.status in bad), None)

    def batch_docs(self) -> list[dict[str, Any]]:
        """The first BATCHES_LISTED_MAX batches as the JSON summary lists them."""
        return [log.doc() for log in self.logs[:BATCHES_LISTED_MAX]]


def new_alarms(
    alarms: Sequence[Mapping[str, Any]], before: set[int], devices: set[str] | None = None
) -> list[dict[str, Any]]:
    """Alarms raised since the baseline (their seqs), optionally only from these devices."""
    out = []
    for a in alarms:
        seq = a.get("seq")
        mine = devices is None or a.get("device") in devices
        if isinstance(seq, int) and seq not in before and mine:
            out.append(dict(a))
    return sorted(out, key=lambda a: int(a["seq"]))
