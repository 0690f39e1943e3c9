"""What a transition sees while it runs: the book, the chain's stores, who signed, and helpers.

Every transition checks everything first and writes only when every check passed,
so a refused transition leaves no trace but its receipt (a rejected transaction's
payload leaves the nodes, and a replay takes its outcome from the receipt).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

from govchain.apps.warehouse.book import VERSIONS_MAX, WarehouseBook
from govchain.apps.warehouse.records import Receipt, ReceiptStatus, Version
from govchain.state.funds import NAMESPACE as FUNDS
from govchain.state.funds import Funds
from govchain.state.params import Params
from govchain.state.registry import TxContext

NUMBER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # receipt numbers, lot ids
NAME_CHARS_MAX = 128

# Roles (granted by grant-role) each party must hold.
ROLE_WAREHOUSE = "warehouse"
ROLE_SUPERVISOR = "supervisor"
ROLE_DEPOSITOR = "depositor"
ROLE_BANK = "bank"
ROLE_ORACLE = "oracle"
ROLE_INSPECTOR = "inspector"


class RefusedError(Exception):
    """A transition's check failed; reason is the receipt's reason ("wr_...")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def refuse(reason: str) -> RefusedError:
    """A refusal with the reason code (callers raise it)."""
    return RefusedError(f"wr_{reason}")


@dataclass(slots=True)
class Env:
    """One transition's context: the height's stores, the book, the sender and the signers."""

    ctx: TxContext
    book: WarehouseBook
    sender: bytes  # the address whose transaction runs the transition now
    tx_id: bytes
    offer: bytes  # the opening transaction's id (this one's, for a one-party transition)
    signers: tuple[bytes, ...]  # who signed it, opener first
    opened: int  # the height its offer opened (this height for a one-party transition)
    executing: bool  # False while only opening an offer: evidence is checked at execution

    @property
    def height(self) -> int:
        """The height executing."""
        return self.ctx.height

    @property
    def params(self) -> Params:
        """The parameters in force."""
        return self.ctx.stores.params

    # -- parties -----------------------------------------------------------------------
    def need_role(self, address: bytes, role: str) -> None:
        """Refuse unless address holds role."""
        if not self.ctx.stores.identities.has_role(address, role):
            raise refuse(f"needs_role_{role}")

    def need_identified(self, address: bytes, who: str) -> None:
        """Refuse unless address is identified (tier >= 1), not revoked and not frozen."""
        ids = self.ctx.stores.identities
        reg = ids.registered.get(address)
        if reg is None or reg.tier < 1 or reg.revoked:
            raise refuse(f"{who}_not_identified")
        if address in ids.frozen:
            raise refuse(f"{who}_frozen")

    # -- receipts ----------------------------------------------------------------------
    def receipt(self, number: str) -> Receipt:
        """A valid receipt, or a refusal."""
        r = self.book.receipts.get(number)
        if r is None:
            raise refuse("unknown_receipt")
        if r.status != ReceiptStatus.VALID:
            raise refuse(f"receipt_{r.status}")
        return r

    def movable(self, r: Receipt) -> None:
        """Refuse when a governance order or an enforcement freezes the receipt."""
        if r.frozen_by:
            raise refuse("receipt_frozen")
        if r.enforcement:
            raise refuse("receipt_in_enforcement")

    def history_room(self, r: Receipt, reserve: int = 0) -> None:
        """Refuse a voluntary transition when the receipt's history is full (less reserve).

        Remedies (release, enforcement, a partial release, a cure) never check: a
        holder filling the history must not make pledged goods unenforceable.
        """
        if len(r.versions) >= VERSIONS_MAX - reserve:
            raise refuse("history_full")

    def not_ordered_out(self, r: Receipt) -> None:
        """Refuse when another open withdrawal order is taking the receipt's goods out."""
        o = self.book.withdrawal_order(r.number, self.height)
        if o is not None and o.id != self.offer:
            raise refuse("withdrawal_ordered")

    def version(
        self,
        r: Receipt,
        transition: str,
        readings: tuple[tuple[str, int], ...] = (),
        prices: tuple[tuple[str, str, int], ...] = (),
        note: str = "",
    ) -> None:
        """Append the receipt's next version (after the caller changed it) and mark it."""
        r.versions.append(
            Version(
                len(r.versions) + 1,
                self.height,
                self.tx_id,
                transition,
                self.signers,
                r.holder,
                r.controller,
                r.status,
                readings,
                prices,
                note,
            )
        )
        self.book.touch_receipt(r)

    # -- money -------------------------------------------------------------------------
    def can_pay(self, payer: bytes, amount: int) -> None:
        """Refuse unless payer may pay amount now: balance less liens, and no watch."""
        acct = self.ctx.stores.accounts.get(payer)
        balance = acct.balance if acct is not None else 0
        funds = self.ctx.stores.extensions.get(FUNDS)
        guard = cast(Funds, funds).guards.get(payer) if funds is not None else None
        frozen = guard.frozen if guard is not None else 0
        if amount > balance:
            raise refuse("insufficient_funds")
        if amount > balance - frozen:
            raise refuse("frozen_amount")
        if guard is not None and guard.watch_ref(self.height) is not None:
            raise refuse("payer_watched")

    def pay(self, payer: bytes, payee: bytes, amount: int) -> None:
        """Move amount (checked by can_pay) and record the movement for tracing."""
        if amount == 0:
            return
        accounts = self.ctx.stores.accounts
        src = accounts.open(payer)
        src.balance -= amount
        accounts.credit(payee, amount)
        self.ctx.stores.holds.moves.transfer(
            payer, payee, amount, src.balance, accounts[payee].balance
        )


def number_ok(value: str) -> bool:
    """True for a well-formed receipt number or lot id."""
    return NUMBER_PATTERN.fullmatch(value) is not None
