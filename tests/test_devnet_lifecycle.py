"""`govchain devnet`'s lifecycle, as real processes on free ports (docs/devnet.md).

A second start on a running devnet is refused and touches nothing; a node
killed from outside is reported while the others keep finalizing; the drills
(status, kill, stop, start) act through the supervisor; --restart brings a
crashed node back; options that conflict with an existing devnet are
refused, and --reset --yes starts fresh; `govchain logs` merges and follows.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx

from govchain.node.devnet import StopOutcome, create, free_port_base
from govchain.node.devnet_supervisor import Supervisor
from procs import wait_until

START_S = 90.0  # a devnet's start on two busy cores
STEP_S = 60.0  # any one change to be seen (an exit reported, a restart, a catch-up)
STOP_S = 40.0  # the supervisor's grace period (10 s) and then some
CLI_TIMEOUT_S = 120


def govchain(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any, str]:
    """Run the CLI: exit code, stdout parsed as JSON (else the text), stderr."""
    out = subprocess.run(
        [sys.executable, "-m", "govchain.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=CLI_TIMEOUT_S,
        check=False,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    try:
        doc: Any = json.loads(out.stdout)
    except ValueError:
        doc = out.stdout
    return out.returncode, doc, out.stderr


class Watched:
    """A govchain process with its stdout and stderr collected line by line."""

    def __init__(self, cwd: Path, root: Path, *args: str) -> None:
        self.root = root
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "govchain.cli.main", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "COLUMNS": "250"},  # rich: no wrapped table rows
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self._readers:
            t.start()

    @staticmethod
    def _read(stream: IO[str] | None, into: list[str]) -> None:
        if stream is None:
            return
        for line in stream:
            into.append(line.rstrip("\n"))

    def said(self, text: str, stream: str = "out") -> bool:
        """True once a line of stdout (or stderr) contains text."""
        lines = self.out if stream == "out" else self.err
        return any(text in line for line in list(lines))

    def wait_said(self, text: str, stream: str = "out", timeout_s: float = STEP_S) -> None:
        """Until the devnet prints text; fails at once, with its output, if it exited."""

        def seen() -> bool:
            if self.said(text, stream):
                return True
            if self.proc.poll() is not None:
                raise AssertionError(f"exited ({self.proc.returncode}):\n{self.output()}")
            return False

        wait_until(seen, timeout_s, f"{text!r} from {self.proc.args!r}")

    def output(self) -> str:
        """Everything it printed so far."""
        return "\n".join(["-- stdout", *self.out, "-- stderr", *self.err])

    def doc(self) -> dict[str, Any]:
        """devnet.json as it is now."""
        doc: dict[str, Any] = json.loads((self.root / "devnet.json").read_text())
        return doc

    def node(self, name: str) -> dict[str, Any]:
        """One node's entry in devnet.json."""
        return next(n for n in self.doc()["nodes"] if n["name"] == name)

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Signal the supervisor and wait for it; its exit code."""
        self.proc.send_signal(sig)
        code = self.proc.wait(STOP_S)
        for t in self._readers:
            t.join(STOP_S)
        return code

    def cleanup(self) -> None:
        """Whatever happened: neither it nor (a supervisor's) node left running."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            for n in self.doc()["nodes"]:
                _kill_if_ours(int(n["pid"]), n["home"])
        for t in self._readers:
            t.join(STOP_S)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _kill_if_ours(pid: int, home: str) -> None:
    """SIGKILL pid if it is still a node of this home (a pid may have been reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if home.encode() in cmdline:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def supervised(cwd: Path, root: Path, *args: str) -> Iterator[Watched]:
    """A devnet started in the background, always stopped and cleaned up."""
    s = Watched(cwd, root, "devnet", "--dir", str(root), *args)
    try:
        yield s
    finally:
        s.cleanup()


def height(api: str) -> int:
    """A node's executed height."""
    return int(httpx.get(f"{api}/v1/status", timeout=5).json()["height"])


def alive(pid: int) -> bool:
    """True while pid runs (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def grows(api: str, by: int) -> Callable[[], bool]:
    """A predicate: the node's height has grown by `by` since now."""
    start = height(api)
    return lambda: height(api) >= start + by


def test_second_start_is_refused_a_crash_is_survived_and_drills_work(tmp_path: Path) -> None:
    root = tmp_path / "devnet"
    base = free_port_base(4)
    with supervised(tmp_path, root, "--port-base", str(base)) as net:
        net.wait_said("Ctrl-C stops every node", timeout_s=START_S)
        # The start output, for people: accounts with key files, each log, no JSON.
        for key in ("faucet", "regulator-1", "regulator-3", "auditor", "validator-3"):
            assert net.said(f"keys/{key}.key"), net.output()
        assert net.said("1,000,000,000,000,000"), net.output()  # the faucet's balance
        for i in range(4):
            assert net.said(f"nodes/validator-{i}/node.log"), net.output()
        assert not any(line.lstrip().startswith("{") for line in net.out), net.output()
        doc = net.doc()
        api = [n["api"] for n in doc["nodes"]]
        assert doc["supervisor"]["pid"] == net.proc.pid

        # A second start, even with --reset --yes: refused, naming the running one.
        before = (root / "devnet.json").read_bytes()
        logs_before = [
            (root / "nodes" / f"validator-{i}" / "node.log").read_bytes() for i in range(4)
        ]
        for extra in ((), ("--reset", "--yes")):
            rc, err, _ = govchain(tmp_path, "devnet", "--dir", str(root), *extra, "--json")
            assert rc == 1, err
            assert err["error"]["code"] == "devnet_running"
            assert str(net.proc.pid) in err["error"]["message"]
            assert doc["explorer"] in err["error"]["message"]
        assert (root / "devnet.json").read_bytes() == before
        assert (root / "keys" / "faucet.key").exists()
        for i, old in enumerate(logs_before):
            now = (root / "nodes" / f"validator-{i}" / "node.log").read_bytes()
            assert now.startswith(old)
            added = now[len(old) :]
            assert b"address already in use" not in added and b"Traceback" not in added

        # A node killed from outside: reported with its status and log; the rest finalize.
        victim = net.node("validator-3")
        os.kill(victim["pid"], signal.SIGKILL)
        net.wait_said("validator-3 exited (killed by SIGKILL)")
        assert net.said(str(Path("nodes") / "validator-3" / "node.log"))
        wait_until(grows(api[0], 3), STEP_S, "validator-0 finalizing without validator-3")
        assert net.proc.poll() is None
        assert net.node("validator-3")["state"] == "exited"

        # status: validator-3 down, the others up with heights and peers (via GOVCHAIN_DEVNET).
        rc, st, err = govchain(
            tmp_path, "devnet", "status", "--json", env={"GOVCHAIN_DEVNET": str(root)}
        )
        assert rc == 0, err
        assert st["running"] is True and st["supervisor_pid"] == net.proc.pid
        by_name = {n["name"]: n for n in st["nodes"]}
        assert by_name["validator-3"]["running"] is False
        assert by_name["validator-3"]["last_exit"] == "killed by SIGKILL"
        assert all(by_name[f"validator-{i}"]["height"] > 0 for i in range(3))
        assert all(by_name[f"validator-{i}"]["peers"] == 2 for i in range(3))

        # start: a new pid in devnet.json, and it catches up.
        rc, started, err = govchain(
            tmp_path, "devnet", "start", "validator-3", "--dir", str(root), "--json"
        )
        assert rc == 0, err
        assert started["pid"] != victim["pid"]
        assert net.node("validator-3")["pid"] == started["pid"]
        assert net.node("validator-3")["state"] == "running"

        def caught_up() -> bool:
            rc, st, _ = govchain(tmp_path, "devnet", "status", "--dir", str(root), "--json")
            v3 = next(n for n in st["nodes"] if n["name"] == "validator-3")
            return rc == 0 and v3["height"] is not None and v3["behind"] is False

        wait_until(caught_up, STEP_S, "validator-3 caught up")

        # stop (SIGTERM, clean), kill (SIGKILL): two of four down, the chain waits and says so.
        rc, stopped, err = govchain(
            tmp_path, "devnet", "stop", "validator-2", "--dir", str(root), "--json"
        )
        assert rc == 0, err
        assert stopped["clean"] is True and stopped["exit"] == "status 0"
        assert net.node("validator-2")["state"] == "stopped"
        rc, killed, err = govchain(
            tmp_path, "devnet", "--dir", str(root), "kill", "validator-1", "--json"
        )
        assert rc == 0, err
        assert killed["exit"] == "killed by SIGKILL"
        net.wait_said("the chain cannot finalize")
        rc, err, _ = govchain(
            tmp_path, "devnet", "kill", "validator-1", "--dir", str(root), "--json"
        )
        assert rc == 1 and err["error"]["code"] == "node_not_running"
        rc, err, _ = govchain(
            tmp_path, "devnet", "kill", "validator-9", "--dir", str(root), "--json"
        )
        assert rc == 2 and err["error"]["code"] == "unknown_node"
        rc, err, _ = govchain(
            tmp_path, "devnet", "start", "validator-0", "--dir", str(root), "--json"
        )
        assert rc == 1 and err["error"]["code"] == "node_running"
        for name in ("validator-1", "validator-2"):
            rc, _, err = govchain(tmp_path, "devnet", "start", name, "--dir", str(root), "--json")
            assert rc == 0, err
        net.wait_said("the chain finalizes again")
        wait_until(grows(api[0], 2), STEP_S, "finality after the drills")

        # Ctrl-C: every node stopped cleanly, devnet.json says so, nothing left running.
        pids = [n["pid"] for n in net.doc()["nodes"]]
        assert net.stop(signal.SIGINT) == 0, net.output()
        assert net.said("every node stopped cleanly"), net.output()
        final = net.doc()
        assert final["supervisor"] is None
        assert all(n["state"] == "stopped" and not n["running"] for n in final["nodes"])
        assert not any(alive(p) for p in pids)

    # After the stop: status says so; drills say no devnet runs.
    rc, st, err = govchain(tmp_path, "devnet", "status", "--dir", str(root), "--json")
    assert rc == 0, err
    assert st["running"] is False
    rc, err, _ = govchain(tmp_path, "devnet", "start", "validator-0", "--dir", str(root), "--json")
    assert rc == 1 and err["error"]["code"] == "not_running"


def test_restart_brings_a_crashed_node_back_but_not_a_stopped_one(tmp_path: Path) -> None:
    root = tmp_path / "net"
    base = free_port_base(4)
    with supervised(tmp_path, root, "--port-base", str(base), "--restart", "--json") as net:
        wait_until(lambda: len(net.out) >= 1, START_S, "the start document")
        doc = json.loads(net.out[0])
        assert doc["supervisor"]["restart"] is True
        assert {a["name"] for a in doc["accounts"]} >= {"faucet", "regulator-1", "auditor"}
        faucet = next(a for a in doc["accounts"] if a["name"] == "faucet")
        assert faucet["balance"] == faucet["genesis_balance"] > 0
        assert Path(faucet["key_file"]).name == "faucet.key"
        assert all(Path(n["log"]).name == "node.log" for n in doc["nodes"])

        # A crash from outside: back under a new pid, and it finalizes again.
        old = net.node("validator-2")
        os.kill(old["pid"], signal.SIGKILL)
        net.wait_said("validator-2 restarted", stream="err")
        assert net.said("validator-2 exited (killed by SIGKILL)", stream="err")
        now = net.node("validator-2")
        assert now["pid"] != old["pid"] and now["restarts"] == 1 and now["state"] == "running"
        target = height(doc["nodes"][0]["api"]) + 2  # past where the others are now
        wait_until(lambda: height(now["api"]) >= target, STEP_S, "validator-2 caught up")

        # stop is deliberate: the node stays down while a crashed one comes back.
        rc, _, err = govchain(
            tmp_path, "devnet", "stop", "validator-2", "--dir", str(root), "--json"
        )
        assert rc == 0, err
        rc, _, err = govchain(
            tmp_path, "devnet", "kill", "validator-1", "--dir", str(root), "--json"
        )
        assert rc == 0, err
        net.wait_said("validator-1 restarted", stream="err")
        assert net.node("validator-2")["state"] == "stopped"
        assert net.node("validator-1")["restarts"] == 1
        # Stopped while still starting, a node dies of SIGTERM's default action; here
        # it has started, so the stop below is clean.
        target = height(doc["nodes"][0]["api"])
        api1 = net.node("validator-1")["api"]
        wait_until(lambda: height(api1) >= target, STEP_S, "validator-1 up again")

        assert net.stop(signal.SIGTERM) == 0, net.output()
        # --json: stdout carries exactly one document; the rest went to stderr.
        assert len(net.out) == 1, net.output()
        assert net.said("every running node stopped cleanly", stream="err"), net.output()


def test_conflicting_options_are_refused_and_reset_starts_fresh(tmp_path: Path) -> None:
    root = tmp_path / "devnet"
    nodes = create(root, 4, 0, free_port_base(4))
    chain = json.loads((nodes[0].home / "genesis.json").read_text())["chain_id"]
    (root / "notes.txt").write_text("mine")
    for args in (("--validators", "7"), ("--port-base", "28000"), ("--observers", "1")):
        rc, err, _ = govchain(tmp_path, "devnet", *args, "--json")  # ./devnet by default
        assert rc == 2, err
        assert err["error"]["code"] == "devnet_conflict"
        message = err["error"]["message"]
        assert "--reset" in message and " ".join(args) in message
    # --reset asks; without a terminal to ask on, it wants --yes and deletes nothing.
    rc, err, _ = govchain(tmp_path, "devnet", "--reset", "--json")
    assert rc == 2 and err["error"]["code"] == "confirm_required"
    assert json.loads((nodes[0].home / "genesis.json").read_text())["chain_id"] == chain
    assert not (root / "devnet.json").exists()  # nothing was started

    base = free_port_base(1)
    fresh = ("--reset", "--yes", "--validators", "1", "--port-base", str(base), "--json")
    with supervised(tmp_path, root, *fresh) as net:
        wait_until(lambda: len(net.out) >= 1, START_S, "the start document")
        doc = json.loads(net.out[0])
        assert doc["chain_id"] != chain and doc["resumed"] is False
        assert [n["name"] for n in doc["nodes"]] == ["validator-0"]
        assert doc["explorer"] == f"http://127.0.0.1:{base}/"
        assert net.stop() == 0, net.output()
    assert (root / "notes.txt").read_text() == "mine"  # --reset deletes the devnet's files only
    assert not (root / "nodes" / "validator-3").exists()


STAMP = "2026-01-02 03:04:{:02d},000 INFO govchain.node: {}\n"


def test_logs_merge_every_node_by_time_and_follow(tmp_path: Path) -> None:
    root = tmp_path / "devnet"
    create(root, 2, 0, free_port_base(2))
    log0 = root / "nodes" / "validator-0" / "node.log"
    log1 = root / "nodes" / "validator-1" / "node.log"
    log0.write_text(
        STAMP.format(1, "zero-a")
        + "Traceback (most recent call last):\n"
        + STAMP.format(5, "zero-b")
    )
    log1.write_text(STAMP.format(3, "one-a"))
    rc, text, err = govchain(tmp_path, "logs", "--dir", str(root))
    assert rc == 0, err
    lines = text.splitlines()
    assert [line.split(" | ")[0].strip() for line in lines] == [
        "validator-0", "validator-0", "validator-1", "validator-0"
    ]  # fmt: skip
    assert lines[1].endswith("Traceback (most recent call last):")  # stays with its record
    rc, doc, err = govchain(
        tmp_path, "logs", "validator-0", "--tail", "1", "--json", env={"GOVCHAIN_DEVNET": str(root)}
    )
    assert rc == 0, err
    assert [x["line"] for x in doc["lines"]] == [STAMP.format(5, "zero-b").rstrip("\n")]
    rc, err, _ = govchain(tmp_path, "logs", "validator-7", "--dir", str(root), "--json")
    assert rc == 2 and err["error"]["code"] == "unknown_node"

    follower = Watched(tmp_path, root, "logs", "-f", "--tail", "1", "--dir", str(root))
    try:
        # The last line of each log first, merged by time; then it follows from the end.
        follower.wait_said("zero-b")
        assert follower.out[0].endswith("one-a") and len(follower.out) == 2, follower.output()
        with log1.open("a") as f:
            f.write(STAMP.format(9, "one-late"))
        follower.wait_said("one-late")
        assert follower.out[2].startswith("validator-1 | "), follower.output()
        assert follower.out[2].endswith("one-late")
    finally:
        follower.cleanup()


class Recorder:
    """A supervisor's Ui that keeps what it is told."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def ready(self, doc: dict[str, Any]) -> None:
        """Not used here."""

    def event(self, text: str) -> None:
        """Keep the line."""
        self.events.append(text)

    def stopped(self, outcomes: list[StopOutcome]) -> None:
        """Not used here."""


def test_a_node_that_dies_at_once_is_restarted_with_a_growing_back_off(tmp_path: Path) -> None:
    root = tmp_path / "devnet"
    nodes = create(root, 1, 0, free_port_base(1))
    now = [1000.0]
    ui = Recorder()
    sup = Supervisor(root, nodes, restart=True, ui=ui, clock=lambda: now[0])
    spawned: list[subprocess.Popen[bytes]] = []

    def dies_at_once(name: str) -> None:
        p = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
        p.wait()
        spawned.append(p)
        sup.net.procs[name] = p

    sup.net.start_node = dies_at_once  # type: ignore[method-assign]
    sup.control.open()
    try:
        dies_at_once("validator-0")
        delays = []
        for _ in range(8):
            sup.step(0)  # sees the exit, schedules the restart
            assert "status 3" in ui.events[-1] or "status 3" in ui.events[-2], ui.events
            due = sup.watch["validator-0"].restart_at_s
            assert due is not None
            delays.append(due - now[0])
            now[0] = due - 0.01
            sup.step(0)
            assert len(spawned) == len(delays)  # not before its time
            now[0] = due
            sup.step(0)
            assert len(spawned) == len(delays) + 1  # restarted when due
        assert delays == [1, 2, 4, 8, 16, 30, 30, 30]
        # A node that ran long enough before it exited starts over at the minimum.
        now[0] += 45
        sup.step(0)
        due = sup.watch["validator-0"].restart_at_s
        assert due is not None and due - now[0] == 1
        assert sup.describe()["nodes"][0]["restarts"] == 8
    finally:
        sup.control.close()
