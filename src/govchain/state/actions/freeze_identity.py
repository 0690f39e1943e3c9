"""freeze-identity ADDRESS: reject every transaction of an address (an emergency measure too)."""

from __future__ import annotations

from govchain.state.args import CliOptions
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.identities import FROZEN_COUNT_MAX
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, NodeDocs, no_op

from .targets import address_arg, address_error, address_subject, frozen_by


class FreezeIdentity(ActionArgs, frozen=True, tag="freeze-identity"):
    """Reject every transaction of address (any address, identified or not)."""

    address: bytes


def _check(a: FreezeIdentity, _params: Params) -> str | None:
    return address_error(a.address)


def _enact(a: FreezeIdentity, p: Proposal, _height: int, st: Stores) -> Effect:
    frozen = st.identities.frozen
    current = frozen.get(a.address)
    if current == p.id:
        return Effect(AuditKind.FREEZE, "ratified: the emergency freeze is permanent")
    if current is not None and not st.governance.is_provisional(current):
        return no_op(f"already frozen by proposal {current}")
    if current is None and len(frozen) >= FROZEN_COUNT_MAX:
        return no_op("the frozen list is full")
    st.identities.freeze(a.address, p.id)
    if current is not None:
        return Effect(AuditKind.FREEZE, f"frozen, taking over from emergency proposal {current}")
    return Effect(AuditKind.FREEZE, "frozen")


def _emergency(a: FreezeIdentity, p: Proposal, _height: int, st: Stores) -> str:
    current = st.identities.frozen.get(a.address)
    if current is not None:
        return f"no effect: already frozen by proposal {current}"
    if len(st.identities.frozen) >= FROZEN_COUNT_MAX:
        return "no effect: the frozen list is full"
    st.identities.freeze(a.address, p.id)
    return "frozen pending ratification"


def _lapse(a: FreezeIdentity, p: Proposal, _height: int, st: Stores) -> str | None:
    if st.identities.frozen.get(a.address) != p.id:
        return None  # an ordinary freeze took over, or an unfreeze passed
    st.identities.unfreeze(a.address)
    return "freeze lifted"


def _preview(a: FreezeIdentity, docs: NodeDocs, emergency: bool) -> str | None:
    by = frozen_by(docs, a.address)
    if by is None:
        return None
    # An ordinary freeze takes over an open emergency freeze and makes it permanent.
    p = None if emergency else docs.proposal(by)
    if p is None or not p.get("emergency") or p.get("status") != "open":
        return f"already frozen by proposal {by}"
    return None


def _in_force(a: FreezeIdentity, proposal_id: str, docs: NodeDocs) -> bool:
    ident = docs.identity(a.address)
    return ident is not None and ident.get("frozen_by") == proposal_id


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> FreezeIdentity:
    return FreezeIdentity(address_arg(args))


SPEC = ActionSpec(
    args=FreezeIdentity,
    cli_args=("ADDRESS",),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: address_subject(a.address),
    enact=_enact,
    emergency=_emergency,
    lapse=_lapse,
    preview=_preview,
    in_force=_in_force,
    doc=ActionDoc(
        "address (20 bytes)", "length", "the address's transactions are rejected `frozen`"
    ),
)
