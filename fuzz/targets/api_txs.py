"""The API's request bodies through the real application (api/app.py), in-process.

The bodies the handlers parse themselves: POST /v1/txs (JSON {"tx": hex} or
the raw wire), POST /v1/txs/batch (a msgpack array of wires) and POST
/v1/trace (a case). Input: a mode byte choosing the route and content type,
then the body. The app runs over a node of the fuzz chain that is not
started (validator 0, its SQLite store in a temporary home), called as an ASGI
server would call it. Any answer but a server error is acceptable; a 5xx
other than 503 (back-pressure), or an exception out of the app, is a finding.
Seed transactions carry a zeroed signature: admission refuses them at its very
last check, so no input waits for replication on this node without peers.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import shutil
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from govchain.api.app import build_app
from govchain.codec import encode
from govchain.dag.limits import DagLimits
from govchain.dag.tx import WIRE_DECODER, TxWire
from govchain.node.files import Home, NodeConfig
from govchain.node.node import Node
from govchain.state.payloads import RecordPayload, TransferPayload
from targets._kit import ALICE, BOB, GENESIS, VALIDATORS, Reader, check, signed_tx

ACCEPTED: tuple[type[BaseException], ...] = ()
ROUTES = (
    ("/v1/txs", "application/json"),
    ("/v1/txs", "application/octet-stream"),
    ("/v1/txs", ""),
    ("/v1/txs/batch", "application/msgpack"),
    ("/v1/trace", "application/json"),
)
_app: tuple[Starlette, asyncio.AbstractEventLoop] | None = None


def _node_app() -> tuple[Starlette, asyncio.AbstractEventLoop]:
    """The app over a fresh, unstarted node (built on first use, removed at exit)."""
    global _app  # noqa: PLW0603 (one node per process: building it costs a second)
    if _app is None:
        home = Path(tempfile.mkdtemp(prefix="govchain-fuzz-node-"))
        atexit.register(shutil.rmtree, home, True)
        config = NodeConfig("fuzz-0", "127.0.0.1", 1, "127.0.0.1", 2, ())
        Home(home).write(config, GENESIS, VALIDATORS[0])
        _app = (build_app(Node(Home(home))), asyncio.new_event_loop())
    return _app


async def _call(app: Starlette, path: str, ctype: str, body: bytes) -> tuple[int, bytes]:
    """One POST as an ASGI server makes it: the status and the body of the answer."""
    headers = [(b"host", b"fuzz"), (b"content-length", str(len(body)).encode())]
    if ctype:
        headers.append((b"content-type", ctype.encode()))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("fuzz", 80),
    }
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    answer: list[Any] = []

    async def receive() -> dict[str, Any]:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        answer.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in answer if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in answer if m["type"] == "http.response.body")
    return status, content


def test_one_input(data: bytes) -> None:
    """POST one body; every answer but a server error (503 aside) is acceptable."""
    r = Reader(data)
    path, ctype = ROUTES[r.byte() % len(ROUTES)]
    app, loop = _node_app()
    status, content = loop.run_until_complete(_call(app, path, ctype, r.rest()))
    check(status < 500 or status == 503, f"{path} answered {status}: {content[:300]!r}")
    if status >= 400:
        doc = json.loads(content)
        check(set(doc["error"]) == {"code", "message"}, f"an error without its code: {doc}")


def _unsigned(wire: bytes) -> bytes:
    """A wire with its signature zeroed (admission's last check refuses it)."""
    w = WIRE_DECODER.decode(wire)
    return encode(TxWire(w.body, bytes(64), w.payload))


def seeds() -> dict[str, bytes]:
    """Each route with a body it takes apart down to the signature check, and a trace."""
    stamp = {"stamp_bits_min": DagLimits().stamp_bits_min}  # the node's
    transfer = signed_tx(ALICE, 0, "transfer", encode(TransferPayload(BOB.address, 5)), **stamp)
    record = signed_tx(BOB, 0, "record", encode(RecordPayload("", "text/plain", b"hi")), **stamp)
    t, rec = _unsigned(transfer.to_wire()), _unsigned(record.to_wire())
    case = {"seeds": [{"address": ALICE.address.hex()}], "direction": "forward", "hops": 3}
    return {
        "json": b"\x00" + json.dumps({"tx": t.hex()}).encode(),
        "wire": b"\x01" + rec,
        "no-type": b"\x02" + json.dumps({"tx": rec.hex()}).encode(),
        "batch": b"\x03" + encode([t, rec]),
        "trace": b"\x04" + json.dumps(case).encode(),
    }
