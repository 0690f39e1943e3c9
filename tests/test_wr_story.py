"""The copper story on a ledger running the warehouse: every step of a receipt's life.

Issue 14's worked example: 1,000 t of copper at ¥80,000/t, a 70% loan of ¥53.2m,
the price falls 12.5% to ¥70,000/t, a margin call, a cure; a second bank's pledge
of the same goods is refused; a weight drop raises an alarm that suspends the bin
until an inspection; then release and withdrawal.
"""

from __future__ import annotations

from govchain.apps.warehouse.ops import (
    Endorse,
    Inspect,
    Pledge,
    Release,
    Repay,
    Sign,
    Withdraw,
)
from wrkit import (
    BANK_A,
    BANK_B,
    DEPOSITOR,
    INSPECTOR,
    OPERATOR,
    SUPERVISOR,
    TONNE,
    TRADER,
    YUAN,
    Device,
    Story,
)

NUMBER = "WR-2026-0001"
LOAN = 53_200_000 * YUAN


def pledged() -> tuple[Story, str]:
    s = Story()
    s.set_up()
    assert s.intake() == ["executed"]
    assert s.issue() == ["executed", "executed", "executed"]
    first = s.wr(DEPOSITOR, Pledge((NUMBER,), BANK_A.address, LOAN, 500))
    assert s.run(first, s.wr(BANK_A, Sign(first.id))) == ["executed", "executed"]
    return s, first.id.hex()


def test_the_receipt_is_issued_on_the_weighed_lot() -> None:
    s = Story()
    s.set_up()
    assert s.intake() == ["executed"]
    lot = s.book.lots["LOT-1"]
    assert lot.quantity_g == 1_000 * TONNE and lot.spec.net_g == lot.spec.gross_g - lot.spec.tare_g
    assert s.issue() == ["executed", "executed", "executed"]
    r = s.book.receipts[NUMBER]
    assert (r.holder, r.controller, r.status) == (DEPOSITOR.address, DEPOSITOR.address, "valid")
    assert [v.transition for v in r.versions] == ["issue"]
    assert r.versions[0].signers == (OPERATOR.address, SUPERVISOR.address, DEPOSITOR.address)
    assert s.book.lots["LOT-1"].receipted_g == 1_000 * TONNE


def test_the_same_goods_cannot_be_booked_twice() -> None:
    s = Story()
    s.set_up()
    assert s.intake() == ["executed"]
    # The same tags under a fresh salt: a fresh commitment, but the pieces are in use.
    assert s.intake("LOT-2", salt=b"\x02" * 32) == ["wr_tags_in_use"]


def test_a_receipt_beyond_the_stock_is_refused() -> None:
    s = Story()
    s.set_up()
    assert s.intake() == ["executed"]
    assert (
        s.issue(lots=(("LOT-1", 1_000 * TONNE + 1),))
        == ["wr_over_stock"] + ["wr_unknown_offer"] * 2
    )


def test_pledge_pays_the_loan_and_hands_control_to_the_bank() -> None:
    s, pid = pledged()
    r = s.book.receipts[NUMBER]
    assert (r.holder, r.controller, r.encumbrance) == (DEPOSITOR.address, BANK_A.address, pid)
    assert s.ledger.balance(DEPOSITOR.address) == 10**12 + LOAN
    assert s.ledger.balance(BANK_A.address) == 10**12 - LOAN
    p = s.book.pledges[pid]
    assert (p.outstanding_fen, p.status) == (LOAN, "active")


def test_a_second_bank_cannot_take_the_same_goods() -> None:
    s, _pid = pledged()
    assert s.run(s.wr(DEPOSITOR, Pledge((NUMBER,), BANK_B.address, 1_000, 500))) == [
        "wr_encumbered"
    ]
    assert s.run(s.wr(DEPOSITOR, Endorse(NUMBER, TRADER.address))) == ["wr_encumbered"]


def test_price_fall_calls_and_repayment_cures() -> None:
    s, pid = pledged()
    assert s.price(7_000_000, 101) == ["executed", "executed"]
    p = s.book.pledges[pid]
    mark = s.book.marks[pid][-1]
    assert (mark.ltv_bp, mark.band) == (8_000, "call")
    call = p.open_call
    assert call is not None and call.repay_fen == 6_650_000 * YUAN
    assert s.run(s.wr(DEPOSITOR, Repay(pid, 6_650_000 * YUAN))) == ["executed"]
    assert s.book.pledges[pid].open_call is None
    assert s.ledger.balance(BANK_A.address) == 10**12 - LOAN + 6_650_000 * YUAN


