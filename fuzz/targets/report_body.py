"""The body of POST /v1/reports (reports/report.py): JSON, or the explorer's form post.

Input: a mode byte (bit 0: a form post, else JSON), then the body, at most
BODY_BYTES_MAX as the route reads it. A ReportError is the acceptable refusal;
a report taken must be one a store can keep and id.
"""

from __future__ import annotations

import json
import urllib.parse

from govchain.codec import encode
from govchain.reports.report import (
    BODY_BYTES_MAX,
    SUBJECT_CHARS_MAX,
    TEXT_CHARS_MAX,
    ReportError,
    from_form,
    from_json,
    report_id,
)
from targets._kit import VALIDATORS, Reader, check

ACCEPTED: tuple[type[BaseException], ...] = (ReportError,)


def test_one_input(data: bytes) -> None:
    """Check one report body; only ReportError may come out."""
    r = Reader(data)
    form = bool(r.byte() & 1)
    body = r.rest()[:BODY_BYTES_MAX]
    report = from_form(body) if form else from_json(body)
    check(0 < len(report.text) <= TEXT_CHARS_MAX, "a text out of bounds was taken")
    check(len(report.subject) <= SUBJECT_CHARS_MAX, "a subject out of bounds was taken")
    check(len(report_id(report, VALIDATORS[0].public_key, 1)) == 32, "a report without an id")
    encode(report)


def seeds() -> dict[str, bytes]:
    """Reports as a client and as the explorer's form send them."""
    doc = {"category": "fraud", "text": "他骗了我的钱\r\nsee tx", "subject": "ab" * 32}
    form = {"category": "privacy", "text": "my address is shown", "contact": "me@example.org"}
    return {
        "json": b"\x00" + json.dumps(doc, ensure_ascii=False).encode(),
        "json-min": b"\x00" + json.dumps({"category": "other", "text": "x"}).encode(),
        "form": b"\x01" + urllib.parse.urlencode(form).encode(),
    }
