"""remove-filter RULE_ID: remove a content rule."""

from __future__ import annotations

import re

from govchain.state.args import CliOptions, Examples, only
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, no_op

RULE_ID_PATTERN = re.compile(r"rule-[1-9][0-9]{0,17}")


class RemoveFilter(ActionArgs, frozen=True, tag="remove-filter"):
    """Remove a content rule by id ("rule-<n>")."""

    rule_id: str


def _check(a: RemoveFilter, _params: Params) -> str | None:
    return None if RULE_ID_PATTERN.fullmatch(a.rule_id) else "rule id must be rule-<n>"


def _enact(a: RemoveFilter, _p: Proposal, _height: int, st: Stores) -> Effect:
    if not st.rules.remove(a.rule_id):
        return no_op("no rule has this id")
    return Effect(AuditKind.FILTER_REMOVED, "rule removed")


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> RemoveFilter:
    return RemoveFilter(only(args))


def _example(_ex: Examples) -> RemoveFilter:
    return RemoveFilter("rule-999999")  # no such rule: a no-op, which the script also covers


SPEC = ActionSpec(
    args=RemoveFilter,
    cli_args=("RULE_ID",),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: f"rule:{a.rule_id}",
    enact=_enact,
    example=_example,
    doc=ActionDoc("rule id", "`rule-<n>`", "removes it"),
)
