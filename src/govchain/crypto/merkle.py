"""RFC 9162-shaped Merkle trees over receipts, with inclusion proofs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

_sha256 = hashlib.sha256

EMPTY_ROOT = _sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Hash of one leaf, domain-separated from interior nodes."""
    return _sha256(b"\x00" + data).digest()


def leaf_hashes(items: Iterable[bytes]) -> list[bytes]:
    """leaf_hash of each item, in one comprehension rather than a call per item."""
    return [_sha256(b"\x00" + x).digest() for x in items]


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of_hashes(leaves: Sequence[bytes]) -> bytes:
    """Merkle root over already-hashed leaves."""
    if not leaves:
        return EMPTY_ROOT
    # Level by level, pairing neighbours and carrying an odd last node up as it
    # is: the same tree as splitting at the largest power of two below n (the
    # left part is always a complete subtree, so its pairs never straddle the
    # split), without the recursion and the slices.
    level = leaves
    while len(level) > 1:
        it = iter(level)
        paired = [_sha256(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=False)]
        if len(level) & 1:
            paired.append(level[-1])
        level = paired
    return level[0]


def root(items: Sequence[bytes]) -> bytes:
    """Merkle root over raw leaf data."""
    return root_of_hashes(leaf_hashes(items))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Audit path for leaves[index] (leaves already hashed), bottom-up."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} outside a tree of {len(leaves)}")
    path: list[bytes] = []
    lo, hi = 0, len(leaves)
    frames: list[bytes] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            frames.append(root_of_hashes(leaves[lo + k : hi]))
            hi = lo + k
        else:
            frames.append(root_of_hashes(leaves[lo : lo + k]))
            lo = lo + k
    path.extend(reversed(frames))
    return path


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2: check that leaf (hashed) sits at index under root."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root
