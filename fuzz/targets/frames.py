"""Peer frames (net/framing.py): a stream cut into pieces the way TCP may deliver it.

Input: the limit's byte (frame_bytes_max = 1 + 16 * it), a byte saying after
how many frames the limit is raised to FRAME_BYTES_MAX (as the shell does after
the handshake; 0: never), the piece sizes (one chunk, a byte each), then the
stream. The frames taken out must be exactly the stream's prefix, framed; a
FrameError must stick.
"""

from __future__ import annotations

from govchain.net.framing import FRAME_BYTES_MAX, FrameDecoder, FrameError, encode_frame
from targets._kit import Reader, check, join

ACCEPTED: tuple[type[BaseException], ...] = (FrameError,)


def test_one_input(data: bytes) -> None:
    """Feed the stream piece by piece; only FrameError may come out."""
    r = Reader(data)
    limit = 1 + 16 * r.byte()
    raise_after = r.byte()
    sizes = r.chunk() or b"\xff"
    stream = r.rest()
    dec = FrameDecoder(limit)
    frames: list[bytes] = []
    pos = 0
    try:
        for i in range(len(stream)):
            if pos >= len(stream):
                break
            n = 1 + sizes[i % len(sizes)]
            piece = stream[pos : pos + n]
            pos += len(piece)
            frames += dec.feed(piece)
            if raise_after and len(frames) >= raise_after:
                dec.frame_bytes_max = FRAME_BYTES_MAX
            check(len(frames) < 10_000, "more frames than bytes")
    except FrameError as exc:
        try:
            dec.feed(b"x")
        except FrameError as again:
            check(again is exc, "a failed decoder raised another error")
        else:
            check(False, "a failed decoder took more bytes")
        raise
    consumed = b"".join(encode_frame(f, FRAME_BYTES_MAX) for f in frames)
    check(stream[: len(consumed)] == consumed, "frames are not the stream's prefix")
    check(dec.buffered == pos - len(consumed), "buffered bytes lost or invented")


def seeds() -> dict[str, bytes]:
    """Streams of whole frames, cut at every byte and at once."""
    stream = b"".join(encode_frame(p) for p in (b"hello", b"\x93\x01\x02\x03", bytes(300)))
    return {
        "bytewise": bytes([255, 0]) + join(b"\x00") + stream,
        "whole": bytes([255, 1]) + join(b"\xff\xff") + stream,
        "raised": bytes([1, 1]) + join(b"\x03\x07") + stream,
    }
