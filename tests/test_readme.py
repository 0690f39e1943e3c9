"""The README's walkthrough runs as pasted, in order, against a fresh devnet (issue 11).

Every shell block marked `<!-- walkthrough -->` in README.md is run in one bash
session (`set -euo pipefail`), in a fresh directory holding `.venv` (a link to
this interpreter's environment) and a devnet started as the README's first
command starts it, on free ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from govchain.node.devnet import free_port_base

README = Path(__file__).resolve().parent.parent / "README.md"
MARK = "<!-- walkthrough -->"
BLOCK = re.compile(r"<!-- walkthrough -->\s*```sh\n(.*?)```", re.S)
READY_S = 60.0
WALK_S = 300.0


def walkthrough_blocks() -> list[str]:
    """The marked shell blocks of README.md, in order."""
    text = README.read_text()
    blocks = BLOCK.findall(text)
    assert len(blocks) == text.count(MARK), "every walkthrough mark must precede a ```sh block"
    return blocks


def test_the_walkthrough_has_blocks() -> None:
    assert len(walkthrough_blocks()) >= 4


def _wait_devnet(root: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_S
    doc_path = root / "devnet" / "devnet.json"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"govchain devnet exited with {proc.returncode}")
        with contextlib.suppress(OSError, ValueError, httpx.HTTPError):
            nodes = json.loads(doc_path.read_text())["nodes"]
            if all(httpx.get(n["api"] + "/v1/status", timeout=1).status_code == 200 for n in nodes):
                return
        time.sleep(0.2)
    raise AssertionError("the devnet was not ready in time")


def test_the_readme_walkthrough_runs_as_pasted(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    env = {k: v for k, v in os.environ.items() if k != "GOVCHAIN_DEVNET"}
    log = (tmp_path / "devnet.out").open("wb")
    devnet = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "govchain.cli.main",
            "devnet",
            "--port-base",
            str(free_port_base(4)),
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_devnet(tmp_path, devnet)
        script = "set -euo pipefail\n" + "\n".join(walkthrough_blocks())
        run = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=WALK_S,
            check=False,
        )
        out = run.stdout + run.stderr
        assert run.returncode == 0, out[-4000:]
        assert "refused: bob is frozen" in out
        assert "rejected by rule 3" in out
        assert out.count('"valid": true') == 2  # the proof and the audit export
        assert "redacted" in out
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(devnet.pid, signal.SIGINT)  # Ctrl-C: the devnet stops its nodes cleanly
        try:
            devnet.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(devnet.pid, signal.SIGKILL)
            devnet.wait()
        log.close()


@pytest.mark.parametrize("block", walkthrough_blocks())
def test_each_block_is_valid_bash(block: str) -> None:
    assert subprocess.run(["bash", "-n", "-c", block], check=False).returncode == 0
