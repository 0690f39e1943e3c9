"""`govchain gov`: propose, vote, show and list governance proposals."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import msgspec

from govchain.apps.catalog import ALL
from govchain.sdk.errors import SdkError
from govchain.state.governance import REASON_BYTES_MAX, ProposalStatus

from .common import (
    json_option,
    key_option,
    load_key,
    node_client,
    node_option,
    reported,
    resolve_proposal_id,
    resolve_tx_id,
    timeout_option,
)
from .gov_args import (
    ACTIONS,
    argument_error,
    build_action,
    canonical_args,
    emergency_allowed,
    evidence_hash,
    lower_hex,
    trace_arg,
    usage_error,
)
from .gov_effect import action_of, found_or_none, no_effect
from .gov_view import (
    SHORT_ID_CHARS,
    argument_rows,
    describe,
    feedback,
    next_step,
    proposal_doc,
)
from .output import EXIT_FAILURE, CliError, columns, emit_json, example, rejection
from .pace import Pace, duration_words, pace_of
from .trace_cmd import cited_trace

if TYPE_CHECKING:
    from govchain.sdk.client import Client

__all__ = ["build_action", "gov"]  # build_action: tests build actions as propose does

STATUSES = tuple(s.value for s in ProposalStatus)
LIST_LIMIT_MAX = 1_000  # the API's bound on one page


# Governance waits by default: a proposal has no status until its transaction
# is final, and the feedback (in force, lapses, no effect) needs it.
wait_option = click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="wait until the carrying transaction is final and print the proposal's status: "
    "exit 0 when executed, 1 when final as rejected (printed either way); "
    "--no-wait prints the pending transaction at once",
)


@click.group("gov", epilog=example("govchain gov list --status open"))
def gov() -> None:
    """On-chain governance: proposals and votes of the committee."""


def _pending(pid: str, tx_id: str, before: str | None, as_json: bool) -> None:
    doc: dict[str, Any] = {"proposal_id": pid, "status": "pending", "tx_id": tx_id}
    if before is not None:
        doc["no_effect"] = before
    if as_json:
        emit_json(doc)
        return
    click.echo(f"proposal {pid}: its transaction {tx_id} is pending (--no-wait)")
    if before is not None:
        click.echo(f"  {before}")
    click.echo(f"  once final: govchain gov show {pid[:SHORT_ID_CHARS]}")


def _outcome(
    client: Client,
    tx_id: str,
    pid: str,
    what: str,
    timeout_s: float,
    as_json: bool,
    before: str | None = None,
) -> None:
    """Wait for the carrying transaction; print the proposal's status (the --wait rule)."""
    rec = client.wait_final(tx_id, timeout_s)
    err = rejection(rec, f"the {what} transaction")
    p = found_or_none(client.proposal, pid)
    if err is not None:
        # No proposal exists when its own transaction was rejected: it was refused.
        status = str(p["status"]) if p is not None else "rejected"
        doc = {
            "proposal_id": pid,
            "status": status,
            "tx_id": tx_id,
            "tx_status": rec["status"],
            "receipt": rec.get("receipt"),
            "error": err,
        }
        if as_json:
            emit_json(doc)
        else:
            fate = "not opened" if p is None else f"{status}; the {what} was not counted"
            click.echo(f"proposal {pid}: {fate}")
            click.echo(f"error: {err['message']}", err=True)
        sys.exit(EXIT_FAILURE)
    if p is None:
        raise CliError("not_found", f"the node shows no proposal {pid} though {tx_id} is final")
    fb = feedback(client, p, before)
    if as_json:
        emit_json({"proposal_id": pid, "status": p["status"], "tx_id": tx_id, **fb})
        return
    for line in describe(p, fb, pace_of(client)):
        click.echo(line)
    step = next_step(p) if what == "proposal" else None
    if step is not None:
        click.echo(step)


