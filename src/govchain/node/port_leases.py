"""Free ports for devnets and tests, leased so that two processes never get the same one.

A devnet of n nodes takes n API ports from a base port, and their p2p twins
P2P_PORT_OFFSET above. free_port_base picks a base below the kernel's range of
ephemeral ports, probes it, and leases it in a file every process of the user
shares, so that no parallel test worker or other run is handed those ports
between the probe and the node's bind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from govchain.node.errors import DevnetError

HOST = "127.0.0.1"  # every devnet node listens here only
P2P_PORT_OFFSET = 100  # a node's p2p port is its API port plus this
NODES_MAX = P2P_PORT_OFFSET  # more would make API and p2p ports overlap

# Ports a devnet may take when asked for free ones: below the kernel's range of
# ephemeral ports, where outgoing connections (peers dialling, HTTP clients) get
# their local ports. A base taken from that range could be handed to such a
# connection before the node binds it ("address already in use").
PORT_RANGE_LOW = 10_000
EPHEMERAL_LOW_DEFAULT = 32_768
_EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PORT_PICKS_MAX = 200  # random bases tried before giving up
# Probing a port (bind, close) and binding it later races with every other
# process that probes meanwhile: two test workers could both find a base free.
# So each base handed out is also leased in one file per user under the temp
# dir, read and rewritten under an exclusive flock; no process is handed a port
# another live lease holds. A lease ends when its process exits (pid and start
# time no longer match), when release_port_base() is called, or after
# PORT_LEASE_S_MAX (nodes have bound their ports long before).
PORT_LEASE_S_MAX = 3_600
PORT_LEASES_MAX = 4_096  # leases kept in the file; beyond it the oldest end early
PORT_LEASE_FILE_ENV = "GOVCHAIN_PORT_LEASES"  # another lease file (tests of the lease itself)


def ephemeral_low() -> int:
    """The lowest ephemeral port of this machine (Linux), else the IANA default's."""
    try:
        return int(_EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return EPHEMERAL_LOW_DEFAULT


def _lease_file() -> Path:
    """The lease file every process of this user shares."""
    override = os.environ.get(PORT_LEASE_FILE_ENV, "")
    if override:
        return Path(override)
    return Path(tempfile.gettempdir()) / f"govchain-port-leases-{os.getuid()}.json"


def _started(pid: int) -> str | None:
    """When process pid started (its /proc stat start time), or None when it is gone.

    The start time tells a live leaseholder from a new process that reuses its pid.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        if Path("/proc/self/stat").exists():
            return None  # Linux: the process is gone
        try:
            os.kill(pid, 0)  # elsewhere: alive or not, start time unknown
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "?"
    # Field 22 (starttime) counts from the end of the parenthesised command name.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


@dataclass(frozen=True, slots=True)
class PortLease:
    """Ports base..base+count-1 and their p2p twins, held for one process."""

    base: int
    count: int
    pid: int
    started: str
    at_s: float

    def ports(self) -> set[int]:
        """Every port the lease holds."""
        api = range(self.base, self.base + self.count)
        return {*api, *(p + P2P_PORT_OFFSET for p in api)}

    def live(self, now_s: float) -> bool:
        """True while the leasing process runs and the lease is not too old."""
        return now_s - self.at_s < PORT_LEASE_S_MAX and _started(self.pid) == self.started


@contextlib.contextmanager
def _locked_leases() -> Iterator[IO[str]]:
    """The lease file, opened (never through a symlink) and exclusively locked."""
    path = _lease_file()
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise DevnetError(f"cannot open the port lease file {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes
        yield f


def read_leases(f: IO[str]) -> list[PortLease]:
    """The leases in an open lease file (none if it is torn or foreign)."""
    f.seek(0)
    try:
        rows = json.loads(f.read() or "[]")
        return [PortLease(**row) for row in rows]
    except (ValueError, TypeError):
        return []  # a torn or foreign file: start afresh (the bind probe still guards)


def _write_leases(f: IO[str], leases: list[PortLease]) -> None:
    f.seek(0)
    f.truncate()
    rows = [{k: getattr(lease, k) for k in PortLease.__slots__} for lease in leases]
    f.write(json.dumps(rows))
    f.flush()


def _bindable(ports: list[int]) -> bool:
    """True when nothing on 127.0.0.1 holds any of ports (a port in TIME_WAIT counts as held)."""
    try:
        for port in ports:
            with socket.socket() as s:
                s.bind((HOST, port))
    except OSError:
        return False
    return True


def free_port_base(count: int) -> int:
    """A base port whose count API ports and count p2p ports are free on 127.0.0.1, leased.

    Chosen at random below the ephemeral range, so that no outgoing connection
    takes one of them before the node binds it, and outside every live lease,
    so that no other process (a parallel test worker, another run) is handed
    them meanwhile. The lease lasts while this process runs.
    """
    if not 1 <= count <= NODES_MAX:
        raise DevnetError(f"a devnet has 1 to {NODES_MAX} nodes")
    top = ephemeral_low() - P2P_PORT_OFFSET - count
    if top <= PORT_RANGE_LOW:
        top = 65_000 - P2P_PORT_OFFSET - count  # an odd machine: anywhere will do
    me = os.getpid()
    started = _started(me) or "?"
    with _locked_leases() as f:
        now_s = time.time()
        leases = [lease for lease in read_leases(f) if lease.live(now_s)]
        held = set().union(*(lease.ports() for lease in leases))
        for _ in range(PORT_PICKS_MAX):
            base = secrets.randbelow(top - PORT_RANGE_LOW) + PORT_RANGE_LOW
            lease = PortLease(base, count, me, started, now_s)
            ports = sorted(lease.ports())
            if held.isdisjoint(ports) and _bindable(ports):
                _write_leases(f, [*leases, lease][-PORT_LEASES_MAX:])
                return base
    raise DevnetError("no free range of ports on 127.0.0.1")


def release_port_base(base: int) -> None:
    """End this process's lease on base (its nodes are stopped; others may take the ports)."""
    me = os.getpid()
    with _locked_leases() as f:
        leases = read_leases(f)
        kept = [lease for lease in leases if (lease.base, lease.pid) != (base, me)]
        if len(kept) != len(leases):
            _write_leases(f, kept)
