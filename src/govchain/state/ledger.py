"""The execution state machine: accounts, transfers, validator schedule, state hash.

Pure and deterministic: no clock (time is the checkpoint's), no floats, and no
iteration over unordered containers where order could leak into a result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from govchain.codec import DecodeError, decode_canonical, digest, encode
from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import ADDRESS_BYTES, address_of
from govchain.dag.tx import Transaction
from govchain.state.genesis import SUPPLY_MAX, Genesis
from govchain.state.payloads import TRANSFER_DECODER, VALSET_DECODER
from govchain.state.receipts import Reason, Receipt, Status, receipts_root

STATE_DOMAIN = b"govchain:state:v1:"
# A validator-set change executed at height h certifies heights from h + this.
VALSET_DELAY_HEIGHTS = 2


@dataclass(slots=True)
class Account:
    """Balance and the next nonce the sender must use."""

    balance: int = 0
    nonce: int = 0


@dataclass(frozen=True, slots=True)
class Executed:
    """The result of executing one checkpoint's newly covered vertices."""

    height: int
    receipts: list[Receipt]
    receipts_root: bytes
    state_hash: bytes


class Ledger:
    """Account state after the last executed checkpoint."""

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.accounts: dict[bytes, Account] = {a: Account(v) for a, v in genesis.balances}
        self.height = 0
        self.state_hash = digest(STATE_DOMAIN, genesis.hash)
        self.receipts_root = receipts_root([])
        # (first height it certifies, set), ascending by height.
        self.valsets: list[tuple[int, ValidatorSet]] = [(1, genesis.validators)]

    def validator_set(self, height: int) -> ValidatorSet | None:
        """The set certifying height, once execution has gone far enough to know it."""
        if height > self.height + VALSET_DELAY_HEIGHTS:
            return None
        chosen = self.valsets[0][1]
        for start, vs in self.valsets:
            if start <= height:
                chosen = vs
        return chosen

    def balance(self, address: bytes) -> int:
        """Balance of an address (0 when unknown)."""
        acct = self.accounts.get(address)
        return acct.balance if acct is not None else 0

    def execute(self, height: int, txs: Sequence[Transaction]) -> Executed:
        """Apply a checkpoint's vertices in final order; returns receipts and the new hash."""
        assert height == self.height + 1, (height, self.height)
        touched: dict[bytes, None] = {}
        receipts: list[Receipt] = []
        for index, tx in enumerate(txs):
            reason = self._apply(tx, height, touched)
            status = Status.EXECUTED if reason is None else Status.REJECTED
            receipts.append(
                Receipt(tx.id, height, index, status.value, reason.value if reason else None)
            )
        writes = [[a, self.accounts[a].balance, self.accounts[a].nonce] for a in sorted(touched)]
        self.state_hash = digest(
            STATE_DOMAIN, self.state_hash, encode([height, writes, self.valsets])
        )
        self.receipts_root = receipts_root(receipts)
        self.height = height
        return Executed(height, receipts, self.receipts_root, self.state_hash)

    def _apply(self, tx: Transaction, height: int, touched: dict[bytes, None]) -> Reason | None:
        body = tx.body
        if body.valid_until < height:
            return Reason.EXPIRED
        sender_addr = address_of(body.sender)
        sender = self.accounts.get(sender_addr)
        expected = sender.nonce if sender is not None else 0
        if body.nonce < expected:
            return Reason.CONFLICT
        if body.nonce > expected:
            return Reason.NONCE_GAP
        if sender is None:
            sender = self.accounts[sender_addr] = Account()
        # The nonce is spent from here on, whatever the outcome.
        sender.nonce += 1
        touched[sender_addr] = None
        if body.kind == "transfer":
            return self._transfer(sender, tx.payload, touched)
        if body.kind == "validators":
            return self._change_validators(tx, height)
        return None  # a data record: final and executed, no state beyond the nonce

    def _transfer(
        self, sender: Account, payload: bytes, touched: dict[bytes, None]
    ) -> Reason | None:
        try:
            t = decode_canonical(payload, TRANSFER_DECODER)
        except DecodeError:
            return Reason.MALFORMED_PAYLOAD
        if len(t.to) != ADDRESS_BYTES:
            return Reason.MALFORMED_PAYLOAD
        if not 0 < t.amount <= SUPPLY_MAX:
            return Reason.BAD_AMOUNT
        if sender.balance < t.amount:
            return Reason.INSUFFICIENT_FUNDS
        sender.balance -= t.amount
        self.accounts.setdefault(t.to, Account()).balance += t.amount
        touched[t.to] = None
        return None

    def _change_validators(self, tx: Transaction, height: int) -> Reason | None:
        if tx.body.sender != self.genesis.authority:
            return Reason.NOT_AUTHORIZED
        try:
            vs = decode_canonical(tx.payload, VALSET_DECODER)
        except (DecodeError, ValueError, msgspec.ValidationError):
            return Reason.MALFORMED_PAYLOAD
        start = height + VALSET_DELAY_HEIGHTS
        self.valsets = [(h, s) for h, s in self.valsets if h < start] + [(start, vs)]
        return None

    def total_supply(self) -> int:
        """Sum of every balance: must equal the genesis supply."""
        return sum(a.balance for a in self.accounts.values())
