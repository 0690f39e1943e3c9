"""The audit log: entries chain by hash, heads are certified, and any edit shows offline."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from govchain.api.views import audit_entry_json
from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.sdk.valsets import entry_from_json
from govchain.state.audit import AUDIT_EMPTY, AuditEntry, AuditKind, AuditLog, verify_chain
from govchain.state.genesis import Genesis
from govchain.state.payloads import (
    AddValidator,
    FreezeIdentity,
    GrantRole,
    RemoveValidator,
    SetParam,
    UnfreezeIdentity,
)
from govchain.state.schedule import ValidatorChange, change_entry, change_of
from govchain.storage.sqlite import CorruptStoreError, SqliteStore
from ledgerkit import ALICE, BOB, EVIDENCE, R0, R1, R2, VALIDATORS, Chain, genesis


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


# -- typed validator changes (issue 12 item 4) ---------------------------------------
# Hashes computed by the code before AuditEntry.change existed (commit 4fca8a1).
OLD_ENTRY = AuditEntry(
    7,
    3,
    "validator_change",
    b"\x01" * 20,
    "validator:" + "ab" * 32,
    "cd" * 32,
    "weight 1 -> 2; certifies from height 5",
    b"",
    AUDIT_EMPTY,
)
OLD_ENTRY_HASH = "798d331792eff9d6de719e6331c7d31e83a7fd578ba7d73ae6433e47264be537"
# The six entries of removing VALIDATORS[3] then adding "golden" (see old_chain).
OLD_CHAIN_HASHES = [
    "7837f29bf6ae375aad821c32a29d7fa2eaaa69e30d48261fb7962a6dc7bc3399",
    "55e4c429d6409b4cebad06eca4b8da690a42aee2d61e99570ca8aa03b21c95ba",
    "0f3ceace6362e7e1a70b3157c70c319fde44b9617ace37c402f79b41cb98b38d",
    "87bb109216d5e3a21a612f26f3ddf21218900340cc896aff337b10c602d9aadc",
    "8cf72bdb99f233b688104a0ce905286d0e11b42b35f3608094ce2c36378125fe",
    "01b5671022c4139f0f4dc761b5850408c846f499b697a51228c5c6e9ee57e23a",
]
OLD_STATE_HASH = "58f651cea77dea11827cbf43ab7898e9df5e12195fe3fa141055983aed106577"
GOLDEN = SigningKey.from_label("golden")


def typed_chain(g: Genesis) -> Chain:
    """A Chain whose ledger writes its audit log as g says (typed_audit)."""
    chain = Chain(g)
    assert chain.ledger.audit.typed_changes == g.typed_audit
    return chain


def changes(chain: Chain) -> list[AuditEntry]:
    """Remove VALIDATORS[3], add GOLDEN, reweigh GOLDEN: every entry written."""
    out: list[AuditEntry] = []
    actions = [
        RemoveValidator(VALIDATORS[3].public_key),
        AddValidator(GOLDEN.public_key),
        AddValidator(GOLDEN.public_key, 2),
    ]
    for a in actions:
        p = chain.propose(R0, a)
        out += chain.run(p, chain.vote(R1, p)).audit
    return out


def test_untyped_entries_hash_and_decode_as_before() -> None:
    assert OLD_ENTRY.hash.hex() == OLD_ENTRY_HASH
    # A row a store wrote before the field existed: nine elements, no change.
    old_row = encode(msgspec.structs.astuple(OLD_ENTRY)[:-1])
    stored = msgspec.msgpack.Decoder(AuditEntry).decode(old_row)
    assert stored == OLD_ENTRY and stored.change is None and stored.canonical == old_row
    # An old chain (its genesis does not opt in) replays to the same hashes and state.
    chain = Chain()
    entries = changes(chain)
    assert [e.hash.hex() for e in entries[:6]] == OLD_CHAIN_HASHES
    assert all(e.change is None for e in entries)
    assert entries[-1].reason == "weight 1 -> 2; certifies from height 5"


def test_old_chain_state_hash_is_unchanged() -> None:
    chain = Chain()
    for a in (RemoveValidator(VALIDATORS[3].public_key), AddValidator(GOLDEN.public_key)):
        p = chain.propose(R0, a)
        chain.run(p, chain.vote(R1, p))
    assert chain.ledger.state_hash.hex() == OLD_STATE_HASH
    assert chain.ledger.audit_head.hex() == OLD_CHAIN_HASHES[-1]


def test_an_opted_in_chain_writes_each_change_as_data_and_text() -> None:
    g = msgspec.structs.replace(genesis(), typed_audit=True)
    entries = changes(typed_chain(g))
    typed = [e for e in entries if e.change is not None]
    assert [e.kind for e in typed] == ["validator_change"] * 3
    assert [e.change for e in typed] == [
        ValidatorChange(VALIDATORS[3].public_key, None, None, 3),
        ValidatorChange(GOLDEN.public_key, None, 1, 4),
        ValidatorChange(GOLDEN.public_key, 1, 2, 5),
    ]
    # The text stays for people, and is exactly what the data says.
    assert [e.reason for e in typed] == [
        "removed; certifies from height 3",
        "added with weight 1; certifies from height 4",
        "weight 1 -> 2; certifies from height 5",
    ]
    assert all(change_entry(e.change) == (e.subject, e.reason) for e in typed if e.change)
    # The data is under the hash: the same entry without it hashes otherwise.
    last = typed[-1]
    assert msgspec.structs.replace(last, change=None).hash != last.hash
    for e in entries[1:]:
        assert e.prev == entries[entries.index(e) - 1].hash


def test_a_typed_entry_round_trips_through_msgpack_and_json() -> None:
    g = msgspec.structs.replace(genesis(), typed_audit=True)
    entries = changes(typed_chain(g))
    decoder = msgspec.msgpack.Decoder(AuditEntry)
    for e in entries:
        back = decoder.decode(encode(e))
        assert back == e and back.hash == e.hash
        doc = json.loads(json.dumps(audit_entry_json(e)))
        assert ("change" in doc) == (e.kind == "validator_change")
        assert entry_from_json(doc) == e and doc["hash"] == e.hash.hex()
    assert audit_entry_json(entries[-1])["change"] == {
        "public_key": GOLDEN.public_key.hex(),
        "old_weight": 1,
        "new_weight": 2,
        "certifies_from": 5,
    }


def test_the_audit_log_refuses_to_write_a_change_it_cannot_read() -> None:
    log = AuditLog(typed_changes=True)
    with pytest.raises(AssertionError):
        log.append(1, AuditKind.VALIDATOR_CHANGE, b"", "validator:zz", "", "grown")
    assert log.next_seq == 0 and log.head == AUDIT_EMPTY


def test_a_store_keeps_untyped_rows_as_they_always_were_and_reads_typed_ones(
    tmp_path: Path,
) -> None:
    """Old stores open unchanged; an untyped row is nine fields, a typed one ten."""
    g = msgspec.structs.replace(genesis(), typed_audit=True)
    typed = next(e for e in changes(Chain(g)) if e.change is not None)
    old_row = encode(msgspec.structs.astuple(OLD_ENTRY)[:-1])
    store = SqliteStore(tmp_path / "store.sqlite")
    try:
        store._conn.execute("PRAGMA foreign_keys = OFF")  # audit rows alone, no executions
        with store._conn:  # rows as a store of either age holds them
            store._conn.executemany(
                "INSERT INTO audit (seq, height, entry) VALUES (?, ?, ?)",
                [
                    (OLD_ENTRY.seq, OLD_ENTRY.height, old_row),
                    (typed.seq, typed.height, typed.canonical),
                ],
            )
        rows = {e.seq: e for e in store.audit(0, 100)}
        assert rows[OLD_ENTRY.seq] == OLD_ENTRY and rows[OLD_ENTRY.seq].canonical == old_row
        assert old_row[0] == 0x99  # a nine-element array, as written before typed entries
        assert rows[typed.seq].change == typed.change and rows[typed.seq].hash == typed.hash
        # A row with a trailing nil is not the canonical form of an untyped entry.
        with store._conn:
            store._conn.execute(
                "INSERT INTO audit (seq, height, entry) VALUES (?, ?, ?)",
                (200, 200, encode(msgspec.structs.replace(OLD_ENTRY, seq=200, height=200))),
            )
        with pytest.raises(CorruptStoreError, match="non-canonical"):
            store.audit(200, 200)
    finally:
        store.close()
