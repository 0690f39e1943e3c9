"""`govchain sim` as a user drives it: exit codes, one JSON document, replay across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def govchain(*args: str, hash_seed: str = "0") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-m", "govchain.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_json_run_prints_exactly_one_document_and_exits_zero() -> None:
    out = govchain("sim", "--seeds", "1..3", "--faults", "loss", "--workers", "1", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["seeds"] == 3
    assert doc["violations"] == []
    assert doc["checkpoints_min"] >= 5
    assert doc["checkpoints_median"] >= doc["checkpoints_min"]


def test_a_violation_exits_one_and_names_the_seed() -> None:
    out = govchain(
        "sim", "--seeds", "1..4", "--plant", "unordered-exec", "--workers", "1", "--json"
    )
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    assert doc["violations"]
    first = doc["violations"][0]
    assert set(first) >= {"seed", "invariant", "step"}
    assert first["seed"] in range(1, 5)


@pytest.mark.parametrize(
    "args",
    [
        ["--seeds", "9..1"],
        ["--seeds", "x"],
        ["--faults", "meteor"],
        ["--plant", "nonsense"],
        ["--byzantine", "9"],
    ],
)
def test_bad_arguments_exit_two_with_a_json_error(args: list[str]) -> None:
    out = govchain("sim", *args, "--json")
    assert out.returncode == 2
    err = json.loads(out.stdout)["error"]
    assert err["code"] == "bad_argument"
    assert err["message"]


def test_a_seed_replays_identically_under_different_hash_seeds() -> None:
    args = ("sim", "--seeds", "42", "--byzantine", "1", "--faults", "all", "--json")
    a = govchain(*args, hash_seed="1")
    b = govchain(*args, hash_seed="12345")
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    assert json.loads(a.stdout) == json.loads(b.stdout)


def test_people_get_a_table() -> None:
    out = govchain("sim", "--seeds", "1", "--faults", "none")
    assert out.returncode == 0
    assert "checkpoints" in out.stdout
