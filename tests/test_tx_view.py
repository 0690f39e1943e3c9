"""`govchain tx show` for people.

The payload decoded, base64 only with --raw, and nothing in a record can
drive the terminal.
"""

from __future__ import annotations

from typing import Any

from govchain.cli.tx_view import printable, tx_rows

RECORD: dict[str, Any] = {
    "tx_id": "ab" * 32,
    "sender": "cd" * 20,
    "kind": "record",
    "status": "executed",
    "checkpoint": 12,
    "receipt": {"reason": None, "rule": None, "governance_ref": None},
    "redacted": False,
    "payload": "kqBqdGV4dC9wbGFpbsQMaGVsbG8gbGVkZ2Vy",
    "decoded": {"service": None, "media_type": "text/plain", "size_bytes": 12,
                "text": "hello ledger"},
}  # fmt: skip


def _rows(doc: dict[str, Any], raw: bool = False) -> dict[str, str]:
    return dict(tx_rows(doc, raw))


def test_a_record_shows_its_text_and_base64_only_with_raw() -> None:
    rows = _rows(RECORD)
    assert rows["text"] == "hello ledger"
    assert rows["status"] == "executed at checkpoint 12"
    assert "payload (base64)" not in rows and "service" not in rows
    assert _rows(RECORD, raw=True)["payload (base64)"] == RECORD["payload"]


def test_binary_data_points_to_raw() -> None:
    doc = {**RECORD, "decoded": {**RECORD["decoded"], "text": None, "size_bytes": 3}}
    assert _rows(doc)["text"] == "binary, 3 bytes (see --raw)"


def test_a_transfer_a_proposal_and_a_vote() -> None:
    transfer = {**RECORD, "kind": "transfer", "decoded": {"to": "ef" * 20, "amount": 250}}
    assert _rows(transfer)["to"] == "ef" * 20 and _rows(transfer)["amount"] == "250"
    action = {"name": "freeze-identity", "args": {"address": "ef" * 20}}
    propose = {**RECORD, "kind": "gov.propose",
               "decoded": {"action": action, "reason": "fraud", "evidence": None,
                           "emergency": True}}  # fmt: skip
    rows = _rows(propose)
    assert rows["action"] == f"freeze-identity address={'ef' * 20}"
    assert rows["emergency"] == "yes" and "evidence" not in rows
    vote = {**RECORD, "kind": "gov.vote", "decoded": {"proposal": "12" * 32, "vote": "no"}}
    assert _rows(vote)["vote"] == "no"


def test_a_redacted_or_rejected_payload_says_so() -> None:
    redacted = {**RECORD, "payload": None, "decoded": None, "redacted": True}
    assert _rows(redacted)["payload"] == "none (redacted by governance)"
    receipt = {"reason": "frozen identity", "rule": "frozen", "governance_ref": "9"}
    rejected = {**RECORD, "payload": None, "decoded": None, "status": "rejected",
                "receipt": receipt}  # fmt: skip
    rows = _rows(rejected)
    assert rows["payload"] == "none (not served)"
    assert rows["status"] == "rejected at checkpoint 12 (frozen identity; frozen)"
    assert rows["decided by"] == "9"


def test_control_characters_are_escaped() -> None:
    assert printable("red \x1b[31m alert\x07") == "red \\x1b[31m alert\\x07"
    doc = {**RECORD, "decoded": {**RECORD["decoded"], "text": "\x1b]0;owned\x07"}}
    assert "\x1b" not in _rows(doc)["text"]
