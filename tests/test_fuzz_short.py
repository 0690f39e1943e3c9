"""Every fuzz target (fuzz/targets/) fuzzed briefly with atheris: it must end clean.

Each target runs in a process of its own (fuzz/run.py), from its committed
seeds, for four seconds or 20,000 inputs, whichever comes first: any
exception but the target's typed error, a crash or an input longer than the
timeout fails the test, which shows the input and the traceback. atheris is
a dev dependency (pyproject.toml): without it this fails, it does not skip.
The long run and its figures: docs/fuzzing.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "fuzz" / "run.py"
SECONDS = 4
RUNS_MAX = 20_000  # the fastest targets stop here, well before SECONDS
TARGETS = subprocess.run(
    [sys.executable, str(RUN), "list"], capture_output=True, text=True, check=True
).stdout.split()


def test_atheris_is_installed() -> None:
    found = subprocess.run(
        [sys.executable, "-c", "import atheris"], capture_output=True, text=True, check=False
    )
    assert found.returncode == 0, (
        "atheris is missing: `pip install -e '.[dev]'` installs it (pyproject.toml, dev extras)"
        f"\n{found.stderr}"
    )


def test_every_target_module_is_listed() -> None:
    modules = sorted(p.stem for p in (ROOT / "fuzz" / "targets").glob("[!_]*.py"))
    assert sorted(TARGETS) == modules


@pytest.mark.parametrize("target", TARGETS)
def test_a_short_fuzzing_run_ends_clean(target: str, tmp_path: Path) -> None:
    command = [sys.executable, str(RUN), "fuzz", target, "--json"]
    command += ["--seconds", str(SECONDS), "--runs", str(RUNS_MAX)]
    proc = subprocess.run(
        [*command, "--findings", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outcomes = json.loads(proc.stdout) if proc.stdout.startswith("[") else []
    assert proc.returncode == 0 and len(outcomes) == 1, (
        f"{target}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    (out,) = outcomes
    assert out["clean"] and out["finding"] is None
    assert out["runs"] > 0 and out["cov"] > 0  # it ran, instrumented
