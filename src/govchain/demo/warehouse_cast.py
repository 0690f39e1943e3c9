"""The warehouse demo's cast, figures and the `Story` that sends and reads for it.

See demo/warehouse.py for the story itself.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from govchain.apps.warehouse.commitment import Spec
from govchain.apps.warehouse.ops import (
    AnyOp,
    Sign,
    op_name,
)
from govchain.apps.warehouse.readings import DeviceKind, Reading, SignedReading, sign_reading
from govchain.apps.warehouse.units import BP_PER_ONE, FEN_PER_YUAN, G_PER_TONNE
from govchain.crypto.keys import SigningKey
from govchain.sdk.client import Client

# The story's figures (issue 14's worked example).
COMMODITY = "copper_cathode"
QUANTITY_G = 1_000 * G_PER_TONNE
TARE_G = 1 * G_PER_TONNE  # pallets: gross = net + 1 t
BUNDLES = 400  # of 2.5 t each, one RFID tag each
BIN_CAPACITY_G = 2_000 * G_PER_TONNE
PRICE_FEN_PER_TONNE = 80_000 * FEN_PER_YUAN
FALLEN_FEN_PER_TONNE = 70_000 * FEN_PER_YUAN  # -12.5 %
LOAN_FEN = 53_200_000 * FEN_PER_YUAN  # 70 % of 1,000 t x ¥80,000 x (1 - 5 %)
HAIRCUT_BP = 500
CURE_FEN = 6_650_000 * FEN_PER_YUAN  # back to the initial 70 % at ¥70,000/t
INITIAL_LTV_BP = 7_000
CALL_LTV_BP = 8_000
DROP_G = 50 * G_PER_TONNE  # what the load cell stops seeing: ten times the tolerance

CALIBRATION_HEIGHTS = 1_000_000  # devices stay calibrated far beyond the demo
FINAL_TIMEOUT_S = 60.0
BINS_LISTED = 1_000  # the API's most per answer, and BINS_PER_WAREHOUSE_MAX: every run's bin
VOTERS = ("regulator-1", "regulator-2")  # the devnet's committee threshold is 2 of 3
IDENTITY_TIER = 2  # the 400 tags of an intake need more than a tier-0 payload
DAY_MS = 86_400_000
CHINA_OFFSET_MS = 8 * 3_600_000  # price days are business days in China time
FIRMWARE = hashlib.sha256(b"govchain demo device firmware 1.0").digest()


class DemoError(RuntimeError):
    """The demo cannot run here (no devnet keys, the node refused what it needs)."""


# Who is in the story: (name, role granted by governance, identity kind).
MEMBERS = (
    ("operator", "warehouse", "organization"),
    ("supervisor", "supervisor", "organization"),
    ("depositor", "depositor", "organization"),
    ("bank-a", "bank", "organization"),
    ("bank-b", "bank", "organization"),
    ("oracle", "oracle", "organization"),
    ("inspector", "inspector", "organization"),
    ("issuer", "issuer", ""),  # registers the others' identities
    ("gateway", "", "service"),  # relays the devices' readings
)


@dataclass(frozen=True, slots=True)
class Cast:
    """The story's keys, derived from the chain id (the same on every run on a chain)."""

    keys: dict[str, SigningKey]

    @staticmethod
    def of(chain_id: str) -> Cast:
        """The cast of a chain."""
        return Cast(
            {
                name: SigningKey.from_label(f"govchain/demo/warehouse/{chain_id}/{name}")
                for name, _, _ in MEMBERS
            }
        )

    def __getitem__(self, name: str) -> SigningKey:
        return self.keys[name]

    def hex(self, name: str) -> str:
        """A member's address, hex."""
        return self.keys[name].address.hex()


@dataclass(slots=True)
class Device:
    """A device of this run: its id, kind, own key and counter."""

    id: str
    kind: str
    key: SigningKey
    counter: int = 0

    def reading(self, grams: int = 0, tags: tuple[str, ...] = ()) -> SignedReading:
        """The device's next reading, signed with its own key."""
        self.counter += 1
        now_ms = time.time_ns() // 1_000_000  # the device's clock: evidence, not consensus
        return sign_reading(self.key, Reading(self.id, self.counter, now_ms, grams, tags, FIRMWARE))


@dataclass(frozen=True, slots=True)
class Run:
    """What is fresh on every run: bin, devices, lot, tags, receipt number."""

    id: str
    bin: str
    lot: str
    number: str
    tags: tuple[str, ...]
    scale: Device
    cell: Device
    reader: Device
    gate: Device

    @staticmethod
    def new(chain_id: str) -> Run:
        """A run with a random id (runs on one chain never clash)."""
        rid = secrets.token_hex(4)

        def device(kind: DeviceKind) -> Device:
            label = f"govchain/demo/warehouse/{chain_id}/{rid}/{kind.value}"
            return Device(f"{rid}-{kind.value}", kind.value, SigningKey.from_label(label))

        return Run(
            rid,
            f"B-{rid}",
            f"LOT-{rid}",
            f"WR-DEMO-{rid}",
            tuple(f"EPC-{rid}-{i:04d}" for i in range(BUNDLES)),
            device(DeviceKind.WEIGHBRIDGE),
            device(DeviceKind.LOAD_CELL),
            device(DeviceKind.RFID),
            device(DeviceKind.GATE),
        )

    @property
    def devices(self) -> tuple[Device, ...]:
        """Every device of the run."""
        return (self.scale, self.cell, self.reader, self.gate)


