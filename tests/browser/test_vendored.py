"""The explorer's browser libraries: vendored from npm as recorded, and light enough.

No browser needed: these run wherever the suite runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "govchain" / "explorer" / "static"
SCRIPTS_BYTES_MAX = 1_500_000  # issue 15: every script the explorer serves, together


def test_the_vendored_files_are_the_ones_recorded() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor-assets"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_explorers_scripts_weigh_under_1_5_mb() -> None:
    scripts = sorted(STATIC.rglob("*.js"))
    assert STATIC / "vendor" / "echarts" / "echarts.min.js" in scripts
    sizes = {str(p.relative_to(STATIC)): p.stat().st_size for p in scripts}
    assert sum(sizes.values()) <= SCRIPTS_BYTES_MAX, sizes
