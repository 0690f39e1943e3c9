"""set-filing-number: the chain's filing number (备案号), set by the committee, audited, shown."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from govchain.cli.gov_cmd import build_action
from govchain.cli.main import cli
from govchain.state.actions.set_filing_number import (
    AUDIT_KIND,
    FILING_NUMBER_BYTES_MAX,
    SUBJECT,
    SetFilingNumber,
)
from govchain.state.catalog import ACTION_MODULES, KIND_MODULES
from govchain.state.ledger import Ledger
from govchain.state.registry import Registry
from ledgerkit import ALICE, BOB, R0, R1, Chain, genesis, outcomes

NUMBER = "京网信备11010519000001号"
NOWHERE = "http://127.0.0.1:1"  # argument errors must come before any request


def test_unset_until_the_committee_sets_it_then_shown_and_audited() -> None:
    chain = Chain()
    assert chain.ledger.status_fields() == {"filing_number": None}
    p = chain.propose(R0, SetFilingNumber(NUMBER), "filed with the CAC")
    result = chain.run(p, chain.vote(R1, p))
    assert outcomes(result) == ["executed", "executed"]
    assert chain.ledger.status_fields() == {"filing_number": NUMBER}
    enacted = [e for e in result.audit if e.kind == AUDIT_KIND]
    assert len(enacted) == 1
    e = enacted[0]
    assert (e.subject, e.proposal, e.reason) == (SUBJECT, p.id.hex(), f"filing number {NUMBER}")
    assert e.actor == R0.address
    found = chain.ledger.proposal(p.id.hex())
    assert found is not None and found.outcome == f"filing number {NUMBER}"


def test_the_same_number_again_is_a_no_op() -> None:
    chain = Chain()
    chain.decide(SetFilingNumber(NUMBER))
    again = chain.decide(SetFilingNumber(NUMBER))
    assert again.outcome == f"set-filing-number: no-op: the filing number is {NUMBER} already"


@pytest.mark.parametrize(
    "text", ["", "x" * (FILING_NUMBER_BYTES_MAX + 1), "号" * 43, "line\nbreak"]
)
def test_a_bad_number_rejects_the_proposal(text: str) -> None:
    chain = Chain()
    assert outcomes(chain.run(chain.propose(R0, SetFilingNumber(text)))) == ["bad_argument"]
    assert chain.ledger.proposals() == []


def test_the_longest_number_allowed_passes() -> None:
    chain = Chain()
    text = "号" * (FILING_NUMBER_BYTES_MAX // 3)  # 3 bytes of UTF-8 each
    chain.decide(SetFilingNumber(text))
    assert chain.ledger.status_fields()["filing_number"] == text


def test_the_state_root_is_unchanged_until_it_is_set() -> None:
    # A registry without the action (as before it existed) and the built-in
    # one hash every height alike until the number is set; setting it moves it.
    before = Registry()
    for k in KIND_MODULES:
        before.add_kind(k.SPEC)
    for a in ACTION_MODULES:
        if a.SPEC.args is not SetFilingNumber:
            before.add_action(a.SPEC)
    old, new = Chain(), Chain()
    old.ledger = Ledger(genesis(), before)
    for chain in (old, new):
        chain.run(chain.transfer(ALICE, BOB, 5))
        chain.run()
    assert old.ledger.state_hash == new.ledger.state_hash
    new.decide(SetFilingNumber(NUMBER))
    old.run(old.propose(R0, SetFilingNumber(NUMBER)))  # not an action there: bad argument
    assert old.ledger.state_hash != new.ledger.state_hash


def test_replay_reaches_the_same_state() -> None:
    first, second = Chain(), Chain()
    for chain in (first, second):
        p = chain.propose(R0, SetFilingNumber(NUMBER))
        chain.run(p, chain.vote(R1, p))
    assert first.ledger.state_hash == second.ledger.state_hash


def _cli(*args: str) -> tuple[int, Any]:
    out = CliRunner().invoke(cli, [*args, "--json"])
    return out.exit_code, json.loads(out.stdout)


def test_the_cli_builds_it_from_the_registry() -> None:
    assert build_action("set-filing-number", (NUMBER,)) == SetFilingNumber(NUMBER)
    rc, doc = _cli(
        "gov", "propose", "set-filing-number", "x" * 200, "--reason", "r", "--node", NOWHERE
    )
    assert rc == 2 and doc["error"]["code"] == "bad_argument", doc
    assert "128 bytes" in doc["error"]["message"]
    rc, doc = _cli("gov", "propose", "set-filing-number", "--reason", "r", "--node", NOWHERE)
    assert rc == 2 and doc["error"]["code"] == "bad_arguments", doc
