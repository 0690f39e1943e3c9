"""resume-service SERVICE_ID: lift a suspension."""

from __future__ import annotations

from govchain.state.args import CliOptions, only
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, NodeDocs, no_op

from .targets import service_error, service_subject, suspension


class ResumeService(ActionArgs, frozen=True, tag="resume-service"):
    """Lift a suspension."""

    service_id: str


def _check(a: ResumeService, _params: Params) -> str | None:
    return service_error(a.service_id)


def _enact(a: ResumeService, _p: Proposal, _height: int, st: Stores) -> Effect:
    service = st.services.get(a.service_id)
    if service is None:
        return no_op("no service has this id")
    if service.suspended_by is None:
        return no_op("the service is not suspended")
    st.services.suspend(a.service_id, None)
    return Effect(
        AuditKind.SERVICE_RESUMPTION, f"suspension by proposal {service.suspended_by} lifted"
    )


def _preview(a: ResumeService, docs: NodeDocs, _emergency: bool) -> str | None:
    unknown, by = suspension(docs, a.service_id)
    if unknown is not None:
        return unknown
    return None if by else "the service is not suspended"


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> ResumeService:
    return ResumeService(only(args))


SPEC = ActionSpec(
    args=ResumeService,
    cli_args=("SERVICE_ID",),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: service_subject(a.service_id),
    enact=_enact,
    preview=_preview,
    doc=ActionDoc("service id", "pattern", "records naming it are accepted again"),
)
