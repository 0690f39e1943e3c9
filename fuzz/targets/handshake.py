"""The peer handshake (net/handshake.py): a Hello then a Proof from the other side.

Input: a mode byte (bit 0: we dialled; bit 1: the Proof comes first, out of
order; bit 2: the Hello comes twice), the peer's Hello (a chunk), then its
Proof (the rest). Our side is validator 0 with a fixed nonce, so a seed made
by validator 1 for this transcript verifies to the end. A completed handshake
must name the key the Hello presented.
"""

from __future__ import annotations

from govchain.net.handshake import NONCE_BYTES, Handshake, HandshakeError
from targets._kit import CHAIN, GENESIS, VALIDATORS, Reader, check, join

ACCEPTED: tuple[type[BaseException], ...] = (HandshakeError,)
OUR_NONCE = b"\x01" * NONCE_BYTES
PEER_NONCE = b"\x02" * NONCE_BYTES


def ours(initiator: bool) -> Handshake:
    """Our side: validator 0 of the fuzz chain."""
    return Handshake(VALIDATORS[0], CHAIN, GENESIS.hash, OUR_NONCE, initiator=initiator)


def test_one_input(data: bytes) -> None:
    """Run our side against the peer's two messages; only HandshakeError may come out."""
    r = Reader(data)
    mode = r.byte()
    hello = r.chunk()
    proof = r.rest()
    h = ours(initiator=bool(mode & 1))
    if mode & 2:
        h.receive_proof(proof)
        check(False, "a Proof before the Hello was taken")
    h.receive_hello(hello)
    if mode & 4:
        h.receive_hello(hello)
        check(False, "a second Hello was taken")
    key = h.receive_proof(proof)
    check(key == h.peer_key and hello.find(key) >= 0, "the peer key is not the Hello's")


def seeds() -> dict[str, bytes]:
    """The peer's Hello and Proof, both ways round (both verify), and out of order."""
    out = {}
    for initiator in (True, False):
        peer = Handshake(VALIDATORS[1], CHAIN, GENESIS.hash, PEER_NONCE, initiator=not initiator)
        proof = peer.receive_hello(ours(initiator).hello_bytes)
        name = "dialled" if initiator else "answered"
        out[name] = bytes([int(initiator)]) + join(peer.hello_bytes) + proof
    out["proof-first"] = b"\x02" + out["dialled"][1:]
    return out
