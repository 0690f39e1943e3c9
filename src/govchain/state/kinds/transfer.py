"""transfer: move an amount to another address; large, flagged or watched transfers are held.

Liens and watches (state/funds.py) are read through one dict, the funds
namespace's guards, holding only addresses with a lien in force or a watch;
a registry without the namespace (an application's) has neither.
"""

from __future__ import annotations

from typing import cast

import msgspec

from govchain.codec import DecodeError, decode_canonical
from govchain.crypto.keys import ADDRESS_BYTES
from govchain.dag.kinds import Kind
from govchain.dag.tx import Transaction
from govchain.state.accounts import Account
from govchain.state.funds import NAMESPACE as FUNDS
from govchain.state.funds import Funds, Guard
from govchain.state.genesis import SUPPLY_MAX
from govchain.state.identities import REVIEW_ROLE
from govchain.state.payload_base import Payload
from govchain.state.receipts import Outcome, Reason, Status, rejected
from govchain.state.registry import KindSpec, TxContext

from .holding import HoldTarget, hold

_HELD = Status.HELD.value
_MALFORMED = rejected(Reason.MALFORMED_PAYLOAD)
_BAD_AMOUNT = rejected(Reason.BAD_AMOUNT)
_INSUFFICIENT = rejected(Reason.INSUFFICIENT_FUNDS)
_FROZEN_AMOUNT = Reason.FROZEN_AMOUNT
_HELD_WATCH = Reason.HELD_WATCH.value


class TransferPayload(Payload, frozen=True):
    """Move amount from the sender's account to `to` (a 20-byte address)."""

    to: bytes
    amount: int


TRANSFER_DECODER = msgspec.msgpack.Decoder(TransferPayload)


def _held(ctx: TxContext, sender: bytes, amount: int, guard: Guard | None) -> Outcome | None:
    """The held outcome of a transfer (and the decision behind it), or None."""
    # A watch wins over review and hold_amount_min: it names the case the
    # committee is deciding, so its intercept or release is decided with it.
    if guard is not None:
        ref = guard.watch_ref(ctx.height)
        if ref is not None:
            return Outcome(_HELD, _HELD_WATCH, None, ref)
    roles = ctx.stores.identities.roles.get(sender)
    if roles is not None and REVIEW_ROLE in roles:
        return Outcome(_HELD, Reason.HELD_REVIEW.value, None, roles[REVIEW_ROLE])
    floor = ctx.hold_amount_min
    if floor is not None and amount >= floor:
        ref = ctx.stores.params.set_by("hold_amount_min")
        return Outcome(_HELD, Reason.HELD_AMOUNT.value, None, ref)
    return None


def run(ctx: TxContext, tx: Transaction, sender: bytes, acct: Account) -> Outcome | None:
    """Execute a transfer; None when it executed."""
    try:
        t = decode_canonical(tx.payload, TRANSFER_DECODER)
    except DecodeError:
        return _MALFORMED
    if len(t.to) != ADDRESS_BYTES:
        return _MALFORMED
    if not 0 < t.amount <= SUPPLY_MAX:
        return _BAD_AMOUNT
    if acct.balance < t.amount:
        return _INSUFFICIENT
    funds = ctx.stores.extensions.get(FUNDS)
    guard = cast(Funds, funds).guards.get(sender) if funds is not None else None
    if guard is not None and t.amount > acct.balance - guard.frozen:
        # No audit entry, unlike a freeze: this rejection rests on the payload,
        # which leaves every node once rejected, and a replay takes the outcome
        # from the receipt (ledger.py), so it must have no effect but the nonce.
        return rejected(_FROZEN_AMOUNT, guard.lien_ref)
    acct.balance -= t.amount
    held = _held(ctx, sender, t.amount, guard)
    moves = ctx.stores.holds.moves
    if held is not None:
        hold(ctx, tx, sender, HoldTarget(t.to, t.amount), held)
        moves.escrow(sender, tx.id, t.amount, acct.balance)
        return held
    accounts = ctx.stores.accounts
    accounts.credit(t.to, t.amount)
    # Both balances after it: a transfer to oneself leaves the sender's as it was.
    moves.transfer(sender, t.to, t.amount, acct.balance, accounts[t.to].balance)
    return None


SPEC = KindSpec(
    kind=Kind.TRANSFER,
    payload=TransferPayload,
    run=run,
    doc_payload="`TransferPayload(to, amount)`",
    doc_who="anyone",
)
