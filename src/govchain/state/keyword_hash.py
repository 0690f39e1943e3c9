"""What a keyword rule publishes about its term: a SHA-256 hash and a 20-bit fingerprint.

Both are functions of the normalized term (state/policy.py `normalize`):

    hash        = SHA-256("govchain:keyword:v1:" || UTF-8(term))
    fingerprint = ((W + n) * MIX mod 2^64) >> 44,  W = sum(cp(term[t]) * BASE^t) mod 2^64

where n is the term's length in code points and BASE, MIX are odd 64-bit
constants derived from FINGERPRINT_DOMAIN. The hash identifies the term; the
fingerprint is a polynomial of its code points, which a matcher computes for
every window of a text at once with vector arithmetic (state/keyword_scan.py)
and which sends only about one window in 2^20 a rule on to SHA-256. Twenty
bits say little about a term: a two-ideograph term is one of ~2^28 candidates
from the common ideographs, ~2^8 of which share each fingerprint
(docs/content-rules.md, "Keyword hashing").

No numpy here: the CLI builds rules with these functions alone.
"""

from __future__ import annotations

import hashlib
import importlib
from typing import Any

KEYWORD_DOMAIN = b"govchain:keyword:v1:"
FINGERPRINT_DOMAIN = b"govchain:keyword-fingerprint:v1:"
FINGERPRINT_BITS = 20
FINGERPRINT_SHIFT = 64 - FINGERPRINT_BITS
WORD_MASK = (1 << 64) - 1


def _odd_constant(label: bytes) -> int:
    digest = hashlib.sha256(FINGERPRINT_DOMAIN + label).digest()
    return int.from_bytes(digest[:8], "little") | 1


# Odd, hence invertible modulo 2^64: a window's polynomial is recovered from two
# prefix sums by multiplying with a power of BASE_INVERSE.
BASE = _odd_constant(b"base")
BASE_INVERSE = pow(BASE, -1, 1 << 64)
MIX = _odd_constant(b"mix")


def fingerprint(norm: str) -> int:
    """The 20-bit fingerprint of a normalized term (its length folded in)."""
    w, power = 0, 1
    for ch in norm:
        w = (w + ord(ch) * power) & WORD_MASK
        power = (power * BASE) & WORD_MASK
    return (((w + len(norm)) * MIX) & WORD_MASK) >> FINGERPRINT_SHIFT


def _domain_hasher() -> Any:
    """A SHA-256 object fed KEYWORD_DOMAIN; each window hashes a .copy() of it.

    CPython's built-in SHA-256 (_sha2 from 3.12, _sha256 before) is preferred over
    hashlib's OpenSSL one: for 40-byte inputs OpenSSL's EVP layer costs about as
    much as the hashing (its copy 5% slower here, a fresh object with the domain
    concatenated 25%; bench_policy.py --hashers). Same function, same digests:
    the tests compare them with hashlib.
    """
    for name in ("_sha2", "_sha256"):
        try:
            return importlib.import_module(name).sha256(KEYWORD_DOMAIN)
        except ImportError:
            continue
    return hashlib.sha256(KEYWORD_DOMAIN)


KEYWORD_HASHER: Any = _domain_hasher()


def keyword_digest(utf8: bytes) -> bytes:
    """SHA-256 of the domain and a normalized term's (or window's) UTF-8."""
    h = KEYWORD_HASHER.copy()
    h.update(utf8)
    digest: bytes = h.digest()
    return digest
