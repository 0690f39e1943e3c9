"""unfreeze-identity ADDRESS: lift a freeze."""

from __future__ import annotations

from govchain.state.args import CliOptions
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, NodeDocs, no_op

from .targets import address_arg, address_error, address_subject, frozen_by


class UnfreezeIdentity(ActionArgs, frozen=True, tag="unfreeze-identity"):
    """Lift a freeze."""

    address: bytes


def _check(a: UnfreezeIdentity, _params: Params) -> str | None:
    return address_error(a.address)


def _enact(a: UnfreezeIdentity, _p: Proposal, _height: int, st: Stores) -> Effect:
    current = st.identities.frozen.get(a.address)
    if current is None:
        return no_op("the address is not frozen")
    st.identities.unfreeze(a.address)
    return Effect(AuditKind.UNFREEZE, f"freeze by proposal {current} lifted")


def _preview(a: UnfreezeIdentity, docs: NodeDocs, _emergency: bool) -> str | None:
    return None if frozen_by(docs, a.address) else "the address is not frozen"


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> UnfreezeIdentity:
    return UnfreezeIdentity(address_arg(args))


SPEC = ActionSpec(
    args=UnfreezeIdentity,
    cli_args=("ADDRESS",),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: address_subject(a.address),
    enact=_enact,
    preview=_preview,
    doc=ActionDoc("address", "length", "lifts any freeze"),
)
