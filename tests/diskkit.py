"""Helpers for the disk-fault drills: a small tmpfs, a steady load, catching up, bytes flipped."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govchain.crypto.keys import SigningKey
from govchain.node.files import read_key
from govchain.sdk.client import Client
from govchain.sdk.errors import SdkError
from procs import Cluster, wait_until

REQUIRE_ENV = "GOVCHAIN_REQUIRE_ROOT_FS"  # "1": a mount we may not make fails, never skips
VICTIM = 3  # the validator the faults hit (node 0 takes the load)
CATCH_UP_S = 60.0
FILL_CHUNK_BYTES = 1 << 20


def faucet(c: Cluster) -> SigningKey:
    """The devnet's funded key."""
    return read_key(c.root / "keys" / "faucet.key")


@contextlib.contextmanager
def tmpfs(where: Path, size_bytes: int) -> Iterator[Path]:
    """A tmpfs of size_bytes mounted on where (an empty directory), unmounted on the way out.

    Skips the test when this process may not mount (not root, or in a container
    without CAP_SYS_ADMIN), unless GOVCHAIN_REQUIRE_ROOT_FS=1 makes that a failure.
    """
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        why = f"cannot mount a tmpfs on {where} ({done.stderr.strip() or done.returncode})"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{why}, and {REQUIRE_ENV}=1")
        pytest.skip(f"{why}: run as root (CI does) for the full-disk drill")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True, check=False).returncode:
            # Still busy (a process of ours not reaped yet): detach it now, freed when idle.
            subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(directory: Path) -> Path:
    """Write a filler file in directory until its file system has no byte left; its path."""
    filler = directory / "filler"
    chunk = FILL_CHUNK_BYTES
    with filler.open("wb", buffering=0) as f:
        while chunk:
            try:
                f.write(b"\0" * chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                chunk //= 2
    return filler


class Load:
    """Transfers submitted to node 0 from a thread, paced, until stop(); errors are counted."""

    def __init__(self, c: Cluster, per_s: float = 40.0) -> None:
        self.c = c
        self.key = faucet(c)
        self.gap_s = 1.0 / per_s
        self.sent = 0
        self.refused = 0
        self.last_refusal = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load", daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop sending (idempotent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        with Client(self.c.url(0), timeout_s=5.0) as client:
            k = 0
            while not self._stop.is_set():
                k += 1
                try:
                    client.submit(client.transfer(self.key, k.to_bytes(20, "big"), 1))
                    self.sent += 1
                except SdkError as exc:
                    self.refused += 1
                    self.last_refusal = f"{exc.code}: {exc.message}"
                self._stop.wait(self.gap_s)


def stop_processes(c: Cluster) -> None:
    """SIGKILL every node process of c and reap it (the cluster's ports stay leased)."""
    for name, p in list(c.procs.items()):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        c.procs.pop(name)


@contextlib.contextmanager
def stopping(c: Cluster) -> Iterator[Cluster]:
    """c, its node processes killed and its ports and client released on the way out."""
    try:
        yield c
    finally:
        stop_processes(c)
        c.stop()


def exited(c: Cluster, i: int, timeout_s: float) -> int:
    """Wait until node i's process exits by itself; its exit status (reaped)."""
    p = c.procs[c.nodes[i].name]
    wait_until(lambda: p.poll() is not None, timeout_s, f"{c.nodes[i].name} to stop by itself")
    c.procs.pop(c.nodes[i].name)
    return p.wait()


def caught_up(c: Cluster, i: int) -> float:
    """Wait until node i reaches node 0's height of now and agrees on it; seconds it took."""
    t0 = time.monotonic()
    target = c.height(0)
    wait_until(lambda: c.height(i) >= target, CATCH_UP_S, f"{c.nodes[i].name} to catch up")
    took = time.monotonic() - t0
    for h in sorted({1, target // 2 or 1, target}):
        a = c.http.get(c.url(0) + f"/v1/checkpoints/{h}").json()
        b = c.http.get(c.url(i) + f"/v1/checkpoints/{h}").json()
        assert (a["hash"], a["state_hash"]) == (b["hash"], b["state_hash"]), h
    return took


def log_since(c: Cluster, i: int, offset: int) -> str:
    """What node i wrote to its node.log after byte offset."""
    with (c.nodes[i].home / "node.log").open("rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def log_size(c: Cluster, i: int) -> int:
    """node i's node.log size now (a mark for log_since)."""
    path = c.nodes[i].home / "node.log"
    return path.stat().st_size if path.exists() else 0


def flip(path: Path, offset: int) -> None:
    """Invert one byte of path at offset."""
    with path.open("r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def start_with(c: Cluster, i: int, *args: str) -> None:
    """Start node i with extra `govchain node` arguments (e.g. --resync)."""
    n = c.nodes[i]
    log = (n.home / "node.log").open("ab")
    c.procs[n.name] = subprocess.Popen(
        [sys.executable, "-m", "govchain.cli.main", "node", "--home", str(n.home), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()


def terminate(c: Cluster, i: int) -> int:
    """SIGTERM node i (a clean stop: the WAL is folded into the store) and reap it."""
    p = c.procs.pop(c.nodes[i].name)
    os.killpg(p.pid, signal.SIGTERM)
    return p.wait(30)


def table_pages(store: Path, table: str) -> list[tuple[int, str]]:
    """(page number, 'leaf' or 'internal') of a table's B-tree, from SQLite's dbstat."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT pageno, pagetype FROM dbstat WHERE name = ? ORDER BY pageno", (table,)
        ).fetchall()
    finally:
        conn.close()
    return [(int(p), str(t)) for p, t in rows]


def page_size(store: Path) -> int:
    """The store's page size, from its header."""
    raw = int.from_bytes(store.read_bytes()[16:18], "big")
    return 65_536 if raw == 1 else raw


def offset_in_table(store: Path, table: str, needle: bytes) -> int:
    """File offset of the middle of needle in one of table's pages (AssertionError: absent)."""
    data = store.read_bytes()
    size = page_size(store)
    for page, _ in table_pages(store, table):
        start = (page - 1) * size
        at = data.find(needle, start, start + size)
        if at >= 0:
            return at + len(needle) // 2
    raise AssertionError(f"{needle.hex()[:16]}... is in no page of {table}")
