"""The hot-path helpers against the plain versions they replaced: same answers, same bytes.

Each reference below is the earlier, straightforward implementation, kept here
only as the specification that the faster one must match exactly.
"""

from __future__ import annotations

import hashlib
import itertools
import os

import nacl.bindings
import nacl.exceptions
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.codec import encode, encode_all
from govchain.crypto import keys, merkle
from govchain.crypto.keys import SigningKey, point_is_acceptable, verify
from govchain.dag import tx as txm
from govchain.dag.admission import AdmissionError, Reject, check_wire, decode_wire
from govchain.dag.limits import DagLimits
from govchain.state.receipts import Receipt, prove, receipts_root

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_Y_MASK = (1 << 255) - 1
_Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
_SMALL_Y = frozenset({0, 1, _P - 1, _Y8, _P - _Y8})


def ref_point_is_acceptable(encoded: bytes) -> bool:
    if len(encoded) != 32:
        return False
    y = int.from_bytes(encoded, "little") & _Y_MASK
    return y < _P and y not in _SMALL_Y


def ref_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(signature) != 64:
        return False
    if not ref_point_is_acceptable(public_key):
        return False
    if int.from_bytes(signature[32:], "little") >= _L:
        return False
    if not ref_point_is_acceptable(signature[:32]):
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def ref_stamp_ok(body_bytes: bytes, bits_min: int) -> bool:
    head = hashlib.sha256(txm.STAMP_DOMAIN + body_bytes).digest()[:8]
    return int.from_bytes(head, "big") >> (64 - bits_min) == 0 if bits_min else True


def ref_root_of_hashes(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)
    left, right = ref_root_of_hashes(leaves[:k]), ref_root_of_hashes(leaves[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def _enc(y: int) -> bytes:
    return y.to_bytes(32, "little")


# Every small-order y, the region around p (p-1 is small order, p..p+18 and
# 2^255-1 are non-canonical), the top-byte boundary 0x7e/0x7f, each with the
# sign bit clear and set.
_EDGE_Y = [
    *_SMALL_Y,
    *range(_P - 20, _P + 19),
    _Y_MASK,
    (0x7F << 248) - 1,
    0x7F << 248,
    (0x7F << 248) | 0xEC,
    2,
    _P - 2,
    _Y8 + 1,
    _P - _Y8 - 1,
]
EDGE_POINTS = [_enc(y | s) for y in _EDGE_Y if y < 1 << 255 for s in (0, 1 << 255)]


@pytest.mark.parametrize("encoded", EDGE_POINTS)
def test_point_is_acceptable_edges(encoded: bytes) -> None:
    assert point_is_acceptable(encoded) == ref_point_is_acceptable(encoded)


def test_point_is_acceptable_edges_cover_both_answers_and_lengths() -> None:
    answers = {ref_point_is_acceptable(e) for e in EDGE_POINTS}
    assert answers == {True, False}
    for n in (0, 1, 31, 33, 64):
        assert point_is_acceptable(b"\x01" * n) is False


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.binary(min_size=32, max_size=32),
        # Top bytes near the boundary, where the fast path hands over to the integer.
        st.tuples(
            st.binary(min_size=1, max_size=1),
            st.sampled_from([b"\xff" * 30, b"\xff" * 29 + b"\xfe", b"\x00" * 30]),
            st.sampled_from([b"\x7f", b"\xff", b"\x7e", b"\xfe", b"\x00", b"\x80"]),
        ).map(lambda t: t[0] + t[1] + t[2]),
        st.binary(max_size=40),
    )
)
def test_point_is_acceptable_matches_reference(encoded: bytes) -> None:
    assert point_is_acceptable(encoded) == ref_point_is_acceptable(encoded)


def _s_edges() -> list[bytes]:
    ss = [0, 1, (1 << 252) - 1, 1 << 252, _L - 1, _L, _L + 1, (1 << 256) - 1, 0x10 << 248]
    return [s.to_bytes(32, "little") for s in ss]


