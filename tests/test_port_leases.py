"""Free ports for devnets and tests are leased: two processes are never handed the same port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from govchain.node.port_leases import (
    P2P_PORT_OFFSET,
    PORT_LEASE_FILE_ENV,
    PORT_LEASE_S_MAX,
    PORT_RANGE_LOW,
    PortLease,
    ephemeral_low,
    free_port_base,
    read_leases,
    release_port_base,
)

BASES_PER_PROCESS = 40
NODES = 4
# Each child leases bases, prints them, and keeps its leases until told to exit.
CHILD = f"""
import sys
from govchain.node.port_leases import free_port_base
print(*(free_port_base({NODES}) for _ in range({BASES_PER_PROCESS})), flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def lease_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "leases.json"
    monkeypatch.setenv(PORT_LEASE_FILE_ENV, str(path))
    return path


def leases_in(path: Path) -> list[PortLease]:
    with path.open() as f:
        return read_leases(f)


def ports_of(base: int) -> set[int]:
    api = range(base, base + NODES)
    return {*api, *(p + P2P_PORT_OFFSET for p in api)}


def test_two_processes_leasing_at_once_never_share_a_port(lease_file: Path) -> None:
    env = {**os.environ, PORT_LEASE_FILE_ENV: str(lease_file)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        assert all(c.stdout is not None for c in children)
        bases = [[int(b) for b in c.stdout.readline().split()] for c in children if c.stdout]
    finally:
        for c in children:
            c.communicate("bye\n", timeout=30)
    assert [len(b) for b in bases] == [BASES_PER_PROCESS] * 2
    ports = [p for b in bases[0] + bases[1] for p in ports_of(b)]
    assert len(ports) == len(set(ports)) == 2 * BASES_PER_PROCESS * 2 * NODES
    # Below the ephemeral range: no outgoing connection is given one meanwhile.
    assert min(ports) >= PORT_RANGE_LOW
    assert max(ports) < ephemeral_low()


def test_a_lease_ends_with_its_process_or_when_released(lease_file: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    gone = int(done.stdout)
    mine = free_port_base(NODES)
    leases = leases_in(lease_file)
    assert [(lease.base, lease.pid) for lease in leases] == [(mine, os.getpid())]
    assert leases[0].live(leases[0].at_s)
    assert not PortLease(mine, NODES, gone, "1", leases[0].at_s).live(leases[0].at_s)
    assert not leases[0].live(leases[0].at_s + PORT_LEASE_S_MAX)
    release_port_base(mine)
    assert leases_in(lease_file) == []


def test_a_torn_lease_file_is_started_afresh(lease_file: Path) -> None:
    lease_file.write_text('[{"base": 1')
    base = free_port_base(NODES)
    assert [lease.base for lease in leases_in(lease_file)] == [base]
