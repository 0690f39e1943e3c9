"""Admission to the DAG: every rejection reason, nothing changes on rejection, orphans."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.admission import SHELL_REASONS, AdmissionError, Reject, check_wire, decode_wire
from govchain.dag.graph import Dag
from govchain.dag.kinds import KINDS
from govchain.dag.limits import DagLimits
from govchain.dag.tx import (
    BODY_DECODER,
    SIGN_DOMAIN,
    Transaction,
    TxBody,
    TxWire,
    build,
    stamp_ok,
    tx_id,
)

CHAIN = "test-chain"
GENESIS = hashlib.sha256(b"test genesis").digest()
STAMP_BITS = 4
ALICE = SigningKey.from_label("alice")
BOB = SigningKey.from_label("bob")
CAROL = SigningKey.from_label("carol")
P = 2**255 - 19
IDENTITY_KEY = b"\x01" + bytes(31)


# -- helpers ---------------------------------------------------------------
def new_dag(**limits: Any) -> Dag:  # Any: DagLimits has int and bool fields
    """A fresh DAG on CHAIN with cheap stamps and any limits overridden."""
    return Dag(CHAIN, GENESIS, DagLimits(stamp_bits_min=STAMP_BITS, **limits))


def make_tx(
    key: SigningKey = ALICE,
    *,
    parents: list[bytes] | None = None,
    nonce: int = 0,
    kind: str = "record",
    payload: bytes = b"hello",
    valid_until: int = 100,
    chain_id: str = CHAIN,
    stamp_bits_min: int = STAMP_BITS,
) -> Transaction:
    """A properly built transaction (by default a record on the genesis root)."""
    return build(
        key,
        chain_id=chain_id,
        kind=kind,
        nonce=nonce,
        parents=[GENESIS] if parents is None else parents,
        valid_until=valid_until,
        payload=payload,
        stamp_bits_min=stamp_bits_min,
    )


def sign_body(body_bytes: bytes, signer: SigningKey = ALICE) -> bytes:
    """Signature over body bytes exactly as given."""
    return signer.sign(SIGN_DOMAIN + body_bytes)


def stamped(body: TxBody) -> bytes:
    """Canonical bytes of body with a stamp strong enough for STAMP_BITS."""
    stamp = 0
    while not stamp_ok(encoded := encode(msgspec.structs.replace(body, stamp=stamp)), STAMP_BITS):
        stamp += 1
    return encoded


def crafted(signer: SigningKey = ALICE, **fields: object) -> bytes:
    """Wire bytes of a stamped, signed body with some fields set by hand.

    For what build() refuses to make: unsorted parents, a foreign sender, etc.
    """
    body = msgspec.structs.replace(make_tx().body, **fields)
    body_bytes = stamped(body)
    return wire(body_bytes, sign_body(body_bytes, signer), make_tx().payload)


def wire(body_bytes: bytes, signature: bytes, payload: bytes) -> bytes:
    """Wire bytes from the three parts, whatever they hold."""
    return encode(TxWire(body_bytes, signature, payload))


def reason_of(dag: Dag, data: bytes, now_ms: int = 0) -> Reject:
    """The reason admission refuses data (fails the test if it is admitted)."""
    with pytest.raises(AdmissionError) as info:
        dag.admit(data, now_ms)
    return info.value.reason


def snapshot(dag: Dag) -> tuple[object, ...]:
    """Everything about a DAG that an observer can see."""
    return (
        sorted(dag.vertices),
        list(dag.tips),
        dag.orphan_count(),
        dag.height,
        dag.uncovered_count,
        dag.uncovered_tips(),
    )


def ids(txs: tuple[Transaction, ...]) -> list[bytes]:
    return [t.id for t in txs]


def widen_nonce(body: TxBody) -> bytes:
    """The body's bytes with its (small) nonce encoded as a uint64: same value, not canonical."""
    canonical = encode(body)
    head = encode([body.chain_id, body.sender, body.kind])[1:]  # fields before the nonce
    at = 1 + len(head)
    assert canonical[1:at] == head and canonical[at] == body.nonce < 128
    return canonical[:at] + b"\xcf" + body.nonce.to_bytes(8, "big") + canonical[at + 1 :]


def weak_tx() -> Transaction:
    """A signed transaction whose stamp carries fewer than STAMP_BITS bits."""
    for nonce in range(1000):
        tx = make_tx(nonce=nonce, stamp_bits_min=0)
        if not stamp_ok(tx.body_bytes, STAMP_BITS):
            return tx
    raise AssertionError("no weak stamp found")


