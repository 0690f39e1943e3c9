"""A node's log lines: text for people (the default), or JSON lines for log shippers.

`--log-format json` writes one JSON object per record, on one line, with keys
that do not change: `ts` (ISO-8601 UTC, milliseconds, `Z`), `level`
(lowercase), `logger`, `msg` (the formatted message), then any fields passed
with `extra=`, and `exc` (the traceback as one string) when there is one.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The attributes every LogRecord has: the rest were given with extra= (or set by a
# library): those become fields of their own.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
BASE_KEYS = ("ts", "level", "logger", "msg")


def _utc_iso(created_s: float) -> str:
    when = datetime.datetime.fromtimestamp(created_s, tz=datetime.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record, on one line (the module docstring names its keys)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line (no newline inside: JSON escapes them)."""
        doc: dict[str, Any] = {
            "ts": _utc_iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in doc and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exc"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra field that JSON cannot hold is written as its text.
        return json.dumps(doc, ensure_ascii=False, default=str)


def configure_logging(level: str, log_format: str) -> None:
    """Log records at level and above to stderr, as text or as JSON lines."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format is one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonLineFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO), handlers=[handler], force=True
    )
