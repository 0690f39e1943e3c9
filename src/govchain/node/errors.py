"""Errors of the node package that callers catch without importing the package's heavy parts."""

from __future__ import annotations


class DevnetError(Exception):
    """The devnet cannot start as asked; the message says why."""
