"""`schemathesis run --checks all` against a live devnet's /openapi.json finds no failure
(issue 16, part 5).

A devnet of one validator (a real node process) on 127.0.0.1, which schemathesis
alone talks to; tests/schemathesis.toml says which cross-field refusals three
operations document, and tests/schemathesis_hooks.py how the batch body is sent.
The examples per operation are few and the seed fixed, so that CI's run takes
about a minute; `schemathesis ... --max-examples 100` with another --seed looks
further (docs/node.md).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from procs import cluster
from toolkit import tool

TESTS = Path(__file__).parent
MAX_EXAMPLES = 10
SEED = 1
RUN_TIMEOUT_S = 300.0


def test_schemathesis_finds_no_failure_in_the_api(tmp_path: Path) -> None:
    schemathesis = tool("schemathesis", "pip install -e '.[dev]' (it pins schemathesis)")
    with cluster(tmp_path / "net", validators=1) as c:
        base = c.url(0)
        assert base.startswith("http://127.0.0.1:")
        operations = sum(
            len([m for m in ops if m in {"get", "post", "put", "delete", "patch"}])
            for ops in c.http.get(base + "/openapi.json").json()["paths"].values()
        )
        run = subprocess.run(
            [
                schemathesis,
                "--config-file",
                str(TESTS / "schemathesis.toml"),
                "run",
                "--checks",
                "all",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                str(SEED),
                "--url",
                base,
                base + "/openapi.json",
            ],
            cwd=tmp_path,  # its .hypothesis/ and reports stay in the test's directory
            env={**os.environ, "PYTHONPATH": str(TESTS), "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    out = run.stdout + run.stderr
    summary = out[out.find("SUMMARY") :] or out[-3000:]
    print(summary)  # operations, test cases, seed: shown with -s, and kept on failure
    assert run.returncode == 0, out[-12_000:]
    tested = re.search(r"Tested: (\d+)", out)
    assert tested is not None and int(tested.group(1)) == operations, summary
    assert re.search(r"(\d+) generated, \1 passed", out), summary