def test_verify_matches_reference_on_s_and_r_edges() -> None:
    key = SigningKey.from_label("hotpath")
    msg = b"message"
    sig = key.sign(msg)
    assert verify(key.public_key, msg, sig) and ref_verify(key.public_key, msg, sig)
    assert verify(key.public_key, msg, sig, key_checked=True)
    cases = [sig[:32] + s for s in _s_edges()] + [r + sig[32:] for r in EDGE_POINTS]
    # Non-canonical S = S + L (when it fits): the classic malleability.
    s_plus_l = int.from_bytes(sig[32:], "little") + _L
    if s_plus_l < 1 << 256:
        cases.append(sig[:32] + s_plus_l.to_bytes(32, "little"))
    cases += [sig[:63], sig + b"\x00", b"", bytes(64)]
    for bad in cases:
        assert verify(key.public_key, msg, bad) == ref_verify(key.public_key, msg, bad)
    for pk in EDGE_POINTS:
        assert verify(pk, msg, sig) == ref_verify(pk, msg, sig)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 63), st.integers(0, 255))
def test_verify_matches_reference_on_tampering(msg: bytes, pos: int, flip: int) -> None:
    key = SigningKey.from_label("hotpath")
    sig = key.sign(msg)
    bad = bytearray(sig)
    bad[pos] ^= flip
    assert verify(key.public_key, msg, bytes(bad)) == ref_verify(key.public_key, msg, bytes(bad))
    assert verify(key.public_key, msg + b"x", sig) is False


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=700), st.integers(0, 64))
def test_stamp_ok_matches_reference(body: bytes, bits: int) -> None:
    assert txm.stamp_ok(body, bits) == ref_stamp_ok(body, bits)


def test_stamp_ok_at_the_boundary() -> None:
    # Bodies whose stamp hash has exactly b leading zero bits, for small b.
    found: dict[int, bytes] = {}
    i = 0
    while len(found) < 12:
        body = i.to_bytes(4, "big")
        d = int.from_bytes(hashlib.sha256(txm.STAMP_DOMAIN + body).digest(), "big")
        found.setdefault(256 - d.bit_length(), body)
        i += 1
    for zeros, body in found.items():
        for bits in range(max(0, zeros - 2), zeros + 3):
            assert txm.stamp_ok(body, bits) == ref_stamp_ok(body, bits) == (bits <= zeros)
    assert txm.stamp_ok(b"x", -3) is ref_stamp_ok(b"x", -3)
    with pytest.raises(ValueError):
        txm.stamp_ok(b"x", 65)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=700), st.binary(min_size=64, max_size=64), st.binary(max_size=3000))
def test_hashes_match_reference(body: bytes, sig: bytes, payload: bytes) -> None:
    assert txm.tx_id(body, sig) == hashlib.sha256(txm.ID_DOMAIN + body + sig).digest()
    assert txm.payload_hash(payload) == hashlib.sha256(txm.PAYLOAD_DOMAIN + payload).digest()
    assert (
        keys.address_of(sig[:32]) == (hashlib.sha256(b"govchain:address:" + sig[:32]).digest()[:20])
    )


def test_hashers_are_not_shared_state() -> None:
    # copy() of a prefilled hasher: earlier calls must leave no trace.
    a = txm.tx_id(b"body", bytes(64))
    txm.payload_hash(b"p" * 100_000)
    txm.tx_id(b"other", b"\x01" * 64)
    assert txm.tx_id(b"body", bytes(64)) == a