def test_an_uncured_call_freezes_the_receipt_for_enforcement() -> None:
    s, pid = pledged()
    s.price(7_000_000, 101)
    s.price(7_000_000, 104)  # past the cure period (2 days)
    assert s.book.pledges[pid].status == "enforceable"
    assert s.book.receipts[NUMBER].enforcement
    assert s.run(s.wr(DEPOSITOR, Repay(pid, 1))) == ["executed"]  # repaying still allowed


def test_a_weight_drop_suspends_the_bin_until_inspection() -> None:
    s, pid = pledged()
    book_g = s.book.bins[(OPERATOR.address, "A1")].book_g
    assert s.read(s.cell.reading(book_g - 50 * TONNE)) == ["executed"]
    b = s.book.bins[(OPERATOR.address, "A1")]
    assert [a.kind for a in b.alarms] == ["weight_drift"]
    assert s.run(s.wr(DEPOSITOR, Repay(pid, LOAN))) == ["executed"]
    assert s.run(s.wr(BANK_A, Release(pid))) == ["wr_bin_suspended"]
    s.read(s.cell.reading(book_g))
    report = b"\x07" * 32
    assert s.run(s.wr(INSPECTOR, Inspect(OPERATOR.address, "A1", book_g, report))) == ["executed"]
    assert s.book.bins[(OPERATOR.address, "A1")].alarms == []
    assert s.run(s.wr(BANK_A, Release(pid))) == ["executed"]
    r = s.book.receipts[NUMBER]
    assert (r.controller, r.encumbrance) == (DEPOSITOR.address, "")


def test_withdrawal_needs_the_goods_weighed_out_and_seen_at_the_gate() -> None:
    s, pid = pledged()
    s.run(s.wr(DEPOSITOR, Repay(pid, LOAN)))
    s.run(s.wr(BANK_A, Release(pid)))
    order = s.wr(DEPOSITOR, Withdraw(NUMBER))
    assert s.run(order) == ["executed"]
    assert s.run(s.wr(OPERATOR, Sign(order.id))) == ["wr_no_weighbridge_since_order"]
    # The goods leave: the bin's reader and the gate see the tags, under the order: no alarm.
    book_g = s.book.bins[(OPERATOR.address, "A1")].book_g
    s.read(
        s.scale.reading(1_000 * TONNE),
        s.gate.reading(tags=("EPC-0001",)),
        s.reader.reading(tags=("EPC-0001",)),
        s.cell.reading(book_g - 1_000 * TONNE),
    )
    assert s.book.bins[(OPERATOR.address, "A1")].alarms == []
    assert s.run(s.wr(OPERATOR, Sign(order.id))) == ["executed"]
    r = s.book.receipts[NUMBER]
    assert r.status == "cancelled"
    assert "LOT-1" not in s.book.bins[(OPERATOR.address, "A1")].lots
    assert not s.book.live_tags  # the pieces may come back under a new lot
    assert s.issue() == ["wr_number_used", "wr_unknown_offer", "wr_unknown_offer"]


def test_a_tag_leaving_without_an_order_raises_an_alarm() -> None:
    s, _pid = pledged()
    s.read(s.reader.reading(tags=("EPC-0007",)))
    b = s.book.bins[(OPERATOR.address, "A1")]
    assert [a.kind for a in b.alarms] == ["tag_left"]


def test_a_forged_reading_is_refused_whole() -> None:
    s = Story()
    s.set_up()
    forger = Device("cell-a1", "load_cell")
    forger.key = type(forger.key).from_label("not the device")
    forger.counter = 50
    assert s.read(s.cell.reading(0), forger.reading(5)) == ["wr_reading_signature"]
    assert s.book.devices["cell-a1"].counter == 0
    genuine = s.cell.reading(0)
    assert s.read(genuine) == ["executed"]
    assert s.read(genuine) == ["wr_reading_replayed"]  # a gateway relaying it again


def test_a_silent_device_raises_an_offline_alarm_at_the_end_of_a_height() -> None:
    s = Story()
    s.set_up()
    start = s.ledger.height
    s.read(s.cell.reading(0), s.scale.reading(0), s.reader.reading(), s.gate.reading())
    s.chain.idle(299)  # wr_reading_fresh_heights: silent for 300 heights is still fresh
    s.read(s.cell.reading(0), s.scale.reading(0), s.reader.reading())  # the gate stays silent
    assert s.book.bins[(OPERATOR.address, "A1")].alarms == []
    s.chain.idle(2)
    alarms = s.book.bins[(OPERATOR.address, "A1")].alarms
    assert [(a.kind, a.device) for a in alarms] == [("device_offline", "gate-1")]
    assert alarms[0].height == start + 1 + 301  # more than 300 heights after its reading
    assert len(s.book.offline_due) <= len(s.book.devices)
