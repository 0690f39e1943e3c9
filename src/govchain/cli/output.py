"""One place for the contract's output rules: --json documents, errors, exit codes."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A failure to report: code (snake_case), one-sentence message, exit status."""

    def __init__(self, code: str, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exit_code = exit_code


def emit_json(doc: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(doc, sort_keys=False) + "\n")


def fail(err: CliError, as_json: bool) -> NoReturn:
    """Report an error the contract's way and exit."""
    if as_json:
        emit_json({"error": {"code": err.code, "message": err.message}})
    else:
        click.echo(f"error: {err.message}", err=True)
    sys.exit(err.exit_code)


# The --wait rule, for every command that sends a transaction (docs/cli.md):
# final and executed (or held) exits 0; final as rejected exits 1, the record
# (or the proposal's status) printed either way, with an "error" object.
REJECTED = "rejected"


def rejection(rec: dict[str, Any], what: str) -> dict[str, str] | None:
    """The error object for a record final as rejected (None otherwise), naming why."""
    if rec.get("status") != REJECTED:
        return None
    receipt = rec.get("receipt") or {}
    rule = receipt.get("rule") or REJECTED
    words = receipt.get("reason") or "no reason given"
    return {
        "code": "tx_rejected",
        "message": f"{what} {rec.get('tx_id')} was final as rejected ({rule}): {words}",
    }


def finish_final(
    rec: dict[str, Any], what: str, as_json: bool, show: Callable[[dict[str, Any], bool, str], None]
) -> None:
    """Print a final record by the --wait rule: exit 1, with why, when it was rejected."""
    err = rejection(rec, what)
    if err is None:
        show(rec, as_json, "final")
        return
    if as_json:
        emit_json({**rec, "error": err})
    else:
        show(rec, as_json, "final")
        click.echo(f"error: {err['message']}", err=True)
    sys.exit(EXIT_FAILURE)


def example(*lines: str) -> str:
    """A command's epilog: example command lines, kept verbatim by Click's help."""
    title = "Examples:" if len(lines) > 1 else "Example:"
    # \b: Click leaves the paragraph it starts unwrapped.
    return "\b\n" + title + "\n" + "\n".join(f"  {line}" for line in lines)


COLUMN_GAP = "  "
LAST_COLUMN_CHARS_MIN = 10  # the last column keeps this much even on a narrow terminal


def columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A listing as `kubectl get` prints one: no borders, every column but the last whole.

    The last column (free text) is cut with "…" to the terminal's width; the
    others (ids people copy, statuses) never are.
    """
    table = [list(header), *(list(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    used = sum(widths) + len(COLUMN_GAP) * len(widths)
    room = max(LAST_COLUMN_CHARS_MIN, shutil.get_terminal_size().columns - used)
    out = []
    for r in table:
        last = r[-1] if len(r[-1]) <= room else r[-1][: room - 1] + "…"
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)]
        out.append(COLUMN_GAP.join([*cells, last]).rstrip())
    return out
