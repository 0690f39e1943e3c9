"""Decided heights: the newest in memory, older ones read back from the store."""

from __future__ import annotations

from typing import Any

import pytest

from govchain.replica.decided_log import DecidedLog, MissingDecidedError


def item(h: int) -> Any:
    """A stand-in (checkpoint, certificate) pair for height h."""
    return (f"cp{h}", f"cert{h}")


class Store:
    """What the shell has committed, and how often it was read."""

    def __init__(self) -> None:
        self.rows: dict[int, Any] = {}
        self.reads = 0

    def get(self, height: int) -> Any:
        self.reads += 1
        return self.rows.get(height)


def test_only_released_heights_leave_memory_and_come_back_from_the_store() -> None:
    store = Store()
    log = DecidedLog(store.get, kept=4)
    for h in range(1, 41):
        log.append(item(h))
    assert log.in_memory() == 40  # nothing released: nothing may leave
    for h in range(1, 31):
        store.rows[h] = item(h)
    log.release(30)
    assert log.in_memory() == 10  # heights 31..40 never go before they are released
    log.release(40)
    for h in range(31, 41):
        store.rows[h] = item(h)
    log.append(item(41))
    assert 4 <= log.in_memory() < 8 and len(log) == 41
    assert log[0] == item(1) and log[-1] == item(41) and log[40] == item(41)
    assert store.reads == 1
    assert list(log) == [item(h) for h in range(1, 42)]
    assert log[35:38] == [item(36), item(37), item(38)]
    assert log == [item(h) for h in range(1, 42)] and log != [item(1)]


def test_memory_stays_bounded_over_a_long_chain() -> None:
    store = Store()
    log = DecidedLog(store.get, kept=16)
    for h in range(1, 10_001):
        log.append(item(h))
        store.rows[h] = item(h)
        log.release(h - 1)  # the shell commits each height before the next input
        assert log.in_memory() < 2 * 16
    assert log[4_999] == item(5_000) and len(log) == 10_000


def test_without_a_source_everything_stays() -> None:
    log = DecidedLog(None, kept=2, items=[item(h) for h in range(1, 101)])
    log.release(100)
    assert log.in_memory() == 100 and log[0] == item(1)


def test_a_height_the_store_lost_is_a_typed_error_and_bad_indexes_are_index_errors() -> None:
    store = Store()
    log = DecidedLog(store.get, kept=1, items=[item(h) for h in range(1, 6)])
    log.release(5)
    log.append(item(6))
    with pytest.raises(MissingDecidedError, match="height 1"):
        _ = log[0]
    for bad in (6, 100, -7):
        with pytest.raises(IndexError):
            _ = log[bad]
    with pytest.raises(ValueError, match="positive"):
        DecidedLog(store.get, kept=0)
