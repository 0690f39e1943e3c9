"""intercept TX_ID: reject a held transaction for good (an emergency measure too)."""

from __future__ import annotations

from govchain.state.args import CliOptions
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.holds import Resolution
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.receipts import Reason, Status
from govchain.state.registry import ActionDoc, ActionSpec, Effect, NodeDocs

from .targets import hold_preview, open_hold, tx_id_arg, tx_id_error, tx_subject

_REJECTED = Status.REJECTED.value
_INTERCEPTED = Reason.INTERCEPTED.value


class Intercept(ActionArgs, frozen=True, tag="intercept"):
    """Reject a held transaction for good (a transfer's amount returns to its sender)."""

    tx_id: bytes


def _check(a: Intercept, _params: Params) -> str | None:
    return tx_id_error(a.tx_id)


def _enact(a: Intercept, p: Proposal, height: int, st: Stores) -> Effect:
    hold = open_hold(st, a.tx_id)
    if isinstance(hold, Effect):
        return hold
    r = hold.resolution
    if hold.amount:  # credited first: the movement records the balance after it
        st.accounts.credit(hold.sender, hold.amount)
    st.holds.resolve(a.tx_id, Resolution(_REJECTED, height, p.id, _INTERCEPTED), st.accounts)
    if r is not None and r.proposal == p.id:
        return Effect(AuditKind.INTERCEPTION, "ratified: rejected for good; the amount returned")
    return Effect(AuditKind.INTERCEPTION, "rejected for good; any amount returned to the sender")


def _emergency(a: Intercept, p: Proposal, height: int, st: Stores) -> str:
    hold = st.holds.get(a.tx_id)
    if hold is None or hold.resolution is not None:
        return "no effect: the transaction is not held"
    st.holds.resolve(
        hold.tx_id, Resolution(_REJECTED, height, p.id, _INTERCEPTED, provisional=True)
    )
    return "intercepted pending ratification; the amount stays in escrow"


def _lapse(a: Intercept, p: Proposal, _height: int, st: Stores) -> str | None:
    hold = st.holds.get(a.tx_id)
    r = hold.resolution if hold is not None else None
    if r is None or not r.provisional or r.proposal != p.id:
        return None  # ratified, released or intercepted by another decision meanwhile
    st.holds.resolve(a.tx_id, None)
    return "interception undone; the transaction is held again"


def _preview(a: Intercept, docs: NodeDocs, emergency: bool) -> str | None:
    return hold_preview(docs, a.tx_id, emergency)


def _in_force(a: Intercept, proposal_id: str, docs: NodeDocs) -> bool:
    r = (docs.tx(a.tx_id) or {}).get("resolution") or {}
    return bool(r.get("provisional")) and r.get("proposal") == proposal_id


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> Intercept:
    return Intercept(tx_id_arg(args))


SPEC = ActionSpec(
    args=Intercept,
    cli_args=("TX_ID",),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: tx_subject(a.tx_id),
    enact=_enact,
    preview=_preview,
    in_force=_in_force,
    emergency=_emergency,
    lapse=_lapse,
    doc=ActionDoc(
        "tx id (32)",
        "length",
        "a held transaction rejected for good; a transfer's amount returns to the sender",
    ),
)
