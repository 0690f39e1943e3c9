"""What explorer pages poll is shared by every viewer for a second; the event stream filters."""

from __future__ import annotations

import json

import pytest

from govchain.api.app import EVENT_TYPES, _event_types
from govchain.api.shared_answers import ANSWERS_KEPT, SHARED_FOR_S, SharedAnswers


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_answer_a_second_whoever_asks() -> None:
    clock = Clock()
    shared = SharedAnswers(clock)
    made: list[int] = []

    def make() -> dict[str, int]:
        made.append(len(made))
        return {"n": len(made)}

    first = shared.answer(("dag", 80), make)
    for _ in range(5):  # five viewers within the second: one computation
        assert shared.answer(("dag", 80), make).body == first.body
    assert made == [0]
    assert json.loads(bytes(shared.answer(("dag", 300), make).body)) == {"n": 2}  # another question
    clock.now += SHARED_FOR_S
    assert json.loads(bytes(shared.answer(("dag", 80), make).body)) == {"n": 3}  # a second on
    assert first.media_type == "application/json"


def test_the_questions_kept_are_bounded() -> None:
    shared = SharedAnswers(Clock())
    for i in range(ANSWERS_KEPT * 3):
        shared.answer(("stats", i), lambda: {})
    assert len(shared._kept) == ANSWERS_KEPT


def test_event_types_parse_or_refuse() -> None:
    assert _event_types(None) is None
    assert _event_types("checkpoint") == frozenset({"checkpoint"})
    assert _event_types("checkpoint,governance,") == frozenset({"checkpoint", "governance"})
    assert set(EVENT_TYPES) >= {"checkpoint", "receipts", "governance", "funds", "wr"}
    for bad in ("", ",", "blocks", "checkpoint,<script>"):
        with pytest.raises(ValueError, match="not a list of event types"):
            _event_types(bad)
