"""A lean keep-alive HTTP/1.1 client for the soak, parsed by httptools.

The soak's loader shares two cores with four nodes, so its cost per request
must stay small: httpx spent milliseconds per transaction here (its pool scans
every connection per request, and httpcore retries a failed import of sniffio
each time it makes a lock). bench.BareHttp is lean but drops the headers, and
the soak must read Retry-After. One NodeConnection is one socket to one node,
used by one task at a time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httptools
import msgspec

READ_CHUNK_BYTES = 65_536
BODY_BYTES_MAX = 4 * 1024 * 1024  # the soak reads small JSON answers; more is a broken node


class TransportError(Exception):
    """No answer: refused, reset, closed, timed out or not HTTP."""


@dataclass(frozen=True, slots=True)
class Reply:
    """Status, headers (names lowercased) and body of one answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not."""
        try:
            return msgspec.json.decode(self.body)
        except msgspec.DecodeError as exc:
            raise ValueError(str(exc)) from None


class _Answer:
    """httptools' callbacks: collect one response."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.done = False
        self.keep_alive = False
        self.parser = httptools.HttpResponseParser(self)

    def on_headers_complete(self) -> None:
        # Asked here: once the message is complete the parser has reset its state.
        self.keep_alive = self.parser.should_keep_alive()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        if len(self.body) + len(body) > BODY_BYTES_MAX:
            raise TransportError(f"an answer of more than {BODY_BYTES_MAX} bytes")
        self.body += body

    def on_message_complete(self) -> None:
        self.done = True


class NodeConnection:
    """One keep-alive connection to one node's API (http://host:port), opened on demand."""

    def __init__(self, url: str, timeout_s: float) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str | None = None
    ) -> Reply:
        """Send one request and read its answer; raises TransportError when none comes."""
        head = f"{method} {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
        if content_type is not None:
            head += f"content-type: {content_type}\r\n"
        message = (head + f"content-length: {len(body)}\r\n\r\n").encode() + body
        # A kept-alive socket the server closed while idle fails before any answer
        # arrives: one more try on a new socket (the soak's requests are idempotent).
        for attempt in (1, 2):
            reused = self._writer is not None
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await self._exchange(message)
            except (OSError, TimeoutError, httptools.HttpParserError, TransportError) as exc:
                self.close()
                if attempt == 2 or not reused or isinstance(exc, TimeoutError):
                    raise TransportError(f"{self.host}:{self.port}: {exc!r}") from None
        raise AssertionError("unreachable")

    async def _exchange(self, message: bytes) -> Reply:
        if self._writer is None or self._reader is None or self._reader.at_eof():
            self.close()
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._writer.write(message)
        answer = _Answer()
        while not answer.done:
            chunk = await self._reader.read(READ_CHUNK_BYTES)
            if not chunk:
                raise TransportError("the connection closed before the answer ended")
            answer.parser.feed_data(chunk)
        if not answer.keep_alive:
            self.close()
        return Reply(answer.parser.get_status_code(), answer.headers, bytes(answer.body))

    def close(self) -> None:
        """Drop the socket (the next request opens a new one)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
