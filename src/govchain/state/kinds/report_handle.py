"""report.handle: a committee member marks a report (the complaint channel) handled.

Reports themselves live off chain, in the store of the node that received
them (docs/reports.md): they hold what the public typed, contact details
included, which a ledger that every node keeps forever must not. What the
chain records is the decision: every validator checks that the sender is a
member of the committee in force, then appends one audit entry,

    kind "report_handled", actor: the member's address,
    subject "report:<report id, 64 hex>", reason "tx:<this tx's id, 64 hex> <note>"

so the hash-chained audit log says who handled which report, when (the
entry's height) and with which words. A node marks its own copy of the
report handled once it has executed that height (api/reports_routes.py);
`handled_entry` reads an entry back. Handling a report twice appends a
second entry; nodes keep the first.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from govchain.codec import HASH_BYTES, ID_HEX_CHARS, DecodeError, decode_canonical
from govchain.dag.tx import Transaction
from govchain.state.accounts import Account
from govchain.state.audit import AuditEntry
from govchain.state.payload_base import Payload
from govchain.state.receipts import Outcome, Reason, rejected
from govchain.state.registry import KindSpec, TxContext

KIND = "report.handle"
AUDIT_KIND = "report_handled"
SUBJECT_PREFIX = "report:"
TX_PREFIX = "tx:"
# The note is copied into the audit entry's reason (at most 2,048 bytes, with
# the "tx:<id> " before it): 1,024 bytes of UTF-8 leave room to spare.
NOTE_BYTES_MAX = 1_024


class ReportHandlePayload(Payload, frozen=True):
    """Mark a report handled: its 32-byte id and the member's note (1..NOTE_BYTES_MAX bytes)."""

    report: bytes
    note: str


REPORT_HANDLE_DECODER = msgspec.msgpack.Decoder(ReportHandlePayload)


# Control characters a note may hold: tab and line feed. Any other (C0, DEL, C1:
# ESC starts a terminal escape sequence) would reach the terminals of those who
# read the audit log. Code-point ranges only, so the check never depends on
# Python's Unicode tables and every validator decides alike.
_NOTE_CONTROLS_OK = frozenset("\t\n")


def _control(c: str) -> bool:
    o = ord(c)
    return (o < 0x20 or 0x7F <= o <= 0x9F) and c not in _NOTE_CONTROLS_OK


def note_error(note: str) -> str | None:
    """Why a note is not acceptable (None: it is): 1..NOTE_BYTES_MAX bytes, not blank."""
    try:
        size = len(note.encode())
    except UnicodeEncodeError:
        return "the note is not valid Unicode text"
    if not note.strip(" \t\n"):
        return "the note must say something (it is empty)"
    if size > NOTE_BYTES_MAX:
        return f"the note holds at most {NOTE_BYTES_MAX} bytes of UTF-8 (it has {size})"
    if any(_control(c) for c in note):
        return "the note may hold no control characters but tab and line feed"
    return None


def run(ctx: TxContext, tx: Transaction, member: bytes, _acct: Account) -> Outcome | None:
    """Record the handling in the audit log; None when done."""
    if tx.body.sender not in ctx.stores.governance.members:
        return rejected(Reason.NOT_AUTHORIZED)
    try:
        p = decode_canonical(tx.payload, REPORT_HANDLE_DECODER)
    except DecodeError:
        return rejected(Reason.MALFORMED_PAYLOAD)
    if len(p.report) != HASH_BYTES or note_error(p.note) is not None:
        return rejected(Reason.BAD_ARGUMENT)
    ctx.audit.append(
        ctx.height,
        AUDIT_KIND,
        member,
        SUBJECT_PREFIX + p.report.hex(),
        "",
        f"{TX_PREFIX}{tx.id.hex()} {p.note}",
    )
    return None


class Handled(NamedTuple):
    """A report_handled audit entry, read back: which report, by whom, where, with what."""

    report_id: bytes
    member: bytes  # the member's address
    height: int
    tx_id: bytes
    note: str


def _hex32(text: str) -> bytes | None:
    if len(text) != ID_HEX_CHARS or text != text.lower():
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def handled_entry(e: AuditEntry) -> Handled | None:
    """The handling an audit entry records, or None for any other entry."""
    if e.kind != AUDIT_KIND or not e.subject.startswith(SUBJECT_PREFIX):
        return None
    report_id = _hex32(e.subject[len(SUBJECT_PREFIX) :])
    tx_part, _, note = e.reason.partition(" ")
    tx_id = _hex32(tx_part[len(TX_PREFIX) :]) if tx_part.startswith(TX_PREFIX) else None
    if report_id is None or tx_id is None:
        return None
    return Handled(report_id, e.actor, e.height, tx_id, note)


SPEC = KindSpec(
    kind=KIND,
    payload=ReportHandlePayload,
    run=run,
    doc_payload="`ReportHandlePayload(report, note)`; report = the 32-byte report id",
    doc_who="committee members",
    committee=True,
    restrictable=False,
)