@pytest.mark.parametrize("n", [*range(0, 40), 63, 64, 65, 127, 128, 129, 200, 513])
def test_merkle_root_matches_recursive_reference(n: int) -> None:
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]
    assert merkle.root_of_hashes(leaves) == ref_root_of_hashes(leaves)
    assert merkle.root_of_hashes(tuple(leaves)) == ref_root_of_hashes(leaves)
    items = [os.urandom(i % 7) for i in range(n)]
    expected = ref_root_of_hashes([hashlib.sha256(b"\x00" + x).digest() for x in items])
    assert merkle.root(items) == expected
    for i in range(n):
        path = merkle.inclusion_proof(leaves, i)
        assert merkle.verify_inclusion(leaves[i], i, n, path, ref_root_of_hashes(leaves))


def _receipts(n: int) -> list[Receipt]:
    out = [Receipt(bytes([i % 256]) * 32, 7, i, "executed") for i in range(n)]
    if n > 3:
        out[3] = Receipt(b"\x03" * 32, 7, 3, "rejected", "frozen", None, "ab" * 32)
    return out


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 33])
def test_receipts_root_matches_leaf_by_leaf(n: int) -> None:
    rs = _receipts(n)
    assert receipts_root(rs) == ref_root_of_hashes([r.leaf() for r in rs])
    assert encode_all(rs) == [encode(r) for r in rs]
    for i in range(n):
        assert prove(rs, i).verify(receipts_root(rs))


def test_receipts_root_is_pinned() -> None:
    # Fixed bytes: a change of the tree shape or the leaf encoding shows here.
    assert receipts_root([]).hex() == hashlib.sha256(b"").hexdigest()
    rs = _receipts(5)
    leaves = [hashlib.sha256(b"\x00" + encode(r)).digest() for r in rs]
    n01 = hashlib.sha256(b"\x01" + leaves[0] + leaves[1]).digest()
    n23 = hashlib.sha256(b"\x01" + leaves[2] + leaves[3]).digest()
    n0123 = hashlib.sha256(b"\x01" + n01 + n23).digest()
    assert receipts_root(rs) == hashlib.sha256(b"\x01" + n0123 + leaves[4]).digest()


def _parents_ok_reference(parents: tuple[bytes, ...]) -> bool:
    # The loop check_wire had: each id 32 bytes and above the one before.
    lengths_ok = all(len(p) == 32 for p in parents)
    return lengths_ok and all(a < b for a, b in itertools.pairwise(parents))


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from([b"\x00" * 32, b"\x01" * 32, b"\xff" * 32, b"\x01" * 31]),
            st.binary(min_size=31, max_size=33),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_check_wire_parents_rule_matches_reference(parents: list[bytes]) -> None:
    key = SigningKey.from_label("hotpath")
    body = txm.TxBody(
        "hot-chain",
        key.public_key,
        "transfer",
        0,
        tuple(parents),
        100,
        txm.payload_hash(b""),
        0,
        0,
    )
    body_bytes = encode(body)
    w = txm.TxWire(body_bytes, key.sign(txm.SIGN_DOMAIN + body_bytes), b"")
    limits = DagLimits(stamp_bits_min=0)
    try:
        t = check_wire(w, "hot-chain", limits)
    except AdmissionError as exc:
        assert exc.reason is Reject.BAD_PARENTS
        assert not _parents_ok_reference(tuple(parents))
    else:
        assert _parents_ok_reference(tuple(parents))
        assert t.id == hashlib.sha256(txm.ID_DOMAIN + body_bytes + w.signature).digest()


def test_decode_checked_round_trip_keeps_bytes() -> None:
    key = SigningKey.from_label("hotpath")
    t = txm.build(
        key,
        chain_id="hot-chain",
        kind="transfer",
        nonce=3,
        parents=[b"\x02" * 32, b"\x01" * 32],
        valid_until=50,
        payload=b"payload",
        stamp_bits_min=8,
    )
    assert ref_stamp_ok(t.body_bytes, 8)
    wire = t.to_wire()
    got = check_wire(decode_wire(wire, DagLimits()), "hot-chain", DagLimits())
    assert got == t
    assert got.to_wire() == wire
    assert got.id == hashlib.sha256(txm.ID_DOMAIN + t.body_bytes + t.signature).digest()
