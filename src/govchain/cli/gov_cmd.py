"""`govchain gov`: propose, vote, show and list governance proposals."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from govchain.codec import HASH_BYTES
from govchain.crypto.keys import ADDRESS_BYTES, PUBLIC_KEY_BYTES
from govchain.state.actions import argument_error
from govchain.state.params import Params, specs
from govchain.state.payloads import (
    Action,
    AddFilter,
    AddValidator,
    FreezeIdentity,
    GrantRole,
    Intercept,
    Redact,
    Release,
    RemoveFilter,
    RemoveValidator,
    ResumeService,
    RevokeRole,
    SetParam,
    SetPermission,
    SuspendService,
    UnfreezeIdentity,
)
from govchain.state.policy import (
    ContentRule,
    MediaTypeRule,
    PayloadHashRule,
    RuleAction,
    SizeRule,
    keyword_rule,
)

from .common import (
    json_option,
    key_option,
    load_key,
    node_client,
    node_option,
    parse_hex,
    reported,
    show,
    timeout_option,
)
from .output import EXIT_USAGE, CliError, emit_json

# Action name -> the names of its positional arguments.
ACTIONS: dict[str, tuple[str, ...]] = {
    "freeze-identity": ("ADDRESS",),
    "unfreeze-identity": ("ADDRESS",),
    "intercept": ("TX_ID",),
    "release": ("TX_ID",),
    "redact": ("TX_ID",),
    "suspend-service": ("SERVICE_ID",),
    "resume-service": ("SERVICE_ID",),
    "add-filter": (),
    "remove-filter": ("RULE_ID",),
    "add-validator": ("PUBLIC_KEY",),
    "remove-validator": ("PUBLIC_KEY",),
    "set-param": ("NAME", "VALUE"),
    "grant-role": ("ADDRESS", "ROLE"),
    "revoke-role": ("ADDRESS", "ROLE"),
    "set-permission": ("KIND", "ROLE"),
}
PARAM_NAMES = tuple(s.name for s in specs(1, 1))
REASON_BYTES_MAX = 1_024
# Bounds checked locally; participation_min's upper bound (the committee's
# weight) is the node's to check.
LOCAL_PARAMS = Params(1, 2**62)


def _usage(code: str, message: str) -> CliError:
    return CliError(code, message, EXIT_USAGE)


def _filter_rule(
    keyword: str | None,
    payload_hash: str | None,
    max_bytes: int | None = None,
    media_type: str | None = None,
) -> ContentRule:
    given = [x for x in (keyword, payload_hash, max_bytes, media_type) if x is not None]
    if len(given) != 1:
        raise _usage(
            "bad_usage",
            "add-filter takes exactly one of --keyword TEXT, --payload-hash HASH, "
            "--max-bytes N or --media-type TYPE",
        )
    if keyword is not None:
        try:
            return keyword_rule(keyword)  # hashed here: only hash and length go on chain
        except ValueError as exc:
            raise _usage("bad_keyword", str(exc)) from None
    try:
        if max_bytes is not None:
            return SizeRule(max_bytes)
        if media_type is not None:
            return MediaTypeRule(media_type)
    except ValueError as exc:
        raise _usage("bad_argument", f"add-filter: {exc}") from None
    assert payload_hash is not None
    return PayloadHashRule(parse_hex(payload_hash, HASH_BYTES, "payload_hash"))


def build_action(
    name: str,
    args: tuple[str, ...],
    *,
    keyword: str | None = None,
    payload_hash: str | None = None,
    hold: bool = False,
    weight: int | None = None,
    max_bytes: int | None = None,
    media_type: str | None = None,
) -> Action:
    """The action a `gov propose` command line names; CliError (exit 2) on bad input."""
    if name not in ACTIONS:
        raise _usage("unknown_action", f"unknown action {name!r}; one of: {', '.join(ACTIONS)}")
    want = ACTIONS[name]
    if len(args) != len(want):
        shown = " ".join(want) or "no positional arguments"
        raise _usage("bad_arguments", f"{name} takes {shown}; got {len(args)} argument(s)")
    filter_opts = (keyword, payload_hash, max_bytes, media_type)
    if name != "add-filter" and (any(o is not None for o in filter_opts) or hold):
        raise _usage(
            "bad_usage",
            "--keyword, --payload-hash, --max-bytes, --media-type and --hold belong to add-filter",
        )
    if name != "add-validator" and weight is not None:
        raise _usage("bad_usage", "--weight belongs to add-validator")
    a = args
    if name in ("freeze-identity", "unfreeze-identity"):
        address = parse_hex(a[0], ADDRESS_BYTES, "address")
        return FreezeIdentity(address) if name == "freeze-identity" else UnfreezeIdentity(address)
    if name in ("intercept", "release", "redact"):
        tx_id = parse_hex(a[0], HASH_BYTES, "tx_id")
        if name == "intercept":
            return Intercept(tx_id)
        return Release(tx_id) if name == "release" else Redact(tx_id)
    if name in ("suspend-service", "resume-service"):
        return SuspendService(a[0]) if name == "suspend-service" else ResumeService(a[0])
    if name == "add-filter":
        return AddFilter(
            _filter_rule(keyword, payload_hash, max_bytes, media_type),
            RuleAction.HOLD if hold else RuleAction.REJECT,
        )
    if name == "remove-filter":
        return RemoveFilter(a[0])
    if name in ("add-validator", "remove-validator"):
        key = parse_hex(a[0], PUBLIC_KEY_BYTES, "public_key")
        if name == "remove-validator":
            return RemoveValidator(key)
        if weight is not None and weight < 1:
            raise _usage("bad_weight", "--weight must be a positive integer")
        return AddValidator(key, 1 if weight is None else weight)
    if name == "set-permission":
        return SetPermission(a[0], "" if a[1].lower() == "none" else a[1])
    if name == "set-param":
        if a[0] not in PARAM_NAMES:
            raise _usage(
                "bad_param", f"unknown parameter {a[0]!r}; one of: {', '.join(PARAM_NAMES)}"
            )
        if a[1].lower() in ("none", "default"):
            return SetParam(a[0], None)
        if not (a[1].isascii() and a[1].isdigit()):
            raise _usage(
                "bad_value", "VALUE must be a non-negative integer, or none for the default"
            )
        return SetParam(a[0], int(a[1]))
    address = parse_hex(a[0], ADDRESS_BYTES, "address")
    return GrantRole(address, a[1]) if name == "grant-role" else RevokeRole(address, a[1])


def _evidence(evidence: str | None, evidence_file: Path | None) -> bytes:
    if evidence is not None and evidence_file is not None:
        raise _usage("bad_usage", "give --evidence HASH or --evidence-file FILE, not both")
    if evidence is not None:
        return parse_hex(evidence, HASH_BYTES, "evidence")
    if evidence_file is not None:
        try:
            return hashlib.sha256(evidence_file.read_bytes()).digest()
        except OSError as exc:
            raise _usage("bad_file", f"cannot read {evidence_file}: {exc.strerror}") from None
    return b""


wait_option = click.option(
    "--wait", is_flag=True, help="block until the carrying transaction is final"
)


@click.group("gov")
def gov() -> None:
    """On-chain governance: proposals and votes of the committee."""


@gov.command(
    "propose",
    context_settings={"ignore_unknown_options": False},
    epilog="Actions: " + ", ".join(f"{n} {' '.join(a)}".strip() for n, a in ACTIONS.items()),
)
@click.argument("action", required=False)
@click.argument("args", nargs=-1)
@click.option("--reason", default=None, help="why (required; at most 1,024 bytes)")
@click.option("--evidence", default=None, help="hash of the evidence (64 hex)")
@click.option(
    "--evidence-file",
    type=click.Path(path_type=Path),
    default=None,
    help="a file whose SHA-256 is the evidence hash",
)
@click.option("--emergency", is_flag=True, help="apply at once (freeze-identity, intercept)")
@click.option("--keyword", default=None, help="add-filter: a term, hashed locally")
@click.option("--payload-hash", default=None, help="add-filter: a payload hash (64 hex)")
@click.option("--max-bytes", type=int, default=None, help="add-filter: records longer than N")
@click.option("--media-type", default=None, help="add-filter: records of this media type")
@click.option("--hold", is_flag=True, help="add-filter: hold matches instead of rejecting")
@click.option("--weight", type=int, default=None, help="add-validator: its weight (default 1)")
@key_option
@node_option
@wait_option
@timeout_option
@json_option
@reported
def propose(
    action: str | None,
    args: tuple[str, ...],
    reason: str | None,
    evidence: str | None,
    evidence_file: Path | None,
    emergency: bool,
    keyword: str | None,
    payload_hash: str | None,
    max_bytes: int | None,
    media_type: str | None,
    hold: bool,
    weight: int | None,
    key_path: Path | None,
    node_url: str | None,
    wait: bool,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Propose ACTION [ARGS] (counts as your yes vote) → {"proposal_id", "status"}."""
    if action is None:
        raise _usage("missing_action", f"name an action: {', '.join(ACTIONS)}")
    built = build_action(
        action,
        args,
        keyword=keyword,
        payload_hash=payload_hash,
        hold=hold,
        weight=weight,
        max_bytes=max_bytes,
        media_type=media_type,
    )
    problem = argument_error(built, LOCAL_PARAMS)
    if problem is not None:
        raise _usage("bad_argument", f"{action}: {problem}")
    if not reason:
        raise _usage("missing_reason", "give --reason TEXT: every proposal says why")
    if len(reason.encode()) > REASON_BYTES_MAX:
        raise _usage("bad_reason", f"--reason holds at most {REASON_BYTES_MAX} bytes of UTF-8")
    if emergency and not isinstance(built, FreezeIdentity | Intercept):
        raise _usage("emergency_not_allowed", "only freeze-identity and intercept may be emergency")
    ev = _evidence(evidence, evidence_file)
    key = load_key(key_path)
    with node_client(node_url) as client:
        tx_id = client.submit(client.propose(key, built, reason, ev, emergency))
        _report(client.governance_outcome(tx_id, tx_id, wait, timeout_s), as_json)


