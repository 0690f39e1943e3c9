"""set-permission KIND ROLE: only holders of ROLE may send KIND (`none` opens it again)."""

from __future__ import annotations

from govchain.dag.kinds import Kind
from govchain.state.args import CliOptions, Examples
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect

from .targets import role_error

OPEN_WORD = "none"  # ROLE word that lifts the requirement


class SetPermission(ActionArgs, frozen=True, tag="set-permission"):
    """From now on only holders of role may send transactions of kind ("" opens it again)."""

    kind: str
    role: str


def _check(a: SetPermission, _params: Params) -> str | None:
    # The kind is the registry's to check (restricts_kind): an application's kinds count.
    return None if a.role == "" else role_error(a.role)


def _enact(a: SetPermission, p: Proposal, _height: int, st: Stores) -> Effect:
    st.permissions.set(a.kind, a.role, p.id)
    needs = f"role {a.role}" if a.role else "no role"
    return Effect(AuditKind.PERMISSION_SET, f"{a.kind} needs {needs}")


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> SetPermission:
    kind, role = args
    return SetPermission(kind, "" if role.lower() == OPEN_WORD else role)


def _example(_ex: Examples) -> SetPermission:
    return SetPermission(Kind.SERVICE_REGISTER, "")  # open already: changes nobody's rights


SPEC = ActionSpec(
    args=SetPermission,
    cli_args=("KIND", "ROLE"),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: f"kind:{a.kind}",
    enact=_enact,
    example=_example,
    restricts_kind=lambda a: a.kind,
    doc=ActionDoc(
        "kind, role (`none`: open)",
        "kind in transfer, record, service.register, identity.set; role `[a-z0-9_-]{1,32}`",
        "from then on only holders of the role may send that kind: others' transactions are"
        " final as rejected (`not_authorized`, naming the proposal)",
    ),
)
