"""One supervisor per devnet directory: an exclusive flock on DIR/devnet.lock.

The supervisor holds the lock for its whole life; the kernel drops it when the
process ends, however it ends (even kill -9), so a stale lock cannot outlive
its holder. The file itself stays: deleting it would let a second process
lock a new file of the same name while the first still holds the old one.
The holder writes who it is (pid, explorer URL) into the file, so that a second
start can name the running one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from govchain.node.errors import DevnetError

LOCK_NAME = "devnet.lock"
HOLDER_BYTES_MAX = 4096
# A holder writes its details just after it takes the lock: how long a second
# start waits to read them.
HOLDER_READ_WAIT_S = 1.0
HOLDER_READ_POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a devnet's lock, as the holder wrote it (fields may be unknown)."""

    pid: int | None
    explorer: str | None


class DevnetRunningError(DevnetError):
    """A devnet already runs in this directory (another process holds its lock)."""

    def __init__(self, root: Path, holder: Holder) -> None:
        pid = str(holder.pid) if holder.pid is not None else "unknown"
        url = f", explorer {holder.explorer}" if holder.explorer else ""
        super().__init__(
            f"a devnet is already running in {root} (supervisor pid {pid}{url});"
            " stop it first (Ctrl-C in its terminal, or kill "
            f"{pid if holder.pid is not None else '<pid>'})"
        )
        self.root = root
        self.holder = holder


class DirLock:
    """The exclusive lock on a devnet directory, held until release()."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise DevnetRunningError; changes nothing when it fails."""
        self.root.mkdir(parents=True, exist_ok=True)
        # No O_TRUNC: a process that fails to take the lock must not erase the
        # holder's details.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DevnetRunningError(self.root, read_holder(self.path)) from None
        self._fd = fd

    def write_holder(self, explorer: str | None) -> None:
        """Record this process and its explorer URL in the lock file."""
        if self._fd is None:
            raise DevnetError("write_holder without the lock")
        doc = json.dumps({"pid": os.getpid(), "explorer": explorer}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, doc, 0)

    def release(self) -> None:
        """Drop the lock (also dropped by the kernel when this process ends)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)  # no stale details for the next reader
            os.close(self._fd)
            self._fd = None


def read_holder(path: Path) -> Holder:
    """The details a holder wrote, waiting briefly for a holder that just took the lock."""
    deadline = time.monotonic() + HOLDER_READ_WAIT_S
    while True:
        with contextlib.suppress(OSError, ValueError, TypeError):
            with path.open("rb") as f:
                doc = json.loads(f.read(HOLDER_BYTES_MAX))
            pid = doc.get("pid")
            explorer = doc.get("explorer")
            return Holder(
                pid if isinstance(pid, int) else None,
                explorer if isinstance(explorer, str) else None,
            )
        if time.monotonic() > deadline:
            return Holder(None, None)
        time.sleep(HOLDER_READ_POLL_S)
