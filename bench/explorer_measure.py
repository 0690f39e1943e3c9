"""What the explorer bench measures with: quantiles of samples, the load average, a
process's CPU and memory, and a page's `Server-Timing` (see bench_explorer.py)."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from govchain.node.bench import process_cpu_s

# What the page cost the node, in wall time: `Server-Timing: page;dur=<ms>`.
SERVER_TIMING = re.compile(r"page;dur=([0-9.]+)")


def pct(sorted_xs: list[float], q: float) -> float:
    """The q-quantile (0..1) of sorted samples, nearest rank."""
    if not sorted_xs:
        return float("nan")
    return sorted_xs[min(len(sorted_xs) - 1, max(0, round(q * (len(sorted_xs) - 1))))]


def loadavg() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def rss_mb(pid: int) -> dict[str, float]:
    """A process's resident set now and at its peak (MB, Linux /proc)."""
    found: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": found.get("VmRSS", float("nan")), "peak_mb": found.get("VmHWM", float("nan"))}


def tree_cpu_s(root_pid: int) -> float:
    """CPU seconds of a process and every live descendant (Chromium's helpers too)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
    tree = {root_pid}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    total = 0.0
    for pid in tree:
        cpu = process_cpu_s(pid)
        if cpu == cpu:  # not nan: the process may have ended meanwhile
            total += cpu
    return total


def summary(xs: list[float]) -> dict[str, float]:
    """p50, p99 and max, rounded."""
    s = sorted(xs)
    return {"p50": round(pct(s, 0.5), 2), "p99": round(pct(s, 0.99), 2), "max": round(s[-1], 2)}
