"""A transaction's record for people: what it is, how it ended, and what it says.

The payload is shown decoded (a transfer's recipient and amount, a record's
text, a proposal's action and arguments, a vote); its base64 only on request
(`--raw`). `--json` prints the API's record unchanged instead.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from .console import people_console


def printable(text: str) -> str:
    """text with control characters escaped: a record must not drive the terminal."""
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


def _words(value: Any) -> str:
    """A value on one line: an action as `name key=value ...`, lists comma-separated."""
    if isinstance(value, dict):
        if set(value) == {"name", "args"} and isinstance(value["args"], dict):
            args = " ".join(f"{k}={_words(v)}" for k, v in value["args"].items())
            return f"{value['name']} {args}".strip()
        return ", ".join(f"{k}={_words(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_words(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return printable(str(value))


def _status(doc: dict[str, Any]) -> str:
    status = str(doc.get("status"))
    if doc.get("checkpoint") is not None:
        status += f" at checkpoint {doc['checkpoint']}"
    receipt = doc.get("receipt") or {}
    why = [str(receipt[k]) for k in ("reason", "rule") if receipt.get(k)]
    if why:
        status += f" ({'; '.join(why)})"
    return status


def _payload_rows(doc: dict[str, Any], raw: bool) -> list[tuple[str, str]]:
    decoded = doc.get("decoded")
    rows: list[tuple[str, str]] = []
    if doc.get("payload") is None:
        why = "redacted by governance" if doc.get("redacted") else "not served"
        return [("payload", f"none ({why})")]
    if isinstance(decoded, dict):
        for key, value in decoded.items():
            shown = value
            if key == "text" and value is None:
                size = decoded.get("size_bytes")
                shown = f"binary, {size} bytes ({'below' if raw else 'see --raw'})"
            if shown is not None and key != "size_bytes":
                rows.append((key, _words(shown)))
    if raw or not isinstance(decoded, dict):
        rows.append(("payload (base64)", str(doc["payload"])))
    return rows


def tx_rows(doc: dict[str, Any], raw: bool) -> list[tuple[str, str]]:
    """The lines show_tx prints, as (label, value)."""
    rows = [
        ("tx", str(doc.get("tx_id"))),
        ("kind", str(doc.get("kind"))),
        ("status", _status(doc)),
        ("sender", str(doc.get("sender"))),
    ]
    governance = (doc.get("receipt") or {}).get("governance_ref")
    if governance:
        rows.append(("decided by", str(governance)))
    if doc.get("missing"):
        rows.append(("waits for", _words(doc["missing"])))
    return rows + _payload_rows(doc, raw)


def show_tx(doc: dict[str, Any], raw: bool) -> None:
    """Print a transaction's record for people."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in tx_rows(doc, raw):
        grid.add_row(label, escape(value))
    people_console().print(grid)
