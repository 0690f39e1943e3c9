"""add-filter: a content rule for records; matches are rejected or held."""

from __future__ import annotations

from govchain.codec import HASH_BYTES
from govchain.state.args import ArgError, CliOptions, hex_arg
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.policy import (
    ContentRule,
    MediaTypeRule,
    PayloadHashRule,
    RuleAction,
    SizeRule,
    describe,
    keyword_rule,
)
from govchain.state.registry import ActionDoc, ActionSpec, Effect, no_op

NO_RULE_YET = "rule:"  # the subject until enactment assigns the id
OPTIONS = frozenset({"keyword", "payload_hash", "max_bytes", "media_type", "hold"})


class AddFilter(ActionArgs, frozen=True, tag="add-filter"):
    """A content rule for records; matches are rejected or held."""

    rule: ContentRule
    action: RuleAction


def _check(_a: AddFilter, _params: Params) -> str | None:
    return None  # the rule checked itself when it was decoded (state/policy.py)


def _enact(a: AddFilter, p: Proposal, _height: int, st: Stores) -> Effect:
    try:
        rule_id = st.rules.add(a.rule, a.action, p.id)
    except ValueError as exc:  # the rule set is full
        return no_op(str(exc))
    text = f"{a.action.value} records matching a {describe(a.rule)}"
    return Effect(AuditKind.FILTER_ADDED, text, f"rule:{rule_id}")


def _rule(o: CliOptions) -> ContentRule:
    given = [x for x in (o.keyword, o.payload_hash, o.max_bytes, o.media_type) if x is not None]
    if len(given) != 1:
        raise ArgError(
            "bad_usage",
            "add-filter takes exactly one of --keyword TEXT, --payload-hash HASH, "
            "--max-bytes N or --media-type TYPE",
        )
    if o.keyword is not None:
        try:
            return keyword_rule(o.keyword)  # built here: the term never goes on chain
        except ValueError as exc:
            raise ArgError("bad_keyword", str(exc)) from None
    try:
        if o.max_bytes is not None:
            return SizeRule(o.max_bytes)
        if o.media_type is not None:
            return MediaTypeRule(o.media_type)
    except ValueError as exc:
        raise ArgError("bad_argument", f"add-filter: {exc}") from None
    if o.payload_hash is None:
        raise ArgError("bad_usage", "add-filter needs a rule")
    return PayloadHashRule(hex_arg(o.payload_hash, HASH_BYTES, "payload_hash"))


def _from_cli(_args: tuple[str, ...], opts: CliOptions) -> AddFilter:
    return AddFilter(_rule(opts), RuleAction.HOLD if opts.hold else RuleAction.REJECT)


SPEC = ActionSpec(
    args=AddFilter,
    cli_args=(),
    from_cli=_from_cli,
    check=_check,
    subject=lambda _a: NO_RULE_YET,
    enact=_enact,
    cli_options=OPTIONS,
    doc=ActionDoc(
        "content rule, `reject` or `hold`",
        "the rule's own bounds (policy.py)",
        "rule `rule-<n>` from a counter, never reused",
    ),
)
