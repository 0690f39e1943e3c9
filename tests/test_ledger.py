"""Execution of the final order: transfers, nonces, validator changes, receipts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.codec import encode
from govchain.consensus.validators import ValidatorSet
from govchain.crypto import merkle
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import Transaction
from govchain.state.ledger import Ledger
from govchain.state.payloads import AddValidator, ProposePayload, RemoveValidator, TransferPayload
from govchain.state.receipts import Receipt, Status, prove, receipts_root
from ledgerkit import (
    ALICE,
    BOB,
    CAROL,
    R0,
    VALIDATORS,
    Chain,
    genesis,
    outcomes,
    record_payload,
    tx,
    valset,
)


# -- helpers ---------------------------------------------------------------
def transfer(
    key: SigningKey, to: SigningKey | bytes, amount: int, nonce: int = 0, valid_until: int = 10_000
) -> Transaction:
    address = to.address if isinstance(to, SigningKey) else to
    return tx(key, nonce, "transfer", encode(TransferPayload(address, amount)), valid_until)


def record(key: SigningKey, nonce: int = 0, valid_until: int = 10_000) -> Transaction:
    return tx(key, nonce, "record", record_payload(b"a data record"), valid_until)


def propose_alone(action: AddValidator | RemoveValidator, nonce: int = 0) -> Transaction:
    """A proposal from R0 that no one else votes on: it stays open."""
    return tx(R0, nonce, "gov.propose", encode(ProposePayload(action, "why", b"")))


def fresh(balances: dict[SigningKey, int] | None = None) -> Ledger:
    return Ledger(genesis(balances))


def at_height(height: int) -> Ledger:
    """A ledger that has executed empty checkpoints up to height."""
    ledger = fresh()
    for h in range(1, height + 1):
        ledger.execute(h, [])
    return ledger


# -- transfers and supply ---------------------------------------------------
def test_transfer_moves_balance_and_conserves_supply() -> None:
    ledger = fresh()
    result = ledger.execute(1, [transfer(ALICE, BOB, 30), transfer(BOB, CAROL, 70)])
    assert outcomes(result) == ["executed", "executed"]
    assert ledger.balance(ALICE.address) == 70
    assert ledger.balance(BOB.address) == 10
    assert ledger.balance(CAROL.address) == 70
    assert ledger.total_supply() == genesis().supply == 150


def test_transfer_of_the_whole_balance_and_to_oneself() -> None:
    ledger = fresh()
    result = ledger.execute(1, [transfer(ALICE, ALICE, 100, 0), transfer(ALICE, BOB, 100, 1)])
    assert outcomes(result) == ["executed", "executed"]
    assert ledger.balance(ALICE.address) == 0
    assert ledger.balance(BOB.address) == 150
    assert ledger.total_supply() == 150


def test_insufficient_funds_moves_nothing_but_spends_the_nonce() -> None:
    ledger = fresh()
    result = ledger.execute(
        1, [transfer(ALICE, BOB, 101, 0), transfer(ALICE, BOB, 1, 0), transfer(ALICE, BOB, 1, 1)]
    )
    assert outcomes(result) == ["insufficient_funds", "conflict", "executed"]
    assert ledger.balance(ALICE.address) == 99
    assert ledger.balance(BOB.address) == 51


def test_unfunded_sender_cannot_transfer() -> None:
    result = fresh().execute(1, [transfer(CAROL, ALICE, 1)])
    assert outcomes(result) == ["insufficient_funds"]


@pytest.mark.parametrize("amount", [0, -1, -100, 2**63])
def test_bad_amount(amount: int) -> None:
    ledger = fresh()
    assert outcomes(ledger.execute(1, [transfer(ALICE, BOB, amount)])) == ["bad_amount"]
    assert ledger.balance(ALICE.address) == 100
    assert ledger.total_supply() == 150


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not msgpack at all",
        encode([ALICE.address]),  # a field missing
        encode([ALICE.address, 5, 6]),  # a field too many
        encode(TransferPayload(ALICE.address[:19], 5)),  # a 19-byte address
        encode(["to", 5]),  # a string, not bytes
        b"\x92\xc4\x14" + BOB.address + b"\xd0\x05",  # 5 as an int8: not canonical
    ],
    ids=["empty", "garbage", "short", "long", "short-address", "str-address", "wide-int"],
)
def test_malformed_transfer_payload(payload: bytes) -> None:
    ledger = fresh()
    assert outcomes(ledger.execute(1, [tx(ALICE, 0, "transfer", payload)])) == ["malformed_payload"]
    assert ledger.balance(ALICE.address) == 100


# -- nonces ------------------------------------------------------------------
def test_two_transfers_with_one_nonce_first_in_order_wins() -> None:
    first, second = transfer(ALICE, BOB, 10, 0), transfer(ALICE, CAROL, 20, 0)
    ledger = fresh()
    assert outcomes(ledger.execute(1, [first, second])) == ["executed", "conflict"]
    assert ledger.balance(BOB.address) == 60
    assert ledger.balance(CAROL.address) == 0

    ledger = fresh()
    assert outcomes(ledger.execute(1, [second, first])) == ["executed", "conflict"]
    assert ledger.balance(BOB.address) == 50
    assert ledger.balance(CAROL.address) == 20


def test_old_nonce_in_a_later_checkpoint_is_a_conflict() -> None:
    ledger = fresh()
    ledger.execute(1, [transfer(ALICE, BOB, 10, 0)])
    assert outcomes(ledger.execute(2, [transfer(ALICE, CAROL, 10, 0)])) == ["conflict"]
    assert ledger.balance(CAROL.address) == 0


def test_nonce_gap_is_rejected_without_spending_the_nonce() -> None:
    ledger = fresh()
    result = ledger.execute(1, [transfer(ALICE, BOB, 10, 1), transfer(ALICE, BOB, 5, 0)])
    assert outcomes(result) == ["nonce_gap", "executed"]
    assert ledger.balance(BOB.address) == 55
    # The rejection is final; a new transaction with nonce 1 now fits.
    assert outcomes(ledger.execute(2, [transfer(ALICE, BOB, 11, 1)])) == ["executed"]
    assert ledger.balance(BOB.address) == 66


# -- validity, records -------------------------------------------------------
def test_expired_transaction_is_rejected() -> None:
    ledger = at_height(2)
    result = ledger.execute(3, [transfer(ALICE, BOB, 10, 0, valid_until=2), record(BOB, 0, 3)])
    assert outcomes(result) == ["expired", "executed"]
    assert ledger.balance(BOB.address) == 50
    # The expired transaction did not spend alice's nonce.
    assert outcomes(ledger.execute(4, [transfer(ALICE, BOB, 10, 0)])) == ["executed"]


def test_record_executes_and_spends_a_nonce_only() -> None:
    ledger = fresh()
    result = ledger.execute(1, [record(CAROL, 0), record(CAROL, 0), record(CAROL, 1)])
    assert outcomes(result) == ["executed", "conflict", "executed"]
    assert ledger.balance(CAROL.address) == 0
    assert ledger.total_supply() == 150


# -- validator changes (through governance) -----------------------------------
def test_a_validator_change_from_outside_the_committee_is_not_authorized() -> None:
    ledger = fresh()
    payload = encode(ProposePayload(AddValidator(ALICE.public_key), "me", b""))
    result = ledger.execute(1, [tx(ALICE, 0, "gov.propose", payload)])
    assert outcomes(result) == ["not_authorized"]
    assert ledger.validator_set(3) == genesis().validators


def test_the_old_validators_kind_is_gone() -> None:
    ledger = fresh()
    result = ledger.execute(1, [tx(R0, 0, "validators", encode(valset([ALICE])))])
    assert outcomes(result) == ["unknown_kind"]


def test_a_passed_validator_change_applies_two_heights_after_enactment() -> None:
    chain = Chain()
    ledger = chain.ledger
    old = genesis().validators
    new = ValidatorSet.of({**{k.public_key: 1 for k in VALIDATORS}, ALICE.public_key: 1})
    assert ledger.validator_set(1) == ledger.validator_set(2) == old
    assert ledger.validator_set(3) is None

    chain.decide(AddValidator(ALICE.public_key))  # enacted at the end of height 1
    assert ledger.validator_set(1) == ledger.validator_set(2) == old
    assert ledger.validator_set(3) == new
    assert ledger.validator_set(4) is None

    chain.run()
    assert ledger.validator_set(4) == new
    assert ledger.validator_set(5) is None


def test_add_validator_on_a_member_sets_its_weight_and_remove_takes_it_out() -> None:
    chain = Chain()
    heavy = VALIDATORS[0].public_key
    chain.decide(AddValidator(heavy, 2))
    assert chain.ledger.validator_set(3).weight_of(heavy) == 2  # type: ignore[union-attr]
    chain.decide(RemoveValidator(heavy))
    assert chain.ledger.validator_set(3).weight_of(heavy) == 2  # type: ignore[union-attr]
    assert chain.ledger.validator_set(4) == valset(VALIDATORS[1:])


def test_a_later_change_overrides_only_from_its_own_start() -> None:
    chain = Chain()
    chain.decide(RemoveValidator(VALIDATORS[0].public_key))
    chain.decide(RemoveValidator(VALIDATORS[1].public_key))
    assert chain.ledger.validator_set(2) == genesis().validators
    assert chain.ledger.validator_set(3) == valset(VALIDATORS[1:])
    assert chain.ledger.validator_set(4) == valset(VALIDATORS[2:])


@pytest.mark.parametrize(
    "action",
    [
        AddValidator(b"\x01" + bytes(31)),  # the identity point as a key
        AddValidator(ALICE.public_key[:31]),
        AddValidator(ALICE.public_key, 0),
        AddValidator(ALICE.public_key, 10**7),
        RemoveValidator(b"short"),
    ],
    ids=["small-order-key", "short-key", "zero-weight", "huge-weight", "short-remove"],
)
def test_a_bad_validator_argument_rejects_the_proposal(
    action: AddValidator | RemoveValidator,
) -> None:
    ledger = fresh()
    assert outcomes(ledger.execute(1, [propose_alone(action)])) == ["bad_argument"]
    assert ledger.proposals() == []


def test_removing_the_last_validator_is_a_no_op_with_a_reason() -> None:
    chain = Chain()
    for v in VALIDATORS[:3]:
        chain.decide(RemoveValidator(v.public_key))
    last = chain.decide(RemoveValidator(VALIDATORS[3].public_key))
    assert last.status == "passed"
    assert last.outcome.startswith("remove-validator: no-op")
    assert chain.ledger.validator_set(chain.ledger.height + 2) == valset(VALIDATORS[3:])


# -- determinism and state hash ----------------------------------------------
def batches() -> list[list[Transaction]]:
    return [
        [transfer(ALICE, BOB, 10, 0), record(CAROL, 0), transfer(BOB, CAROL, 5, 0)],
        [transfer(ALICE, CAROL, 1, 1), propose_alone(AddValidator(ALICE.public_key))],
        [],
        [transfer(CAROL, ALICE, 6, 1), transfer(CAROL, ALICE, 1, 9)],
    ]


def test_same_inputs_give_the_same_state_hash() -> None:
    a, b = fresh(), fresh()
    for h, batch in enumerate(batches(), start=1):
        ra, rb = a.execute(h, batch), b.execute(h, batch)
        assert ra == rb
        assert a.state_hash == b.state_hash == ra.state_hash
        assert a.receipts_root == b.receipts_root == ra.receipts_root
    assert a.total_supply() == 150


def test_state_hash_changes_with_every_height() -> None:
    ledger = fresh()
    seen = {ledger.state_hash}
    for h, batch in enumerate(batches(), start=1):
        seen.add(ledger.execute(h, batch).state_hash)
    assert len(seen) == len(batches()) + 1


def test_an_order_that_changes_the_outcome_changes_the_state_hash() -> None:
    to_bob, to_carol = transfer(ALICE, BOB, 80, 0), transfer(ALICE, CAROL, 80, 0)
    a, b = fresh(), fresh()
    ra, rb = a.execute(1, [to_bob, to_carol]), b.execute(1, [to_carol, to_bob])
    assert a.balance(BOB.address) != b.balance(BOB.address)
    assert ra.state_hash != rb.state_hash
    assert ra.receipts_root != rb.receipts_root


def test_different_genesis_gives_a_different_state_hash() -> None:
    assert fresh().state_hash != fresh({ALICE: 100, BOB: 51}).state_hash


# -- receipts ------------------------------------------------------------------
def test_receipts_describe_the_order_and_root_is_their_merkle_root() -> None:
    ledger = at_height(4)
    txs = [transfer(ALICE, BOB, 10, 0), transfer(ALICE, BOB, 10, 0), record(BOB, 3)]
    result = ledger.execute(5, txs)
    assert [r.tx_id for r in result.receipts] == [t.id for t in txs]
    assert [r.index for r in result.receipts] == [0, 1, 2]
    assert {r.height for r in result.receipts} == {5}
    assert [r.status for r in result.receipts] == ["executed", "rejected", "rejected"]
    assert [r.reason for r in result.receipts] == [None, "conflict", "nonce_gap"]
    assert result.receipts_root == receipts_root(result.receipts) == ledger.receipts_root


def test_empty_checkpoint_has_the_empty_receipts_root() -> None:
    ledger = fresh()
    assert ledger.execute(1, []).receipts_root == merkle.EMPTY_ROOT


@pytest.mark.parametrize("count", [1, 2, 3, 7, 8, 9])
def test_every_receipt_is_provable(count: int) -> None:
    ledger = fresh()
    txs = [record(CAROL, i) for i in range(count)]
    result = ledger.execute(1, txs)
    leaves = [r.leaf() for r in result.receipts]
    for i, receipt in enumerate(result.receipts):
        path = merkle.inclusion_proof(leaves, i)
        assert merkle.verify_inclusion(receipt.leaf(), i, count, path, result.receipts_root)
        if count > 1:
            other = result.receipts[(i + 1) % count]
            assert not merkle.verify_inclusion(other.leaf(), i, count, path, result.receipts_root)


# -- a property ----------------------------------------------------------------
KEYS = [ALICE, BOB, CAROL]


@settings(database=None, deadline=None, max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2),  # sender
            st.integers(0, 2),  # recipient
            st.integers(-5, 120),  # amount
            st.integers(0, 4),  # nonce
        ),
        max_size=12,
    )
)
def test_supply_is_conserved_and_balances_stay_non_negative(
    moves: list[tuple[int, int, int, int]],
) -> None:
    ledger = fresh()
    txs = [transfer(KEYS[s], KEYS[r], amount, nonce) for s, r, amount, nonce in moves]
    result = ledger.execute(1, txs)
    assert len(result.receipts) == len(txs)
    assert ledger.total_supply() == 150
    assert all(ledger.balance(k.address) >= 0 for k in KEYS)
    again = fresh()
    assert again.execute(1, txs).state_hash == result.state_hash


def test_every_receipt_has_a_proof_under_the_receipts_root() -> None:
    receipts = [
        Receipt(bytes([i]) * 32, 7, i, Status.EXECUTED.value if i % 3 else "rejected")
        for i in range(11)
    ]
    root = receipts_root(receipts)
    for i in range(len(receipts)):
        proof = prove(receipts, i)
        assert proof.verify(root)
        assert not proof.verify(receipts_root(receipts[:-1]))
