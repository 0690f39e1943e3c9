"""`govchain demo warehouse`: issue 14's copper story, played on a running devnet.

A warehouse books 1,000 t of copper cathode weighed in, issues a receipt, and the
depositor pledges it to bank A for a 70 % loan (¥53.2m). The price falls 12.5 %:
a margin call; the depositor cures it (¥6.65m). Bank B's pledge of the same goods
and a second intake of the same tags are refused. A load cell sees a weight drop:
the bin is suspended (the bank's release refused) until an inspector clears it.
Then the loan is released and the goods leave: the receipt is cancelled.

Each step's `ok` is what the chain did, read back from the node (transaction
receipts and the /v1/wr documents), never assumed; each step also tells what each
party sees. The cast's keys derive from the chain id, so a second run on the same
devnet reuses them (roles, identities and the warehouse are set once); the bin,
devices, lot, tags and receipt number are fresh per run, and the price days follow
the newest day on the chain.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govchain.apps.warehouse.commitment import Spec
from govchain.apps.warehouse.ops import (
    AddBin,
    AnyOp,
    Inspect,
    Intake,
    Issue,
    OpenWarehouse,
    Pledge,
    PostPrice,
    RegisterDevice,
    Release,
    Repay,
    Sign,
    Withdraw,
    op_name,
)
from govchain.apps.warehouse.readings import DeviceKind, Reading, SignedReading, sign_reading
from govchain.apps.warehouse.units import BP_PER_ONE, FEN_PER_YUAN, G_PER_TONNE
from govchain.crypto.keys import SigningKey
from govchain.node.files import read_key
from govchain.sdk.client import Client
from govchain.sdk.errors import SdkError
from govchain.state.actions.grant_role import GrantRole

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


# -- 0. setup -------------------------------------------------------------------------------
def _standing(client: Client, key: SigningKey) -> tuple[set[str], int]:
    """The roles and identity tier an address has (none when nothing is recorded)."""
    try:
        doc = client.identity(key.address)
    except SdkError as exc:
        if exc.code == "not_found":
            return set(), 0
        raise
    return set(doc.get("roles") or ()), int(doc.get("tier") or 0)


def _grant_roles(s: Story) -> dict[str, bool]:
    """Governance grants each member its role (those it lacks): propose all, then vote all."""
    first, second = s.committee
    wanted = [(n, r) for n, r, _ in MEMBERS if r and r not in _standing(s.client, s.cast[n])[0]]
    pids = []
    for name, role in wanted:
        action = GrantRole(s.cast[name].address, role)
        tx = s.client.propose(first, action, f"demo warehouse: {name} acts as {role}")
        pids.append(s.client.submit(tx))
    for pid, (name, _) in zip(pids, wanted, strict=True):
        s.final(pid, "regulator-1", f"propose grant-role {name}")
    votes = [s.client.submit(s.client.vote(second, pid, True)) for pid in pids]
    for vote, (name, _) in zip(votes, wanted, strict=True):
        s.final(vote, "regulator-2", f"vote grant-role {name}")
    return {
        f"{name} holds role {role}": role in _standing(s.client, s.cast[name])[0]
        for name, role, _ in MEMBERS
        if role
    }


def _identify(s: Story) -> dict[str, bool]:
    """The issuer registers every member that needs an identity (tier >= 1)."""
    issuer = s.cast["issuer"]
    need = [(n, k) for n, _, k in MEMBERS if k and _standing(s.client, s.cast[n])[1] < 1]
    sent = []
    for name, kind in need:
        attrs = hashlib.sha256(f"demo warehouse identity: {name}".encode()).digest()
        tx = s.client.set_identity(issuer, s.cast[name].address, kind, IDENTITY_TIER, attrs)
        sent.append((s.client.submit(tx), name))
    for tx_id, name in sent:
        s.final(tx_id, "issuer", f"identity.set {name}")
    return {
        f"{name} identified": _standing(s.client, s.cast[name])[1] >= 1
        for name, _, kind in MEMBERS
        if kind
    }


def _fund(s: Story) -> dict[str, bool]:
    """The faucet tops the banks up to the loan they may pay out."""
    sent = []
    for bank in ("bank-a", "bank-b"):
        short = LOAN_FEN - s.balance(bank)
        if short > 0:
            tx = s.client.transfer(s.faucet, s.cast[bank].address, short)
            sent.append((s.client.submit(tx), bank))
    for tx_id, bank in sent:
        s.final(tx_id, "faucet", f"fund {bank}")
    return {f"{bank} holds the loan": s.balance(bank) >= LOAN_FEN for bank in ("bank-a", "bank-b")}


def _price_day(s: Story) -> int:
    """Day D: after every day priced on the chain, today at the earliest."""
    days = [int(p["day"]) for p in s.client.wr_prices(COMMODITY)["prices"]]
    return max([today(), *(d + 1 for d in days)])


def _post_prices(s: Story, fen_per_tonne: int, day: int) -> dict[str, bool]:
    """The oracle posts the day's settlement and spot prices; both show in /v1/wr/prices."""
    ops = [PostPrice(COMMODITY, source, fen_per_tonne, day) for source in ("settlement", "spot")]
    ids = [s.submit(s.cast["oracle"], op) for op in ops]
    recs = [
        s.final(tx_id, "oracle", f"price {op.source}") for tx_id, op in zip(ids, ops, strict=True)
    ]
    shown = {
        p["source"]: (int(p["fen_per_tonne"]), int(p["day"]))
        for p in s.client.wr_prices(COMMODITY)["prices"]
    }
    return {
        "both prices executed": executed(*recs),
        "both sources show the day's price": shown.get("settlement") == (fen_per_tonne, day)
        and shown.get("spot") == (fen_per_tonne, day),
    }


