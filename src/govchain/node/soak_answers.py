"""How the soak reads a node's answer to one transaction: a promise, a retry, or a refusal.

Pure: one answer in, one verdict out, so the rules are tested without a node.
A single `POST /v1/txs` answers with an HTTP status and a document; a batch
(`POST /v1/txs/batch`) answers 202 with one document per transaction, either
`{"tx_id", "status"}` or `{"error": {"code", "message"}}` without a status of
its own: a batch item's error code is read as the single answer's would be.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from govchain.sdk.client import FINAL_STATUSES

# Refusals that say "not now, or not here": the same bytes go again elsewhere.
# not_replicated, catching_up and pool_full are the codes of issue 10's
# semantics; quota_exceeded and orphan_pool_full are back-pressure too. A
# single submission gets them as 503 (api/app.py's transient reasons).
RETRY_CODES = frozenset(
    {"not_replicated", "catching_up", "pool_full", "quota_exceeded", "orphan_pool_full"}
)


class Verdict(Enum):
    """What the loader does with a transaction after one answer."""

    PROMISED = "promised"  # a node holds it to become final: never sent again
    RETRY = "retry"  # the same bytes go again, to another node
    REFUSED = "refused"  # bad for good: its sender stops


def status_verdict(code: int, status: str) -> tuple[Verdict, str]:
    """A 200/202 answer's status: (verdict, what to count it as)."""
    if status == "pending":
        return Verdict.PROMISED, "pending"
    if status == "pending_parent":
        return Verdict.RETRY, "pending_parent"
    if code == 200 and status in FINAL_STATUSES:
        return Verdict.PROMISED, "already_final"
    return Verdict.REFUSED, f"{code} {status}"


def error_verdict(code: int, error: str) -> tuple[Verdict, str]:
    """An error answer (HTTP status code, error code): (verdict, what to count it as)."""
    if code == 409 and error == "duplicate":
        # Before issue 10 a node answered a resubmission it held with 409: it has it.
        return Verdict.PROMISED, "duplicate"
    if code == 503:
        return Verdict.RETRY, "503"
    if code >= 500 or error in RETRY_CODES:
        return Verdict.RETRY, "retried_other"
    return Verdict.REFUSED, f"{code} {error}"


def batch_item_verdict(item: Any, tx_id_hex: str) -> tuple[Verdict, str, str]:
    """One document of a batch answer: (verdict, what to count, the error code or status)."""
    if not isinstance(item, dict):
        return Verdict.REFUSED, "bad_response", "unreadable"
    err = item.get("error")
    if isinstance(err, dict):
        error = str(err.get("code", "unreadable"))
        # The item has no HTTP status: the one a single submission would have got.
        code = 503 if error in RETRY_CODES else 409 if error == "duplicate" else 422
        verdict, label = error_verdict(code, error)
        return verdict, label, error
    if item.get("tx_id") != tx_id_hex:
        return Verdict.REFUSED, "bad_response", "another tx_id"
    status = str(item.get("status", "unreadable"))
    # A batch answers 202 whatever each item's state; an item already final is 200's case.
    code = 200 if status in FINAL_STATUSES else 202
    verdict, label = status_verdict(code, status)
    return verdict, label, status
