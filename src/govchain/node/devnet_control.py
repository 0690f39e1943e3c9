"""The devnet supervisor's control socket: DIR/control.sock, one JSON line each way.

Drill commands (`govchain devnet status|kill|stop|start`) ask the running
supervisor, which owns every node process: it alone spawns and reaps them and
writes devnet.json, so what it reports stays true. A Unix socket in the devnet
directory is reachable only by those who may write there, refuses connections
at once when no supervisor listens (a stale file from a supervisor killed with
-9 answers ECONNREFUSED), and needs no port.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from govchain.node.errors import DevnetError

SOCKET_NAME = "control.sock"
REQUEST_BYTES_MAX = 4096
REPLY_BYTES_MAX = 1 << 20
REQUEST_READ_TIMEOUT_S = 1.0  # a client that connects and says nothing is dropped
LISTEN_BACKLOG = 8
# sun_path holds 108 bytes on Linux, with a terminating NUL.
SUN_PATH_BYTES_MAX = 107

Request = dict[str, Any]
Reply = dict[str, Any]


class NotRunningError(DevnetError):
    """No supervisor answers on this devnet's control socket."""


@contextlib.contextmanager
def _address(path: Path) -> Iterator[str]:
    """A name bind/connect accept for path, even when its full path is too long.

    A long path is reached through /proc/self/fd/N of its directory (Linux),
    which keeps the socket file and its permissions inside the devnet directory.
    """
    if len(os.fsencode(str(path))) <= SUN_PATH_BYTES_MAX:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        short = f"/proc/self/fd/{fd}/{path.name}"
        if not Path(f"/proc/self/fd/{fd}").is_dir():
            raise DevnetError(f"{path} is too long a path for a Unix socket: use a shorter --dir")
        yield short
    finally:
        os.close(fd)


class ControlServer:
    """The supervisor's end: a non-blocking listening socket polled by its loop."""

    def __init__(self, root: Path) -> None:
        self.path = root / SOCKET_NAME
        self._sock: socket.socket | None = None

    def open(self) -> None:
        """Listen on DIR/control.sock (the caller holds the devnet's lock)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by a supervisor that was killed
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with _address(self.path) as name:
            sock.bind(name)
        os.chmod(self.path, 0o600)
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
        self._sock = sock

    def serve(self, handler: Callable[[Request], Reply], wait_s: float) -> None:
        """Answer the requests waiting (one line each), or sleep up to wait_s for one."""
        if self._sock is None:
            raise DevnetError("serve before open")
        ready, _, _ = select.select([self._sock], [], [], wait_s)
        while ready:
            try:
                conn, _ = self._sock.accept()
            except BlockingIOError:
                return
            with conn:
                self._answer(conn, handler)

    def _answer(self, conn: socket.socket, handler: Callable[[Request], Reply]) -> None:
        conn.settimeout(REQUEST_READ_TIMEOUT_S)
        try:
            line = _read_line(conn, REQUEST_BYTES_MAX)
            try:
                req = json.loads(line)
                if not isinstance(req, dict):
                    raise ValueError("not an object")
            except ValueError:
                reply: Reply = {"ok": False, "code": "bad_request", "message": "not a JSON object"}
            else:
                reply = handler(req)
            conn.sendall(json.dumps(reply).encode() + b"\n")
        except (OSError, DevnetError):
            pass  # the client went away or spoke nonsense: its problem, not the devnet's

    def close(self) -> None:
        """Stop listening and remove the socket file."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def _read_line(conn: socket.socket, limit: int) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        buf += chunk
        if len(buf) > limit:
            raise DevnetError(f"a control message over {limit} bytes")
    return buf


def ask(root: Path, request: Request, timeout_s: float) -> Reply:
    """Send one request to root's supervisor; NotRunning when none answers."""
    path = root / SOCKET_NAME
    if not path.exists():
        raise NotRunningError(f"no devnet is running in {root}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            with _address(path) as name:
                sock.connect(name)
        except (ConnectionRefusedError, FileNotFoundError):
            raise NotRunningError(f"no devnet is running in {root}") from None
        try:
            sock.sendall(json.dumps(request).encode() + b"\n")
            line = _read_line(sock, REPLY_BYTES_MAX)
        except TimeoutError:
            raise DevnetError(
                f"the supervisor in {root} did not answer in {timeout_s:g} s"
            ) from None
    try:
        reply = json.loads(line)
    except ValueError:
        raise DevnetError(f"the supervisor in {root} closed without answering") from None
    if not isinstance(reply, dict):
        raise DevnetError(f"the supervisor in {root} answered nonsense")
    return reply