def advanced(height: int, **limits: int) -> Dag:
    """A DAG whose checkpoints have reached height (empty checkpoints)."""
    dag = new_dag(**limits)
    for h in range(1, height + 1):
        dag.cover(dag.order_new(dag.uncovered_tips()), h)
    return dag


# -- one crafted input per rejection reason -----------------------------------
def case_too_large() -> tuple[Dag, bytes]:
    return new_dag(), make_tx(payload=bytes(70_000)).to_wire()


def case_body_too_large() -> tuple[Dag, bytes]:
    return new_dag(), make_tx(chain_id="c" * 800).to_wire()


def case_garbage() -> tuple[Dag, bytes]:
    return new_dag(), b"\xc1 definitely not msgpack"


def case_empty() -> tuple[Dag, bytes]:
    return new_dag(), b""


def case_wide_int_in_body() -> tuple[Dag, bytes]:
    body = make_tx(nonce=5).body
    wide = widen_nonce(body)
    assert BODY_DECODER.decode(wide) == body  # same value, only the encoding differs
    return new_dag(), wire(wide, sign_body(wide), b"hello")


def case_wide_array_header() -> tuple[Dag, bytes]:
    w = make_tx().to_wire()
    assert w[0] == 0x93  # fixarray of 3
    return new_dag(), b"\xdc\x00\x03" + w[1:]  # array16 of 3: same value


def case_trailing_bytes() -> tuple[Dag, bytes]:
    return new_dag(), make_tx().to_wire() + b"\x00"


def case_short_signature() -> tuple[Dag, bytes]:
    tx = make_tx()
    return new_dag(), wire(tx.body_bytes, tx.signature[:63], tx.payload)


def case_negative_nonce() -> tuple[Dag, bytes]:
    return new_dag(), crafted(nonce=-1)


def case_wrong_chain() -> tuple[Dag, bytes]:
    return new_dag(), make_tx(chain_id="other-chain").to_wire()


def case_unknown_kind() -> tuple[Dag, bytes]:
    return new_dag(), make_tx(kind="mint").to_wire()


def case_no_parents() -> tuple[Dag, bytes]:
    return new_dag(), make_tx(parents=[]).to_wire()


def case_nine_parents() -> tuple[Dag, bytes]:
    many = [hashlib.sha256(bytes([i])).digest() for i in range(9)]
    return new_dag(), make_tx(parents=many).to_wire()


def case_unsorted_parents() -> tuple[Dag, bytes]:
    a, b = sorted([GENESIS, hashlib.sha256(b"x").digest()])
    return new_dag(), crafted(parents=(b, a))


def case_duplicate_parents() -> tuple[Dag, bytes]:
    return new_dag(), crafted(parents=(GENESIS, GENESIS))


def case_short_parent_id() -> tuple[Dag, bytes]:
    return new_dag(), crafted(parents=(GENESIS[:31],))


def case_payload_hash_mismatch() -> tuple[Dag, bytes]:
    tx = make_tx(payload=b"hello")
    return new_dag(), wire(tx.body_bytes, tx.signature, b"jello")


def case_payload_len_mismatch() -> tuple[Dag, bytes]:
    tx = make_tx(payload=b"hello")
    return new_dag(), wire(tx.body_bytes, tx.signature, b"hello!")


def case_identity_sender() -> tuple[Dag, bytes]:
    return new_dag(), crafted(sender=IDENTITY_KEY)


def case_order2_sender() -> tuple[Dag, bytes]:
    return new_dag(), crafted(sender=(P - 1).to_bytes(32, "little"))


def case_noncanonical_sender() -> tuple[Dag, bytes]:
    return new_dag(), crafted(sender=(P + 2).to_bytes(32, "little"))


def case_expired() -> tuple[Dag, bytes]:
    return advanced(5), make_tx(valid_until=4).to_wire()


def case_validity_too_far() -> tuple[Dag, bytes]:
    dag = advanced(3)
    return dag, make_tx(valid_until=3 + dag.limits.validity_window_heights_max + 1).to_wire()


def case_weak_stamp() -> tuple[Dag, bytes]:
    return new_dag(), weak_tx().to_wire()


def case_duplicate() -> tuple[Dag, bytes]:
    dag, tx = new_dag(), make_tx()
    dag.admit(tx.to_wire(), 0)
    return dag, tx.to_wire()


def case_duplicate_orphan() -> tuple[Dag, bytes]:
    dag, tx = new_dag(), make_tx(parents=[hashlib.sha256(b"unseen").digest()])
    dag.admit(tx.to_wire(), 0)
    return dag, tx.to_wire()


