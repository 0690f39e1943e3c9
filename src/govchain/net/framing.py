"""Length-prefixed frames: a 4-byte big-endian length, then that many payload bytes.

Sans-I/O: `FrameDecoder` takes bytes in and gives whole payloads out; the
asyncio shell (`peers.py`) owns the sockets. A length of zero or above the
decoder's `frame_bytes_max` is the sender's fault and raises `FrameError`
as soon as the 4-byte header arrives, before any payload is buffered.
"""

from __future__ import annotations

LENGTH_BYTES = 4
FRAME_BYTES_MAX = 4 * 1024 * 1024  # default payload limit: 4 MiB
_LENGTH_LIMIT = 2 ** (8 * LENGTH_BYTES) - 1  # the largest length the header can carry


class FrameError(ValueError):
    """A frame's length is zero or above the limit (remote fault on decode, local on encode)."""


def _check_limit(frame_bytes_max: int) -> None:
    if not 1 <= frame_bytes_max <= _LENGTH_LIMIT:
        raise ValueError(f"frame_bytes_max must be within 1..{_LENGTH_LIMIT}")


def encode_frame(payload: bytes, frame_bytes_max: int = FRAME_BYTES_MAX) -> bytes:
    """The frame carrying payload; raises FrameError when it is empty or too long."""
    n = len(payload)
    if n == 0:
        raise FrameError("a frame carries at least one byte")
    if n > frame_bytes_max:
        raise FrameError(f"a frame of {n} bytes is above the limit of {frame_bytes_max}")
    return n.to_bytes(LENGTH_BYTES, "big") + payload


class FrameDecoder:
    """Incremental decoder: push bytes as they arrive, take complete payloads out.

    After a FrameError the decoder stays failed: every later call raises it
    again, since the stream has no way to find the next frame boundary.
    `frame_bytes_max` may be changed between calls (the shell raises it after
    the handshake); the new limit applies to headers not yet read.
    """

    __slots__ = ("_buffer", "_error", "_start", "frame_bytes_max")

    def __init__(self, frame_bytes_max: int = FRAME_BYTES_MAX) -> None:
        _check_limit(frame_bytes_max)
        self.frame_bytes_max = frame_bytes_max
        self._buffer = bytearray()
        self._start = 0  # bytes of _buffer already consumed
        self._error: FrameError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as part of a frame."""
        return len(self._buffer) - self._start

    def push(self, data: bytes) -> None:
        """Append received bytes without decoding them (see next_frame)."""
        if self._error is not None:
            raise self._error
        if self._start:
            del self._buffer[: self._start]
            self._start = 0
        self._buffer += data

    def next_frame(self) -> bytes | None:
        """The next complete payload, or None while it is incomplete."""
        if self._error is not None:
            raise self._error
        if self.buffered < LENGTH_BYTES:
            return None
        head = self._start
        n = int.from_bytes(self._buffer[head : head + LENGTH_BYTES], "big")
        if n == 0 or n > self.frame_bytes_max:
            what = "zero" if n == 0 else f"{n} bytes, above the limit of {self.frame_bytes_max}"
            self._error = FrameError(f"frame length {what}")
            raise self._error
        end = head + LENGTH_BYTES + n
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[head + LENGTH_BYTES : end])
        self._start = end
        return payload

    def feed(self, data: bytes) -> list[bytes]:
        """Append received bytes and return every payload now complete, in order."""
        self.push(data)
        frames: list[bytes] = []
        while (frame := self.next_frame()) is not None:
            frames.append(frame)
        return frames
