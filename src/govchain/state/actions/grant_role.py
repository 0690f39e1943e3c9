"""grant-role ADDRESS ROLE: give an address a role."""

from __future__ import annotations

from govchain.crypto.keys import ADDRESS_BYTES
from govchain.state.args import CliOptions, hex_arg
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.identities import ROLES_PER_ADDRESS_MAX
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, NodeDocs, no_op

from .targets import address_error, address_subject, holds_role, role_error


class GrantRole(ActionArgs, frozen=True, tag="grant-role"):
    """Give an address a role ("issuer", "review", a service's writer role, ...)."""

    address: bytes
    role: str


def check_role_args(address: bytes, role: str) -> str | None:
    """Why an address-and-role action's arguments are bad, or None."""
    return address_error(address) or role_error(role)


def role_from_cli(args: tuple[str, ...]) -> tuple[bytes, str]:
    """ADDRESS ROLE as bytes and text."""
    address, role = args
    return hex_arg(address, ADDRESS_BYTES, "address"), role


def _enact(a: GrantRole, p: Proposal, _height: int, st: Stores) -> Effect:
    held = st.identities.roles.get(a.address, {})
    if a.role in held:
        return no_op(f"already holds role {a.role}")
    if len(held) >= ROLES_PER_ADDRESS_MAX:
        return no_op(f"already {ROLES_PER_ADDRESS_MAX} roles")
    st.identities.grant(a.address, a.role, p.id)
    return Effect(AuditKind.ROLE_GRANTED, f"role {a.role} granted")


def _check(a: GrantRole, _params: Params) -> str | None:
    return check_role_args(a.address, a.role)


def _preview(a: GrantRole, docs: NodeDocs, _emergency: bool) -> str | None:
    return f"already holds role {a.role}" if holds_role(docs, a.address, a.role) else None


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> GrantRole:
    return GrantRole(*role_from_cli(args))


SPEC = ActionSpec(
    args=GrantRole,
    cli_args=("ADDRESS", "ROLE"),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: address_subject(a.address),
    enact=_enact,
    preview=_preview,
    doc=ActionDoc("address, role", "length, `[a-z0-9_-]{1,32}`", "gives the role"),
)