def _warehouse_open(s: Story) -> bool:
    """True when the operator's warehouse is open (an earlier run opened it)."""
    try:
        s.client.wr_warehouse(s.cast["operator"].address)
    except SdkError as exc:
        if exc.code == "not_found":
            return False
        raise
    return True


def set_up(s: Story) -> bool:
    """Roles, identities, funds, the warehouse and this run's bin and devices, day D's prices."""
    checks = _grant_roles(s) | _identify(s) | _fund(s)
    operator = s.cast.hex("operator")
    if _warehouse_open(s):
        recs = [s.wr("operator", AddBin(s.run.bin, BIN_CAPACITY_G))]
    else:
        op = OpenWarehouse("Qingdao demo warehouse", s.cast["supervisor"].address,
                           ((s.run.bin, BIN_CAPACITY_G),))  # fmt: skip
        recs = s.offers("operator", [op], "supervisor")
    checks["bin added"] = executed(*recs)
    until = int(s.client.status()["height"]) + CALIBRATION_HEIGHTS
    registrations: list[AnyOp] = [
        RegisterDevice(d.id, d.kind, s.run.bin, d.key.public_key, until, FIRMWARE)
        for d in s.run.devices
    ]
    checks["devices registered"] = executed(*s.offers("operator", registrations, "supervisor"))
    s.day = day = _price_day(s)
    checks |= _post_prices(s, PRICE_FEN_PER_TONNE, day)
    b = s.bin()
    checks["the bin shows its four devices"] = sorted(b["devices"]) == sorted(
        d.id for d in s.run.devices
    )
    return s.step(
        "setup",
        f"roles and identities in place; bin {s.run.bin} (2,000 t) with weighbridge, load cell,"
        f" RFID reader and gate; copper at ¥80,000/t on day {day}",
        checks,
        warehouse=operator,
        bin=s.run.bin,
        day=day,
        supervisor_sees={"bin": b["bin"], "capacity_g": b["capacity_g"], "devices": b["devices"]},
        oracle_sees={"commodity": COMMODITY, "fen_per_tonne": PRICE_FEN_PER_TONNE, "day": day},
    )


# -- 1..9 -----------------------------------------------------------------------------------
def intake(s: Story) -> bool:
    """Weighed in, booked as a lot of 400 tagged bundles, seen by the bin's load cell."""
    r = s.run
    weighed = s.relay(r.scale.reading(QUANTITY_G + TARE_G))
    salt = secrets.token_bytes(32)
    cert = hashlib.sha256(f"quality certificate {r.lot}".encode()).digest()
    booked = s.wr("operator", Intake(r.lot, r.bin, r.tags, copper_spec(), salt, cert, r.scale.id))
    sensed = s.relay(r.cell.reading(QUANTITY_G))
    lot = s.client.wr_lot(r.lot)
    b = s.bin()
    checks = {
        "weighbridge reading executed": executed(weighed),
        "intake executed": executed(booked),
        "load-cell reading executed": executed(sensed),
        "the lot holds 1,000 t net": lot["quantity_g"] == QUANTITY_G,
        "the lot carries its 400 tags": len(lot["tags"]) == BUNDLES,
        "sensor, book and receipts agree": b["green"]
        and b["sensed_g"] == b["book_g"] == QUANTITY_G,
    }
    return s.step(
        "intake",
        f"1,001 t over the weighbridge, lot {r.lot} of 1,000 t net in {BUNDLES} tagged bundles",
        checks,
        lot=r.lot,
        warehouse_sees={"lot": lot["id"], "quantity_g": lot["quantity_g"],
                        "tags": len(lot["tags"]), "commitment": lot["commitment"]},
        supervisor_sees=_figures(b),
    )  # fmt: skip


