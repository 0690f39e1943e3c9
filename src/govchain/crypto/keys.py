"""Ed25519 keys and strict verification through libsodium (PyNaCl)."""

from __future__ import annotations

import hashlib

import nacl.bindings
from nacl._sodium import ffi, lib

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
SEED_BYTES = 32
ADDRESS_BYTES = 20

# Field prime and group order of edwards25519.
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_Y_MASK = (1 << 255) - 1
# y-coordinates of the eight points of order dividing 8: identity (1), order 2
# (p-1), order 4 (0) and the four points of order 8 (two y values).
_Y_ORDER8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
_SMALL_ORDER_Y = frozenset({0, 1, _P - 1, _Y_ORDER8, _P - _Y_ORDER8})


# The same small-order y values as 32-byte encodings, with the sign bit clear and
# set: membership of the raw encoding is then one hash lookup, with no int built.
_SMALL_ORDER_ENCODINGS = frozenset(
    (y | sign).to_bytes(PUBLIC_KEY_BYTES, "little")
    for y in _SMALL_ORDER_Y
    for sign in (0, 1 << 255)
)


def point_is_acceptable(encoded: bytes) -> bool:
    """A point encoding with canonical y that is not of small order."""
    if len(encoded) != PUBLIC_KEY_BYTES or encoded in _SMALL_ORDER_ENCODINGS:
        return False
    # y >= p needs the masked top byte 0x7f (and bytes 1..30 all 0xff): any other
    # top byte gives y < 2^255 - 2^248 < p, so only that case needs the integer.
    if encoded[31] & 0x7F != 0x7F:
        return True
    return int.from_bytes(encoded, "little") & _Y_MASK < _P


_crypto_sign_open = lib.crypto_sign_open
_NULL = ffi.NULL

_D = (-121665 * pow(121666, -1, _P)) % _P


def point_on_curve(encoded: bytes) -> bool:
    """Acceptable (see above) and decodes to a point of edwards25519.

    A modular exponentiation in Python: for keys checked once (validator sets,
    genesis), not per transaction, where libsodium's verify already refuses.
    """
    if not point_is_acceptable(encoded):
        return False
    y = int.from_bytes(encoded, "little") & _Y_MASK
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x2 = u * pow(v, _P - 2, _P) % _P
    if x2 == 0:
        return not encoded[31] & 0x80  # x = 0 has no negative encoding
    return pow(x2, (_P - 1) // 2, _P) == 1


def verify(
    public_key: bytes, message: bytes, signature: bytes, *, key_checked: bool = False
) -> bool:
    """Strict Ed25519: canonical S, acceptable R and key, then libsodium's check.

    key_checked: the caller has already applied point_is_acceptable to the key.
    """
    if len(signature) != SIGNATURE_BYTES:
        return False
    if not key_checked and not point_is_acceptable(public_key):
        return False
    # S >= L needs S >= 2^252, so a top byte below 0x10 settles it without an int.
    if signature[63] >= 0x10 and int.from_bytes(signature[32:], "little") >= _L:
        return False
    if not point_is_acceptable(signature[:32]):
        return False
    # libsodium's crypto_sign_open itself, as nacl.bindings calls it, but with no
    # output buffers (libsodium allows NULL for both): PyNaCl's wrapper allocates
    # two and copies the message out, about a microsecond per call we discard.
    signed = signature + message
    rc: int = _crypto_sign_open(_NULL, _NULL, signed, len(signed), public_key)
    return rc == 0


# A hasher already fed the domain tag: copy() and update() cost less than
# concatenating and starting a fresh one.
_ADDRESS_HASH = hashlib.sha256(b"govchain:address:")


def address_of(public_key: bytes) -> bytes:
    """The 20-byte account address of a public key."""
    h = _ADDRESS_HASH.copy()
    h.update(public_key)
    return h.digest()[:ADDRESS_BYTES]


class SigningKey:
    """An Ed25519 key pair; signing is deterministic, so it may live in a pure core."""

    __slots__ = ("_secret", "public_key", "seed")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_BYTES:
            raise ValueError(f"an Ed25519 seed is {SEED_BYTES} bytes, got {len(seed)}")
        self.seed = seed
        self.public_key, self._secret = nacl.bindings.crypto_sign_seed_keypair(seed)

    @classmethod
    def from_label(cls, label: str) -> SigningKey:
        """A reproducible key for tests and the simulator; never for real funds."""
        return cls(hashlib.sha256(b"govchain:test-key:" + label.encode()).digest())

    @property
    def address(self) -> bytes:
        """This key's account address."""
        return address_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached signature of message."""
        signed: bytes = nacl.bindings.crypto_sign(message, self._secret)
        return signed[:SIGNATURE_BYTES]
