"""Warehouse transitions beyond the copper story: title, splits, substitution, enforcement,
offers that lapse or are declined, governance freezes, and hostile payloads."""

from __future__ import annotations

import pathlib
import re

import msgspec

from govchain.apps.warehouse.ops import (
    KIND_READINGS,
    KIND_WR,
    Adjust,
    Decline,
    Endorse,
    Enforce,
    Merge,
    Pledge,
    Repay,
    Sign,
    Split,
    Withdraw,
)
from govchain.apps.warehouse.orders import WrFreeze, WrUnfreeze
from govchain.codec import encode
from govchain.state.receipts import reason_ok
from ledgerkit import R0, R1, Chain, outcomes
from wrkit import (
    BANK_A,
    BUYER,
    DEPOSITOR,
    OPERATOR,
    SUPERVISOR,
    TONNE,
    TRADER,
    YUAN,
    Story,
)

NUMBER = "WR-2026-0001"
T500 = 500 * TONNE


def issued() -> Story:
    s = Story()
    s.set_up()
    assert s.intake() == ["executed"]
    assert s.issue() == ["executed"] * 3
    return s


def pledge(s: Story, numbers: tuple[str, ...], loan: int) -> str:
    first = s.wr(DEPOSITOR, Pledge(numbers, BANK_A.address, loan, 500))
    assert s.run(first, s.wr(BANK_A, Sign(first.id))) == ["executed"] * 2
    return first.id.hex()


def test_endorsement_needs_the_transferee_to_accept() -> None:
    s = issued()
    offer = s.wr(DEPOSITOR, Endorse(NUMBER, TRADER.address))
    assert s.run(offer) == ["executed"]
    assert s.book.receipts[NUMBER].holder == DEPOSITOR.address  # not until TRADER signs
    assert s.run(s.wr(BANK_A, Sign(offer.id))) == ["wr_not_a_party"]
    assert s.run(s.wr(TRADER, Sign(offer.id))) == ["executed"]
    r = s.book.receipts[NUMBER]
    assert (r.holder, r.controller) == (TRADER.address, TRADER.address)
    assert r.versions[-1].signers == (DEPOSITOR.address, TRADER.address)


def test_an_offer_whose_parties_changed_does_not_execute() -> None:
    s = issued()
    first = s.wr(DEPOSITOR, Pledge((NUMBER,), BANK_A.address, 1_000, 500))
    assert s.run(first) == ["executed"]
    assert s.do(DEPOSITOR, Endorse(NUMBER, TRADER.address), TRADER) == ["executed"] * 2
    assert s.run(s.wr(BANK_A, Sign(first.id))) == ["wr_not_holder"]
    assert s.book.receipts[NUMBER].encumbrance == ""


def test_declined_and_lapsed_offers_change_nothing() -> None:
    s = issued()
    offer = s.wr(DEPOSITOR, Endorse(NUMBER, TRADER.address))
    s.run(offer)
    assert s.run(s.wr(TRADER, Decline(offer.id))) == ["executed"]
    assert s.run(s.wr(TRADER, Sign(offer.id))) == ["wr_unknown_offer"]
    late = s.wr(DEPOSITOR, Endorse(NUMBER, TRADER.address))
    s.run(late)
    s.chain.idle(601)  # wr_offer_ttl_heights
    assert s.run(s.wr(TRADER, Sign(late.id))) == ["wr_offer_lapsed"]
    assert s.book.receipts[NUMBER].holder == DEPOSITOR.address


def test_split_and_merge_keep_the_goods_and_carry_the_pledge() -> None:
    s = issued()
    pid = pledge(s, (NUMBER,), 1_000 * YUAN)
    bad = Split(NUMBER, (("C1", (("LOT-1", T500),)), ("C2", (("LOT-1", T500 - 1),))))
    assert s.run(s.wr(OPERATOR, bad)) == ["wr_children_not_parent"]
    good = Split(NUMBER, (("C1", (("LOT-1", T500),)), ("C2", (("LOT-1", T500),))))
    assert s.run(s.wr(OPERATOR, good)) == ["executed"]
    assert s.book.receipts[NUMBER].status == "split"
    c1, c2 = s.book.receipts["C1"], s.book.receipts["C2"]
    assert c1.encumbrance == c2.encumbrance == pid and c1.controller == BANK_A.address
    assert s.book.pledges[pid].receipts == ["C1", "C2"]
    assert s.run(s.wr(OPERATOR, Merge(("C1", "C2"), "M1"))) == ["executed"]
    assert s.book.receipts["M1"].quantity_g == 1_000 * TONNE
    assert s.book.pledges[pid].receipts == ["M1"]
    assert s.book.lots["LOT-1"].receipted_g == 1_000 * TONNE


