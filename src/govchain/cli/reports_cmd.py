"""`govchain reports`: send a report, and (committee members) list, show and handle them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from govchain.codec import ID_HEX_CHARS
from govchain.reports.report import CATEGORIES
from govchain.reports.store import PAGE_LIMIT_MAX, Status
from govchain.sdk.reports import ReportsClient
from govchain.state.kinds.report_handle import note_error

from .common import (
    default_node,
    id_prefix,
    json_option,
    key_option,
    load_key,
    node_option,
    reported,
    show,
    timeout_option,
    unique_match,
    wait_option,
)
from .output import EXIT_USAGE, CliError, columns, emit_json, example, finish_final
from .tx_view import printable

LIST_LIMIT_DEFAULT = 50
SHORT_ID_CHARS = 16  # as listed; any unique prefix of 8 or more is accepted back


def _client(node_url: str | None) -> ReportsClient:
    return ReportsClient(node_url or default_node())


def _cell(text: str | None) -> str:
    """A value on one table line: control characters escaped, line breaks as spaces."""
    return printable((text or "-").replace("\n", " ").replace("\t", " "))


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


def resolve_report_id(client: ReportsClient, key: Any, text: str) -> str:
    """A report id from its 64 hex characters, or a unique prefix of 8 or more this node holds."""
    prefix = id_prefix(text, "report id")
    if len(prefix) == ID_HEX_CHARS:
        return prefix
    matches, more = client.report_ids_with_prefix(key, prefix)
    return unique_match(prefix, matches, more, "report")


@click.group(
    "reports",
    epilog=example(
        'govchain reports submit --category fraud --text "a shop takes deposits, never ships"',
        "govchain reports list --key regulator-1.key",
        'govchain reports handle 3f2a9c01 --note "referred to the police" --key regulator-1.key',
    ),
)
def reports() -> None:
    """The report channel: complaints the public sends; the committee lists and handles them.

    Anyone may send a report to a node (`submit`, or POST /v1/reports, or the
    explorer's /report page); the node keeps it. Committee members list them
    with a signed request and mark one handled with a transaction, which the
    audit log records.
    """


@reports.command(
    "submit",
    epilog=example('govchain reports submit --category fraud --text "..." --subject 3f2a9c01'),
)
@click.option("--category", required=True, help=f"what it is about: {', '.join(CATEGORIES)}")
@click.option("--text", required=True, help="what happened (1..4000 characters)")
@click.option("--subject", default="", help="what it concerns: a tx id, an address, a receipt")
@click.option("--contact", default="", help="how the committee may reach you (optional)")
@node_option
@json_option
@reported
def submit(
    category: str, text: str, subject: str, contact: str, node_url: str | None, as_json: bool
) -> None:
    """Send a report to a node (no key needed): prints its id and status (open)."""
    if category not in CATEGORIES:
        raise CliError("bad_category", f"--category is one of {', '.join(CATEGORIES)}", EXIT_USAGE)
    with _client(node_url) as client:
        doc = client.submit_report(category, text, subject, contact)
    if as_json:
        emit_json(doc)
        return
    click.echo(f"report {doc['report_id']} received: {doc['status']}")


@reports.command("list", epilog=example("govchain reports list --status open --key reg.key"))
@click.option("--status", default=None, help="only these: open or handled")
@click.option(
    "--limit",
    type=int,
    default=LIST_LIMIT_DEFAULT,
    show_default=True,
    help=f"reports per page (1..{PAGE_LIMIT_MAX})",
)
@click.option("--after", default=None, help="the report id a previous page ended with (next)")
@key_option
@node_option
@json_option
@reported
def list_cmd(
    status: str | None,
    limit: int,
    after: str | None,
    key_path: Path | None,
    node_url: str | None,
    as_json: bool,
) -> None:
    """This node's reports, newest first (signed by a committee member's key)."""
    if status is not None and status not in {s.value for s in Status}:
        raise CliError("bad_status", "--status is open or handled", EXIT_USAGE)
    if not 1 <= limit <= PAGE_LIMIT_MAX:
        raise CliError("bad_limit", f"--limit lies in 1..{PAGE_LIMIT_MAX}", EXIT_USAGE)
    key = load_key(key_path)
    with _client(node_url) as client:
        start = resolve_report_id(client, key, after) if after is not None else None
        doc = client.reports(key, status, limit, start)
    if as_json:
        emit_json(doc)
        return
    rows = [
        (
            r["report_id"][:SHORT_ID_CHARS],
            _when(int(r["received_ms"])),
            r["category"],
            r["status"],
            _cell(r["subject"]),
            _cell(r["text"]),
        )
        for r in doc["reports"]
    ]
    header = ("id", "received (UTC)", "category", "status", "subject", "text")
    for line in columns(header, rows):
        click.echo(line)
    counts = doc["counts"]
    click.echo(f"{counts['open']} open, {counts['handled']} handled on {doc['node']}")
    if doc["next"]:
        click.echo(f"more: govchain reports list --after {doc['next'][:SHORT_ID_CHARS]} ...")


@reports.command("show", epilog=example("govchain reports show 3f2a9c01 --key reg.key"))
@click.argument("report_id")
@key_option
@node_option
@json_option
@reported
def show_cmd(report_id: str, key_path: Path | None, node_url: str | None, as_json: bool) -> None:
    """One report of this node, with its handling (signed by a committee member's key)."""
    key = load_key(key_path)
    with _client(node_url) as client:
        doc = client.report(key, resolve_report_id(client, key, report_id))
    if as_json:
        emit_json(doc)
        return
    for name, value in doc.items():
        click.echo(f"{name:>18}  {printable(str(value))}")


@reports.command(
    "handle",
    epilog=example('govchain reports handle 3f2a9c01 --note "referred" --key reg.key --wait'),
)
@click.argument("report_id")
@click.option("--note", required=True, help="what was done (1..1024 bytes; in the audit log)")
@key_option
@node_option
@wait_option
@timeout_option
@json_option
@reported
def handle(
    report_id: str,
    note: str,
    key_path: Path | None,
    node_url: str | None,
    wait: bool,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Mark REPORT_ID handled: a report.handle transaction by a committee member.

    Every validator checks that the signer is a member of the committee and
    appends a report_handled audit entry; each node that keeps the report
    shows it handled once that is final. REPORT_ID: its 64 hex characters, or
    a unique prefix of 8 or more that this node holds.
    """
    problem = note_error(note)
    if problem is not None:
        raise CliError("bad_note", problem, EXIT_USAGE)
    key = load_key(key_path)
    with _client(node_url) as client:
        rid = resolve_report_id(client, key, report_id)
        tx_id = client.submit(client.handle_report(key, rid, note))
        if not wait:
            show({"tx_id": tx_id, "status": "pending", "report_id": rid}, as_json)
            return
        rec = {**client.wait_final(tx_id, timeout_s), "report_id": rid}
    finish_final(rec, "the report.handle transaction", as_json, show)
