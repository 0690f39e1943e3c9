"""A verify worker process: strict signature checks of transaction wires, away from the node.

node/verify_pool.py starts `python -m govchain.node.verify_worker` with pipes
on stdin and stdout. Each request is a frame (a 4-byte big-endian length,
then a msgpack array of wires); each answer, in the order asked, is a frame
holding the msgpack array of the ids of those wires whose sender's signature
verifies strictly (crypto/keys.verify over SIGN_DOMAIN + body). Anything else
(garbage, a forged or non-canonical signature, a small-order key) yields no
id: the node then admits it by its usual path, which refuses it with a typed
reason. The worker exits at the end of its input, when the node closes the
pipe or dies.

A process, not a thread: a thread of the node that leaves the GIL for
libsodium's verify waits for it again while the event loop runs Python, and
in CPython 3.11 a loop that releases the GIL at every system call keeps it
(docs/verification.md, measured: a few hundred verifies a second).
"""

from __future__ import annotations

import signal
import struct
import sys
from collections.abc import Sequence
from typing import BinaryIO

import msgspec

from govchain.crypto.keys import SIGNATURE_BYTES, verify
from govchain.dag.tx import BODY_DECODER, SIGN_DOMAIN, WIRE_DECODER, tx_id

FRAME_HEADER = struct.Struct(">I")
# The pool never sends more in one request (verify_pool.CHUNK_BYTES_MAX and
# WIRE_BYTES_MAX bound it); a longer frame means the pipe is out of step.
FRAME_BYTES_MAX = 16 * 1024 * 1024
WIRES_DECODER = msgspec.msgpack.Decoder(list[bytes])
IDS_ENCODER = msgspec.msgpack.Encoder()


def verified_id(wire: bytes) -> bytes | None:
    """The id of wire if its sender's signature over its body verifies strictly, else None."""
    try:
        w = WIRE_DECODER.decode(wire)
        if len(w.signature) != SIGNATURE_BYTES:
            return None
        body = BODY_DECODER.decode(w.body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None  # refused with a typed reason where it is admitted
    # The key checks too (key_checked=False): the id must mean a full strict check.
    if not verify(body.sender, SIGN_DOMAIN + w.body, w.signature):
        return None
    return tx_id(w.body, w.signature)


def verified_ids(wires: Sequence[bytes]) -> list[bytes]:
    """The ids of those wires whose signatures verify strictly, in their order."""
    out: list[bytes] = []
    for wire in wires:
        vid = verified_id(wire)
        if vid is not None:
            out.append(vid)
    return out


def _read_exactly(inp: BinaryIO, size: int) -> bytes | None:
    """size bytes, or None at the end of input (a short read at the end counts as the end)."""
    data = inp.read(size)
    return data if len(data) == size else None


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """Answer requests from inp on out, in order, until inp ends."""
    while True:
        head = _read_exactly(inp, FRAME_HEADER.size)
        if head is None:
            return
        (size,) = FRAME_HEADER.unpack(head)
        if size > FRAME_BYTES_MAX:
            raise SystemExit(f"verify worker: a frame of {size} bytes > {FRAME_BYTES_MAX}")
        data = _read_exactly(inp, size)
        if data is None:
            return
        reply = IDS_ENCODER.encode(verified_ids(WIRES_DECODER.decode(data)))
        out.write(FRAME_HEADER.pack(len(reply)))
        out.write(reply)
        out.flush()


def main() -> None:
    """The worker process: stdin to stdout; Ctrl-C is the node's to handle (it closes stdin)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
