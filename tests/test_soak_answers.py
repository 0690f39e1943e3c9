"""The soak's reading of answers: a promise, a retry or a refusal, for single and batch answers."""

from __future__ import annotations

from typing import Any

import pytest

from govchain.node.soak_answers import (
    Verdict,
    batch_item_verdict,
    error_verdict,
    status_verdict,
)
from govchain.node.soak_load import FinalityWatch, Pacer

TX = "ab" * 32


@pytest.mark.parametrize(
    ("code", "status", "verdict", "label"),
    [
        (202, "pending", Verdict.PROMISED, "pending"),
        (202, "pending_parent", Verdict.RETRY, "pending_parent"),
        (200, "executed", Verdict.PROMISED, "already_final"),
        (200, "held", Verdict.PROMISED, "already_final"),
        (202, "executed", Verdict.REFUSED, "202 executed"),
        (202, "weird", Verdict.REFUSED, "202 weird"),
    ],
)
def test_statuses(code: int, status: str, verdict: Verdict, label: str) -> None:
    assert status_verdict(code, status) == (verdict, label)


@pytest.mark.parametrize(
    ("code", "error", "verdict", "label"),
    [
        (409, "duplicate", Verdict.PROMISED, "duplicate"),
        (503, "pool_full", Verdict.RETRY, "503"),
        (503, "not_replicated", Verdict.RETRY, "503"),
        (500, "internal", Verdict.RETRY, "retried_other"),
        (429, "quota_exceeded", Verdict.RETRY, "retried_other"),
        (422, "bad_signature", Verdict.REFUSED, "422 bad_signature"),
        (400, "bad_request", Verdict.REFUSED, "400 bad_request"),
    ],
)
def test_errors(code: int, error: str, verdict: Verdict, label: str) -> None:
    assert error_verdict(code, error) == (verdict, label)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"tx_id": TX, "status": "pending"}, (Verdict.PROMISED, "pending", "pending")),
        ({"tx_id": TX, "status": "executed"}, (Verdict.PROMISED, "already_final", "executed")),
        (
            {"tx_id": TX, "status": "pending_parent", "missing": []},
            (Verdict.RETRY, "pending_parent", "pending_parent"),
        ),
        ({"error": {"code": "catching_up", "message": "."}}, (Verdict.RETRY, "503", "catching_up")),
        (
            {"error": {"code": "duplicate", "message": "."}},
            (Verdict.PROMISED, "duplicate", "duplicate"),
        ),
        (
            {"error": {"code": "expired", "message": "."}},
            (Verdict.REFUSED, "422 expired", "expired"),
        ),
        # An answer for another transaction is no promise for this one.
        (
            {"tx_id": "cd" * 32, "status": "pending"},
            (Verdict.REFUSED, "bad_response", "another tx_id"),
        ),
        ("pending", (Verdict.REFUSED, "bad_response", "unreadable")),
    ],
)
def test_a_batch_item_is_read_as_its_single_answer_would_be(
    item: Any, expected: tuple[Verdict, str, str]
) -> None:
    assert batch_item_verdict(item, TX) == expected


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_pacer_gives_slots_at_its_rate_and_never_makes_up_unused_ones() -> None:
    clock = FakeClock()
    pacer = Pacer(100.0, clock)
    assert pacer.take(1_000) == 1  # the first slot is due at once
    clock.now = 0.1
    assert pacer.take(1_000) == 10  # 10 more in 0.1 s at 100 a second
    clock.now = 0.2
    assert pacer.take(3) == 3  # only three senders ready: 7 slots pass unused
    clock.now = 0.25
    assert pacer.take(1_000) == 5  # not 12: what passed is not made up
    assert pacer.take(1_000) == 0


def test_the_watch_keeps_the_first_time_each_id_was_seen_final() -> None:
    clock = FakeClock()
    watch = FinalityWatch(clock)
    clock.now = 1.0
    watch.on_raw(
        f'{{"type": "receipts", "height": 7, "receipts": [{{"tx_id": "{TX}", "status": "executed",'
        ' "index": 0}]}'
    )
    clock.now = 2.0
    watch.on_raw(f'{{"type": "receipts", "height": 8, "receipts": [{{"tx_id": "{TX}"}}]}}')
    watch.on_raw('{"type": "checkpoint", "height": 9, "hash": "00"}')
    assert watch.final == {bytes.fromhex(TX): 1.0}
    assert watch.height == 9


def test_the_watch_reads_events_of_other_shapes_without_dropping_its_stream() -> None:
    watch = FinalityWatch(FakeClock())
    watch.on_raw('{"type": "governance", "height": "12", "events": []}')
    watch.on_raw('{"type": "funds", "receipts": 3}')
    watch.on_raw('{"type": "checkpoint", "height": 4}')
    assert watch.final == {} and watch.height == 4
