"""`govchain sim --soak` as a user drives it: the mix, a plant caught, replay, resume, budget."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from govchain.sim.cluster import FAULTS
from govchain.sim.soak_journal import JournalError, JournalWriter, read_journal
from govchain.sim.soak_mix import replay_command, soak_config, soak_shape
from govchain.sim.soak_tally import SeedOutcome, SeedViolation


def govchain(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [sys.executable, "-m", "govchain.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_the_mix_covers_every_fault_kind_and_byzantine_shape_from_the_seed_alone() -> None:
    shapes = [soak_shape(s) for s in range(1, 401)]
    assert {s.faults for s in shapes} == set(FAULTS)
    assert {(s.validators, s.byzantine) for s in shapes} == {(4, 0), (4, 1), (7, 1), (7, 2)}
    assert {s.byzantine_peers for s in shapes} == {0, 1, 2}
    # Every Byzantine count stays within f: a violation is a bug, not the mix.
    assert all(3 * s.byzantine < s.validators for s in shapes)
    # No shape is tied to seed parity (even seeds reweigh a validator).
    by_parity = Counter((s.faults, n % 2) for n, s in enumerate(shapes, start=1))
    assert all(by_parity[(f, p)] > 0 for f in FAULTS for p in (0, 1))
    assert [soak_shape(s) for s in range(1, 401)] == shapes


def test_the_replay_command_names_exactly_the_config_the_soak_ran() -> None:
    cfg = soak_config(11, "unordered-exec")
    argv = shlex.split(replay_command(11, "unordered-exec"))
    opts = dict(zip(argv[2::2], argv[3::2], strict=True))
    assert opts == {
        "--seeds": "11",
        "--validators": str(cfg.validators),
        "--byzantine": str(cfg.byzantine),
        "--faults": cfg.faults,
        "--byzantine-peers": str(cfg.byzantine_peers),
        "--plant": "unordered-exec",
    }


def test_a_clean_soak_reports_no_violation_and_what_it_ran() -> None:
    out = govchain("sim", "--soak", "--seeds", "1..4", "--workers", "1", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["seeds"] == doc["seeds_planned"] == 4
    assert doc["violations"] == []
    assert doc["violations_total"] == 0
    assert doc["stopped"] == "done"
    assert sum(c["seeds"] for c in doc["by_config"].values()) == 4
    assert set(doc["by_config"]) == {soak_shape(s).label for s in range(1, 5)}
    assert doc["checkpoints_total"] >= 4 * doc["checkpoints_min"] > 0
    assert doc["txs_final_total"] > 0
    assert doc["cpu_seconds"] > 0
    assert doc["wall_seconds"] > 0
    assert "4/4 seeds, 0 violations" in out.stderr


def test_a_soak_catches_a_planted_bug_and_its_replay_fails_the_same_way() -> None:
    out = govchain(
        "sim", "--soak", "--seeds", "1..3", "--plant", "unordered-exec", "--workers", "1", "--json"
    )
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["failing_seeds"] == [1, 2, 3]
    assert set(doc["by_invariant"]) & {"state_hash", "receipt"}
    assert all(c["failing"] == c["seeds"] for c in doc["by_config"].values())
    first = doc["violations"][0]
    assert first["seed"] == 1
    assert first["config"] == soak_shape(1).label
    assert first["replay"] == replay_command(1, "unordered-exec")
    replay = govchain(*shlex.split(first["replay"])[1:], "--json")
    assert replay.returncode == 1
    again = json.loads(replay.stdout)["violations"][0]
    assert (again["invariant"], again["step"], again["detail"]) == (
        first["invariant"],
        first["step"],
        first["detail"],
    )


def test_a_soak_resumes_from_its_journal_and_a_budget_stops_it(tmp_path: Path) -> None:
    journal = tmp_path / "soak.jsonl"
    base = ("sim", "--soak", "--workers", "1", "--json", "--journal", str(journal))
    first = govchain(*base, "--seeds", "1..2")
    assert first.returncode == 0, first.stderr
    # A budget far below one seed's run: one seed runs, then no new one is handed out.
    later = govchain(*base, "--seeds", "1..6", "--time-budget", "0.001")
    assert later.returncode == 0, later.stderr
    doc = json.loads(later.stdout)
    assert doc["resumed_seeds"] == 2
    assert doc["seeds"] == 3
    assert doc["stopped"] == "time_budget"
    assert len(journal.read_text().splitlines()) == 1 + 3  # the header, then a seed a line
    # Over seeds the journal holds, nothing runs: the document again, the file untouched.
    before = journal.read_bytes()
    again = govchain(*base, "--seeds", "1..3")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["resumed_seeds"] == json.loads(again.stdout)["seeds"] == 3
    assert journal.read_bytes() == before
    wrong = govchain(*base, "--seeds", "1..6", "--plant", "unordered-exec")
    assert wrong.returncode == 2
    assert "without --plant" in json.loads(wrong.stdout)["error"]["message"]


def test_soak_options_are_refused_where_they_mean_nothing() -> None:
    mixed = govchain("sim", "--soak", "--faults", "loss", "--json")
    assert mixed.returncode == 2
    assert "--faults" in json.loads(mixed.stdout)["error"]["message"]
    alone = govchain("sim", "--time-budget", "5", "--json")
    assert alone.returncode == 2
    assert json.loads(alone.stdout)["error"]["code"] == "bad_argument"


def test_a_journal_line_cut_by_a_kill_is_dropped_and_its_seed_runs_again(tmp_path: Path) -> None:
    journal = tmp_path / "soak.jsonl"
    done = SeedOutcome(
        seed=1,
        config=soak_shape(1).label,
        violations=[SeedViolation("lock", 7, "v1 prevoted y")],
        checkpoints=9,
        txs_final=100,
        accepted=40,
        crashed_after_accept=False,
        steps=1000,
        messages=500,
        cpu_s=0.5,
    )
    writer = JournalWriter(journal, None)
    writer.append(done)
    writer.close()
    with journal.open("ab") as f:
        f.write(b'{"seed":2,"config":"all v4 b0 p0","viol')  # kill -9 mid-line
    assert read_journal(journal, None) == [done]
    JournalWriter(journal, None).close()  # the next soak opens it to append
    assert journal.read_bytes().endswith(b"\n")
    assert read_journal(journal, None) == [done]
    with pytest.raises(JournalError, match="without --plant"):
        read_journal(journal, "unordered-exec")
