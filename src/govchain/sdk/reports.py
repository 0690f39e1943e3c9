"""The report channel from a program: send a report, read them (signed), handle one.

    with ReportsClient("http://127.0.0.1:27000") as c:
        rid = c.submit_report("fraud", "a shop takes deposits and never ships")["report_id"]
        page = c.reports(member_key, status="open")           # a signed GET
        tx_id = c.submit(c.handle_report(member_key, rid, "referred to the police"))

Reads are signed requests (reports/signed.py): the client signs the exact
path and query it sends, with the time of its own clock and a fresh nonce.
"""

from __future__ import annotations

import secrets
import time
import urllib.parse
from typing import Any

from govchain.codec import HASH_BYTES, encode
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import Transaction
from govchain.reports.signed import NONCE_BYTES, sign
from govchain.sdk.client import Client
from govchain.sdk.errors import SdkError
from govchain.state.kinds.report_handle import KIND, ReportHandlePayload, note_error


def handle_payload(report_id: str, note: str) -> bytes:
    """The canonical payload of a report.handle transaction (report_id: 64 hex)."""
    try:
        raw = bytes.fromhex(report_id)
    except ValueError:
        raw = b""
    if len(raw) != HASH_BYTES or report_id != report_id.lower():
        raise SdkError("bad_report_id", "a report id is 64 lowercase hex characters")
    problem = note_error(note)
    if problem is not None:
        raise SdkError("bad_note", problem)
    return encode(ReportHandlePayload(raw, note))


class ReportsClient(Client):
    """A node client that also speaks the report channel."""

    def __enter__(self) -> ReportsClient:
        return self

    def signed_get(self, key: SigningKey, path: str, query: dict[str, str] | None = None) -> Any:
        """GET path?query signed by key; the JSON answer (SdkError for an error answer)."""
        st = self._status or self.status()
        node_key = bytes.fromhex(str(st["node_key"]))
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        now, nonce = int(time.time()), secrets.token_bytes(NONCE_BYTES)
        headers = sign(key, str(st["chain_id"]), node_key, "GET", target, now, nonce)
        return self._call("GET", target, headers=headers)

    def submit_report(
        self, category: str, text: str, subject: str = "", contact: str = ""
    ) -> dict[str, Any]:
        """POST /v1/reports: {"report_id", "status": "open"} (no key needed)."""
        body: dict[str, str] = {"category": category, "text": text}
        if subject:
            body["subject"] = subject
        if contact:
            body["contact"] = contact
        doc: dict[str, Any] = self._call("POST", "/v1/reports", json=body)
        return doc

    def reports(
        self,
        key: SigningKey,
        status: str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        """GET /v1/reports (signed): {"reports", "next", "counts", "node", "synced_height"}."""
        query: dict[str, str] = {}
        if status is not None:
            query["status"] = status
        if after is not None:
            query["after"] = after
        if limit is not None:
            query["limit"] = str(limit)
        doc: dict[str, Any] = self.signed_get(key, "/v1/reports", query)
        return doc

    def report(self, key: SigningKey, report_id: str) -> dict[str, Any]:
        """GET /v1/reports/{id} (signed)."""
        doc: dict[str, Any] = self.signed_get(key, f"/v1/reports/{report_id}")
        return doc

    def report_ids_with_prefix(self, key: SigningKey, prefix: str) -> tuple[list[str], bool]:
        """Ids of this node's reports starting with prefix (signed), and whether more do."""
        doc = self.signed_get(key, "/v1/reports", {"prefix": prefix})
        return [str(i) for i in doc["report_ids"]], bool(doc.get("more"))

    def handle_report(self, key: SigningKey, report_id: str, note: str) -> Transaction:
        """Build a signed report.handle transaction (submit it with submit())."""
        return self.build(key, KIND, handle_payload(report_id, note))