def case_quota_exceeded() -> tuple[Dag, bytes]:
    dag = new_dag(sender_pending_max=2)
    first = make_tx(nonce=0)
    dag.admit(first.to_wire(), 0)
    dag.admit(make_tx(nonce=1, parents=[first.id]).to_wire(), 0)
    return dag, make_tx(nonce=2, parents=[GENESIS]).to_wire()


def case_signed_by_another_key() -> tuple[Dag, bytes]:
    return new_dag(), crafted(signer=BOB)


def case_tampered_signature() -> tuple[Dag, bytes]:
    tx = make_tx()
    sig = tx.signature[:40] + bytes([tx.signature[40] ^ 1]) + tx.signature[41:]
    return new_dag(), wire(tx.body_bytes, sig, tx.payload)


def case_orphan_pool_full() -> tuple[Dag, bytes]:
    dag = new_dag(orphans_count_max=1)
    dag.admit(make_tx(parents=[hashlib.sha256(b"a").digest()]).to_wire(), 0)
    return dag, make_tx(BOB, parents=[hashlib.sha256(b"b").digest()]).to_wire()


def case_pool_full() -> tuple[Dag, bytes]:
    dag = new_dag(pending_count_max=1, client_pending_max=1)
    dag.admit(make_tx(parents=[GENESIS]).to_wire(), 0)
    return dag, make_tx(BOB, parents=[GENESIS]).to_wire()


CASES: list[tuple[Reject, Callable[[], tuple[Dag, bytes]]]] = [
    (Reject.TOO_LARGE, case_too_large),
    (Reject.TOO_LARGE, case_body_too_large),
    (Reject.MALFORMED, case_garbage),
    (Reject.MALFORMED, case_empty),
    (Reject.MALFORMED, case_wide_int_in_body),
    (Reject.MALFORMED, case_wide_array_header),
    (Reject.MALFORMED, case_trailing_bytes),
    (Reject.MALFORMED, case_short_signature),
    (Reject.MALFORMED, case_negative_nonce),
    (Reject.WRONG_CHAIN, case_wrong_chain),
    (Reject.UNKNOWN_KIND, case_unknown_kind),
    (Reject.BAD_PARENTS, case_no_parents),
    (Reject.BAD_PARENTS, case_nine_parents),
    (Reject.BAD_PARENTS, case_unsorted_parents),
    (Reject.BAD_PARENTS, case_duplicate_parents),
    (Reject.BAD_PARENTS, case_short_parent_id),
    (Reject.BAD_PAYLOAD, case_payload_hash_mismatch),
    (Reject.BAD_PAYLOAD, case_payload_len_mismatch),
    (Reject.BAD_KEY, case_identity_sender),
    (Reject.BAD_KEY, case_order2_sender),
    (Reject.BAD_KEY, case_noncanonical_sender),
    (Reject.EXPIRED, case_expired),
    (Reject.VALIDITY_TOO_FAR, case_validity_too_far),
    (Reject.WEAK_STAMP, case_weak_stamp),
    (Reject.DUPLICATE, case_duplicate),
    (Reject.DUPLICATE, case_duplicate_orphan),
    (Reject.QUOTA_EXCEEDED, case_quota_exceeded),
    (Reject.BAD_SIGNATURE, case_signed_by_another_key),
    (Reject.BAD_SIGNATURE, case_tampered_signature),
    (Reject.ORPHAN_POOL_FULL, case_orphan_pool_full),
    (Reject.POOL_FULL, case_pool_full),
]


# -- tests -----------------------------------------------------------------
def test_every_reason_has_a_case() -> None:
    assert {reason for reason, _ in CASES} == set(Reject) - SHELL_REASONS


@pytest.mark.parametrize(
    ("expected", "case"), CASES, ids=[c.__name__.removeprefix("case_") for _, c in CASES]
)
def test_rejection_reason_and_nothing_changes(
    expected: Reject, case: Callable[[], tuple[Dag, bytes]]
) -> None:
    dag, data = case()
    before = snapshot(dag)
    assert reason_of(dag, data) == expected
    assert snapshot(dag) == before
    # A refused transaction can be refused again, with the same reason.
    assert reason_of(dag, data) == expected


def test_valid_transaction_is_admitted_as_a_tip() -> None:
    dag, tx = new_dag(), make_tx()
    got = dag.admit(tx.to_wire(), 0)
    assert ids(got.added) == [tx.id]
    assert got.missing == ()
    assert dag.has(tx.id) and dag.get(tx.id) == tx
    assert list(dag.tips) == [tx.id]
    assert dag.uncovered_tips() == [tx.id]


