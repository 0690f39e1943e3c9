"""`govchain node --log-format json`: one JSON object a line with stable keys (issue 16,
part 5); text stays the default."""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
from pathlib import Path

from govchain.node.logs import BASE_KEYS, JsonLineFormatter
from procs import Cluster, wait_until

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.getLogger("govchain.test").makeRecord(
        "govchain.test", logging.WARNING, __file__, 1, msg, args, None, extra=extra
    )
    record.created = 1_700_000_000.25
    return record


def test_a_record_is_one_json_line_with_its_keys_first_and_its_extra_fields() -> None:
    line = JsonLineFormatter().format(
        _record("peer %s sent %d bad frames\nsecond line", "ab12", 3, peer="ab12", frames=3)
    )
    assert "\n" not in line
    doc = json.loads(line)
    assert list(doc)[:4] == list(BASE_KEYS)
    assert doc == {
        "ts": "2023-11-14T22:13:20.250Z",
        "level": "warning",
        "logger": "govchain.test",
        "msg": "peer ab12 sent 3 bad frames\nsecond line",
        "peer": "ab12",
        "frames": 3,
    }


def test_an_exception_is_one_string_field_and_odd_extras_are_text() -> None:
    try:
        raise ValueError("store page 7 is corrupt: 存储")
    except ValueError:
        record = logging.getLogger("govchain.test").makeRecord(
            "govchain.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info(),
            extra={"path": Path("/tmp/x"), "ts": "not the timestamp"},
        )  # fmt: skip
    doc = json.loads(JsonLineFormatter().format(record))
    assert (
        doc["exc"].startswith("Traceback")
        and "ValueError: store page 7 is corrupt: 存储" in doc["exc"]
    )
    assert doc["path"] == "/tmp/x"
    assert TS.match(doc["ts"])  # an extra field never replaces a key of the record's own


def test_a_node_logs_json_lines_and_so_does_its_http_server(tmp_path: Path) -> None:
    c = Cluster(tmp_path, validators=1)
    n = c.nodes[0]
    err = tmp_path / "node.err"
    try:
        with err.open("wb") as sink:
            c.procs[n.name] = subprocess.Popen(
                [sys.executable, "-m", "govchain.cli.main", "node", "--home", str(n.home),
                 "--log-format", "json"],
                stdout=sink, stderr=sink, start_new_session=True,
            )  # fmt: skip
        c.wait_api(0)
        # Bytes that are no HTTP request: the HTTP server warns, through the node's logging.
        with socket.create_connection(("127.0.0.1", n.api_port), timeout=5) as s:
            s.sendall(b"\x00\x01 not http\r\n\r\n")
            s.recv(1024)
        wait_until(lambda: b"uvicorn.error" in err.read_bytes(), 10.0, "the server's warning")
    finally:
        c.stop()
    lines = err.read_text().splitlines()
    docs = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(list(d)[:4] == list(BASE_KEYS) and TS.match(d["ts"]) for d in docs), lines
    loggers = {d["logger"] for d in docs}
    assert {"govchain.node", "uvicorn.error"} <= loggers, loggers
    assert any(d["msg"] == f"node {n.name} running" for d in docs), lines


def test_text_stays_the_default(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "govchain.cli.main", "node", "--help"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert re.search(r"--log-format \[text\|json\]", out.stdout)
    assert "default: text" in out.stdout
