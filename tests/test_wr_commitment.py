"""Goods commitments: one set of goods one commitment, any change a new one, bad goods named."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.apps.warehouse.commitment import (
    COMMITMENT_DOMAIN,
    PIECES_MAX,
    SALT_BYTES,
    TAG_CHARS_MAX,
    TAGS_COUNT_MAX,
    TEXT_CHARS_MAX,
    CommitmentError,
    Goods,
    Spec,
    check_goods,
    check_spec,
    commitment_of,
    goods_of,
)
from govchain.apps.warehouse.units import QUANTITY_G_MAX, kg_to_g
from govchain.codec import HASH_BYTES, digest, encode

WAREHOUSE = bytes.fromhex("11" * 20)
BIN = "A-03-07"
TAGS = ("e2801160600002084c5a1001", "e2801160600002084c5a1002", "e2801160600002084c5a1003")
SALT = bytes(range(SALT_BYTES))
SPEC = Spec(
    commodity="copper_cathode",
    brand="JCC",
    grade="Cu-CATH-1",
    pieces=3,
    gross_g=kg_to_g(7_560),
    tare_g=kg_to_g(60),
    net_g=kg_to_g(7_500),
)
# Pinned so that any change to the encoding or the domain shows up here first: every
# lot on a chain would get a new commitment (a new domain version is then due).
PINNED = "cc3bc098668c5f783c40225c4c1009e4e949999bd6598842e8035d3920b0e005"


def commit(**changes: object) -> bytes:
    args: dict[str, object] = {
        "warehouse": WAREHOUSE,
        "bin_code": BIN,
        "tags": TAGS,
        "spec": SPEC,
        "salt": SALT,
    }
    args.update(changes)
    return commitment_of(**args)  # type: ignore[arg-type]


# -- the commitment --------------------------------------------------------
def test_the_commitment_is_the_domain_digest_of_the_canonical_goods() -> None:
    c = commit()
    assert len(c) == HASH_BYTES
    assert c == digest(COMMITMENT_DOMAIN, encode(Goods(WAREHOUSE, BIN, TAGS, SPEC, SALT)))
    assert c.hex() == PINNED


@settings(max_examples=200, deadline=None)
@given(st.permutations(TAGS), st.lists(st.sampled_from(TAGS), max_size=6))
def test_same_goods_same_commitment_whatever_the_tag_order(
    order: list[str], repeats: list[str]
) -> None:
    assert commit(tags=[*order, *repeats]) == commit()
    assert commit(tags=iter(order)) == commit()  # an iterator is read once, whole


def test_tags_are_stored_sorted_and_unique() -> None:
    goods = goods_of(WAREHOUSE, BIN, ["b", "a", "b"], SPEC, SALT)
    assert goods.tags == ("a", "b")


@pytest.mark.parametrize(
    "change",
    [
        {"warehouse": bytes.fromhex("12" * 20)},
        {"bin_code": "A-03-08"},
        {"tags": TAGS[:2]},
        {"tags": (*TAGS, "e2801160600002084c5a1004")},
        {"tags": ()},
        {"salt": bytes(SALT_BYTES)},
        {"spec": msgspec.structs.replace(SPEC, commodity="copper_rod")},
        {"spec": msgspec.structs.replace(SPEC, brand="GUIXI")},
        {"spec": msgspec.structs.replace(SPEC, grade="Cu-CATH-2")},
        {"spec": msgspec.structs.replace(SPEC, pieces=4)},
        {"spec": msgspec.structs.replace(SPEC, gross_g=SPEC.gross_g + 1, net_g=SPEC.net_g + 1)},
        {"spec": msgspec.structs.replace(SPEC, tare_g=SPEC.tare_g + 1, net_g=SPEC.net_g - 1)},
    ],
    ids=lambda change: next(iter(change)),
)
def test_any_change_changes_the_commitment(change: dict[str, object]) -> None:
    assert commit(**change) != commit()


def test_a_tag_boundary_is_part_of_the_hash() -> None:
    # encoded as a list of strings, ("ab", "c") and ("a", "bc") are not confused
    assert commit(tags=("ab", "c")) != commit(tags=("a", "bc"))


# -- bad goods -------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"commodity": ""}, "commodity_empty"),
        ({"commodity": "c" * (TEXT_CHARS_MAX + 1)}, "commodity_too_long"),
        ({"brand": " JCC"}, "brand_not_trimmed"),
        ({"grade": ""}, "grade_empty"),
        ({"pieces": 0}, "pieces_out_of_range"),
        ({"pieces": PIECES_MAX + 1}, "pieces_out_of_range"),
        ({"gross_g": 0, "tare_g": 0, "net_g": 0}, "gross_out_of_range"),
        (
            {"gross_g": QUANTITY_G_MAX + 1, "net_g": QUANTITY_G_MAX + 1 - SPEC.tare_g},
            "gross_out_of_range",
        ),
        ({"tare_g": -1, "net_g": SPEC.gross_g + 1}, "tare_out_of_range"),
        ({"tare_g": SPEC.gross_g, "net_g": 0}, "tare_out_of_range"),
        ({"net_g": SPEC.net_g + 1}, "net_not_gross_minus_tare"),
        ({"net_g": SPEC.gross_g}, "net_not_gross_minus_tare"),
        # the first problem is named, in field order
        ({"brand": "", "pieces": 0, "net_g": 1}, "brand_empty"),
    ],
)
def test_bad_specs_are_named(change: dict[str, object], problem: str) -> None:
    spec = msgspec.structs.replace(SPEC, **change)
    assert check_spec(spec) == problem
    with pytest.raises(CommitmentError, match=f"^{problem}$"):
        commit(spec=spec)


def test_a_sound_spec_has_no_problem() -> None:
    assert check_spec(SPEC) is None
    assert check_goods(WAREHOUSE, BIN, TAGS, SPEC, SALT) is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"warehouse": b"\x11" * 19}, "warehouse_not_an_address"),
        ({"bin_code": ""}, "bin_empty"),
        ({"bin_code": "A-03-07\n"}, "bin_not_trimmed"),
        ({"salt": SALT[:-1]}, "salt_not_32_bytes"),
        ({"salt": SALT + b"\x00"}, "salt_not_32_bytes"),
        ({"tags": ("ok", "")}, "tag_empty"),
        ({"tags": ("t" * (TAG_CHARS_MAX + 1),)}, "tag_too_long"),
        ({"tags": tuple(f"{i:08x}" for i in range(TAGS_COUNT_MAX + 1))}, "too_many_tags"),
    ],
    ids=lambda value: value if isinstance(value, str) else next(iter(value)),
)
def test_bad_goods_are_named(change: dict[str, object], problem: str) -> None:
    with pytest.raises(CommitmentError, match=f"^{problem}$"):
        commit(**change)


def test_the_most_tags_allowed_commit() -> None:
    tags = [f"{i:08x}" for i in range(TAGS_COUNT_MAX)]
    assert len(commit(tags=tags + tags[:10])) == HASH_BYTES  # repeats do not count


def test_the_goods_record_round_trips_canonically() -> None:
    goods = goods_of(WAREHOUSE, BIN, TAGS, SPEC, SALT)
    data = encode(goods)
    assert msgspec.msgpack.decode(data, type=Goods) == goods


def test_the_encoding_is_a_plain_msgpack_array() -> None:
    # what another implementation hashes: [warehouse, bin, [tags...], [spec...], salt]
    spec = [
        SPEC.commodity,
        SPEC.brand,
        SPEC.grade,
        SPEC.pieces,
        SPEC.gross_g,
        SPEC.tare_g,
        SPEC.net_g,
    ]
    plain = msgspec.msgpack.encode([WAREHOUSE, BIN, sorted(TAGS), spec, SALT])
    assert commit() == digest(COMMITMENT_DOMAIN, plain)
