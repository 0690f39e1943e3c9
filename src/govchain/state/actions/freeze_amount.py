"""freeze-amount ADDRESS AMOUNT --trace ROOT: a lien on part of a balance (emergency too).

The lien freezes AMOUNT of the address's balance; the rest stays spendable.
The proposal cites the trace that found the money (its result_root, and the
canonical TraceCase that produced it, so `gov show` can recompute it), an
optional order hash (the court or police order) and an optional case id.
Enactment refuses an amount above the balance less the liens already in
force: the proposal passes as a no-op with words naming both.
"""

from __future__ import annotations

from typing import Any

import msgspec

from govchain.codec import HASH_BYTES, DecodeError, decode_canonical
from govchain.crypto.keys import ADDRESS_BYTES
from govchain.state.args import ArgError, CliOptions, Examples, amount_arg, hex_arg
from govchain.state.context import Stores
from govchain.state.funds import (
    AUDIT_LIEN,
    NAMESPACE,
    TRACE_CASE_BYTES_MAX,
    Funds,
    case_id_error,
)
from govchain.state.genesis import SUPPLY_MAX
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, NodeDocs, no_op
from govchain.trace.case import TraceCase, TraceError, check_case

from .targets import address_error, address_subject

NO_EFFECT = "no effect: "
_CASE_DECODER = msgspec.msgpack.Decoder(TraceCase)


class FreezeAmount(ActionArgs, frozen=True, tag="freeze-amount"):
    """A lien of amount on address's balance, citing the trace that found the money.

    trace_root: the cited trace's result_root; trace_case: the canonical
    msgpack of the TraceCase that produced it (empty: not given); order_hash:
    32 bytes or empty; case: the case id or empty.
    """

    address: bytes
    amount: int
    trace_root: bytes
    order_hash: bytes = b""
    trace_case: bytes = b""
    case: str = ""


def trace_case_error(raw: bytes) -> str | None:
    """Why raw is not a cited trace case (canonical TraceCase, bounded), or None."""
    if not raw:
        return None
    if len(raw) > TRACE_CASE_BYTES_MAX:
        return f"trace_case must be at most {TRACE_CASE_BYTES_MAX} bytes"
    try:
        check_case(decode_canonical(raw, _CASE_DECODER))
    except (DecodeError, TraceError) as exc:
        return f"trace_case is not a canonical trace case: {exc}"
    return None


def _check(a: FreezeAmount, _params: Params) -> str | None:
    if not 1 <= a.amount <= SUPPLY_MAX:
        return "amount must be a positive integer within the supply"
    if len(a.trace_root) != HASH_BYTES:
        return "trace_root must be 32 bytes"
    if len(a.order_hash) not in (0, HASH_BYTES):
        return "order_hash must be 32 bytes or empty"
    return (
        address_error(a.address)
        or case_id_error(a.case, optional=True)
        or trace_case_error(a.trace_case)
    )


def about(a: FreezeAmount) -> str:
    """What the audit entry says of the lien's grounds: case, trace root, order hash."""
    parts = [f"case {a.case}"] if a.case else []
    parts.append(f"trace {a.trace_root.hex()}")
    if a.order_hash:
        parts.append(f"order {a.order_hash.hex()}")
    return ", ".join(parts)


def _refusal(a: FreezeAmount, st: Stores, funds: Funds) -> str | None:
    """Why the lien cannot be imposed now, or None."""
    acct = st.accounts.get(a.address)
    balance = acct.balance if acct is not None else 0
    frozen = funds.frozen(a.address)
    if a.amount > balance:
        return f"the amount {a.amount} is above the balance {balance}"
    if a.amount > balance - frozen:
        return (
            f"the amount {a.amount} is above the balance {balance} less the liens in force {frozen}"
        )
    return funds.lien_room(a.address)


def _enact(a: FreezeAmount, p: Proposal, height: int, st: Stores) -> Effect:
    funds = st.namespace(NAMESPACE, Funds)
    mine = sum(s.amount for s in funds.liens_in_force(a.address) if s.proposal == p.id)
    if mine:
        return Effect(AUDIT_LIEN, f"ratified: the lien of {mine} stays ({about(a)})")
    refused = _refusal(a, st, funds)
    if refused is not None:
        return no_op(f"{refused} ({about(a)})")
    funds.add_lien(a.address, a.amount, p.id, height)
    return Effect(AUDIT_LIEN, f"lien of {a.amount} ({about(a)})")


def _emergency(a: FreezeAmount, p: Proposal, height: int, st: Stores) -> str:
    funds = st.namespace(NAMESPACE, Funds)
    refused = _refusal(a, st, funds)
    if refused is not None:
        return f"{NO_EFFECT}{refused}"
    funds.add_lien(a.address, a.amount, p.id, height)
    return f"lien of {a.amount} pending ratification ({about(a)})"


def _lapse(a: FreezeAmount, p: Proposal, height: int, st: Stores) -> str | None:
    # Only what is left of this proposal's own lien ends: an unfreeze-amount
    # that lifted part of it meanwhile stays as it was, and other liens stay.
    ended = st.namespace(NAMESPACE, Funds).end_liens_of(a.address, p.id, height)
    return f"lien of {ended} lifted ({about(a)})" if ended else None


def liens_of(docs: NodeDocs, address: bytes) -> list[dict[str, Any]] | None:
    """The liens the node's identity document shows (None: it does not say)."""
    ident = docs.identity(address)
    liens = ident.get("liens") if ident is not None else None
    return liens if isinstance(liens, list) else None


def _in_force(a: FreezeAmount, proposal_id: str, docs: NodeDocs) -> bool:
    liens = liens_of(docs, a.address)
    if liens is None:
        # No document: the node records nothing for the address (it shows liens
        # on every identity document, and gives one to any address under one).
        return False
    return any(item.get("proposal") == proposal_id for item in liens)


def _from_cli(args: tuple[str, ...], opts: CliOptions) -> FreezeAmount:
    address, amount = args
    if opts.trace is None:
        raise ArgError("missing_trace", "freeze-amount needs --trace RESULT_ROOT (or a trace file)")
    return FreezeAmount(
        hex_arg(address, ADDRESS_BYTES, "address"),
        amount_arg(amount),
        hex_arg(opts.trace, HASH_BYTES, "trace"),
        b"" if opts.order_hash is None else hex_arg(opts.order_hash, HASH_BYTES, "order_hash"),
        opts.trace_case or b"",
        opts.case or "",
    )


def _example(ex: Examples) -> FreezeAmount:
    return FreezeAmount(ex.address, 1, bytes(HASH_BYTES), case="sim-example")


SPEC = ActionSpec(
    args=FreezeAmount,
    cli_args=("ADDRESS", "AMOUNT"),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: address_subject(a.address),
    enact=_enact,
    emergency=_emergency,
    lapse=_lapse,
    in_force=_in_force,
    example=_example,
    namespace=(NAMESPACE, lambda _genesis: Funds()),
    cli_options=frozenset({"trace", "trace_case", "order_hash", "case"}),
    doc=ActionDoc(
        "address, amount, trace root (32), order hash (32 or none), trace case, case id",
        f"lengths, amount within the supply, trace case ≤ {TRACE_CASE_BYTES_MAX} bytes "
        "of canonical TraceCase, case id `[A-Za-z0-9_.:-]{1,64}` or none",
        "a lien: transfers above the balance less the liens are rejected `frozen_amount`; "
        "refused above the balance less the liens in force",
    ),
)
