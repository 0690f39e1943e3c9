"""`govchain iot simulate`: the device models, the faults' bytes, the gateway's batches, and
what the chain does with them (on a ledger, and once on a devnet)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from govchain.apps.warehouse import iot
from govchain.apps.warehouse.commitment import Spec
from govchain.apps.warehouse.iot import (
    DeviceSpec,
    Event,
    Fault,
    FaultKind,
    IotError,
    SimDevice,
    Simulation,
)
from govchain.apps.warehouse.ops import (
    KIND_READINGS,
    Intake,
    OpenWarehouse,
    ReadingsPayload,
    RegisterDevice,
    Sign,
)
from govchain.apps.warehouse.readings import DeviceKind, signature_ok
from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.node.files import read_key
from govchain.sdk.client import Client
from govchain.state.actions.grant_role import GrantRole
from procs import cluster
from wrkit import FIRMWARE, GATEWAY, OPERATOR, TONNE, Story

START_MS = 1_700_000_000_000
BOOK_G = 1_000 * TONNE
KEY = SigningKey.from_label("iot-test-device")


def cell(
    noise_ppm: int = iot.NOISE_SD_PPM_DEFAULT, book_g: int = BOOK_G, name: str = "cell-a1"
) -> SimDevice:
    spec = DeviceSpec(name, DeviceKind.LOAD_CELL, "A1", "cell.key", noise_sd_ppm=noise_ppm)
    return SimDevice(spec, KEY, FIRMWARE, 1, book_g)


def device(name: str, kind: DeviceKind, events: tuple[Event, ...] = ()) -> SimDevice:
    return SimDevice(DeviceSpec(name, kind, "A1", f"{name}.key", events=events), KEY, FIRMWARE, 1)


def sim(
    *devices: SimDevice, faults: tuple[Fault, ...] = (), seed: int = 7, rate: float = 1.0
) -> Simulation:
    return Simulation(list(devices), list(faults), seed=seed, rate_per_s=rate, start_ms=START_MS)


def grams(planned: list[iot.Planned]) -> list[int]:
    return [p.signed.reading.grams for p in planned]


# -- the load cell ------------------------------------------------------------------------
def test_a_seed_replays_the_same_readings_byte_for_byte() -> None:
    first = sim(cell(), device("cam-1", DeviceKind.CAMERA)).due(60_000)
    again = sim(cell(), device("cam-1", DeviceKind.CAMERA)).due(60_000)
    assert [encode(p.signed) for p in first] == [encode(p.signed) for p in again]
    other = sim(cell(), device("cam-1", DeviceKind.CAMERA), seed=8).due(60_000)
    assert grams(other) != grams(first)


def test_noise_depends_on_the_seed_not_on_where_the_counters_start() -> None:
    def later() -> SimDevice:
        return SimDevice(cell().spec, KEY, FIRMWARE, 5_000, BOOK_G)

    assert grams(sim(later()).due(30_000)) == grams(sim(cell()).due(30_000))
    counters = [p.signed.reading.counter for p in sim(later()).due(3_000)]
    assert counters == list(range(5_000, 5_004))


def test_load_cell_noise_has_the_configured_spread_and_never_leaves_four_sd() -> None:
    sd_ppm = 500  # 0.05 %
    off = [(g - BOOK_G) / BOOK_G * 1e6 for g in grams(sim(cell(sd_ppm)).due(3_000_000))]
    assert len(off) == 3_001
    assert abs(statistics.fmean(off)) < 0.1 * sd_ppm
    assert 0.9 * sd_ppm < statistics.pstdev(off) < 1.1 * sd_ppm
    assert max(abs(o) for o in off) <= iot.NOISE_CLIP_SD * sd_ppm
    assert all(abs(iot.noise_ppm(3, "c", i, 1_000)) <= 4_000 for i in range(20_000))


def test_no_noise_reads_the_book_exactly() -> None:
    assert set(grams(sim(cell(0)).due(10_000))) == {BOOK_G}


def test_a_drift_fault_moves_the_reading_by_its_rate_from_when_it_starts() -> None:
    drift = Fault(FaultKind.DRIFT, "cell-a1", at_ms=60_000, drift_ppm_per_min=-10_000)  # -1 %/min
    out = sim(cell(0), faults=(drift,)).due(180_000)
    by_time = {p.signed.reading.time_ms - START_MS: p.signed.reading.grams for p in out}
    assert by_time[60_000] == BOOK_G
    assert by_time[120_000] == BOOK_G * 99 // 100
    assert by_time[180_000] == BOOK_G * 98 // 100
    assert iot.drift_ppm(-10_000, 30_000) == -5_000 and iot.drift_ppm(10_000, 1) == 0


def test_the_book_a_load_cell_carries_follows_the_chain() -> None:
    s = sim(cell(0))
    assert grams(s.due(0)) == [BOOK_G]
    s.set_book("cell-a1", 400 * TONNE)
    assert grams(s.due(2_000)) == [400 * TONNE, 400 * TONNE]


# -- the other devices ----------------------------------------------------------------------
def test_a_weighbridge_sends_only_its_weighings() -> None:
    weighs = (Event(5_000, grams=1_001 * TONNE), Event(9_000, grams=3 * TONNE))
    out = sim(device("scale-1", DeviceKind.WEIGHBRIDGE, weighs)).due(60_000)
    assert [(p.signed.reading.time_ms - START_MS, p.signed.reading.grams) for p in out] == [
        (5_000, 1_001 * TONNE),
        (9_000, 3 * TONNE),
    ]


def test_readers_and_cameras_beat_at_the_rate_and_report_tag_events() -> None:
    seen = (Event(2_500, tags=("EPC-0001", "EPC-0002")),)
    out = sim(
        device("rfid-a1", DeviceKind.RFID, seen), device("cam-1", DeviceKind.CAMERA), rate=2.0
    ).due(4_000)
    rfid = [p.signed.reading for p in out if p.signed.reading.device == "rfid-a1"]
    cam = [p.signed.reading for p in out if p.signed.reading.device == "cam-1"]
    assert len(cam) == 8 and all(r.tags == () and r.grams == 0 for r in cam)
    assert [r.tags for r in rfid if r.tags] == [("EPC-0001", "EPC-0002")]
    assert len(rfid) == 9 + 1  # heartbeats at 0, 500, ..., 4000 ms, and the event
    counters = [r.counter for r in rfid]
    assert counters == list(range(1, 11))  # time order is counter order


def test_a_tag_leaving_is_reported_when_it_leaves() -> None:
    leave = Fault(FaultKind.TAG_LEAVE, "rfid-a1", at_ms=3_300, tag="EPC-0007")
    out = sim(device("rfid-a1", DeviceKind.RFID), faults=(leave,)).due(10_000)
    tagged = [p.signed.reading for p in out if p.signed.reading.tags]
    assert [(r.time_ms - START_MS, r.tags) for r in tagged] == [(3_300, ("EPC-0007",))]
    assert all(p.faults == "" for p in out)  # a real tag leaving: signed by the device


def test_an_offline_device_sends_nothing_and_spends_no_counter() -> None:
    off = Fault(FaultKind.OFFLINE, "cam-1", at_ms=3_000)
    s = sim(device("cam-1", DeviceKind.CAMERA), faults=(off,))
    out = s.due(100_000)
    assert [p.signed.reading.counter for p in out] == [1, 2, 3]
    assert s.devices[0].counter == 4


# -- faults: the bytes the chain gets -------------------------------------------------------
def test_a_tampered_reading_was_altered_after_signing_and_fails_verification() -> None:
    honest = sim(cell()).due(5_000)
    tamper = Fault(FaultKind.TAMPER, "cell-a1", at_ms=2_000)
    out = sim(cell(), faults=(tamper,)).due(5_000)
    assert [p.faults for p in out] == ["", "", "tamper", "tamper", "tamper", "tamper"]
    for h, t in zip(honest, out, strict=True):
        assert signature_ok(KEY.public_key, h.signed)
        assert t.signed.signature == h.signed.signature  # the device's own signature, kept
        if t.faults:
            assert t.signed.reading.grams == h.signed.reading.grams + iot.TAMPER_DELTA_G
            assert msgspec.structs.replace(t.signed.reading, grams=h.signed.reading.grams) == (
                h.signed.reading
            )
            assert not signature_ok(KEY.public_key, t.signed)
        else:
            assert t.signed == h.signed


def test_a_forged_key_signs_readings_the_device_key_does_not_verify() -> None:
    forged = Fault(FaultKind.FORGED_KEY, "cell-a1")
    out = sim(cell(), faults=(forged,), seed=7).due(3_000)
    assert {p.faults for p in out} == {"forged-key"}
    wrong = iot.forged_key(7, "cell-a1")
    assert wrong.public_key != KEY.public_key
    for p in out:
        assert not signature_ok(KEY.public_key, p.signed)
        assert signature_ok(wrong.public_key, p.signed)


# -- the gateway's batches -------------------------------------------------------------------
def test_batches_respect_the_count_and_the_tier_s_payload_bytes() -> None:
    devices = [cell(name=f"cell-{i:02d}") for i in range(40)]
    planned = sim(*devices).due(9_999)
    assert len(planned) == 400
    for count_max, bytes_max in ((256, 4_096), (25, 65_536), (256, 65_536)):
        out = iot.batches(planned, count_max, bytes_max)
        assert [s for b in out for s in b.readings] == [p.signed for p in planned]
        for b in out:
            assert len(b.readings) <= count_max
            assert len(encode(ReadingsPayload(b.readings))) <= bytes_max


def test_faulted_readings_travel_apart_and_each_device_s_counters_rise() -> None:
    faults = (Fault(FaultKind.TAMPER, "cell-b"), Fault(FaultKind.FORGED_KEY, "cam-1", 1_000))
    devices = (cell(name="cell-a"), cell(name="cell-b"), device("cam-1", DeviceKind.CAMERA))
    out = iot.batches(sim(*devices, faults=faults).due(2_999), 256, 65_536)
    assert [(b.faults, b.devices) for b in out] == [
        ("", ("cell-a", "cam-1")),
        ("tamper", ("cell-b",)),
        ("forged-key", ("cam-1",)),
    ]
    for dev in ("cell-a", "cam-1"):
        counters = [s.reading.counter for b in out for s in b.readings if s.reading.device == dev]
        assert counters == sorted(counters) and len(set(counters)) == len(counters)


def test_a_batch_size_out_of_bounds_is_refused() -> None:
    with pytest.raises(IotError, match="--batch"):
        iot.batches([], 257, 65_536)


# -- parsing ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("drift:cell-a1:-1.5", Fault(FaultKind.DRIFT, "cell-a1", 0, drift_ppm_per_min=-15_000)),
        ("drift:cell-a1:2@30", Fault(FaultKind.DRIFT, "cell-a1", 30_000, drift_ppm_per_min=20_000)),
        ("tag-leave:rfid-a1:EPC-7@4.5", Fault(FaultKind.TAG_LEAVE, "rfid-a1", 4_500, tag="EPC-7")),
        ("offline:cam-1@60", Fault(FaultKind.OFFLINE, "cam-1", 60_000)),
        ("tamper:cell-a1", Fault(FaultKind.TAMPER, "cell-a1")),
        ("forged-key:gate-1@0", Fault(FaultKind.FORGED_KEY, "gate-1")),
    ],
)  # fmt: skip
def test_faults_parse_from_the_command_line(text: str, fault: Fault) -> None:
    assert iot.parse_fault(text) == fault
    assert iot.parse_fault(fault.text()) == fault


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("melt:cell-a1", "not one of"),
        ("drift:cell-a1", "PCT_PER_MIN"),
        ("drift:cell-a1:500", "within 100 %"),
        ("tag-leave:rfid-a1", "TAG"),
        ("offline:cam-1:now", "takes no argument"),
        ("tamper:bad id", "not a device id"),
        ("offline:cam-1@-5", "0..604800"),
    ],
)
def test_bad_faults_are_refused_with_words(text: str, words: str) -> None:
    with pytest.raises(IotError, match=words):
        iot.parse_fault(text)


def test_a_fault_must_fit_its_device() -> None:
    specs = [cell().spec, device("cam-1", DeviceKind.CAMERA).spec]
    with pytest.raises(IotError, match="drift is for load cells"):
        iot.check_faults([iot.parse_fault("drift:cam-1:1")], specs)
    with pytest.raises(IotError, match="rfid reader or a gate"):
        iot.check_faults([iot.parse_fault("tag-leave:cell-a1:T")], specs)
    with pytest.raises(IotError, match="no simulated device"):
        iot.check_faults([iot.parse_fault("offline:cell-zz")], specs)


def test_a_spec_names_devices_with_their_behaviour() -> None:
    doc = {
        "firmware": FIRMWARE.hex(),
        "devices": [
            {"id": "cell-a1", "kind": "load_cell", "bin": "A1", "key": "k/cell.key",
             "book_g": 5, "noise_pct": 0.1, "drift_pct_per_min": -0.5},
            {"id": "scale-1", "kind": "weighbridge", "bin": "A1", "key": "k/scale.key",
             "weighs": [{"at_s": 9, "grams": 2}, {"at_s": 1.5, "grams": 1}]},
            {"id": "gate-1", "kind": "gate", "bin": "A1", "key": "k/gate.key",
             "tags": [{"at_s": 3, "tags": ["EPC-1"]}]},
        ],
    }  # fmt: skip
    spec = iot.spec_of(doc)
    c, scale, gate = spec.devices
    assert (c.book_g, c.noise_sd_ppm, c.drift_ppm_per_min) == (5, 1_000, -5_000)
    assert c.firmware == FIRMWARE
    assert scale.events == (Event(1_500, grams=1), Event(9_000, grams=2))
    assert gate.events == (Event(3_000, tags=("EPC-1",)),) and gate.firmware == FIRMWARE


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"kind": "toaster"}, "not one of"),
        ({"book_g": -1}, "book_g"),
        ({"weighs": []}, "weighs are for weighbridges"),
        ({"noise_pct": "a lot"}, "noise_pct must be a number"),
        ({"firmware": "AB"}, "firmware must be 64 lowercase hex"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_device_and_field(
    change: dict[str, Any], words: str
) -> None:
    dev = {"id": "cell-a1", "kind": "load_cell", "bin": "A1", "key": "k"} | change
    with pytest.raises(IotError, match=words):
        iot.spec_of({"devices": [dev]})


def test_a_device_listed_twice_is_refused() -> None:
    dev = {"id": "cell-a1", "kind": "load_cell", "bin": "A1", "key": "k"}
    with pytest.raises(IotError, match="cell-a1 is listed twice"):
        iot.spec_of({"devices": [dev, dev | {"bin": "A2"}]})


# -- on a ledger running the warehouse: what the chain does with the simulated bytes ---------
def story_devices(s: Story, noise_ppm: int = iot.NOISE_SD_PPM_DEFAULT) -> list[SimDevice]:
    """The story's four devices as the simulator runs them, counters after the chain's."""
    book = s.book.bins[(OPERATOR.address, "A1")].book_g
    out = []
    for d in s.devices:
        spec = DeviceSpec(d.name, DeviceKind(d.kind), "A1", "-", noise_sd_ppm=noise_ppm)
        load = book if d.kind == DeviceKind.LOAD_CELL else None
        out.append(SimDevice(spec, d.key, FIRMWARE, s.book.devices[d.name].counter + 1, load))
    return out


def relay(s: Story, simulation: Simulation, until_ms: int) -> list[tuple[str, str]]:
    """Each batch due by until_ms as one height: (its faults, the chain's outcome)."""
    out = []
    for b in iot.batches(simulation.due(until_ms), 256, 16_384):
        tx = s.chain.tx(GATEWAY, KIND_READINGS, ReadingsPayload(b.readings))
        out.append((b.faults, s.run(tx)[0]))
    return out


def test_the_chain_records_honest_readings_and_refuses_tampered_and_forged_ones() -> None:
    s = Story()
    s.set_up()
    assert s.intake() == ["executed"]
    faults = (
        Fault(FaultKind.TAMPER, "rfid-a1", 2_000),
        Fault(FaultKind.FORGED_KEY, "gate-1", 3_000),
    )
    simulation = Simulation(
        story_devices(s), list(faults), seed=3, rate_per_s=1.0, start_ms=START_MS
    )
    outcomes = relay(s, simulation, 5_000)
    assert ("", "executed") in outcomes
    assert ("tamper", "wr_reading_signature") in outcomes
    assert ("forged-key", "wr_reading_signature") in outcomes
    assert {o for f, o in outcomes if not f} == {"executed"}
    assert {o for f, o in outcomes if f} == {"wr_reading_signature"}
    cell_dev = s.book.devices["cell-a1"]
    assert cell_dev.counter == simulation.devices[1].counter - 1  # every honest reading recorded
    assert s.book.devices["rfid-a1"].counter < simulation.devices[2].counter - 1
    assert s.book.bins[(OPERATOR.address, "A1")].alarms == []  # noise stays within tolerance


def test_drift_and_a_tag_leaving_raise_the_chain_s_alarms() -> None:
    s = Story()
    s.set_up()
    assert s.intake() == ["executed"]
    faults = (
        Fault(FaultKind.DRIFT, "cell-a1", 10_000, drift_ppm_per_min=-60_000),  # -6 %/min
        Fault(FaultKind.TAG_LEAVE, "rfid-a1", 20_000, tag="EPC-0042"),
    )
    simulation = Simulation(
        story_devices(s), list(faults), seed=3, rate_per_s=1.0, start_ms=START_MS
    )
    assert {o for _f, o in relay(s, simulation, 9_000)} == {"executed"}
    assert s.book.bins[(OPERATOR.address, "A1")].alarms == []
    for t in range(10_000, 30_000, 1_000):
        relay(s, simulation, t)
    alarms = s.book.bins[(OPERATOR.address, "A1")].alarms
    assert [(a.kind, a.device) for a in alarms] == [
        ("weight_drift", "cell-a1"),
        ("tag_left", "rfid-a1"),
    ]
    assert "EPC-0042" in alarms[1].detail


# -- the command line ------------------------------------------------------------------------
def govchain(cwd: Path, *args: str, timeout_s: float = 120.0) -> tuple[int, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "govchain.cli.main", *args, "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    try:
        return done.returncode, json.loads(done.stdout)
    except ValueError:
        return done.returncode, {"stdout": done.stdout, "stderr": done.stderr[-3000:]}


def test_keygen_writes_a_device_key_and_prints_its_public_key(tmp_path: Path) -> None:
    rc, doc = govchain(tmp_path, "iot", "keygen", "--out", "cell.key")
    assert rc == 0
    key = json.loads((tmp_path / "cell.key").read_text())
    assert doc == {"file": "cell.key", "public_key": key["public_key"]}
    assert (tmp_path / "cell.key").stat().st_mode & 0o077 == 0
    rc, doc = govchain(tmp_path, "iot", "keygen", "--out", "cell.key")
    assert (rc, doc["error"]["code"]) == (2, "file_exists")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((), "bad_argument"),  # no devices
        (("--device", "cell-a1:load_cell:A1:k.key", "--fault", "melt:cell-a1"), "bad_argument"),
        (("--device", "cam-1:camera:A1:k.key", "--fault", "drift:cam-1:1"), "bad_argument"),
        (("--device", "cam-1:camera:A1:k.key", "--duration", "0"), "bad_duration"),
        (("--device", "cam-1:camera:A1:k.key", "--rate", "1000"), "bad_rate"),
        (("--spec", "missing.json"), "bad_file"),
        (("--spec", "devices.toml"), "bad_spec"),  # TOML, read: its unknown field named
        (("--device", "cam-1:camera:A1:no.key", "--key", "gw.key"), "bad_key_file"),
    ],
)
def test_simulate_refuses_bad_input_before_sending_anything(
    tmp_path: Path, args: tuple[str, ...], code: str
) -> None:
    (tmp_path / "devices.toml").write_text(
        '[[devices]]\nid = "cam-1"\nkind = "camera"\nbin = "A1"\nkey = "k"\ncolour = "red"\n'
    )
    govchain(tmp_path, "keys", "new", "--out", "gw.key")
    rc, doc = govchain(tmp_path, "iot", "simulate", *args, "--node", "http://127.0.0.1:9")
    assert (rc, doc["error"]["code"]) == (2, code), doc
    if code == "bad_spec":
        assert "unknown field 'colour'" in doc["error"]["message"]


