"""set-param NAME VALUE: set a parameter (state/params.py); none restores its default.

The parameters are the chain's: the built-in ones and its applications'
(Registry.add_param), so the name is checked against the chain's table when
the action is proposed (`check`), and only for its form on the command line.
"""

from __future__ import annotations

from govchain.state.args import ArgError, CliOptions
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.params import Params, name_error
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, no_op

DEFAULT_WORDS = ("none", "default")  # VALUE words that restore the default


class SetParam(ActionArgs, frozen=True, tag="set-param"):
    """Set a parameter (state/params.py); value None restores its default."""

    name: str
    value: int | None


def _check(a: SetParam, params: Params) -> str | None:
    return params.check(a.name, a.value)


def _enact(a: SetParam, p: Proposal, _height: int, st: Stores) -> Effect:
    # Checked again: another set-param enacted since (in this height too) may
    # have moved a value a cross check relates this one to.
    problem = st.params.check(a.name, a.value)
    if problem is not None:
        return no_op(problem)
    st.params.set(a.name, a.value, p.id)
    shown = "default" if a.value is None else a.value
    return Effect(AuditKind.PARAM_SET, f"{a.name} = {shown}")


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> SetParam:
    name, value = args
    problem = name_error(name)
    if problem is not None:
        raise ArgError("bad_param", f"{name!r}: {problem}")
    if value.lower() in DEFAULT_WORDS:
        return SetParam(name, None)
    if not (value.isascii() and value.isdigit()):
        raise ArgError("bad_value", "VALUE must be a non-negative integer, or none for the default")
    return SetParam(name, int(value))


SPEC = ActionSpec(
    args=SetParam,
    cli_args=("NAME", "VALUE"),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: f"param:{a.name}",
    enact=_enact,
    doc=ActionDoc(
        "name, value or none", "known name, in bounds", "sets it; none restores the default"
    ),
)
