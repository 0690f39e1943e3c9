"""The fuzz corpora (fuzz/corpus/<target>/) through their targets in plain Python.

The fast regression: no atheris, no instrumentation. Every committed seed and
every input that once was a finding must give its target's typed error or
nothing, and each target has its seeds.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "fuzz" / "run.py"


def test_every_corpus_file_replays_clean() -> None:
    proc = subprocess.run(
        [sys.executable, str(RUN), "replay", "all"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    targets = subprocess.run(
        [sys.executable, str(RUN), "list"], capture_output=True, text=True, check=True
    ).stdout.split()
    replayed = dict(re.findall(r"^(\w+): (\d+) inputs replayed", proc.stdout, re.M))
    assert set(replayed) == set(targets)
    assert all(int(n) >= 2 for n in replayed.values()), replayed
