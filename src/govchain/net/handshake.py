"""The signed handshake that binds a connection to a node key, a chain and a genesis.

Sans-I/O; randomness comes in as the `nonce` argument. Both sides run the same
three steps, in this order on the wire:

1. send `hello_bytes` (a `Hello`) and read the peer's Hello;
2. `receive_hello(peer_hello)` checks it and returns our `Proof` to send;
3. `receive_proof(peer_proof)` checks the peer's signature and returns its key.

The Proof signs, with the node key, the domain tag, then both Hellos
(each length-prefixed) in initiator-then-responder order, then the peer's nonce:

    HANDSHAKE_DOMAIN || u32(len I) || I || u32(len R) || R || peer_nonce

so a signature is fresh for the peer that verifies it (its own nonce is in
it), covers both sides' chain id, genesis hash and version, and cannot be
replayed on another connection. Both signatures differ: each ends with the
other side's nonce. Without transport encryption the handshake does not stop a
man in the middle from relaying it; the replica's messages are signed where it
matters (proposals, votes, transactions).
"""

from __future__ import annotations

import enum
from typing import TypeVar

import msgspec

from govchain.codec import HASH_BYTES, DecodeError, decode_canonical, encode
from govchain.crypto.keys import (
    PUBLIC_KEY_BYTES,
    SIGNATURE_BYTES,
    SigningKey,
    point_is_acceptable,
    verify,
)

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = frozenset({PROTOCOL_VERSION})
NONCE_BYTES = 32
HANDSHAKE_DOMAIN = b"govchain:p2p-handshake:v1:"
# Frame limit while the handshake runs: a Hello is ~150 bytes, a Proof ~70.
HANDSHAKE_FRAME_BYTES_MAX = 1024


class Hello(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """What each side says about itself before anything else."""

    version: int
    chain_id: str
    genesis_hash: bytes
    node_key: bytes
    nonce: bytes


class Proof(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """The node key's signature over the transcript (see the module docstring)."""

    signature: bytes


T = TypeVar("T")

_HELLO_DECODER: msgspec.msgpack.Decoder[Hello] = msgspec.msgpack.Decoder(Hello)
_PROOF_DECODER: msgspec.msgpack.Decoder[Proof] = msgspec.msgpack.Decoder(Proof)


class Reason(enum.StrEnum):
    """Why a handshake was refused; every value is the peer's fault except TIMEOUT's cause."""

    MALFORMED = "malformed"  # not a Hello / Proof, or a field of the wrong size
    NON_CANONICAL = "non_canonical"  # decodes, but not from its one canonical encoding
    VERSION = "unsupported_version"
    CHAIN_ID = "wrong_chain_id"
    GENESIS = "wrong_genesis_hash"
    BAD_KEY = "bad_node_key"  # not an acceptable Ed25519 public key
    SELF = "self_connection"  # the peer presented our own key
    BAD_SIGNATURE = "bad_signature"
    OUT_OF_ORDER = "out_of_order"  # a step called twice or before the previous one
    TIMEOUT = "timeout"  # used by the asyncio shell


class HandshakeError(Exception):
    """The peer failed the handshake; `reason` says how."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


def _decode(data: bytes, decoder: msgspec.msgpack.Decoder[T]) -> T:
    try:
        return decode_canonical(data, decoder)
    except DecodeError as exc:
        try:
            decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
            raise HandshakeError(Reason.MALFORMED, str(exc)) from exc
        raise HandshakeError(Reason.NON_CANONICAL) from exc


def transcript(initiator_hello: bytes, responder_hello: bytes, peer_nonce: bytes) -> bytes:
    """The bytes a Proof signs; peer_nonce is the nonce of the side that verifies."""
    parts = [HANDSHAKE_DOMAIN]
    for hello in (initiator_hello, responder_hello):
        parts += [len(hello).to_bytes(4, "big"), hello]
    parts.append(peer_nonce)
    return b"".join(parts)


class Handshake:
    """One side of one connection's handshake.

    initiator: True on the side that dialled. chain_id and genesis_hash are
    what the peer must match exactly; nonce is NONCE_BYTES of fresh randomness.
    """

    __slots__ = (
        "_chain_id",
        "_genesis_hash",
        "_key",
        "_peer_hello",
        "_peer_hello_bytes",
        "hello",
        "hello_bytes",
        "initiator",
        "peer_key",
    )

    def __init__(
        self,
        key: SigningKey,
        chain_id: str,
        genesis_hash: bytes,
        nonce: bytes,
        *,
        initiator: bool,
    ) -> None:
        if len(nonce) != NONCE_BYTES:
            raise ValueError(f"a handshake nonce is {NONCE_BYTES} bytes")
        if len(genesis_hash) != HASH_BYTES:
            raise ValueError(f"a genesis hash is {HASH_BYTES} bytes")
        self._key = key
        self._chain_id = chain_id
        self._genesis_hash = genesis_hash
        self.initiator = initiator
        self.hello = Hello(PROTOCOL_VERSION, chain_id, genesis_hash, key.public_key, nonce)
        self.hello_bytes: bytes = encode(self.hello)
        self._peer_hello: Hello | None = None
        self._peer_hello_bytes = b""
        self.peer_key: bytes | None = None  # set once the peer's Proof verified

    def _ordered(self) -> tuple[bytes, bytes]:
        if self.initiator:
            return self.hello_bytes, self._peer_hello_bytes
        return self._peer_hello_bytes, self.hello_bytes

    def receive_hello(self, data: bytes) -> bytes:
        """Check the peer's Hello; return the encoded Proof to send back."""
        if self._peer_hello is not None:
            raise HandshakeError(Reason.OUT_OF_ORDER, "a second Hello")
        hello = _decode(data, _HELLO_DECODER)
        if hello.version not in SUPPORTED_VERSIONS:
            raise HandshakeError(Reason.VERSION, f"version {hello.version}")
        if hello.chain_id != self._chain_id:
            raise HandshakeError(Reason.CHAIN_ID, repr(hello.chain_id[:80]))
        if hello.genesis_hash != self._genesis_hash:
            raise HandshakeError(Reason.GENESIS, hello.genesis_hash[:64].hex())
        if len(hello.nonce) != NONCE_BYTES:
            raise HandshakeError(Reason.MALFORMED, f"a nonce of {len(hello.nonce)} bytes")
        if len(hello.node_key) != PUBLIC_KEY_BYTES or not point_is_acceptable(hello.node_key):
            raise HandshakeError(Reason.BAD_KEY)
        if hello.node_key == self._key.public_key:
            raise HandshakeError(Reason.SELF)
        self._peer_hello = hello
        self._peer_hello_bytes = data
        init, resp = self._ordered()
        return encode(Proof(self._key.sign(transcript(init, resp, hello.nonce))))

    def receive_proof(self, data: bytes) -> bytes:
        """Check the peer's Proof; return the peer's node key (32 bytes)."""
        peer = self._peer_hello
        if peer is None or self.peer_key is not None:
            raise HandshakeError(Reason.OUT_OF_ORDER, "a Proof before the Hello or twice")
        proof = _decode(data, _PROOF_DECODER)
        if len(proof.signature) != SIGNATURE_BYTES:
            raise HandshakeError(Reason.MALFORMED, f"a signature of {len(proof.signature)} bytes")
        init, resp = self._ordered()
        message = transcript(init, resp, self.hello.nonce)
        if not verify(peer.node_key, message, proof.signature, key_checked=True):
            raise HandshakeError(Reason.BAD_SIGNATURE)
        self.peer_key = peer.node_key
        return peer.node_key
