"""redact TX_ID: delete a final record's payload everywhere; header and receipt stay."""

from __future__ import annotations

from govchain.dag.kinds import Kind
from govchain.state.args import CliOptions
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, NodeDocs, no_op

from .targets import tx_id_arg, tx_id_error, tx_subject


class Redact(ActionArgs, frozen=True, tag="redact"):
    """Delete a final record's payload everywhere; header and receipt stay."""

    tx_id: bytes


def _check(a: Redact, _params: Params) -> str | None:
    return tx_id_error(a.tx_id)


def _enact(a: Redact, p: Proposal, height: int, st: Stores) -> Effect:
    problem = st.redactions.redact(a.tx_id, p.id, height)
    if problem is not None:
        return no_op(problem)
    return Effect(
        AuditKind.REDACTION, "payload to be deleted by every node; header and receipt stay"
    )


def _preview(a: Redact, docs: NodeDocs, _emergency: bool) -> str | None:
    rec = docs.tx(a.tx_id)
    if rec is None:
        return "this node knows no transaction with this id"
    if rec.get("kind") != Kind.RECORD:
        return f"only records are redacted, and this is a {rec.get('kind')}"
    if rec.get("redacted"):
        ref = (rec.get("redaction") or {}).get("proposal")
        return f"already redacted by proposal {ref}" if ref else "already redacted"
    return None


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> Redact:
    return Redact(tx_id_arg(args))


SPEC = ActionSpec(
    args=Redact,
    cli_args=("TX_ID",),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: tx_subject(a.tx_id),
    enact=_enact,
    preview=_preview,
    doc=ActionDoc("tx id", "length", "a final record's payload is to be deleted everywhere"),
)
