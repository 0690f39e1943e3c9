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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from govchain.apps.warehouse.ops import (
    Inspect,
    Intake,
    Issue,
    Pledge,
    Release,
    Repay,
    Sign,
    Withdraw,
)
from govchain.crypto.keys import SigningKey
from govchain.demo.warehouse_cast import (
    BUNDLES,
    CALL_LTV_BP,
    COMMODITY,
    CURE_FEN,
    DROP_G,
    FALLEN_FEN_PER_TONNE,
    HAIRCUT_BP,
    INITIAL_LTV_BP,
    LOAN_FEN,
    MEMBERS,
    QUANTITY_G,
    TARE_G,
    VOTERS,
    Cast,
    DemoError,
    Run,
    Story,
    copper_spec,
    executed,
    ltv_bp_of,
    refused,
)
from govchain.demo.warehouse_setup import post_prices, set_up
from govchain.node.files import read_key
from govchain.sdk.client import Client
from govchain.sdk.errors import SdkError


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
    checks = post_prices(s, FALLEN_FEN_PER_TONNE, day)
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
