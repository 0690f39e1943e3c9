"""A private network of Linux network namespaces: one namespace per node, all on one bridge.

The layout, for a run named R (nothing is created in the root namespace, so
deleting R's namespaces removes every interface, route and qdisc it made):

    R-hub   br0 with SUBNET.254/24 (where the drill's client lives), and the
            hub end of each node's veth pair, h<i>, enslaved to br0
    R-n<i>  eth0 with SUBNET.<i+1>/24 (the node end of the pair), and lo

Faults act inside these namespaces only:

- netem (delay, jitter, loss) as the root qdisc of each node's eth0: every
  packet a node sends goes through it once; where the kernel has no netem,
  loss alone, by a BPF filter on the same egress (bpf_loss);
- cut(src, dst): a blackhole route for dst's /32 in src's namespace: src can
  no longer send anything to dst (established connections stall, new ones
  fail), while dst can still send to src; both directions make a partition;
- link(i, up): the hub end of node i's veth down or up (a pulled cable).

Run names start with RUN_PREFIX and the creating process's pid, so that
sweep_stale() can remove what a run killed with -9 left behind, and
parallel runs (pytest-xdist workers) never share a name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

RUN_PREFIX = "gcd-"  # govchain drill
SUBNET = "10.213.0"  # a /24 of 10/8 seen nowhere else: it exists only inside our namespaces
PREFIX_LEN = 24
HUB_HOST = 254
BRIDGE = "br0"
NODE_IF = "eth0"
NODES_MAX = 200  # SUBNET.1 .. SUBNET.200, below the hub's address
COMMAND_TIMEOUT_S = 10.0
NETNS_DIR = Path("/run/netns")
SKF_AD_RANDOM = 2**32 - 0x1000 + 56  # classic BPF's ancillary load of a random number
TC_ACT_OK, TC_ACT_SHOT = 0, 2
# Where iproute2 lives when /usr/sbin is not on PATH (a non-login root shell).
SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")


class NetnsError(Exception):
    """An ip or tc command failed; the message holds the command and what it printed."""


def tool(name: str) -> str | None:
    """The path of iproute2's ip or tc, or None when it is not installed."""
    found = shutil.which(name)
    if found is not None:
        return found
    for d in SBIN_DIRS:
        path = Path(d) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def run_cmd(argv: Sequence[str], stdin: str | None = None) -> str:
    """Run one ip/tc command; NetnsError with its stderr when it fails."""
    try:
        done = subprocess.run(  # noqa: S603 - iproute2 with arguments we build
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsError(f"{' '.join(argv)}: {exc}") from None
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def run_all(commands: Sequence[Sequence[str]]) -> None:
    """Run ip/tc commands at once (a cut lands in milliseconds, not one command after another)."""
    procs = []
    for argv in commands:
        try:
            procs.append(
                (
                    argv,
                    subprocess.Popen(  # noqa: S603 - iproute2 with arguments we build
                        list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
                    ),
                )
            )
        except OSError as exc:
            raise NetnsError(f"{' '.join(argv)}: {exc}") from None
    failed = []
    for argv, proc in procs:
        try:
            _, err = proc.communicate(timeout=COMMAND_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode != 0:
            failed.append(f"{' '.join(argv)}: {err.strip() or proc.returncode}")
    if failed:
        raise NetnsError("; ".join(failed))


def unavailable() -> str | None:
    """Why network namespaces cannot be used here (no iproute2, not root, ...), or None."""
    ip = tool("ip")
    if ip is None:
        return "iproute2 is not installed (no `ip` command): apt-get install iproute2"
    probe = f"{RUN_PREFIX}{os.getpid()}-probe-{secrets.token_hex(2)}"
    try:
        run_cmd([ip, "netns", "add", probe])
    except NetnsError as exc:
        return f"`ip netns add` failed (root or CAP_NET_ADMIN is needed): {exc}"
    try:
        run_cmd([ip, "-n", probe, "link", "add", "name", BRIDGE, "type", "bridge"])
        run_cmd([ip, "-n", probe, "link", "add", "name", "a", "type", "veth", "peer", "name", "b"])
    except NetnsError as exc:
        return f"a bridge or veth pair cannot be made in a network namespace: {exc}"
    finally:
        with contextlib.suppress(NetnsError):
            run_cmd([ip, "netns", "del", probe])
    if tool("tc") is None:
        return "iproute2's tc is missing: apt-get install iproute2"
    return None


def namespaces() -> list[str]:
    """Every named network namespace (ip netns list)."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_inside(ip: str, ns: str) -> list[int]:
    """SIGKILL every process still in namespace ns (ours: nodes a drill started there)."""
    try:
        pids = [int(p) for p in run_cmd([ip, "netns", "pids", ns]).split()]
    except (NetnsError, ValueError):
        return []
    for pid in pids:
        if pid == os.getpid():
            continue  # the drill itself, when a thread of it was moved in
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def sweep_stale() -> list[str]:
    """Delete the namespaces of runs whose process is gone (killed -9); returns their names."""
    ip = tool("ip")
    if ip is None:
        return []
    removed = []
    for ns in namespaces():
        if not ns.startswith(RUN_PREFIX):
            continue
        pid_text = ns[len(RUN_PREFIX) :].split("-", 1)[0]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):
            continue
        _kill_inside(ip, ns)
        try:
            run_cmd([ip, "netns", "del", ns])
        except NetnsError:
            continue
        removed.append(ns)
    return removed


@dataclass
class NetnsNetwork:
    """One run's namespaces, bridge and veths; see the module doc. destroy() undoes it all."""

    count: int
    run: str = field(default_factory=lambda: f"{RUN_PREFIX}{os.getpid()}-{secrets.token_hex(2)}")
    made: list[str] = field(default_factory=list)  # namespaces created, hub first
    cuts: set[tuple[int, int]] = field(default_factory=set)
    down: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not 1 <= self.count <= NODES_MAX:
            raise ValueError(f"a network holds 1..{NODES_MAX} nodes")
        ip, tc = tool("ip"), tool("tc")
        if ip is None or tc is None:
            raise NetnsError("iproute2 (ip, tc) is not installed")
        self.ip, self.tc = ip, tc

    @property
    def hub(self) -> str:
        """The hub's namespace: the bridge, and the client."""
        return f"{self.run}-hub"

    def ns(self, i: int) -> str:
        """Node i's namespace."""
        return f"{self.run}-n{i}"

    def host(self, i: int) -> str:
        """Node i's address."""
        return f"{SUBNET}.{i + 1}"

    @property
    def hosts(self) -> list[str]:
        """Every node's address, by index."""
        return [self.host(i) for i in range(self.count)]

    @property
    def hub_host(self) -> str:
        """The hub's address on the bridge."""
        return f"{SUBNET}.{HUB_HOST}"

    def _in(self, ns: str, *args: str) -> None:
        run_cmd([self.ip, "-n", ns, *args])

    def create(self) -> None:
        """Make the hub with its bridge, and each node's namespace wired to it."""
        run_cmd([self.ip, "netns", "add", self.hub])
        self.made.append(self.hub)
        self._in(self.hub, "link", "set", "lo", "up")
        self._in(self.hub, "link", "add", "name", BRIDGE, "type", "bridge")
        self._in(self.hub, "addr", "add", f"{self.hub_host}/{PREFIX_LEN}", "dev", BRIDGE)
        self._in(self.hub, "link", "set", BRIDGE, "up")
        for i in range(self.count):
            ns = self.ns(i)
            run_cmd([self.ip, "netns", "add", ns])
            self.made.append(ns)
            # Made inside the hub and its node end moved straight into the node's
            # namespace: neither end ever appears in the root namespace.
            self._in(
                self.hub,
                "link",
                "add",
                "name",
                f"h{i}",
                "type",
                "veth",
                "peer",
                "name",
                NODE_IF,
                "netns",
                ns,
            )
            self._in(self.hub, "link", "set", f"h{i}", "master", BRIDGE, "up")
            self._in(ns, "link", "set", "lo", "up")
            self._in(ns, "addr", "add", f"{self.host(i)}/{PREFIX_LEN}", "dev", NODE_IF)
            self._in(ns, "link", "set", NODE_IF, "up")

    def netem(self, spec: Sequence[str]) -> str | None:
        """netem SPEC as every node's egress qdisc; None when applied, else why it was not."""
        for i in range(self.count):
            cmd = [self.tc, "-n", self.ns(i), "qdisc", "replace", "dev", NODE_IF, "root", "netem"]
            try:
                run_cmd([*cmd, *spec])
            except NetnsError as exc:
                if i == 0:
                    return f"tc netem is not available here ({exc})"
                raise
        return None

    def bpf_loss(self, percent: float) -> None:
        """Drop percent of what every node sends, where netem is missing (no delay: loss only).

        A classic BPF program in direct-action mode on the clsact egress hook:
        it draws the kernel's per-packet random number and answers TC_ACT_SHOT
        below the threshold, TC_ACT_OK above. It needs neither sch_netem nor
        act_gact, which small kernels (a Firecracker VM's) leave out.
        """
        if not 0 < percent < 100:
            raise ValueError("a loss is a percentage between 0 and 100")
        threshold = round(percent / 100 * 2**32)
        program = ",".join(
            [
                "4",  # instructions
                f"32 0 0 {SKF_AD_RANDOM}",  # A = a random 32-bit number (ld [SKF_AD_RANDOM])
                f"53 0 1 {threshold}",  # A >= threshold: next (keep), else skip one (drop)
                f"6 0 0 {TC_ACT_OK}",
                f"6 0 0 {TC_ACT_SHOT}",
            ]
        )
        for i in range(self.count):
            ns = self.ns(i)
            run_cmd([self.tc, "-n", ns, "qdisc", "replace", "dev", NODE_IF, "clsact"])
            hook = ["dev", NODE_IF, "egress"]
            run_cmd([self.tc, "-n", ns, "filter", "add", *hook, "bpf", "da", "bytecode", program])

    def cut(self, pairs: Iterable[tuple[int, int]]) -> None:
        """From now on, src sends nothing to dst, for each (src, dst)."""
        new = sorted(set(pairs) - self.cuts)
        self.cuts.update(new)  # before: heal() then removes whatever part of it was made
        run_all([self._route("add", src, dst) for src, dst in new])

    def heal(self) -> None:
        """Remove every cut and bring every link up."""
        cuts, self.cuts = sorted(self.cuts), set()
        run_all([self._route("del", src, dst) for src, dst in cuts])
        for i in sorted(self.down):
            self.link(i, up=True)

    def _route(self, verb: str, src: int, dst: int) -> list[str]:
        """The ip command that adds or deletes src's blackhole route to dst."""
        return [self.ip, "-n", self.ns(src), "route", verb, "blackhole", f"{self.host(dst)}/32"]

    def link(self, i: int, up: bool) -> None:
        """Node i's cable: its veth's hub end down (nothing in or out) or up."""
        self._in(self.hub, "link", "set", f"h{i}", "up" if up else "down")
        if up:
            self.down.discard(i)
        else:
            self.down.add(i)

    def popen(self, i: int, argv: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
        """Start argv inside node i's namespace (ip netns exec), output to log."""
        return subprocess.Popen(  # noqa: S603 - our interpreter, inside our namespace
            [self.ip, "netns", "exec", self.ns(i), *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches the drill, which stops the nodes in order
        )

    def destroy(self) -> list[str]:
        """Kill whatever still runs inside, delete every namespace; returns what it failed at."""
        problems = []
        for ns in reversed(self.made):
            _kill_inside(self.ip, ns)
            try:
                run_cmd([self.ip, "netns", "del", ns])
            except NetnsError as exc:
                problems.append(str(exc))
        self.made.clear()
        self.cuts.clear()
        self.down.clear()
        return problems