# -- once on a devnet ------------------------------------------------------------------------
def test_simulate_on_a_devnet_records_readings_continues_counters_and_shows_alarms(
    tmp_path: Path,
) -> None:
    operator, supervisor = SigningKey.from_label("iot-operator"), SigningKey.from_label("iot-sup")
    with cluster(tmp_path / "net", validators=1) as c, Client(c.url(0)) as client:

        def final(tx: Any) -> str:
            rec = client.wait_final(client.submit(tx), 60)
            assert rec["status"] == "executed", rec
            return str(rec["tx_id"])

        regulators = [read_key(c.root / "keys" / f"regulator-{i}.key") for i in (1, 2)]
        for key, role in ((operator, "warehouse"), (supervisor, "supervisor")):
            pid = final(client.propose(regulators[0], GrantRole(key.address, role), "iot"))
            final(client.vote(regulators[1], pid, True))
        bins = (("A1", 2_000 * TONNE),)
        offer = final(client.wr(operator, OpenWarehouse("iot", supervisor.address, bins)))
        final(client.wr(supervisor, Sign(bytes.fromhex(offer))))
        devices = {
            "cell-a1": "load_cell",
            "rfid-a1": "rfid",
            "cam-1": "camera",
            "scale-1": "weighbridge",
        }
        for name, kind in devices.items():
            rc, doc = govchain(tmp_path, "iot", "keygen", "--out", f"{name}.key")
            assert rc == 0
            op = RegisterDevice(name, kind, "A1", bytes.fromhex(doc["public_key"]), 10**6, FIRMWARE)
            offer = final(client.wr(operator, op))
            final(client.wr(supervisor, Sign(bytes.fromhex(offer))))
        spec = {
            "warehouse": operator.address.hex(),
            "devices": [
                {"id": n, "kind": k, "bin": "A1", "key": f"{n}.key"} for n, k in devices.items()
            ],
        }
        (tmp_path / "devices.json").write_text(json.dumps(spec))
        gw = govchain(tmp_path, "keys", "new", "--out", "gateway.key")[1]
        run = ("iot", "simulate", "--spec", "devices.json", "--key", "gateway.key",
               "--node", c.url(0), "--rate", "2")  # fmt: skip

        # The gross weighed in, then the goods booked: the load cells now carry 50 t.
        rc, doc = govchain(tmp_path, *run, "--duration", "1", "--weigh", "scale-1:51000000@0")
        assert rc == 0 and doc["pending"] == 0 and doc["rejected"] == {}, doc
        assert doc["gateway"] == gw["address"] and doc["alarms"] == []
        goods = Spec("copper", "JCC", "Cu", 2, 51 * TONNE, TONNE, 50 * TONNE)
        intake = Intake("LOT-1", "A1", ("T1", "T2"), goods, b"\x01" * 32, b"", "scale-1")
        final(client.wr(operator, intake))
        first = {d["id"]: d for d in doc["devices"]}

        # A cell drifting down, a tag leaving, a camera tampered with and then offline.
        faults = ("--fault", "drift:cell-a1:-60@1", "--fault", "tag-leave:rfid-a1:T2@1",
                  "--fault", "tamper:cam-1", "--fault", "offline:cam-1@1")  # fmt: skip
        rc, doc = govchain(tmp_path, *run, "--duration", "3", *faults)
        assert rc == 0, doc
        refused = [b for b in doc["batch_log"] if b["faults"]]
        assert {(b["faults"], b["devices"][0], b["status"], b["reason"]) for b in refused} == {
            ("tamper", "cam-1", "rejected", "wr_reading_signature")
        }
        assert doc["rejected"] == {"wr_reading_signature": len(refused)}
        assert doc["executed"] == doc["batches"] - len(refused) >= 3
        after = {d["id"]: d for d in doc["devices"]}
        assert after["cam-1"]["readings"] == 2  # two heartbeats before 1 s, then offline
        assert doc["readings_recorded"] == doc["readings"] - 2
        for name in ("cell-a1", "rfid-a1", "cam-1"):  # counters continue from the chain's
            assert after[name]["first_counter"] == first[name]["last_counter"] + 1
        assert client.wr_device("cell-a1")["counter"] == after["cell-a1"]["last_counter"]
        assert client.wr_device("cam-1")["counter"] == first["cam-1"]["last_counter"]
        kinds = sorted((a["kind"], a["device"]) for a in doc["alarms"])
        assert kinds == [("tag_left", "rfid-a1"), ("weight_drift", "cell-a1")]
        assert client.wr_bins(operator.address)["bins"][0]["green"] is False
