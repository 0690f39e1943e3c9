"""unwatch --case ID: end every watch of a case (their held transfers stay held)."""

from __future__ import annotations

from govchain.state.args import ArgError, CliOptions, Examples
from govchain.state.context import Stores
from govchain.state.funds import (
    AUDIT_WATCH_ENDED,
    NAMESPACE,
    Funds,
    case_id_error,
    case_subject,
)
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, no_op


class Unwatch(ActionArgs, frozen=True, tag="unwatch"):
    """End every watch of case."""

    case: str


def _check(a: Unwatch, _params: Params) -> str | None:
    return case_id_error(a.case)


def _enact(a: Unwatch, _p: Proposal, height: int, st: Stores) -> Effect:
    funds = st.namespace(NAMESPACE, Funds)
    funds.drop_expired(height)
    ended = funds.end_case(a.case)
    if not ended:
        return no_op(f"no watch of case {a.case} is in force")
    by = ", ".join(w.proposal for w in ended)
    return Effect(AUDIT_WATCH_ENDED, f"ended the watches of case {a.case} (proposals {by})")


def _from_cli(_args: tuple[str, ...], opts: CliOptions) -> Unwatch:
    if opts.case is None:
        raise ArgError("missing_case", "unwatch needs --case ID")
    return Unwatch(opts.case)


def _example(_ex: Examples) -> Unwatch:
    return Unwatch("sim-example")


SPEC = ActionSpec(
    args=Unwatch,
    cli_args=(),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: case_subject(a.case),
    enact=_enact,
    example=_example,
    cli_options=frozenset({"case"}),
    doc=ActionDoc(
        "case id",
        "`[A-Za-z0-9_.:-]{1,64}`",
        "ends every watch of the case (held transfers stay held); none in force: no-op",
    ),
)
