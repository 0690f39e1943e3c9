"""An audit export (cli/audit_cmd.py verify_export_of), read as `govchain audit verify FILE`.

The file's bytes as JSON (what the command refuses as not JSON, with
ValueError or RecursionError, ends the case), then the offline verifier against the fuzz
chain's genesis. CliError (bad_file or invalid_audit) is the one acceptable
refusal. An export it accepts must have its entries counted.
"""

from __future__ import annotations

import json

from govchain.cli.audit_cmd import verify_export_of
from govchain.cli.output import CliError
from targets._docs import History, as_file
from targets._kit import GENESIS, check

ACCEPTED: tuple[type[BaseException], ...] = (CliError,)


def test_one_input(data: bytes) -> None:
    """Verify one export; only CliError may come out."""
    try:
        doc = json.loads(data.decode())
    except (ValueError, RecursionError):  # what cli/audit_cmd.py verify answers as bad_file
        return
    summary = verify_export_of(doc, GENESIS)
    check(summary["entries"] == len(doc["entries"]), "a summary that lies")


def seeds() -> dict[str, bytes]:
    """Exports of height 1 (the validator change) and of heights 1..2."""
    history = History()
    return {"height-1": as_file(history.export(1, 1)), "heights-1-2": as_file(history.export(1, 2))}
