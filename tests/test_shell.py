"""The one shell (shell/shell.py) that node and simulator run: its ordering, on a simulated clock.

A scripted core hands the shell prepared outputs; a recording store and
transport log what happened in which order. No sleeps: conftest's SimClock
runs the timers as the test moves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from conftest import SimClock
from govchain.consensus.tendermint import HardState
from govchain.crypto.keys import SigningKey
from govchain.dag.admission import AdmissionError
from govchain.dag.tx import Transaction, build
from govchain.replica.messages import AckMsg, Message, TxRequest
from govchain.replica.outputs import ReplicaReady
from govchain.replica.replication import Submitted
from govchain.shell.shell import (
    ACK_BEFORE_SYNC,
    DEFER_HARD_STATE,
    PERSIST_AFTER_SEND,
    Shell,
    ShellConfig,
    ShellHooks,
)


@dataclass
class Log:
    events: list[str] = field(default_factory=list)


class ScriptedCore:
    """Hands out queued outputs, one per ready(); counts its inputs."""

    def __init__(self) -> None:
        self.outputs: list[ReplicaReady] = []
        self.inputs = 0

    def start(self, now_ms: int) -> None:
        self.inputs += 1

    def tick(self, now_ms: int) -> None:
        pass

    def receive(self, peer: str, msg: Message, now_ms: int) -> None:
        self.inputs += 1

    def submit_many(self, wires: Sequence[bytes], now_ms: int) -> list[Submitted | AdmissionError]:
        self.inputs += 1
        return []

    def ready(self) -> ReplicaReady:
        return self.outputs.pop(0) if self.outputs else ReplicaReady()


class RecordingStore:
    def __init__(self, log: Log) -> None:
        self.log = log
        self.commits: list[ReplicaReady] = []

    def commit(self, ready: ReplicaReady) -> None:
        self.commits.append(ready)
        parts = []
        if ready.hard_state is not None:
            parts.append("hard")
        if ready.admitted:
            parts.append(f"admitted={len(ready.admitted)}")
        self.log.events.append("commit " + " ".join(parts))


class RecordingTransport:
    def __init__(self, log: Log) -> None:
        self.log = log

    def send(self, sends: Sequence[tuple[str | None, Message]]) -> None:
        for dst, msg in sends:
            self.log.events.append(f"send {type(msg).__name__} to {dst}")

    def refuse(self, peer: str, reason: str) -> None:
        self.log.events.append(f"refuse {peer}")


class RecordingHooks(ShellHooks):
    def __init__(self, log: Log) -> None:
        self.log = log

    def durable(self, replicated: Sequence[bytes]) -> None:
        self.log.events.append(f"202 {len(replicated)}")


KEY = SigningKey.from_label("shell-test")


def tx(nonce: int) -> Transaction:
    return build(
        KEY,
        chain_id="shell-test",
        kind="record",
        nonce=nonce,
        parents=[],
        valid_until=100,
        payload=b"x",
        stamp_bits_min=0,
    )


HARD = HardState(height=1, round=0, step=0)
REQUEST = TxRequest((b"\x01" * 32,))


def make(
    config: ShellConfig | None = None,
) -> tuple[Shell[ScriptedCore], ScriptedCore, SimClock, Log]:
    log = Log()
    core = ScriptedCore()
    clock = SimClock()
    shell = Shell(
        core,
        RecordingStore(log),
        RecordingTransport(log),
        clock,
        config or ShellConfig(),
        RecordingHooks(log),
    )
    return shell, core, clock, log


def test_a_vote_leaves_only_after_the_commit_of_its_hard_state() -> None:
    shell, core, clock, log = make()
    core.outputs.append(ReplicaReady(hard_state=HARD, sends=[("v1", REQUEST)]))
    shell.receive("v1", REQUEST)
    assert log.events == []  # nothing before the group-commit window closes
    clock.run_for(5)
    assert log.events == ["commit hard", "send TxRequest to v1"]


def test_inputs_within_the_window_share_one_commit() -> None:
    shell, core, clock, log = make()
    core.outputs.append(ReplicaReady(hard_state=HARD))
    for _ in range(3):
        shell.receive("v1", REQUEST)
    clock.run_for(5)
    assert log.events == ["commit hard"]
    assert core.inputs == 3


def test_admitted_only_vertices_wait_for_a_shared_commit_and_their_acks_wait_too() -> None:
    shell, core, clock, log = make()
    ack = AckMsg((b"\x02" * 32,))
    core.outputs.append(
        ReplicaReady(admitted=[tx(1)], acks=[("v1", ack)], replicated=[b"\x03" * 32])
    )
    shell.receive("v1", REQUEST)
    clock.run_for(5)
    assert log.events == []  # deferred: no commit, no ack, no 202 yet
    assert shell.unsynced == 1
    clock.run_for(50)
    assert log.events == ["commit admitted=1", "send AckMsg to v1", "202 1"]


def test_a_vote_takes_the_waiting_vertices_into_its_own_commit() -> None:
    shell, core, clock, log = make()
    core.outputs.append(ReplicaReady(admitted=[tx(1)]))
    core.outputs.append(ReplicaReady(hard_state=HARD, sends=[("v2", REQUEST)]))
    shell.receive("v1", REQUEST)
    clock.run_for(5)
    shell.receive("v1", REQUEST)
    clock.run_for(5)
    assert log.events == ["commit hard admitted=1", "send TxRequest to v2"]
    clock.run_for(100)  # the deferred commit has nothing left to do
    assert log.events == ["commit hard admitted=1", "send TxRequest to v2"]


def test_too_many_waiting_vertices_are_committed_at_once() -> None:
    shell, core, clock, log = make(ShellConfig(unsynced_txs_max=2))
    core.outputs.append(ReplicaReady(admitted=[tx(1), tx(2)]))
    core.outputs.append(ReplicaReady(admitted=[tx(3)]))
    shell.receive("v1", REQUEST)
    clock.run_for(5)
    shell.receive("v1", REQUEST)
    clock.run_for(5)
    assert log.events == ["commit admitted=3"]


def test_flush_commits_what_waits_and_stop_silences_timers() -> None:
    shell, core, clock, log = make()
    core.outputs.append(ReplicaReady(admitted=[tx(1)]))
    shell.start()
    shell.receive("v1", REQUEST)
    clock.run_for(5)
    shell.flush()
    shell.stop()
    assert log.events == ["commit admitted=1"]
    inputs = core.inputs
    clock.run_for(1_000)  # no tick, no drain after stop
    assert core.inputs == inputs and log.events == ["commit admitted=1"]


def test_blamed_peers_are_refused_before_anything_is_sent() -> None:
    shell, core, clock, log = make()
    core.outputs.append(ReplicaReady(blamed=[("x0", "forged")], sends=[("v1", REQUEST)]))
    shell.receive("x0", REQUEST)
    clock.run_for(5)
    assert log.events == ["refuse x0", "send TxRequest to v1"]


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (PERSIST_AFTER_SEND, ["send TxRequest to v1", "commit hard"]),
        (DEFER_HARD_STATE, ["send TxRequest to v1"]),
    ],
)
def test_planted_ordering_bugs_change_what_a_crash_would_find(
    plant: str, expected: list[str]
) -> None:
    """The simulator's negative controls: the vote leaves before its hard state is durable."""
    shell, core, clock, log = make(ShellConfig(plants=frozenset({plant})))
    core.outputs.append(ReplicaReady(hard_state=HARD, sends=[("v1", REQUEST)]))
    shell.receive("v1", REQUEST)
    clock.run_for(5)
    assert log.events == expected


def test_planted_ack_before_sync_acknowledges_what_no_disk_holds() -> None:
    shell, core, clock, log = make(ShellConfig(plants=frozenset({ACK_BEFORE_SYNC})))
    core.outputs.append(ReplicaReady(admitted=[tx(1)], acks=[("v1", AckMsg((b"\x02" * 32,)))]))
    shell.receive("v1", REQUEST)
    clock.run_for(5)
    assert log.events == ["send AckMsg to v1"]


def test_unknown_plants_and_bad_timings_are_refused() -> None:
    with pytest.raises(ValueError, match="planted"):
        ShellConfig(plants=frozenset({"no-such-bug"}))
    with pytest.raises(ValueError, match="tick_ms"):
        ShellConfig(tick_ms=0)
