# ruff: noqa: RUF001  (Chinese text takes full-width punctuation)
"""The words of the applications' pages (tracing, warehouse receipts): key -> (zh, en)."""

from __future__ import annotations

APP_MESSAGES: dict[str, tuple[str, str]] = {}