def test_partial_release_keeps_ltv_at_or_below_initial() -> None:
    s = issued()
    s.run(s.wr(OPERATOR, Split(NUMBER, (("C1", (("LOT-1", T500),)), ("C2", (("LOT-1", T500),))))))
    loan = 20_000_000 * YUAN  # 52.6% of ¥38m eligible for 500 t; 26.3% of 1,000 t
    pid = pledge(s, ("C1", "C2"), loan)
    # Releasing C2 leaves 500 t, worth ¥38m eligible: 52.6% <= 70%: allowed.
    assert s.do(BANK_A, Adjust(pid, (), ("C2",)), SUPERVISOR) == ["executed"] * 2
    assert s.book.receipts["C2"].controller == DEPOSITOR.address
    # Releasing C1 too would leave nothing: release the pledge instead.
    assert s.do(BANK_A, Adjust(pid, (), ("C1",)), SUPERVISOR) == [
        "wr_release_all_with_release",
        "wr_unknown_offer",
    ]


def test_partial_release_over_initial_ltv_is_refused() -> None:
    s = issued()
    s.run(s.wr(OPERATOR, Split(NUMBER, (("C1", (("LOT-1", T500),)), ("C2", (("LOT-1", T500),))))))
    pid = pledge(s, ("C1", "C2"), 50_000_000 * YUAN)  # 65.8% of ¥76m
    assert s.do(BANK_A, Adjust(pid, (), ("C2",)), SUPERVISOR)[0] == "wr_ltv_over_initial"


def test_enforcement_pays_the_bank_first_and_notifies_through_the_audit_log() -> None:
    s = issued()
    loan = 53_200_000 * YUAN
    pid = pledge(s, (NUMBER,), loan)
    s.price(6_000_000, 101)  # LTV 93%: liquidation band at once
    assert s.book.pledges[pid].status == "enforceable"
    bank_before = s.ledger.balance(BANK_A.address)
    dep_before = s.ledger.balance(DEPOSITOR.address)
    price = 60_000_000 * YUAN
    offer = s.wr(BANK_A, Enforce(pid, BUYER.address, price))
    result = s.chain.run(offer, s.wr(BUYER, Sign(offer.id)))
    assert outcomes(result) == ["executed"] * 2
    assert s.ledger.balance(BANK_A.address) == bank_before + loan
    assert s.ledger.balance(DEPOSITOR.address) == dep_before + price - loan
    r = s.book.receipts[NUMBER]
    assert (r.holder, r.controller, r.encumbrance) == (BUYER.address, BUYER.address, "")
    assert [e.kind for e in result.audit] == ["wr_enforcement"]
    assert s.ledger.total_supply() == s.ledger.genesis.supply


def test_a_pledge_not_in_call_cannot_be_enforced() -> None:
    s = issued()
    pid = pledge(s, (NUMBER,), 1_000 * YUAN)
    assert s.run(s.wr(BANK_A, Enforce(pid, BUYER.address, 1)))[0] == "wr_not_enforceable"


def test_a_governance_freeze_stops_every_move_until_lifted() -> None:
    s = issued()
    s.chain.decide(WrFreeze(NUMBER, b"\x05" * 32))
    r = s.book.receipts[NUMBER]
    assert r.frozen_by and r.versions[-1].transition == "freeze"
    assert s.run(s.wr(DEPOSITOR, Endorse(NUMBER, TRADER.address))) == ["wr_receipt_frozen"]
    assert s.run(s.wr(DEPOSITOR, Withdraw(NUMBER))) == ["wr_receipt_frozen"]
    s.chain.decide(WrUnfreeze(NUMBER))
    assert s.do(DEPOSITOR, Endorse(NUMBER, TRADER.address), TRADER) == ["executed"] * 2


def test_the_builtin_chain_refuses_warehouse_actions_and_kinds() -> None:
    chain = Chain()
    p = chain.propose(R0, WrFreeze(NUMBER, b"\x05" * 32))
    assert outcomes(chain.run(p, chain.vote(R1, p)))[0] in {"malformed_payload", "bad_argument"}
    assert outcomes(chain.run(chain.tx(DEPOSITOR, KIND_WR, b"\x90"))) == ["unknown_kind"]


def test_garbage_payloads_are_malformed_and_change_nothing() -> None:
    s = issued()
    before = s.ledger.state_hash
    garbage = [b"", b"\xc1", b"\x92\xa5endorse", encode(["endorse", NUMBER]), b"\x00" * 100]
    garbage.append(msgspec.msgpack.encode(["no-such-op", 1]))
    for g in garbage:
        assert s.run(s.chain.tx(TRADER, KIND_WR, g)) == ["malformed_payload"]
        assert s.run(s.chain.tx(TRADER, KIND_READINGS, g)) == ["malformed_payload"]
    assert s.book.receipts[NUMBER].versions[-1].transition == "issue"
    assert s.ledger.state_hash != before  # nonces moved, nothing else
    assert s.run(s.wr(TRADER, Repay("ab" * 32, 1))) == ["wr_unknown_pledge"]


def test_every_refusal_code_is_a_reason_stores_accept() -> None:
    src = pathlib.Path(__file__).parent.parent / "src/govchain/apps/warehouse"
    codes = set()
    for path in src.glob("*.py"):
        codes |= set(re.findall(r'refuse\(f?"([^"]+)"\)', path.read_text()))
    assert len(codes) > 40
    for code in codes:
        example = re.sub(r"\{[^}]*\}", "x_y", code)  # f-string parts are snake_case words
        assert reason_ok(f"wr_{example}"), code