def _figures(b: dict[str, Any]) -> dict[str, Any]:
    """A bin's goods-match figures as the supervisor reads them."""
    keys = ("sensed_g", "book_g", "receipted_g", "green", "problems")
    return {k: b[k] for k in keys} | {"alarms": [a["kind"] for a in b["alarms"]]}


def issue(s: Story) -> bool:
    """The operator issues the receipt; the supervisor and the depositor sign."""
    op = Issue(s.run.number, s.cast["depositor"].address, ((s.run.lot, QUANTITY_G),),
               hashlib.sha256(f"receipt document {s.run.number}".encode()).digest())  # fmt: skip
    recs = s.offers("operator", [op], "supervisor", "depositor")
    r = s.receipt()
    signers = set(r["history"][-1]["signers"]) if r["history"] else set()
    checks = {
        "issue and both signatures executed": len(recs) == 3 and executed(*recs),
        "the receipt is valid": r["status"] == "valid",
        "the depositor holds it": r["holder"] == s.cast.hex("depositor"),
        "it covers 1,000 t": r["quantity_g"] == QUANTITY_G,
        "operator, supervisor and depositor signed": signers
        == {s.cast.hex(n) for n in ("operator", "supervisor", "depositor")},
    }
    return s.step(
        "issue",
        f"receipt {s.run.number} for 1,000 t, signed by operator, supervisor and depositor",
        checks,
        depositor_sees=_receipt_view(r),
        supervisor_sees={"signers": sorted(signers), "transition": r["history"][-1]["transition"]}
        if r["history"]
        else {},
    )


def _receipt_view(r: dict[str, Any]) -> dict[str, Any]:
    keys = ("number", "status", "holder", "controller", "quantity_g", "ltv", "band")
    return {k: r.get(k) for k in keys} | {
        "encumbrances": [e["pledge"] for e in r.get("encumbrances") or ()]
    }


def pledge(s: Story) -> bool:
    """The depositor pledges the receipt to bank A, which pays the loan out."""
    before = {n: s.balance(n) for n in ("depositor", "bank-a")}
    op = Pledge((s.run.number,), s.cast["bank-a"].address, LOAN_FEN, HAIRCUT_BP)
    recs = s.offers("depositor", [op], "bank-a")
    s.pledge = pid = str(recs[0]["tx_id"])
    after = {n: s.balance(n) for n in ("depositor", "bank-a")}
    checks: dict[str, bool] = {"pledge and the bank's signature executed": len(recs) == 2
                               and executed(*recs)}  # fmt: skip
    p = s.client.wr_pledge(pid) if executed(*recs) else {}
    r = s.receipt()
    checks |= {
        "the depositor received ¥53.2m": after["depositor"] - before["depositor"] == LOAN_FEN,
        "bank A paid ¥53.2m": before["bank-a"] - after["bank-a"] == LOAN_FEN,
        "the pledge is active at LTV 70 %": p.get("status") == "active"
        and ltv_bp_of(p) == INITIAL_LTV_BP,
        "bank A controls the receipt": r["controller"] == s.cast.hex("bank-a"),
        "the receipt is encumbered by this pledge": [e["pledge"] for e in r["encumbrances"]]
        == [pid],
    }
    return s.step(
        "pledge",
        "pledged to bank A: a 70 % loan of ¥53.2m paid out, haircut 5 %",
        checks,
        pledge=pid,
        bank_sees={k: p.get(k) for k in ("id", "loan_fen", "outstanding_fen", "haircut_bp",
                                           "initial_ltv_bp", "ltv", "band", "status")},
        depositor_sees={"balance_change_fen": after["depositor"] - before["depositor"],
                        "receipt": _receipt_view(r)},
    )  # fmt: skip


def price_falls(s: Story) -> bool:
    """The oracle posts ¥70,000/t for day D+1 from both sources."""
    day = s.day + 1
    checks = _post_prices(s, FALLEN_FEN_PER_TONNE, day)
    return s.step(
        "price falls",
        f"copper falls 12.5 % to ¥70,000/t on day {day} (settlement and spot)",
        checks,
        day=day,
        oracle_sees={"commodity": COMMODITY, "fen_per_tonne": FALLEN_FEN_PER_TONNE, "day": day},
    )


