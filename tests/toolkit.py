"""Outside tools the live API tests run (promtool, schemathesis): found, or skipped.

Without the tool a test skips, saying what to install; under GOVCHAIN_REQUIRE_TOOLS=1
(set by .ci/run) it fails instead, so CI never passes by skipping them.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REQUIRE_ENV = "GOVCHAIN_REQUIRE_TOOLS"  # "1": a missing tool fails the tests


def tool(name: str, install: str) -> str:
    """The path of the tool name (the venv's first, then PATH); skip or fail without it."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        reason = f"{name} is missing: {install}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return found