def test_the_admitted_kinds_are_the_limits_kinds() -> None:
    # A node running an application admits its registry's kinds (Registry.dag_limits);
    # a kind outside them is refused exactly as before.
    note = make_tx(kind="tally.note")
    assert reason_of(new_dag(), note.to_wire()) == Reject.UNKNOWN_KIND
    dag = new_dag(kinds=KINDS | {"tally.note"})
    assert ids(dag.admit(note.to_wire(), 0).added) == [note.id]
    assert reason_of(dag, make_tx(BOB, kind="mint").to_wire()) == Reject.UNKNOWN_KIND
    with pytest.raises(ValueError, match="kind_bytes_max"):
        DagLimits(kinds=frozenset({"k" * 33}))


def test_validity_window_bounds() -> None:
    dag = advanced(5)
    dag.admit(make_tx(valid_until=6).to_wire(), 0)
    dag.admit(make_tx(BOB, valid_until=5 + dag.limits.validity_window_heights_max).to_wire(), 0)
    assert len(dag.vertices) == 2


def test_a_transaction_that_can_no_longer_execute_is_expired() -> None:
    # Height 5 is final, so the earliest checkpoint that can cover this is 6, where
    # execution rejects it as expired (Ledger._apply: valid_until < height).
    assert reason_of(advanced(5), make_tx(valid_until=5).to_wire()) == Reject.EXPIRED


def test_quota_frees_up_once_covered() -> None:
    dag = new_dag(sender_pending_max=1)
    first = make_tx(nonce=0)
    dag.admit(first.to_wire(), 0)
    second = make_tx(nonce=1, parents=[first.id])
    assert reason_of(dag, second.to_wire()) == Reject.QUOTA_EXCEEDED
    dag.admit(make_tx(BOB).to_wire(), 0)  # another sender is not affected
    dag.cover(dag.order_new(dag.uncovered_tips()), 1)
    dag.admit(second.to_wire(), 0)
    assert dag.has(second.id)


def test_orphan_is_parked_then_released_with_its_parent() -> None:
    dag = new_dag()
    parent = make_tx(nonce=0)
    child = make_tx(nonce=1, parents=[parent.id])
    got = dag.admit(child.to_wire(), 0)
    assert got.added == ()
    assert got.missing == (parent.id,)
    assert dag.orphan_count() == 1
    assert not dag.has(child.id)
    assert dag.missing([parent.id, GENESIS]) == [parent.id]

    got = dag.admit(parent.to_wire(), 5)
    assert ids(got.added) == [parent.id, child.id]
    assert got.missing == ()
    assert dag.orphan_count() == 0
    assert dag.has(child.id)
    assert list(dag.tips) == [child.id]


def test_orphan_chain_is_released_parents_first() -> None:
    dag = new_dag()
    a = make_tx(nonce=0)
    b = make_tx(nonce=1, parents=[a.id])
    c = make_tx(nonce=2, parents=[b.id])
    d = make_tx(BOB, parents=[a.id, c.id])
    for tx in (d, c, b):
        assert dag.admit(tx.to_wire(), 0).added == ()
    assert dag.orphan_count() == 3
    got = dag.admit(a.to_wire(), 0)
    assert ids(got.added) == [a.id, b.id, c.id, d.id]
    assert dag.orphan_count() == 0
    assert list(dag.tips) == [d.id]


def test_orphan_waiting_for_two_parents_needs_both() -> None:
    dag = new_dag()
    a, b = make_tx(ALICE), make_tx(BOB)
    child = make_tx(SigningKey.from_label("carol"), parents=[a.id, b.id])
    assert set(dag.admit(child.to_wire(), 0).missing) == {a.id, b.id}
    assert ids(dag.admit(a.to_wire(), 0).added) == [a.id]
    assert dag.orphan_count() == 1
    assert ids(dag.admit(b.to_wire(), 0).added) == [b.id, child.id]


def test_orphans_expire_after_their_ttl() -> None:
    dag = new_dag(orphan_ttl_ms=1_000)
    parent = make_tx(nonce=0)
    child = make_tx(nonce=1, parents=[parent.id])
    dag.admit(child.to_wire(), 10_000)
    assert dag.expire_orphans(10_999) == 0
    assert dag.orphan_count() == 1
    assert dag.expire_orphans(11_000) == 1
    assert dag.orphan_count() == 0
    # The parent now arrives alone; the expired child is gone, not released.
    got = dag.admit(parent.to_wire(), 11_001)
    assert ids(got.added) == [parent.id]
    assert not dag.has(child.id)
    # The child may be sent again, and now enters directly.
    assert ids(dag.admit(child.to_wire(), 11_002).added) == [child.id]


