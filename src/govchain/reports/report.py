"""A report as the public sends it: its fields, their limits, its canonical form and id.

Pure: bytes in, a checked `Report` (or a `ReportError` that blames the
sender) out. A report arrives as JSON or as an HTML form post (the explorer's
/report page works without JavaScript); both give the same `Report`.

Canonical form: text's line breaks become "\\n" (browsers send a textarea's
as "\\r\\n"), an absent subject or contact is "". The id names one report
received by one node at one time:

    report_id = SHA-256 digest(REPORT_DOMAIN, encode(report), node_key, received_ms)

(codec.digest: each part length-prefixed; encode: the canonical msgpack array
[category, subject, text, contact]; received_ms: 8 bytes big-endian). A node's
receive times strictly increase (reports/store.py), so two identical reports
get two ids; anyone holding the report, the node's key and the time can
recompute it, and the audit entry that marks it handled names it.
"""

from __future__ import annotations

import urllib.parse

import msgspec

from govchain.codec import digest, encode

CATEGORIES = ("illegal_content", "fraud", "privacy", "other")
FIELDS = ("category", "subject", "text", "contact")
TEXT_CHARS_MAX = 4_000
SUBJECT_CHARS_MAX = 128  # a transaction id, an address, a receipt number...
CONTACT_CHARS_MAX = 200
REPORT_DOMAIN = b"govchain:report:v1:"
RECEIVED_MS_BYTES = 8

# The largest body a report may come in. A report of the longest fields in the
# widest characters takes this much: a 4-byte character is 12 bytes in a form
# post (%XX each) and 12 in JSON as a \\uXXXX surrogate pair, so 4,000 + 128 +
# 200 of them and the field names need 52,000 bytes. 8 KiB would refuse a
# report of 2,700 Chinese characters sent as JSON, or 900 from a form.
_ENCODED_CHAR_BYTES_MAX = 12
_NAMES_AND_PUNCTUATION_BYTES = 256
BODY_BYTES_MAX = 64 * 1024
assert (
    _ENCODED_CHAR_BYTES_MAX * (TEXT_CHARS_MAX + SUBJECT_CHARS_MAX + CONTACT_CHARS_MAX)
    + _NAMES_AND_PUNCTUATION_BYTES
    <= BODY_BYTES_MAX
), "a legitimate report must fit the body limit"


class ReportError(ValueError):
    """The sender's report is not acceptable: a snake_case code and one sentence."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Report(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A checked report in canonical form ("" for an absent subject or contact)."""

    category: str
    subject: str
    text: str
    contact: str

    @property
    def size_bytes(self) -> int:
        """Its fields' UTF-8 bytes: what keeping it costs a store."""
        return sum(len(f.encode()) for f in (self.category, self.subject, self.text, self.contact))


class _JsonReport(msgspec.Struct, forbid_unknown_fields=True):
    """The JSON body of POST /v1/reports; unknown fields are refused."""

    category: str
    text: str
    subject: str | None = None
    contact: str | None = None


_JSON_DECODER = msgspec.json.Decoder(_JsonReport)
_JSON_SHAPE = (
    'send a JSON object {"category": one of ' + ", ".join(CATEGORIES) + ', "text": str,'
    ' "subject": str (optional), "contact": str (optional)} and nothing else'
)


def _controls_in(text: str, allowed: str) -> bool:
    """True when text holds a C0 or C1 control or DEL outside `allowed`.

    ESC (and the C1 CSI, U+009B) start terminal escape sequences: a report is
    read in committee members' terminals (`govchain reports list`).
    """
    return any((c < " " or "\x7f" <= c <= "\x9f") and c not in allowed for c in text)


def _line(value: str, name: str, chars_max: int) -> str:
    """A one-line field: at most chars_max characters, no control characters."""
    if len(value) > chars_max:
        raise ReportError(f"bad_{name}", f"{name} holds at most {chars_max} characters")
    if _controls_in(value, ""):
        raise ReportError(f"bad_{name}", f"{name} is one line without control characters")
    return value


def checked(category: str, subject: str, text: str, contact: str) -> Report:
    """A report in canonical form, or ReportError naming the first bad field."""
    if category not in CATEGORIES:
        raise ReportError("bad_category", f"category is one of {', '.join(CATEGORIES)}")
    for name, value in (("subject", subject), ("text", text), ("contact", contact)):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ReportError(f"bad_{name}", f"{name} is not valid Unicode text") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text or text.isspace():
        raise ReportError("bad_text", "text must say something (it is empty)")
    if len(text) > TEXT_CHARS_MAX:
        raise ReportError("bad_text", f"text holds at most {TEXT_CHARS_MAX} characters")
    if _controls_in(text, "\t\n"):
        raise ReportError("bad_text", "text holds no control characters but tab and line breaks")
    return Report(
        category,
        _line(subject, "subject", SUBJECT_CHARS_MAX),
        text,
        _line(contact, "contact", CONTACT_CHARS_MAX),
    )


def from_json(raw: bytes) -> Report:
    """A report from a JSON body; ReportError for anything else."""
    try:
        r = _JSON_DECODER.decode(raw)
    except msgspec.ValidationError as exc:  # valid JSON of the wrong shape: say where
        code = "unknown_field" if "unknown field" in str(exc) else "bad_request"
        raise ReportError(code, f"{_JSON_SHAPE} ({str(exc)[:200]})") from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise ReportError("bad_request", _JSON_SHAPE) from None
    return checked(r.category, r.subject or "", r.text, r.contact or "")


def from_form(raw: bytes) -> Report:
    """A report from an application/x-www-form-urlencoded body (the explorer's form)."""
    try:
        pairs = urllib.parse.parse_qsl(
            raw.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=bool(raw),
            encoding="utf-8",
            errors="strict",
            max_num_fields=len(FIELDS),
        )
    except ValueError:  # UnicodeDecodeError too: not ASCII, or %XX that is not UTF-8
        raise ReportError(
            "bad_request", "send the form fields category, text, subject and contact"
        ) from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name not in FIELDS:
            raise ReportError("unknown_field", f"{name[:40]!r} is not a field of a report")
        if name in fields:
            raise ReportError("bad_request", f"the field {name} is given twice")
        fields[name] = value
    for name in ("category", "text"):
        if name not in fields:
            raise ReportError(f"bad_{name}", f"the field {name} is missing")
    return checked(
        fields["category"], fields.get("subject", ""), fields["text"], fields.get("contact", "")
    )


def report_id(report: Report, node_key: bytes, received_ms: int) -> bytes:
    """The report's 32-byte id as received by node_key at received_ms (module docstring)."""
    when = received_ms.to_bytes(RECEIVED_MS_BYTES, "big")
    return digest(REPORT_DOMAIN, encode(report), node_key, when)
