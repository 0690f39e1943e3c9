"""What the store's file system or file refused, said in one line that names the file.

SQLite reports a full disk as `sqlite3.OperationalError("database or disk is
full")` (SQLITE_FULL), an unreadable page as SQLITE_CORRUPT or SQLITE_NOTADB,
a failing device as SQLITE_IOERR: none names the file. A node that meets one
of these must stop (its replica is ahead of what it saved) and say which file
and why, without a traceback: store_fault() turns such an error into a
StoreFaultError whose message is that line. Anything else is not a store fault
(None): a bug keeps its traceback.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from govchain.storage.base import StoreError

# Primary result codes (the low byte of an extended code), from sqlite3.h.
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26

_WHAT = {
    SQLITE_FULL: "disk full writing",
    SQLITE_IOERR: "I/O error on",
    SQLITE_CORRUPT: "damaged store",
    SQLITE_NOTADB: "damaged store",
    SQLITE_READONLY: "read-only store",
    SQLITE_CANTOPEN: "cannot open",
}
_ERRNO_CODES = {errno.ENOSPC: SQLITE_FULL, errno.EDQUOT: SQLITE_FULL, errno.EIO: SQLITE_IOERR}


class StoreFaultError(StoreError):
    """The store's disk or file failed under the node: kind is 'disk_full', 'io', 'damaged'..."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _kind(code: int) -> str:
    return {
        SQLITE_FULL: "disk_full",
        SQLITE_IOERR: "io",
        SQLITE_CORRUPT: "damaged",
        SQLITE_NOTADB: "damaged",
        SQLITE_READONLY: "read_only",
        SQLITE_CANTOPEN: "cannot_open",
    }[code]


def _free_bytes(directory: Path) -> str:
    """'N bytes free on DIR', or '' when the file system cannot say."""
    try:
        st = os.statvfs(directory)
    except OSError:
        return ""
    return f" ({st.f_bavail * st.f_frsize} bytes free on {directory})"


def store_fault(exc: BaseException, path: Path) -> StoreFaultError | None:
    """exc as a StoreFaultError naming path (the store file), or None when exc is not one."""
    if isinstance(exc, StoreFaultError):
        return exc
    code: int | None = None
    cause: BaseException | None = exc
    while cause is not None and code is None:  # CommitError may wrap the sqlite3 error
        if isinstance(cause, sqlite3.Error):
            raw = getattr(cause, "sqlite_errorcode", None)
            if isinstance(raw, int) and (raw & 0xFF) in _WHAT:
                code = raw & 0xFF
        elif isinstance(cause, OSError) and cause.errno in _ERRNO_CODES:
            code = _ERRNO_CODES[cause.errno]
        cause = cause.__cause__
    if code is None:
        return None
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    free = _free_bytes(path.parent) if code == SQLITE_FULL else ""
    return StoreFaultError(_kind(code), f"{_WHAT[code]} {path}: {detail}{free}")