def _open_call(p: dict[str, Any]) -> dict[str, Any] | None:
    calls = p.get("calls") or []
    last = calls[-1] if calls else None
    return last if last is not None and last.get("cured_height") is None else None


def margin_call(s: Story) -> bool:
    """The day's mark puts the pledge at LTV 80 %: a call to cure with ¥6.65m."""
    p = s.client.wr_pledge(s.pledge)
    call = _open_call(p) or {}
    checks = {
        "the pledge's LTV is 80 %": ltv_bp_of(p) == CALL_LTV_BP,
        "its band is call": p.get("band") == "call",
        "a margin call is open": bool(call),
        "the cure is ¥6.65m": call.get("repay_fen") == CURE_FEN,
    }
    return s.step(
        "margin call",
        "the daily mark: LTV 80 %, a margin call opens; repaying ¥6.65m cures it",
        checks,
        bank_sees={"ltv": p.get("ltv"), "band": p.get("band"), "call": call},
        depositor_sees={"repay_fen": call.get("repay_fen"), "more_g": call.get("more_g"),
                        "deadline_day": call.get("deadline_day")},
    )  # fmt: skip


def cure(s: Story) -> bool:
    """The depositor repays ¥6.65m; the call is cured."""
    pid = s.pledge
    rec = s.wr("depositor", Repay(pid, CURE_FEN))
    p = s.client.wr_pledge(pid)
    calls = p.get("calls") or []
    checks = {
        "repayment executed": executed(rec),
        "¥46.55m is outstanding": p.get("outstanding_fen") == LOAN_FEN - CURE_FEN,
        "the call is cured": bool(calls) and calls[-1].get("cured_height") is not None,
        "LTV is back at 70 %": ltv_bp_of(p) == INITIAL_LTV_BP,
    }
    return s.step(
        "cure",
        "the depositor repays ¥6.65m: LTV back at 70 %, the call cured",
        checks,
        bank_sees={"outstanding_fen": p.get("outstanding_fen"), "ltv": p.get("ltv"),
                   "band": p.get("band"), "call": calls[-1] if calls else None},
        depositor_sees={"repaid_fen": CURE_FEN},
    )  # fmt: skip


def second_pledge(s: Story) -> bool:
    """Bank B's pledge of the same goods, and a second intake of the same tags: refused."""
    r, pid = s.run, s.pledge
    b_pledge = s.wr("depositor", Pledge((r.number,), s.cast["bank-b"].address, LOAN_FEN,
                                        HAIRCUT_BP))  # fmt: skip
    again = Intake(f"{r.lot}-AGAIN", r.bin, r.tags, copper_spec(), secrets.token_bytes(32), b"",
                   r.scale.id)  # fmt: skip
    dup = s.wr("operator", again)
    receipt = s.receipt()
    checks = {
        "bank B's pledge refused: wr_encumbered": refused(b_pledge, "wr_encumbered"),
        "the same tags' intake refused: wr_tags_in_use": refused(dup, "wr_tags_in_use"),
        "bank A's pledge is still the only one": [e["pledge"] for e in receipt["encumbrances"]]
        == [pid],
    }
    rule = (b_pledge.get("receipt") or {}).get("rule")
    return s.step(
        "second pledge refused",
        "bank B's pledge of the same goods is refused (wr_encumbered), and so is a second"
        " intake of the same tags (wr_tags_in_use)",
        checks,
        refused=[
            {"tx_id": b_pledge["tx_id"], "status": b_pledge["status"], "rule": rule},
            {"tx_id": dup["tx_id"], "status": dup["status"],
             "rule": (dup.get("receipt") or {}).get("rule")},
        ],
        bank_b_sees={"status": b_pledge["status"], "rule": rule,
                     "encumbrances": receipt["encumbrances"]},
    )  # fmt: skip


