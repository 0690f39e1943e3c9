"""Strict Ed25519 verification, keys and addresses, Merkle inclusion proofs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.crypto import merkle
from govchain.crypto.keys import ADDRESS_BYTES, SigningKey, address_of, verify

# The project's shared vectors sit beside the repository (../shared/vectors/);
# a copy is kept in tests/vectors/ for clones that have no such sibling.
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "vectors"
_VENDORED = Path(__file__).resolve().parent / "vectors"
VECTORS = (_SHARED if _SHARED.is_dir() else _VENDORED) / "ed25519-speccheck-cases.json"
# Order of the edwards25519 prime-order subgroup.
L = 2**252 + 27742317777372353535851937790883648493
IDENTITY_KEY = b"\x01" + bytes(31)


# -- helpers ---------------------------------------------------------------
def speccheck_cases() -> list[tuple[bytes, bytes, bytes]]:
    """(message, public key, signature) of each published edge case."""
    cases = json.loads(VECTORS.read_text())
    return [
        (bytes.fromhex(c["message"]), bytes.fromhex(c["pub_key"]), bytes.fromhex(c["signature"]))
        for c in cases
    ]


def leaves_of(n: int) -> list[bytes]:
    """n distinct hashed leaves."""
    return [merkle.leaf_hash(b"leaf-%d" % i) for i in range(n)]


def flip(b: bytes, i: int = 0) -> bytes:
    """b with one bit of byte i flipped."""
    return b[:i] + bytes([b[i] ^ 1]) + b[i + 1 :]


# -- Ed25519 ----------------------------------------------------------------
def test_speccheck_cases_answer_as_libsodium() -> None:
    cases = speccheck_cases()
    assert len(cases) == 10
    answers = [verify(pk, msg, sig) for msg, pk, sig in cases]
    assert answers == [False, False, False, True, False, False, False, False, False, False]


@pytest.mark.parametrize("message", [b"", b"a", b"hello", bytes(32), b"\xff" * 100])
@pytest.mark.parametrize(
    "signature",
    [bytes(64), IDENTITY_KEY + bytes(32), IDENTITY_KEY + (1).to_bytes(32, "little")],
    ids=["zero", "R=identity,S=0", "R=identity,S=1"],
)
def test_identity_point_key_never_verifies(message: bytes, signature: bytes) -> None:
    assert not verify(IDENTITY_KEY, message, signature)


def test_sign_verify_round_trip() -> None:
    key = SigningKey.from_label("alice")
    sig = key.sign(b"pay bob 5")
    assert len(sig) == 64
    assert verify(key.public_key, b"pay bob 5", sig)


def test_signing_is_deterministic() -> None:
    key = SigningKey.from_label("alice")
    assert key.sign(b"m") == key.sign(b"m")
    assert SigningKey(key.seed).public_key == key.public_key


def test_wrong_message_wrong_key_and_tampered_signature_fail() -> None:
    alice, bob = SigningKey.from_label("alice"), SigningKey.from_label("bob")
    sig = alice.sign(b"pay bob 5")
    assert not verify(alice.public_key, b"pay bob 6", sig)
    assert not verify(bob.public_key, b"pay bob 5", sig)
    assert not verify(alice.public_key, b"pay bob 5", flip(sig, 40))
    assert not verify(alice.public_key, b"pay bob 5", sig[:63])
    assert not verify(alice.public_key[:31], b"pay bob 5", sig)


def test_non_canonical_s_is_rejected() -> None:
    key = SigningKey.from_label("alice")
    sig = key.sign(b"msg")
    s = int.from_bytes(sig[32:], "little")
    malleated = sig[:32] + (s + L).to_bytes(32, "little")
    assert verify(key.public_key, b"msg", sig)
    assert not verify(key.public_key, b"msg", malleated)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_signing_key_rejects_wrong_seed_length(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SigningKey(bytes(length))


def test_address_is_20_bytes_and_distinct_per_key() -> None:
    alice, bob = SigningKey.from_label("alice"), SigningKey.from_label("bob")
    assert len(address_of(alice.public_key)) == ADDRESS_BYTES == 20
    assert alice.address == address_of(alice.public_key)
    assert alice.address != bob.address


# -- Merkle -----------------------------------------------------------------
def test_empty_and_single_leaf_roots() -> None:
    assert merkle.root([]) == merkle.EMPTY_ROOT
    assert merkle.root([b"x"]) == merkle.leaf_hash(b"x")
    assert merkle.inclusion_proof([merkle.leaf_hash(b"x")], 0) == []


@pytest.mark.parametrize("n", range(1, 34))
def test_inclusion_proof_verifies_for_every_index(n: int) -> None:
    leaves = leaves_of(n)
    root = merkle.root_of_hashes(leaves)
    for i in range(n):
        path = merkle.inclusion_proof(leaves, i)
        assert merkle.verify_inclusion(leaves[i], i, n, path, root), (n, i)


@pytest.mark.parametrize("n", range(1, 34))
def test_inclusion_proof_fails_for_wrong_index_leaf_or_root(n: int) -> None:
    leaves = leaves_of(n)
    root = merkle.root_of_hashes(leaves)
    for i in range(n):
        path = merkle.inclusion_proof(leaves, i)
        for j in range(-1, n + 1):
            if j != i:
                assert not merkle.verify_inclusion(leaves[i], j, n, path, root), (n, i, j)
        assert not merkle.verify_inclusion(flip(leaves[i]), i, n, path, root)
        assert not merkle.verify_inclusion(leaves[i], i, n, path, flip(root))
        if path:
            assert not merkle.verify_inclusion(leaves[i], i, n, [flip(path[0]), *path[1:]], root)
            assert not merkle.verify_inclusion(leaves[i], i, n, path[:-1], root)
        assert not merkle.verify_inclusion(leaves[i], i, n, [*path, root], root)


@pytest.mark.parametrize("n", range(1, 34))
def test_inclusion_proof_fails_for_a_tree_of_another_size(n: int) -> None:
    # A (size, root) pair is what a checkpoint commits to. A proof from the tree
    # of n leaves proves nothing about the tree of any other size, even one that
    # shares its first leaves. (With the root of n leaves and a different size,
    # RFC 9162 verification still passes whenever the path shape is the same:
    # size and root are only meaningful together.)
    leaves = leaves_of(40)
    root = merkle.root_of_hashes(leaves[:n])
    for i in range(n):
        path = merkle.inclusion_proof(leaves[:n], i)
        for size in range(1, 41):
            if size == n:
                continue
            other_root = merkle.root_of_hashes(leaves[:size])
            assert not merkle.verify_inclusion(leaves[i], i, size, path, other_root)
            if size <= i:
                assert not merkle.verify_inclusion(leaves[i], i, size, path, root)


def test_inclusion_proof_index_out_of_range_raises() -> None:
    with pytest.raises(IndexError):
        merkle.inclusion_proof(leaves_of(3), 3)
    with pytest.raises(IndexError):
        merkle.inclusion_proof([], 0)


@settings(database=None, deadline=None)
@given(
    items=st.lists(st.binary(max_size=40), min_size=1, max_size=70),
    data=st.data(),
)
def test_inclusion_property(items: list[bytes], data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(x) for x in items]
    root = merkle.root(items)
    assert root == merkle.root_of_hashes(leaves)
    n = len(leaves)
    i = data.draw(st.integers(0, n - 1), label="index")
    path = merkle.inclusion_proof(leaves, i)
    assert merkle.verify_inclusion(leaves[i], i, n, path, root)
    assert not merkle.verify_inclusion(leaves[i], i, n, path, flip(root, 31))
    assert not merkle.verify_inclusion(flip(leaves[i], 5), i, n, path, root)
    if path:
        k = data.draw(st.integers(0, len(path) - 1), label="path element")
        bad = [*path[:k], flip(path[k], 7), *path[k + 1 :]]
        assert not merkle.verify_inclusion(leaves[i], i, n, bad, root)


def test_vendored_vectors_match_the_shared_ones() -> None:
    if not _SHARED.is_dir():
        pytest.skip("no ../shared/vectors beside this clone")
    name = "ed25519-speccheck-cases.json"
    assert (_VENDORED / name).read_bytes() == (_SHARED / name).read_bytes()
