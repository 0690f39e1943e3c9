"""The devnet supervisor: owns the node processes of one devnet until SIGINT/SIGTERM.

One loop, one thread: answer the control socket (drills), notice nodes that
exited, restart those due. A node that exits never stops the others; the
exit is reported with its status and log, and with --restart the node comes
back after a back-off that doubles (1 s to 30 s) while it keeps dying at once.
The supervisor is the only writer of devnet.json, rewritten atomically on
every change, so its pids and states stay true for `govchain devnet status`.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from govchain.node.devnet import (
    Devnet,
    DevnetCancelledError,
    DevnetNode,
    StopOutcome,
    exit_text,
    log_path,
)
from govchain.node.devnet_control import ControlServer, Reply, Request
from govchain.node.errors import DevnetError

POLL_S = 0.2  # how often exits are checked when no drill arrives
RESTART_BACKOFF_MIN_S = 1.0
RESTART_BACKOFF_MAX_S = 30.0
# A node that ran this long before it exited is restarted after the minimum
# back-off again: it was not dying at once.
RESTART_STABLE_S = 30.0
LOG_TAIL_LINES = 8  # shown when a node dies before the devnet is ready
LOG_TAIL_BYTES = 8192
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Ui(Protocol):
    """Where the supervisor reports: the CLI prints for people or as JSON."""

    def ready(self, doc: dict[str, Any]) -> None:
        """Every node answers: doc is devnet.json's content plus what start shows."""

    def event(self, text: str) -> None:
        """Something happened to a node (one line)."""

    def stopped(self, outcomes: list[StopOutcome]) -> None:
        """The devnet stopped: how each node ended."""


@dataclass(slots=True)
class NodeWatch:
    """What the supervisor knows of one node beyond its process."""

    started_s: float = 0.0
    restarts: int = 0
    last_exit: int | None = None
    exit_seen: bool = False  # its current process's exit was handled
    held_down: bool = False  # stopped by a drill (or with the devnet): no restart
    restart_at_s: float | None = None
    backoff_s: float = RESTART_BACKOFF_MIN_S


def quorum(validators: int) -> int:
    """Validators (weight 1 each) that must run for the chain to finalize: n - f."""
    return validators - (validators - 1) // 3


