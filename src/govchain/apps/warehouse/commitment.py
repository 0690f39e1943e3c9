"""The goods commitment of a lot: H(warehouse, bin, tags, spec, salt), canonically encoded.

One commitment maps to at most one live lot on the whole chain (issue 14, "Lots").
The commitment is public; the salt (32 random bytes the warehouse keeps with the
lot's documents) hides the goods behind it from anyone who would guess them.

Tags are sorted and deduplicated before hashing: a lot is a SET of tagged pieces,
and a reader reports them in the order of its sweep and may read one twice. Were
the order or a repeat part of the hash, the same goods could be committed twice
under two commitments, each unused. Because a fresh salt also gives a fresh
commitment, the registry must keep every tag unused as well (intake checks "tags
and commitment unused"); the commitment alone does not stop a second lot.

Text fields are hashed exactly as given (no case folding); they must be non-empty,
bounded, and without surrounding whitespace, so two spellings of one value are
refused rather than hashed apart silently. Weights are in grams (units.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec

from govchain.apps.warehouse.units import QUANTITY_G_MAX
from govchain.codec import digest, encode
from govchain.crypto.keys import ADDRESS_BYTES

COMMITMENT_DOMAIN: Final = b"govchain/wr-goods-commitment/v1"
SALT_BYTES: Final = 32
TEXT_CHARS_MAX: Final = 64  # commodity, brand, grade, bin code
TAG_CHARS_MAX: Final = 128  # an EPC of up to 496 bits in hex is 124 characters
TAGS_COUNT_MAX: Final = 4_096  # 1,000 t of copper cathode is about 400 bundles
PIECES_MAX: Final = 10_000_000


class CommitmentError(ValueError):
    """Goods that cannot be committed; the message names the first problem."""


class Spec(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """What the goods are: the lot's specification as weighed at intake."""

    commodity: str  # e.g. "copper_cathode"
    brand: str  # the producer's registered brand
    grade: str  # e.g. "Cu-CATH-1"
    pieces: int  # bundles, coils, ingots
    gross_g: int
    tare_g: int  # packaging, pallets
    net_g: int  # must equal gross_g - tare_g


class Goods(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Everything the commitment covers, in its canonical form (tags sorted, unique)."""

    warehouse: bytes  # the warehouse's address
    bin: str
    tags: tuple[str, ...]
    spec: Spec
    salt: bytes


def _text_problem(name: str, value: str, chars_max: int) -> str | None:
    if not value:
        return f"{name}_empty"
    if len(value) > chars_max:
        return f"{name}_too_long"
    if value != value.strip():
        return f"{name}_not_trimmed"
    return None


def check_spec(spec: Spec) -> str | None:
    """The first problem of a specification, as a snake_case name, or None when sound."""
    for name, value in (
        ("commodity", spec.commodity),
        ("brand", spec.brand),
        ("grade", spec.grade),
    ):
        problem = _text_problem(name, value, TEXT_CHARS_MAX)
        if problem is not None:
            return problem
    if not 1 <= spec.pieces <= PIECES_MAX:
        return "pieces_out_of_range"
    if not 1 <= spec.gross_g <= QUANTITY_G_MAX:
        return "gross_out_of_range"
    if not 0 <= spec.tare_g < spec.gross_g:
        return "tare_out_of_range"  # a tare of gross or more leaves no goods
    if spec.net_g != spec.gross_g - spec.tare_g:
        return "net_not_gross_minus_tare"
    return None


def canonical_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """The tags sorted (by code point) and without repeats."""
    return tuple(sorted(set(tags)))


def check_goods(
    warehouse: bytes, bin_code: str, tags: Iterable[str], spec: Spec, salt: bytes
) -> str | None:
    """The first problem of goods to commit (warehouse, bin, salt, tags, spec), or None."""
    if len(warehouse) != ADDRESS_BYTES:
        return "warehouse_not_an_address"
    problem = _text_problem("bin", bin_code, TEXT_CHARS_MAX)
    if problem is not None:
        return problem
    if len(salt) != SALT_BYTES:
        return "salt_not_32_bytes"
    unique = canonical_tags(tags)
    if len(unique) > TAGS_COUNT_MAX:
        return "too_many_tags"
    for tag in unique:
        problem = _text_problem("tag", tag, TAG_CHARS_MAX)
        if problem is not None:
            return problem
    return check_spec(spec)


def goods_of(
    warehouse: bytes, bin_code: str, tags: Iterable[str], spec: Spec, salt: bytes
) -> Goods:
    """The canonical Goods record; raises CommitmentError naming the first problem."""
    tags = tuple(tags)  # read an iterator once, for the check and the record
    problem = check_goods(warehouse, bin_code, tags, spec, salt)
    if problem is not None:
        raise CommitmentError(problem)
    return Goods(warehouse, bin_code, canonical_tags(tags), spec, salt)


def commitment_of(
    warehouse: bytes, bin_code: str, tags: Iterable[str], spec: Spec, salt: bytes
) -> bytes:
    """The 32-byte goods commitment; raises CommitmentError naming the first problem."""
    return digest(COMMITMENT_DOMAIN, encode(goods_of(warehouse, bin_code, tags, spec, salt)))
