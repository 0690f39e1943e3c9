"""watch ADDRESS... --until HEIGHT --case ID: hold the outgoing transfers of accounts.

While the height is at most `until`, every outgoing transfer of a watched
address is final as held (`held_watch`, governance_ref = this proposal), in
escrow through the usual hold machinery: `release` pays it, `intercept`
returns it. The money stops moving while the committee decides, which is why
one member may also propose it as an emergency measure.
"""

from __future__ import annotations

from typing import Any

from govchain.codec import INT_MAX
from govchain.crypto.keys import ADDRESS_BYTES
from govchain.state.args import ArgError, CliOptions, Examples, hex_arg
from govchain.state.context import Stores
from govchain.state.funds import (
    AUDIT_WATCH,
    NAMESPACE,
    WATCH_ADDRESSES_MAX,
    WATCHES_MAX,
    Funds,
    Watch,
    case_id_error,
    case_subject,
)
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, NodeDocs, no_op

NO_EFFECT = "no effect: "
# How far ahead an example watch reaches: through the simulator's whole run.
EXAMPLE_UNTIL = 1_000_000


class WatchAccounts(ActionArgs, frozen=True, tag="watch"):
    """Hold every outgoing transfer of addresses (1..64, distinct) through height until."""

    addresses: tuple[bytes, ...]
    until: int
    case: str


def _check(a: WatchAccounts, _params: Params) -> str | None:
    if not 1 <= len(a.addresses) <= WATCH_ADDRESSES_MAX:
        return f"a watch names 1..{WATCH_ADDRESSES_MAX} addresses"
    if any(len(x) != ADDRESS_BYTES for x in a.addresses):
        return "each address must be 20 bytes"
    if len(set(a.addresses)) != len(a.addresses):
        return "the addresses must be distinct"
    if not 1 <= a.until <= INT_MAX:
        return "until must be a height (a positive integer)"
    return case_id_error(a.case)


def _words(a: WatchAccounts) -> str:
    n = len(a.addresses)
    return f"{n} address{'es' if n > 1 else ''} through height {a.until} (case {a.case})"


def _refusal(a: WatchAccounts, height: int, funds: Funds) -> str | None:
    """Why the watch cannot start at the end of height, or None."""
    if a.until <= height:
        return f"until {a.until} has passed (height {height}; case {a.case})"
    if len(funds.watches) >= WATCHES_MAX:
        return f"the watch list is full ({WATCHES_MAX} watches; case {a.case})"
    return None


def _start(a: WatchAccounts, p: Proposal, height: int, funds: Funds) -> None:
    funds.add_watch(Watch(p.id, a.case, a.until, a.addresses, height))


def _enact(a: WatchAccounts, p: Proposal, height: int, st: Stores) -> Effect:
    funds = st.namespace(NAMESPACE, Funds)
    funds.drop_expired(height)
    if p.id in funds.watches:
        return Effect(AUDIT_WATCH, f"ratified: watching {_words(a)}")
    refused = _refusal(a, height, funds)
    if refused is not None:
        return no_op(refused)
    _start(a, p, height, funds)
    return Effect(AUDIT_WATCH, f"watching {_words(a)}")


def _emergency(a: WatchAccounts, p: Proposal, height: int, st: Stores) -> str:
    funds = st.namespace(NAMESPACE, Funds)
    funds.drop_expired(height)
    refused = _refusal(a, height, funds)
    if refused is not None:
        return f"{NO_EFFECT}{refused}"
    _start(a, p, height, funds)
    return f"watching {_words(a)} pending ratification"


def _lapse(a: WatchAccounts, p: Proposal, _height: int, st: Stores) -> str | None:
    ended = st.namespace(NAMESPACE, Funds).end_watch(p.id)
    return None if ended is None else f"watch ended (case {a.case})"


def watched_by(docs: NodeDocs, address: bytes) -> list[dict[str, Any]] | None:
    """The watches the node's identity document shows (None: it does not say)."""
    ident = docs.identity(address)
    found = ident.get("watched_by") if ident is not None else None
    return found if isinstance(found, list) else None


def _in_force(a: WatchAccounts, proposal_id: str, docs: NodeDocs) -> bool:
    found = watched_by(docs, a.addresses[0])
    if found is None:
        # No document: the node records nothing for the address (it shows watches
        # on every identity document, and gives one to any address under one).
        return False
    return any(w.get("proposal") == proposal_id for w in found)


def _from_cli(args: tuple[str, ...], opts: CliOptions) -> WatchAccounts:
    if opts.until is None:
        raise ArgError("missing_until", "watch needs --until HEIGHT")
    if opts.case is None:
        raise ArgError("missing_case", "watch needs --case ID")
    addresses = tuple(hex_arg(x, ADDRESS_BYTES, "address") for x in args)
    if len(set(addresses)) != len(addresses):
        raise ArgError("bad_address", "each address may be named once")
    return WatchAccounts(addresses, opts.until, opts.case)


def _example(ex: Examples) -> WatchAccounts:
    return WatchAccounts((ex.address,), EXAMPLE_UNTIL, "sim-example")


SPEC = ActionSpec(
    args=WatchAccounts,
    cli_args=("ADDRESS...",),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: case_subject(a.case),
    enact=_enact,
    emergency=_emergency,
    lapse=_lapse,
    in_force=_in_force,
    example=_example,
    cli_options=frozenset({"until", "case"}),
    doc=ActionDoc(
        f"addresses (1..{WATCH_ADDRESSES_MAX}), until (a height), case id",
        "lengths, distinct, until ≥ 1, case id `[A-Za-z0-9_.:-]{1,64}`",
        "through height until, the addresses' outgoing transfers are held `held_watch`; "
        "until already passed: no-op",
    ),
)