@gov.command("vote")
@click.argument("proposal_id")
@click.argument("choice")
@key_option
@node_option
@wait_option
@timeout_option
@json_option
@reported
def vote(
    proposal_id: str,
    choice: str,
    key_path: Path | None,
    node_url: str | None,
    wait: bool,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Vote yes or no on PROPOSAL_ID → {"proposal_id", "status"}."""
    parse_hex(proposal_id, HASH_BYTES, "proposal_id")
    if choice not in ("yes", "no"):
        raise _usage("bad_vote", "vote yes or no")
    key = load_key(key_path)
    with node_client(node_url) as client:
        tx_id = client.submit(client.vote(key, proposal_id, choice == "yes"))
        _report(client.governance_outcome(tx_id, proposal_id, wait, timeout_s), as_json)


def _report(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"proposal {doc['proposal_id']}: {doc['status']}")


@gov.command("show")
@click.argument("proposal_id")
@node_option
@json_option
@reported
def show_cmd(proposal_id: str, node_url: str | None, as_json: bool) -> None:
    """A proposal: action, votes, status, outcome."""
    parse_hex(proposal_id, HASH_BYTES, "proposal_id")
    with node_client(node_url) as client:
        show(client.proposal(proposal_id), as_json)


@gov.command("list")
@click.option("--status", "status", default=None, help="open, passed, rejected or expired")
@click.option("--limit", type=int, default=100, show_default=True)
@node_option
@json_option
@reported
def list_cmd(status: str | None, limit: int, node_url: str | None, as_json: bool) -> None:
    """Proposals, newest first."""
    if status is not None and status not in ("open", "passed", "rejected", "expired"):
        raise _usage("bad_status", "--status is open, passed, rejected or expired")
    if not 1 <= limit <= 1_000:
        raise _usage("bad_limit", "--limit lies in 1..1000")
    with node_client(node_url) as client:
        found = client.proposals(limit, status)
    if as_json:
        emit_json({"proposals": found})
        return
    table = Table("id", "action", "status", "yes", "no", "created", "reason")
    for p in found:
        table.add_row(
            p["proposal_id"][:16],
            p["action"]["name"] + (" (emergency)" if p["emergency"] else ""),
            p["status"],
            str(p["yes_weight"]),
            str(p["no_weight"]),
            str(p["created_height"]),
            p["reason"][:40],
        )
    Console().print(table)