class Supervisor:
    """Runs one devnet's nodes; see the module doc."""

    def __init__(
        self,
        root: Path,
        nodes: list[DevnetNode],
        restart: bool,
        ui: Ui,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = root
        self.net = Devnet(root, nodes)
        self.restart = restart
        self.ui = ui
        self.clock = clock
        self.watch = {n.name: NodeWatch() for n in nodes}
        self.control = ControlServer(root)
        self._stop_requested = False
        self._can_finalize = True

    # -- the life -------------------------------------------------------------
    def run(self, extra: Callable[[dict[str, Any]], dict[str, Any]]) -> list[StopOutcome]:
        """Start every node, report ready (extra adds to the report), run until a signal."""
        previous = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS}
        self.control.open()
        try:
            try:
                self._start_all()
            except DevnetCancelledError:
                return self._stop_all()  # Ctrl-C while starting: stop what started
            doc = self.describe()
            path = self.net.write_description(doc)
            self.ui.ready(extra({**doc, "devnet_file": str(path)}))
            while not self._stop_requested:
                self.step(POLL_S)
            return self._stop_all()
        finally:
            if any(self.net.running(n.name) for n in self.net.nodes):
                self.net.stop()  # an error on the way: leave nothing behind
            self.control.close()
            for s, handler in previous.items():
                signal.signal(s, handler)

    def step(self, wait_s: float) -> None:
        """One turn of the loop: answer drills (waiting up to wait_s), see exits, restart."""
        self.control.serve(self._handle, wait_s)
        self._check_exits()
        self._restart_due()

    def _on_signal(self, _sig: int, _frame: FrameType | None) -> None:
        self._stop_requested = True

    def _start_all(self) -> None:
        now = self.clock()
        self.net.start()
        for w in self.watch.values():
            w.started_s = now
        try:
            self.net.wait_ready(cancelled=lambda: self._stop_requested)
        except DevnetCancelledError:
            raise
        except DevnetError:
            self._show_dead_logs()
            self.net.stop()
            raise

    def _show_dead_logs(self) -> None:
        for n in self.net.nodes:
            p = self.net.procs.get(n.name)
            if p is not None and p.poll() is not None:
                self.ui.event(
                    f"{n.name} exited ({exit_text(p.returncode)}); last lines of its log:"
                )
                for line in _tail(log_path(n)):
                    self.ui.event(f"  {line}")

    def _stop_all(self) -> list[StopOutcome]:
        outcomes = self.net.stop()
        for w in self.watch.values():
            w.held_down = True
            w.restart_at_s = None
        for o in outcomes:
            if o.returncode is not None:
                self.watch[o.name].last_exit = o.returncode
        doc = self.describe()
        doc["supervisor"] = None
        self.net.write_description(doc)
        self.ui.stopped(outcomes)
        return outcomes

    # -- what devnet.json says ------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """devnet.json: the contract's fields, plus the supervisor and each node's state."""
        doc = self.net.describe()
        doc["dir"] = str(self.root.resolve())
        doc["supervisor"] = {"pid": os.getpid(), "restart": self.restart}
        for entry in doc["nodes"]:
            w = self.watch[entry["name"]]
            entry["state"] = self._state(entry["name"])
            entry["restarts"] = w.restarts
            entry["last_exit"] = None if w.last_exit is None else exit_text(w.last_exit)
        return doc

    def _state(self, name: str) -> str:
        w = self.watch[name]
        if self.net.running(name):
            return "running"
        if w.held_down:
            return "stopped"
        return "restarting" if w.restart_at_s is not None else "exited"

    def _publish(self) -> None:
        self.net.write_description(self.describe())
        self._report_quorum()

    def _report_quorum(self) -> None:
        validators = [n for n in self.net.nodes if n.validator]
        up = sum(1 for n in validators if self.net.running(n.name))
        need = quorum(len(validators))
        can = up >= need
        if can == self._can_finalize:
            return
        self._can_finalize = can
        if can:
            self.ui.event(f"{up} of {len(validators)} validators run: the chain finalizes again")
        else:
            self.ui.event(
                f"only {up} of {len(validators)} validators run: the chain cannot finalize"
                f" until {need} do"
            )

    # -- exits and restarts ---------------------------------------------------
    def _check_exits(self) -> None:
        for n in self.net.nodes:
            p = self.net.procs.get(n.name)
            w = self.watch[n.name]
            if p is None or w.exit_seen or p.poll() is None:
                continue
            self._exited(n, p.returncode, "exited")

    def _exited(self, n: DevnetNode, returncode: int, what: str) -> None:
        """Record and report an exit; schedule a restart when asked to restart."""
        w = self.watch[n.name]
        now = self.clock()
        up_s = now - w.started_s
        w.exit_seen = True
        w.last_exit = returncode
        text = (
            f"{n.name} {what} ({exit_text(returncode)}) after {_duration(up_s)}; log: {log_path(n)}"
        )
        if self.restart and not w.held_down:
            if up_s >= RESTART_STABLE_S:
                w.backoff_s = RESTART_BACKOFF_MIN_S
            w.restart_at_s = now + w.backoff_s
            text += f"; restarting in {w.backoff_s:g} s"
            w.backoff_s = min(w.backoff_s * 2, RESTART_BACKOFF_MAX_S)
        else:
            again = f"govchain devnet start {n.name} starts it again"
            text += (
                f"; it stays down ({again})"
                if w.held_down
                else f"; the others keep running ({again})"
            )
        self.ui.event(text)
        self._publish()

    def _restart_due(self) -> None:
        now = self.clock()
        for n in self.net.nodes:
            w = self.watch[n.name]
            if w.restart_at_s is None or now < w.restart_at_s or self.net.running(n.name):
                continue
            self._spawn(n.name)
            w.restarts += 1
            pid = self.net.procs[n.name].pid
            self.ui.event(f"{n.name} restarted (pid {pid}, restart {w.restarts})")
            self._publish()

    def _spawn(self, name: str) -> None:
        self.net.start_node(name)
        w = self.watch[name]
        w.started_s = self.clock()
        w.exit_seen = False
        w.held_down = False
        w.restart_at_s = None

    # -- drills ---------------------------------------------------------------
    def _handle(self, req: Request) -> Reply:
        """Answer one control request: status, kill, stop or start."""
        op = req.get("op")
        if op == "status":
            return {"ok": True, "devnet": self.describe()}
        if op not in ("kill", "stop", "start"):
            return _refuse("bad_request", f"unknown operation {op!r}")
        name = req.get("node")
        try:
            n = self.net.node(name if isinstance(name, str) else "")
        except DevnetError as exc:
            return _refuse("unknown_node", str(exc))
        running = self.net.running(n.name)
        if op == "start":
            if running:
                pid = self.net.procs[n.name].pid
                return _refuse("node_running", f"{n.name} is already running (pid {pid})")
            return self._drill_start(n)
        if not running:
            return _refuse("node_not_running", f"{n.name} is not running ({self._state(n.name)})")
        return self._drill_kill(n) if op == "kill" else self._drill_stop(n)

    def _drill_kill(self, n: DevnetNode) -> Reply:
        pid = self.net.procs[n.name].pid
        self.net.kill_node(n.name)
        code = self.net.procs[n.name].returncode
        # A crash: with --restart it comes back, as after any other exit.
        self._exited(n, code, "was killed by govchain devnet kill")
        return {"ok": True, "node": n.name, "pid": pid, "exit": exit_text(code)}

    def _drill_stop(self, n: DevnetNode) -> Reply:
        pid = self.net.procs[n.name].pid
        w = self.watch[n.name]
        w.held_down = True  # deliberate: it stays down until `devnet start`
        w.restart_at_s = None
        outcome = self.net.terminate_node(n.name)
        code = outcome.returncode if outcome.returncode is not None else 0
        how = "cleanly" if outcome.clean else "not cleanly"
        self._exited(n, code, f"was stopped {how} by govchain devnet stop")
        return {
            "ok": True,
            "node": n.name,
            "pid": pid,
            "exit": exit_text(code),
            "clean": outcome.clean,
        }

    def _drill_start(self, n: DevnetNode) -> Reply:
        self._spawn(n.name)
        self.watch[n.name].backoff_s = RESTART_BACKOFF_MIN_S
        pid = self.net.procs[n.name].pid
        self.ui.event(f"{n.name} started by govchain devnet start (pid {pid})")
        self._publish()
        return {"ok": True, "node": n.name, "pid": pid, "api": f"http://127.0.0.1:{n.api_port}"}


def _refuse(code: str, message: str) -> Reply:
    return {"ok": False, "code": code, "message": message}


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs} s"


def _tail(path: Path) -> list[str]:
    """The last lines of a log (bounded read)."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - LOG_TAIL_BYTES))
            data = f.read()
    except OSError:
        return []
    return data.decode(errors="replace").splitlines()[-LOG_TAIL_LINES:]
