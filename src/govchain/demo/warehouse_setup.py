"""The warehouse demo's setup: roles, identities, funds, prices and the warehouse.

Run once per devnet where it can (roles, identities and the warehouse persist);
the bin and devices are fresh per run.
"""

from __future__ import annotations

import hashlib

from govchain.apps.warehouse.ops import (
    AddBin,
    AnyOp,
    OpenWarehouse,
    PostPrice,
    RegisterDevice,
)
from govchain.crypto.keys import SigningKey
from govchain.demo.warehouse_cast import (
    BIN_CAPACITY_G,
    CALIBRATION_HEIGHTS,
    COMMODITY,
    FIRMWARE,
    IDENTITY_TIER,
    LOAN_FEN,
    MEMBERS,
    PRICE_FEN_PER_TONNE,
    Story,
    executed,
    today,
)
from govchain.sdk.client import Client
from govchain.sdk.errors import SdkError
from govchain.state.actions.grant_role import GrantRole


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


def post_prices(s: Story, fen_per_tonne: int, day: int) -> dict[str, bool]:
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
    checks |= post_prices(s, PRICE_FEN_PER_TONNE, day)
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