def weight_drop(s: Story) -> bool:
    """50 t vanish from the load cell: an alarm suspends the bin until an inspection clears it."""
    r, pid = s.run, s.pledge
    drop = s.relay(r.cell.reading(QUANTITY_G - DROP_G))
    alarmed = s.bin()
    kinds = [a["kind"] for a in alarmed["alarms"]]
    repaid = s.wr("depositor", Repay(pid, LOAN_FEN - CURE_FEN))
    release = s.wr("bank-a", Release(pid))
    normal = s.relay(r.cell.reading(QUANTITY_G))
    report = hashlib.sha256(f"inspection report {r.bin}".encode()).digest()
    inspected = s.wr("inspector", Inspect(s.cast["operator"].address, r.bin, QUANTITY_G, report))
    cleared = s.bin()
    checks = {
        "the drop reading executed": executed(drop),
        "alarm weight_drift fired": "weight_drift" in kinds,
        "the loan is repaid in full": executed(repaid),
        "the release is refused: wr_bin_suspended": refused(release, "wr_bin_suspended"),
        "the load cell reads normal again": executed(normal),
        "the inspection executed": executed(inspected),
        "the alarm is cleared and the bin green": not cleared["alarms"] and cleared["green"],
    }
    return s.step(
        "weight drop",
        "the load cell reads 950 t: alarm weight_drift suspends the bin; the bank's release is"
        " refused (wr_bin_suspended) until the inspector finds 1,000 t and clears it",
        checks,
        supervisor_sees={"alarms": alarmed["alarms"], "figures": _figures(alarmed)},
        bank_sees={"release": release["status"],
                   "rule": (release.get("receipt") or {}).get("rule")},
        inspector_sees={"inspections": cleared["inspections"][-1:], "figures": _figures(cleared)},
    )  # fmt: skip


def release_and_withdraw(s: Story) -> bool:
    """Bank A releases; the depositor orders the goods out; they leave; the receipt is cancelled."""
    r, pid = s.run, s.pledge
    released = s.wr("bank-a", Release(pid))
    back = s.receipt()
    order = s.wr("depositor", Withdraw(r.number))
    out = s.relay(r.scale.reading(QUANTITY_G), r.gate.reading(tags=r.tags),
                  r.reader.reading(tags=r.tags), r.cell.reading(0))  # fmt: skip
    signed = s.wr("operator", Sign(bytes.fromhex(order["tx_id"]))) if executed(order) else order
    gone = s.receipt()
    b = s.bin()
    p = s.client.wr_pledge(pid)
    checks = {
        "release executed": executed(released),
        "the pledge is released": p.get("status") == "released",
        "control is back with the depositor": back["controller"] == s.cast.hex("depositor")
        and not back["encumbrances"],
        "the withdrawal order executed": executed(order),
        "weighbridge, gate, reader and load cell readings executed": executed(out),
        "the operator's signature executed the withdrawal": executed(signed),
        "the receipt is cancelled": gone["status"] == "cancelled",
        "the bin is empty and raised no alarm": b["book_g"] == 0 and not b["alarms"],
    }
    return s.step(
        "release and withdrawal",
        f"bank A releases; 1,000 t weighed out and seen at the gate; receipt {r.number} cancelled",
        checks,
        bank_sees={"pledge": p.get("status"), "outstanding_fen": p.get("outstanding_fen")},
        depositor_sees=_receipt_view(gone),
        warehouse_sees=_figures(b),
    )


PLOT: tuple[Callable[[Story], bool], ...] = (
    set_up,
    intake,
    issue,
    pledge,
    price_falls,
    margin_call,
    cure,
    second_pledge,
    weight_drop,
    release_and_withdraw,
)


# -- the whole story ------------------------------------------------------------------------
def _keys(devnet: Path) -> tuple[SigningKey, tuple[SigningKey, SigningKey]]:
    """The faucet's and the voting regulators' keys from a devnet directory."""
    keys = devnet / "keys"
    try:
        faucet = read_key(keys / "faucet.key")
        first, second = (read_key(keys / f"{name}.key") for name in VOTERS)
    except (OSError, ValueError) as exc:
        raise DemoError(
            f"the demo needs the devnet's faucet and regulator keys under {keys}: {exc}"
        ) from None
    return faucet, (first, second)


def play(client: Client, devnet: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Play the story on the devnet the client talks to; the contract's document.

    The story stops at the first step that is not ok (what follows relies on it);
    the document's "ok" says whether every step was played and ok.
    """
    faucet, committee = _keys(devnet)
    chain_id = str(client.status()["chain_id"])
    s = Story(client, Cast.of(chain_id), Run.new(chain_id), faucet, committee, say)
    for act in PLOT:
        if not act(s):
            break
    return {
        "receipt": s.run.number,
        "ok": len(s.steps) == len(PLOT) and all(st["ok"] for st in s.steps),
        "run": s.run.id,
        "warehouse": s.cast.hex("operator"),
        "bin": s.run.bin,
        "pledge": s.pledge or None,
        "parties": {name: s.cast.hex(name) for name, _, _ in MEMBERS},
        "steps": s.steps,
    }


def run(client: Client, devnet: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """play(), with the node's refusals as DemoError."""
    try:
        return play(client, devnet, say)
    except SdkError as exc:
        raise DemoError(f"the node refused a step: {exc}") from None
