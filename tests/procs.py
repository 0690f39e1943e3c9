"""Helpers for multi-process tests: leased free ports, node processes, cleanup."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from govchain.node.devnet import DevnetNode, create
from govchain.node.port_leases import free_port_base, release_port_base


def wait_until(pred: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll pred until true; fail the test with what after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            if pred():
                return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class Cluster:
    """Nodes of a devnet layout, each a process the test starts, kills and restarts."""

    def __init__(
        self, root: Path, validators: int = 4, observers: int = 0, sync_every: int | None = None
    ) -> None:
        self.root = root
        self.port_base = free_port_base(validators + observers)  # leased until stop()
        shape: dict[str, Any] = {} if sync_every is None else {"sync_every": sync_every}
        self.nodes: list[DevnetNode] = create(root, validators, observers, self.port_base, **shape)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.http = httpx.Client(timeout=5.0)

    def url(self, i: int) -> str:
        """API base URL of node i."""
        return f"http://127.0.0.1:{self.nodes[i].api_port}"

    def start(self, i: int) -> None:
        """Start node i (again)."""
        n = self.nodes[i]
        log = (n.home / "node.log").open("ab")
        self.procs[n.name] = subprocess.Popen(
            [sys.executable, "-m", "govchain.cli.main", "node", "--home", str(n.home)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def start_all(self) -> None:
        """Start every node and wait until each API answers."""
        for i in range(len(self.nodes)):
            self.start(i)
        for i in range(len(self.nodes)):
            self.wait_api(i)

    def wait_api(self, i: int, timeout_s: float = 30.0) -> None:
        """Until node i's API answers; fails at once, with its log, if the node exited."""
        n = self.nodes[i]

        def up() -> bool:
            p = self.procs.get(n.name)
            if p is not None and p.poll() is not None:
                tail = (n.home / "node.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"{n.name} exited with {p.returncode}:\n{tail}")
            return self.http.get(self.url(i) + "/v1/status").status_code == 200

        wait_until(up, timeout_s, f"{n.name} API")

    def kill9(self, i: int) -> None:
        """SIGKILL node i and reap it."""
        p = self.procs.pop(self.nodes[i].name)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()

    def status(self, i: int) -> dict[str, Any]:
        """GET /v1/status of node i."""
        doc: dict[str, Any] = self.http.get(self.url(i) + "/v1/status").json()
        return doc

    def height(self, i: int) -> int:
        """Executed height of node i."""
        return int(self.status(i)["height"])

    def stop(self) -> None:
        """Stop every process: SIGTERM, then SIGKILL after a grace period."""
        for p in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.clear()
        self.http.close()
        release_port_base(self.port_base)


@contextlib.contextmanager
def cluster(root: Path, validators: int = 4, observers: int = 0) -> Iterator[Cluster]:
    """A started cluster that is always cleaned up."""
    c = Cluster(root, validators, observers)
    try:
        c.start_all()
        yield c
    finally:
        c.stop()
