"""revoke-role ADDRESS ROLE: take a role away."""

from __future__ import annotations

from govchain.state.args import CliOptions, Examples
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, NodeDocs, no_op

from .grant_role import check_role_args, role_from_cli
from .targets import address_subject, holds_role


class RevokeRole(ActionArgs, frozen=True, tag="revoke-role"):
    """Take a role away."""

    address: bytes
    role: str


def _check(a: RevokeRole, _params: Params) -> str | None:
    return check_role_args(a.address, a.role)


def _enact(a: RevokeRole, _p: Proposal, _height: int, st: Stores) -> Effect:
    if a.role not in st.identities.roles.get(a.address, {}):
        return no_op(f"does not hold role {a.role}")
    st.identities.revoke(a.address, a.role)
    return Effect(AuditKind.ROLE_REVOKED, f"role {a.role} revoked")


def _preview(a: RevokeRole, docs: NodeDocs, _emergency: bool) -> str | None:
    return None if holds_role(docs, a.address, a.role) else f"does not hold role {a.role}"


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> RevokeRole:
    return RevokeRole(*role_from_cli(args))


def _example(ex: Examples) -> RevokeRole:
    return RevokeRole(ex.address, "review")  # the address holds none: a no-op


SPEC = ActionSpec(
    args=RevokeRole,
    cli_args=("ADDRESS", "ROLE"),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: address_subject(a.address),
    enact=_enact,
    preview=_preview,
    example=_example,
    doc=ActionDoc("address, role", "length, `[a-z0-9_-]{1,32}`", "takes the role away"),
)