def copper_spec() -> Spec:
    """The copper weighed in: 400 bundles, gross = net + pallets."""
    return Spec(COMMODITY, "JCC", "Cu-CATH-1", BUNDLES, QUANTITY_G + TARE_G, TARE_G, QUANTITY_G)


def executed(*recs: dict[str, Any]) -> bool:
    """True when every record is final as executed."""
    return all(r.get("status") == "executed" for r in recs)


def refused(rec: dict[str, Any], rule: str) -> bool:
    """True when the record is final as rejected by exactly that rule."""
    return rec.get("status") == "rejected" and (rec.get("receipt") or {}).get("rule") == rule


def ltv_bp_of(doc: dict[str, Any]) -> int | None:
    """A document's "ltv" (a float) back in basis points."""
    ltv = doc.get("ltv")
    return None if ltv is None else round(float(ltv) * BP_PER_ONE)


def today() -> int:
    """Today's day number in China time (days since 1970)."""
    return (time.time_ns() // 1_000_000 + CHINA_OFFSET_MS) // DAY_MS


@dataclass
class Story:
    """One run against one node: send, wait, read back, record the steps."""

    client: Client
    cast: Cast
    run: Run
    faucet: SigningKey
    committee: tuple[SigningKey, SigningKey]
    say: Callable[[str], None]
    day: int = 0  # day D, the price day of the setup
    pledge: str = ""  # bank A's pledge, once made
    steps: list[dict[str, Any]] = field(default_factory=list)
    txs: list[dict[str, Any]] = field(default_factory=list)  # the current step's

    # -- sending ------------------------------------------------------------------------
    def submit(self, key: SigningKey, op: AnyOp) -> str:
        """Submit a `wr` transaction without waiting (a key's transactions chain their nonces)."""
        return self.client.submit(self.client.wr(key, op))

    def final(self, tx_id: str, by: str, what: str) -> dict[str, Any]:
        """Wait until final; the record, noted in the current step."""
        rec = self.client.wait_final(tx_id, FINAL_TIMEOUT_S)
        rule = (rec.get("receipt") or {}).get("rule")
        self.txs.append({"tx_id": tx_id, "by": by, "op": what, "status": rec["status"],
                         "rule": rule})  # fmt: skip
        return rec

    def wr(self, by: str, op: AnyOp) -> dict[str, Any]:
        """One `wr` transaction by a member, waited on."""
        return self.final(self.submit(self.cast[by], op), by, op_name(op))

    def offers(self, opener: str, ops: list[AnyOp], *signers: str) -> list[dict[str, Any]]:
        """Open offers, then have each signer sign every one that opened; all records."""
        ids = [(self.submit(self.cast[opener], op), op) for op in ops]
        opened = [self.final(tx_id, opener, op_name(op)) for tx_id, op in ids]
        signs = [
            (self.submit(self.cast[s], Sign(bytes.fromhex(rec["tx_id"]))), s)
            for rec in opened
            if rec["status"] == "executed"
            for s in signers
        ]
        return opened + [self.final(tx_id, s, "sign") for tx_id, s in signs]

    def relay(self, *readings: SignedReading) -> dict[str, Any]:
        """The gateway relays device-signed readings in one batch."""
        tx = self.client.wr_readings(self.cast["gateway"], readings)
        devices = ",".join(sorted({r.reading.device for r in readings}))
        return self.final(self.client.submit(tx), "gateway", f"readings {devices}")

    # -- reading back ---------------------------------------------------------------------
    def bin(self) -> dict[str, Any]:
        """This run's bin as /v1/wr/warehouses/{operator}/bins shows it."""
        doc = self.client.wr_bins(self.cast["operator"].address, limit=BINS_LISTED)
        for b in doc["bins"]:
            if b["bin"] == self.run.bin:
                return dict(b)
        raise DemoError(f"bin {self.run.bin} is not in the warehouse's bins")

    def receipt(self) -> dict[str, Any]:
        """This run's receipt."""
        return self.client.wr_receipt(self.run.number)

    def balance(self, name: str) -> int:
        """A member's final balance, fen."""
        return int(self.client.account(self.cast[name].address)["balance"])

    # -- steps ----------------------------------------------------------------------------
    def step(self, name: str, says: str, checks: dict[str, bool], **seen: Any) -> bool:
        """Record a step: ok when every check held; what each party sees."""
        ok = all(checks.values())
        self.steps.append({"name": name, "ok": ok, "says": says, **seen, "checks": checks,
                           "txs": self.txs})  # fmt: skip
        self.txs = []
        failed = [what for what, held in checks.items() if not held]
        self.say(
            f"{len(self.steps) - 1}. {name}: {says}" + (f" — FAILED: {failed}" if failed else "")
        )
        return ok