def test_expired_orphans_free_the_pool_and_the_quota() -> None:
    dag = new_dag(orphans_count_max=1, sender_pending_max=1, orphan_ttl_ms=100)
    dag.admit(make_tx(parents=[hashlib.sha256(b"a").digest()]).to_wire(), 0)
    later = make_tx(parents=[hashlib.sha256(b"b").digest()])
    assert reason_of(dag, later.to_wire(), 50) == Reject.QUOTA_EXCEEDED
    assert dag.expire_orphans(100) == 1
    assert dag.admit(later.to_wire(), 100).missing == (hashlib.sha256(b"b").digest(),)


VALID_WIRE = make_tx().to_wire()
MUTABLE_OFFSETS = list(range(len(VALID_WIRE)))


@settings(database=None, deadline=None)
@given(st.binary(max_size=1_500))
def test_random_bytes_only_raise_admission_error(data: bytes) -> None:
    dag = new_dag()
    before = snapshot(dag)
    with pytest.raises(AdmissionError):
        dag.admit(data, 0)
    assert snapshot(dag) == before


@settings(database=None, deadline=None)
@given(st.sampled_from(MUTABLE_OFFSETS), st.integers(0, 255))
def test_mutated_wire_only_raises_admission_error(at: int, value: int) -> None:
    data = VALID_WIRE[:at] + bytes([value]) + VALID_WIRE[at + 1 :]
    dag = new_dag()
    try:
        dag.admit(data, 0)
    except AdmissionError:
        assert dag.vertices == {}
    else:
        assert data == VALID_WIRE  # only the untouched transaction gets in


def _with_string_byte(field: str) -> bytes:
    """A well-formed, signed wire whose chain_id or kind holds the byte 0x80 (not UTF-8)."""
    tx = make_tx()
    good = encode(CHAIN if field == "chain_id" else "record")  # fixstr header + text
    bad = good[:1] + b"\x80" + good[2:]
    body_bytes = tx.body_bytes.replace(good, bad, 1)
    assert body_bytes != tx.body_bytes
    return wire(body_bytes, sign_body(body_bytes), tx.payload)


@pytest.mark.parametrize("field", ["chain_id", "kind"])
def test_invalid_utf8_in_a_string_field_is_malformed(field: str) -> None:
    assert reason_of(new_dag(), _with_string_byte(field)) == Reject.MALFORMED


def test_tx_id_is_hash_of_body_and_signature() -> None:
    tx = make_tx()
    assert tx.id == tx_id(tx.body_bytes, tx.signature)
    assert make_tx(payload=b"other").id != tx.id


def test_clients_are_refused_before_peers_when_many_are_pending() -> None:
    dag = new_dag(client_pending_max=1, pending_count_max=2)
    dag.admit(make_tx(parents=[GENESIS]).to_wire(), 0)
    assert dag.client_pool_full()
    late = make_tx(BOB, parents=[GENESIS])
    with pytest.raises(AdmissionError) as refused:
        dag.admit(late.to_wire(), 0)
    assert refused.value.reason is Reject.POOL_FULL
    # The same transaction gossiped by a peer still gets in, up to the hard cap.
    assert dag.admit_tx(late, 0).added == (late,)
    with pytest.raises(AdmissionError) as full:
        dag.admit_tx(make_tx(CAROL, parents=[GENESIS]), 0)
    assert full.value.reason is Reject.POOL_FULL


def test_client_pending_max_must_not_exceed_the_hard_cap() -> None:
    with pytest.raises(ValueError, match="client_pending_max"):
        DagLimits(client_pending_max=10, pending_count_max=5)


def test_a_withheld_payload_with_a_negative_length_is_malformed() -> None:
    """Found by fuzz/targets/tx_wire: a header with payload_len -1 passed as a withheld
    record's (its check only asked for a length that is not 0); no admission would take it."""
    body_bytes = stamped(msgspec.structs.replace(make_tx().body, payload_len=-1))
    w = decode_wire(
        wire(body_bytes, sign_body(body_bytes), b""), DagLimits(stamp_bits_min=STAMP_BITS)
    )
    with pytest.raises(AdmissionError) as info:
        check_wire(w, CHAIN, DagLimits(stamp_bits_min=STAMP_BITS), payload_withheld=True)
    assert info.value.reason == Reject.MALFORMED
