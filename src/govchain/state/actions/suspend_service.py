"""suspend-service SERVICE_ID: reject records naming the service until it is resumed."""

from __future__ import annotations

from govchain.state.args import CliOptions, only
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, NodeDocs, no_op

from .targets import service_error, service_subject, suspension


class SuspendService(ActionArgs, frozen=True, tag="suspend-service"):
    """Reject records naming the service until it is resumed."""

    service_id: str


def _check(a: SuspendService, _params: Params) -> str | None:
    return service_error(a.service_id)


def _enact(a: SuspendService, p: Proposal, _height: int, st: Stores) -> Effect:
    service = st.services.get(a.service_id)
    if service is None:
        return no_op("no service has this id")
    if service.suspended_by is not None:
        return no_op(f"already suspended by proposal {service.suspended_by}")
    st.services.suspend(a.service_id, p.id)
    return Effect(AuditKind.SERVICE_SUSPENSION, "records naming it are rejected")


def _preview(a: SuspendService, docs: NodeDocs, _emergency: bool) -> str | None:
    unknown, by = suspension(docs, a.service_id)
    if unknown is not None:
        return unknown
    return f"already suspended by proposal {by}" if by else None


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> SuspendService:
    return SuspendService(only(args))


SPEC = ActionSpec(
    args=SuspendService,
    cli_args=("SERVICE_ID",),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: service_subject(a.service_id),
    enact=_enact,
    preview=_preview,
    doc=ActionDoc("service id", "pattern", "records naming it are rejected"),
)
