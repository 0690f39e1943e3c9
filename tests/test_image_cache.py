"""The ledger image reuses unchanged parts, and never a part that changed (state/ledger_image.py).

A stale cached part would put a different image, hence a different state hash,
into a sync height on a node that imaged afresh (one that restarted): each test
images at every height and compares every part with a fresh walk.
"""

from __future__ import annotations

import pytest

from govchain.state.actions.set_param import SetParam
from govchain.state.actions.set_permission import SetPermission
from govchain.state.ledger import Ledger
from govchain.state.ledger_image import image_of, ledger_from_image, stale_parts
from ledgerkit import R0, R1, Chain
from wrkit import OPERATOR, Story


def _imaged_fresh(ledger: Ledger) -> bytes:
    data = image_of(ledger)
    assert stale_parts(ledger, data) == []
    return data


def test_only_changed_parts_are_walked_again() -> None:
    chain = Chain()
    _imaged_fresh(chain.ledger)
    cached = dict(chain.ledger.image_parts)
    assert {"accounts", "identities", "governance"} <= set(cached)
    assert "audit" not in cached and "validators" not in cached  # walked every time
    chain.run(chain.transfer(R0, R1, 5))
    assert "accounts" not in chain.ledger.image_parts  # the transfer's height dropped it
    assert chain.ledger.image_parts["identities"] is cached["identities"]
    again = _imaged_fresh(chain.ledger)
    restored = ledger_from_image(chain.ledger.genesis, again)
    assert image_of(restored) == again  # a fresh ledger, nothing cached: the same bytes


def test_a_parameter_change_images_governance_afresh() -> None:
    chain = Chain()
    _imaged_fresh(chain.ledger)
    chain.decide(SetParam("hold_amount_min", 10))
    _imaged_fresh(chain.ledger)
    chain.idle(1)
    _imaged_fresh(chain.ledger)


def test_clearing_the_last_parameter_or_permission_is_a_change() -> None:
    """Their writes() are None when unchanged: [] after a clear is a change (the kill soak
    found it: a cached parameter outlived its clear-param and split a sync height)."""
    chain = Chain()
    chain.decide(SetParam("hold_amount_min", 10))
    chain.decide(SetPermission("transfer", "payer"))
    _imaged_fresh(chain.ledger)
    chain.decide(SetParam("hold_amount_min", None))
    _imaged_fresh(chain.ledger)
    chain.decide(SetPermission("transfer", ""))
    _imaged_fresh(chain.ledger)


def test_the_offline_heap_moving_at_the_end_of_a_height_is_imaged_afresh() -> None:
    s = Story()
    s.set_up()
    devices = (s.cell.reading(0), s.scale.reading(0), s.reader.reading(), s.gate.reading())
    s.read(*devices)
    s.chain.idle(299)
    s.read(s.cell.reading(0), s.scale.reading(0), s.reader.reading(), s.gate.reading())
    due = s.book.offline_due[0][0]
    while s.ledger.height <= due:  # each device's entry pops, and is pushed back: no write
        _imaged_fresh(s.ledger)
        s.chain.idle(1)
    _imaged_fresh(s.ledger)
    assert s.book.offline_due[0][0] > due
    assert s.book.bins[(OPERATOR.address, "A1")].alarms == []  # every device read in time


def test_a_height_cut_short_drops_every_cached_part(monkeypatch: pytest.MonkeyPatch) -> None:
    chain = Chain()
    _imaged_fresh(chain.ledger)
    assert chain.ledger.image_parts

    def broken(*_: object) -> None:
        raise RuntimeError("cut short")

    monkeypatch.setattr(chain.ledger, "_end_of_height", broken)
    with pytest.raises(RuntimeError):
        chain.run(chain.transfer(R0, R1, 5))
    assert chain.ledger.image_parts == {}