@gov.command(
    "propose",
    context_settings={"ignore_unknown_options": False},
    epilog="Actions: "
    + ", ".join(f"{n} {' '.join(a)}".strip() for n, a in ACTIONS.items())
    + ".\n\n"
    + example(
        'govchain gov propose freeze-identity ADDRESS --reason "court order 17" '
        "--key devnet/keys/regulator-1.key",
        'govchain gov propose set-param hold_amount_min 1000 --reason "review large transfers" '
        "--key devnet/keys/regulator-1.key",
    ),
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
@click.option(
    "--emergency",
    is_flag=True,
    help=f"{', '.join(ALL.emergency_actions)} only: in force at once, lapses unless ratified",
)
@click.option("--keyword", default=None, help="add-filter: a term, hashed locally")
@click.option("--payload-hash", default=None, help="add-filter: a payload hash (64 hex)")
@click.option("--max-bytes", type=int, default=None, help="add-filter: records longer than N")
@click.option("--media-type", default=None, help="add-filter: records of this media type")
@click.option("--hold", is_flag=True, help="add-filter: hold matches instead of rejecting")
@click.option("--weight", type=int, default=None, help="add-validator: its weight (default 1)")
@click.option(
    "--trace",
    default=None,
    help="freeze-amount: the cited trace's RESULT_ROOT (64 hex), or its JSON file "
    "(govchain trace --json)",
)
@click.option("--order-hash", default=None, help="freeze-amount: hash of the order (64 hex)")
@click.option("--until", type=int, default=None, help="watch: the last height it holds")
@click.option("--case", default=None, help="the case id: [A-Za-z0-9_.:-]{1,64}")
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
    trace: str | None,
    order_hash: str | None,
    until: int | None,
    case: str | None,
    key_path: Path | None,
    node_url: str | None,
    wait: bool,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Propose ACTION [ARGS] to the committee; proposing counts as your yes vote.

    Prints {"proposal_id", "status"} as `gov list` shows it, whether an
    --emergency measure is in force and when it lapses, and "no effect: ..."
    when the action would change nothing. Ids take any unique prefix of 8 or
    more hex characters; addresses take 0x and any case.
    """
    if action is None:
        raise usage_error("missing_action", f"name an action: {', '.join(ACTIONS)}")
    with node_client(node_url) as client:
        canon = canonical_args(action, args, lambda text: resolve_tx_id(client, text))
        root, trace_case = (None, None) if trace is None else trace_arg(trace)
        built = build_action(
            action,
            canon,
            keyword=keyword,
            payload_hash=None if payload_hash is None else lower_hex(payload_hash),
            hold=hold,
            weight=weight,
            max_bytes=max_bytes,
            media_type=media_type,
            trace=root,
            trace_case=trace_case or None,
            order_hash=None if order_hash is None else lower_hex(order_hash),
            until=until,
            case=case,
        )
        problem = argument_error(built)
        if problem is not None:
            raise usage_error("bad_argument", f"{action}: {problem}")
        if not reason:
            raise usage_error("missing_reason", "give --reason TEXT: every proposal says why")
        if len(reason.encode()) > REASON_BYTES_MAX:
            raise usage_error(
                "bad_reason", f"--reason holds at most {REASON_BYTES_MAX} bytes of UTF-8"
            )
        if emergency and not emergency_allowed(built):
            raise usage_error(
                "emergency_not_allowed",
                f"only {', '.join(ALL.emergency_actions)} may be emergency measures",
            )
        if root is not None and not trace_case and "trace_case" in built.__struct_fields__:
            # A bare root: the node that answered the trace still has its case.
            fetched = trace_case_for(client, root)
            if fetched:
                built = msgspec.structs.replace(built, trace_case=fetched)
        ev = evidence_hash(evidence, evidence_file)
        key = load_key(key_path)
        before = no_effect(client, built, emergency)
        tx_id = client.submit(client.propose(key, built, reason, ev, emergency))
        if not wait:
            _pending(tx_id, tx_id, before, as_json)
            return
        _outcome(client, tx_id, tx_id, "proposal", timeout_s, as_json, before)


def trace_case_for(client: Client, root: str) -> bytes:
    """The canonical TraceCase whose trace has result_root root, as the node can give it.

    The node keeps the pinned cases of its last answers (GET /v1/trace/results);
    b"" when it has none for root: the proposal then cites the root alone.
    """
    try:
        kept = client.trace_result(root)
    except SdkError as exc:
        if exc.code != "not_found":
            raise
        return b""
    return base64.b64decode(str(kept["case_b64"]))


def trace_check_words(check: dict[str, Any]) -> str:
    """gov show's line on a freeze-amount's cited trace."""
    if check.get("error"):
        return f"cannot be recomputed here ({check['error']})"
    if check["valid"]:
        return f"the node recomputes it: result_root {check['result_root']} matches"
    return (
        f"DIFFERS: the node computes {check['result_root']}, the proposal cites {check['expected']}"
    )


@gov.command(
    "vote",
    epilog=example("govchain gov vote 3f9a2c1d yes --key devnet/keys/regulator-2.key"),
)
@click.argument("proposal_id")
@click.argument("choice", metavar="yes|no")
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
    """Vote yes or no on PROPOSAL_ID (a unique prefix of 8+ hex will do).

    Prints {"proposal_id", "status"}: passed once the yes weight reaches the
    threshold (an emergency measure is then ratified).
    """
    if choice not in ("yes", "no"):
        raise usage_error("bad_vote", "vote yes or no")
    with node_client(node_url) as client:
        pid = resolve_proposal_id(client, proposal_id)
        key = load_key(key_path)
        tx_id = client.submit(client.vote(key, pid, choice == "yes"))
        if not wait:
            _pending(pid, tx_id, None, as_json)
            return
        _outcome(client, tx_id, pid, "vote", timeout_s, as_json)


@gov.command("show", epilog=example("govchain gov show 3f9a2c1d"))
@click.argument("proposal_id")
@node_option
@json_option
@reported
def show_cmd(proposal_id: str, node_url: str | None, as_json: bool) -> None:
    """One proposal: action, votes, status, emergency measure, outcome.

    PROPOSAL_ID may be any unique prefix of 8 or more hex characters.
    """
    with node_client(node_url) as client:
        pid = resolve_proposal_id(client, proposal_id)
        p = client.proposal(pid)
        before = None
        if p["status"] == "open" and not p.get("emergency"):
            pending_action = action_of(p["action"])
            before = None if pending_action is None else no_effect(client, pending_action)
        fb = feedback(client, p, before)
        doc = {**proposal_doc(p), "measure": fb.get("measure"), "no_effect": fb.get("no_effect")}
        cited = cited_trace(client, p["action"])
        if cited is not None:  # a freeze-amount: does its cited trace still hold?
            doc["trace_check"] = cited
        if as_json:
            emit_json(doc)
            return
        pace = pace_of(client)
    for line in describe(p, fb, pace):
        click.echo(line)
    if cited is not None:
        click.echo(f"  cited trace: {trace_check_words(cited)}")
    _details(p, pace)


def _details(p: dict[str, Any], pace: Pace) -> None:
    rows = [*argument_rows(p["action"]), ("reason", p["reason"]), ("proposer", p["proposer"])]
    if p.get("evidence"):
        rows.append(("evidence", p["evidence"]))
    rows.append(("created", f"height {p['created_height']}"))
    if p["status"] == "open":
        rows.append(("expires", f"at the end of {pace.when(int(p['expires_height']))}"))
    rows.extend(("vote", f"{'yes' if v['yes'] else 'no'} by {v['voter']}") for v in p["votes"])
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        click.echo(f"  {label.ljust(width)}  {value}")


@gov.command("list", epilog=example("govchain gov list --status open --limit 20"))
@click.option(
    "--status", "status", default=None, help="only proposals in this status: " + ", ".join(STATUSES)
)
@click.option(
    "--limit", type=int, default=100, show_default=True, help="at most this many (1..1000)"
)
@node_option
@json_option
@reported
def list_cmd(status: str | None, limit: int, node_url: str | None, as_json: bool) -> None:
    """Proposals, newest first, with when each open one expires or lapses."""
    if status is not None and status not in STATUSES:
        raise usage_error("bad_status", "--status is open, passed, rejected or expired")
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise usage_error("bad_limit", f"--limit lies in 1..{LIST_LIMIT_MAX}")
    with node_client(node_url) as client:
        found = [proposal_doc(p) for p in client.proposals(limit, status)]
        if as_json:
            emit_json({"proposals": found})
            return
        pace = pace_of(client)
    rows = [
        (
            p["proposal_id"][:SHORT_ID_CHARS],
            p["action"]["name"] + (" (emergency)" if p["emergency"] else ""),
            p["status"],
            f"{p['yes_weight']}/{p['no_weight']}",
            _ends(p, pace),
            p["reason"],
        )
        for p in found
    ]
    for line in columns(("id", "action", "status", "yes/no", "ends", "reason"), rows):
        click.echo(line)


def _ends(p: dict[str, Any], pace: Pace) -> str:
    """When an open proposal expires (an emergency measure: lapses), or when it was decided."""
    if p["status"] != "open":
        return f"decided at {p['decided_height']}"
    verb = "lapses" if p["emergency"] else "expires"
    h = int(p["expires_height"])
    left = pace.seconds_until(h)
    return f"{verb} at {h}" + ("" if left is None else f", ~{duration_words(left)}")
