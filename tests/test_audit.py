"""The audit log: entries chain by hash, heads are certified, and any edit shows offline."""

from __future__ import annotations

import msgspec
import pytest

from govchain.state.audit import AUDIT_EMPTY, AuditEntry, verify_chain
from govchain.state.payloads import FreezeIdentity, GrantRole, SetParam, UnfreezeIdentity
from govchain.state.schedule import ValidatorChange, change_entry, change_of
from ledgerkit import ALICE, BOB, EVIDENCE, R0, R1, R2, Chain


def history() -> tuple[list[AuditEntry], dict[int, bytes]]:
    """A few heights of governance: every entry, and the head after each height."""
    chain = Chain()
    heads = {0: chain.ledger.audit_head}
    entries: list[AuditEntry] = []

    def step(*txs: object) -> None:
        ex = chain.run(*txs)  # type: ignore[arg-type]
        entries.extend(ex.audit)
        heads[ex.height] = ex.audit_head
        assert ex.audit_head == chain.ledger.audit_head

    p = chain.propose(R0, FreezeIdentity(ALICE.address), "fraud", evidence=EVIDENCE)
    step(p, chain.vote(R1, p))  # 1: proposal, vote, freeze
    step(chain.transfer(ALICE, BOB, 1))  # 2: rejection_by_decision
    step()  # 3: nothing
    q = chain.propose(R2, UnfreezeIdentity(ALICE.address))
    step(q, chain.vote(R0, q))  # 4
    g = chain.propose(R1, GrantRole(BOB.address, "issuer"))
    step(g, chain.vote(R2, g, yes=False), chain.vote(R0, g, yes=False))  # 5: rejected
    return entries, heads


def test_entries_record_who_what_why_and_chain_by_hash() -> None:
    entries, heads = history()
    assert [e.seq for e in entries] == list(range(len(entries)))
    assert entries[0].prev == AUDIT_EMPTY
    first = entries[0]
    assert (first.kind, first.actor, first.subject) == (
        "proposal",
        R0.address,
        f"address:{ALICE.address.hex()}",
    )
    assert (first.reason, first.evidence) == ("freeze-identity: fraud", EVIDENCE)
    assert [e.kind for e in entries if e.height == 1] == ["proposal", "vote", "freeze"]
    assert heads[3] == heads[2]  # an empty height leaves the head alone
    assert verify_chain(entries, heads) is None


def test_an_edited_entry_fails_verification() -> None:
    entries, heads = history()
    edited = list(entries)
    edited[2] = msgspec.structs.replace(edited[2], reason="nothing to see")
    problem = verify_chain(edited, heads)
    assert problem is not None and "seq 2 was altered" in problem


def test_an_edited_last_entry_fails_against_the_certified_head() -> None:
    entries, heads = history()
    edited = [*entries[:-1], msgspec.structs.replace(entries[-1], actor=BOB.address)]
    problem = verify_chain(edited, heads)
    assert problem is not None and "certified" in problem


@pytest.mark.parametrize("cut", ["drop", "swap", "duplicate"])
def test_dropped_reordered_or_repeated_entries_fail(cut: str) -> None:
    entries, heads = history()
    e = list(entries)
    if cut == "drop":
        del e[3]
    elif cut == "swap":
        e[3], e[4] = e[4], e[3]
    else:
        e.insert(3, e[3])
    assert verify_chain(e, heads) is not None


def test_a_ranged_export_verifies_against_the_heads_around_it() -> None:
    entries, heads = history()
    middle = [e for e in entries if 2 <= e.height <= 4]
    assert verify_chain(middle, heads, from_height=2, to_height=4) is None
    # Leaving out the first entry of the range is caught by the head before it.
    assert verify_chain(middle[1:], heads, from_height=2, to_height=4) is not None


def test_an_empty_export_checks_that_the_heads_did_not_move() -> None:
    _, heads = history()
    assert verify_chain([], heads, from_height=3, to_height=3) is None
    assert verify_chain([], heads, from_height=4, to_height=4) is not None


def test_a_parameter_change_is_audited_with_its_proposal() -> None:
    chain = Chain()
    p = chain.propose(R0, SetParam("hold_amount_min", 10**6), "large transfers")
    ex = chain.run(p, chain.vote(R2, p))
    last = ex.audit[-1]
    assert (last.kind, last.subject, last.proposal) == (
        "param_set",
        "param:hold_amount_min",
        p.id.hex(),
    )
    assert last.reason == "hold_amount_min = 1000000"


def test_validator_change_text_reads_back_as_written() -> None:
    # Offline verifiers follow the validator set through this entry: writer and reader agree.
    key = bytes(range(32))
    for old, new, start in [(None, 3, 7), (2, 5, 9), (None, None, 12)]:
        change = ValidatorChange(key, old, new, start)
        text = change_entry(change)
        assert change_of(text.subject, text.reason) == change
    subject = change_entry(ValidatorChange(key, 2, 3, 4)).subject
    assert change_of(subject, "weight 2 -> 3; certifies soon") is None
    assert change_of(subject, "weight 02 -> 3; certifies from height 4") is None  # one spelling
    assert change_of("validator:zz", "removed; certifies from height 4") is None
