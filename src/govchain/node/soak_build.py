"""The soak's transaction building: the bytes of dag.tx.build at a third of its cost.

The loader shares two cores with four nodes, and at 1,000 tx/s building was
its largest cost: dag.tx.build finds the stamp by re-encoding the whole body
for every candidate (~256 of them at 8 bits), ~200 us a transaction. The stamp
is the body's last field (TxBody is array_like), so every candidate's encoding
is one fixed prefix followed by the stamp's own msgpack bytes: hash the prefix
once and each try costs one hasher copy and a few bytes. The result is the
very transaction dag.tx.build gives (the same smallest stamp, the same
signature); tests/test_soak_build.py checks that byte for byte.

SenderChain keeps one sender's next transactions built ahead: transfer n+1
names transfer n as its parent, and both are known locally, so they can be
signed before n is even sent.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable

import msgspec

from govchain.codec import encode
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import SIGN_DOMAIN, STAMP_DOMAIN, Transaction, TxBody, build, payload_hash
from govchain.dag.tx import tx_id as make_tx_id

STAMP_BITS_FAST_MAX = 64  # stamp_ok's fast path; beyond, dag.tx.build decides
STAMPS_TABULATED = 4_096  # at 8 bits, P(no stamp below this) ~ e^-16: encode() beyond
_STAMP_HASH = hashlib.sha256(STAMP_DOMAIN)
# A stamp hash has b leading zero bits exactly when it sorts below 2^(256 - b).
_BELOW = tuple((1 << (256 - b)).to_bytes(32, "big") for b in range(1, STAMP_BITS_FAST_MAX + 1))
# Each small stamp's canonical msgpack bytes (the body's encoding ends with them).
_STAMP_BYTES = tuple(encode(s) for s in range(STAMPS_TABULATED))


def _stamp_bytes(stamp: int) -> bytes:
    return _STAMP_BYTES[stamp] if stamp < STAMPS_TABULATED else encode(stamp)


def build_fast(
    key: SigningKey,
    *,
    chain_id: str,
    kind: str,
    nonce: int,
    parents: list[bytes],
    valid_until: int,
    payload: bytes,
    stamp_bits_min: int,
) -> Transaction:
    """Exactly dag.tx.build's transaction (same stamp, same bytes), found faster."""
    if not 0 < stamp_bits_min <= STAMP_BITS_FAST_MAX:
        return build(
            key,
            chain_id=chain_id,
            kind=kind,
            nonce=nonce,
            parents=parents,
            valid_until=valid_until,
            payload=payload,
            stamp_bits_min=stamp_bits_min,
        )
    base = TxBody(
        chain_id=chain_id,
        sender=key.public_key,
        kind=kind,
        nonce=nonce,
        parents=tuple(sorted(set(parents))),
        valid_until=valid_until,
        payload_hash=payload_hash(payload),
        payload_len=len(payload),
        stamp=0,
    )
    # stamp 0 encodes as the single byte 0x00, the last of the body's bytes.
    prefix = encode(base)[:-1]
    head = _STAMP_HASH.copy()
    head.update(prefix)
    below = _BELOW[stamp_bits_min - 1]
    stamp = 0
    while True:
        tail = _stamp_bytes(stamp)
        h = head.copy()
        h.update(tail)
        if h.digest() < below:
            break
        stamp += 1
    body_bytes = prefix + tail
    signature = key.sign(SIGN_DOMAIN + body_bytes)
    body = msgspec.structs.replace(base, stamp=stamp)
    return Transaction(make_tx_id(body_bytes, signature), body, body_bytes, signature, payload)


# (kind, payload) of a sender's next transaction, given its nonce.
NextPayload = Callable[[int], tuple[str, bytes]]


class SenderChain:
    """One sender's transactions, each naming the one before as parent, built ahead.

    `ahead` transactions stay built: take() hands out the next and builds one
    more. valid_until is asked of `valid_until()` when a transaction is built.
    """

    def __init__(
        self,
        key: SigningKey,
        chain_id: str,
        first_parent: bytes,
        next_payload: NextPayload,
        valid_until: Callable[[], int],
        stamp_bits_min: int,
        ahead: int = 1,
    ) -> None:
        self.key = key
        self.chain_id = chain_id
        self.next_payload = next_payload
        self.valid_until = valid_until
        self.stamp_bits_min = stamp_bits_min
        self.ahead = max(1, ahead)
        self.nonce = 0  # of the next transaction to build
        self.parent = first_parent
        self.built: deque[Transaction] = deque()
        self.fill()

    def fill(self) -> None:
        """Build until `ahead` transactions wait."""
        while len(self.built) < self.ahead:
            kind, payload = self.next_payload(self.nonce)
            tx = build_fast(
                self.key,
                chain_id=self.chain_id,
                kind=kind,
                nonce=self.nonce,
                parents=[self.parent],
                valid_until=self.valid_until(),
                payload=payload,
                stamp_bits_min=self.stamp_bits_min,
            )
            self.built.append(tx)
            self.parent, self.nonce = tx.id, self.nonce + 1

    def take(self) -> Transaction:
        """The next transaction of the chain (built already); builds its successor."""
        tx = self.built.popleft()
        self.fill()
        return tx
