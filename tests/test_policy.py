"""Content rules: keyword rules on Chinese text, hashes, sizes, media types, rule order."""

# Full-width letters and punctuation are what these tests are about.
# ruff: noqa: RUF001

from __future__ import annotations

import hashlib
import unicodedata

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from govchain.codec import DecodeError, decode_canonical, encode
from govchain.dag.limits import DagLimits
from govchain.dag.tx import payload_hash
from govchain.state import keyword_hash as kh
from govchain.state import keyword_scan, policy
from govchain.state.keyword_hash import FINGERPRINT_BITS, KEYWORD_DOMAIN, fingerprint
from govchain.state.keyword_scan import CHUNK_STARTS, Scan
from govchain.state.policy import (
    COMBINING_RUN_MAX,
    KEYWORD_CHARS_MAX,
    RULE_DECODER,
    RULES_COUNT_MAX,
    SCAN_BYTES_MAX,
    SNAPSHOT_DECODER,
    ContentRule,
    ContentRules,
    KeywordRule,
    Match,
    MediaTypeRule,
    PayloadHashRule,
    RuleAction,
    RuleEntry,
    SizeRule,
    describe,
    keyword_hash,
    keyword_rule,
    keyword_rule_normalized,
    normalize,
    rule_order,
    rule_view,
)

REJECT, HOLD = RuleAction.REJECT, RuleAction.HOLD
TEXT = "text/plain; charset=utf-8"
FALUN = "法轮功"


# -- helpers ---------------------------------------------------------------
def rules_of(*entries: tuple[str, ContentRule, RuleAction]) -> ContentRules:
    rules = ContentRules()
    for rule_id, rule, action in entries:
        rules.add(rule_id, rule, action, f"proposal-of-{rule_id}")
    return rules


def check(rules: ContentRules, data: bytes | str, media_type: str = TEXT) -> Match | None:
    """rules.match on a record, the way execution calls it."""
    raw = data.encode() if isinstance(data, str) else data
    return rules.match(payload_hash(raw), media_type, raw)


def hit(rules: ContentRules, data: bytes | str, media_type: str = TEXT) -> str | None:
    m = check(rules, data, media_type)
    return None if m is None else m.rule_id


def one_keyword(term: str, action: RuleAction = REJECT) -> ContentRules:
    return rules_of(("rule-1", keyword_rule(term), action))


def essence_matches(rule_type: str, declared: str) -> bool:
    """Reference media-type test, written independently of policy's."""
    essence = declared.split(";", maxsplit=1)[0].strip(" \t")
    if not essence.isascii():
        return False
    essence = essence.lower()
    kind, _, sub = essence.partition("/")
    if not kind or not sub:
        return False
    if rule_type.endswith("/*"):
        return kind == rule_type[:-2]
    return essence == rule_type


def reference_fingerprint(window: str) -> int:
    """The fingerprint's definition, written out: sum of cp * BASE^t, plus n, times MIX, top 20."""
    w = sum(ord(ch) * pow(kh.BASE, t, 2**64) for t, ch in enumerate(window)) % 2**64
    return (((w + len(window)) * kh.MIX) % 2**64) >> (64 - FINGERPRINT_BITS)


def naive_match(
    entries: list[RuleEntry], ph: bytes, media_type: str, data: bytes
) -> RuleEntry | None:
    """Reference: every rule in id order, every window hashed with hashlib from scratch.

    A keyword rule matches a window with its hash and its fingerprint, the latter
    computed here by the reference's own polynomial arithmetic on Python ints.
    """
    text = normalize(data.decode("utf-8", "ignore"))
    for e in sorted(entries, key=lambda e: rule_order(e.rule_id)):
        r = e.rule
        if isinstance(r, KeywordRule):
            windows = [text[i : i + r.length] for i in range(len(text) - r.length + 1)]
            ok = any(
                hashlib.sha256(KEYWORD_DOMAIN + w.encode()).digest() == r.hash
                and reference_fingerprint(w) == r.fingerprint
                for w in windows
            )
        elif isinstance(r, PayloadHashRule):
            ok = r.payload_hash == ph
        elif isinstance(r, SizeRule):
            ok = len(data) > r.bytes_max
        else:
            ok = essence_matches(r.media_type, media_type)
        if ok:
            return e
    return None


# -- normalization and the keyword hash ---------------------------------------------
def test_spaces_punctuation_and_controls_do_not_count() -> None:
    assert normalize("法 轮-功") == normalize("法轮功") == "法轮功"
    assert normalize("法·轮·功") == normalize("法\u200b轮\u3000功。") == "法轮功"
    assert normalize("\tfa-lun\r\ngong!") == "falungong"


def test_full_width_half_width_and_case_forms_match() -> None:
    assert normalize("ＦａＬｕＮ　ＧＯＮＧ") == normalize("falun gong") == "falungong"
    assert normalize("ｶﾀｶﾅ") == normalize("カタカナ")  # half-width katakana
    assert normalize("Straße") == normalize("STRASSE") == "strasse"
    assert normalize("\uf900") == "\u8c48"  # CJK compatibility ideograph -> unified


# Letters, marks of several classes, mark-only decompositions, dropped characters:
# the material of long combining runs.
MARKY = "aeiİΐß\u0301\u0316\u0344\u0345\u0f73\uff9e\u3099\u200b \u093f"


@settings(database=None, deadline=None, max_examples=300)
@given(st.one_of(st.text(), st.text(alphabet=MARKY, max_size=120)))
@example("e\u200b\u0301")  # a dropped character kept a mark from its base
@example("a" + "\u0344" * 40)  # each decomposes to two marks
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert all(unicodedata.category(c)[0] not in "ZPC" for c in once)


@settings(database=None, deadline=None, max_examples=300)
@given(st.text())
@example("\u03b9\u0308\u0301")  # casefold("ΐ") is this decomposed form
def test_canonically_equivalent_texts_normalize_alike(text: str) -> None:
    once = normalize(text)
    assert normalize(unicodedata.normalize("NFD", text)) == once
    assert normalize(unicodedata.normalize("NFC", text)) == once
    assert normalize(text.upper()) == normalize(text.upper().casefold())


def test_the_ignored_characters_are_categories_z_p_c_m_s_and_the_default_ignorables() -> None:
    policy.prepare()
    everything = "".join(map(chr, range(0x110000)))
    ignorable = {cp for a, b in policy.DEFAULT_IGNORABLE for cp in range(a, b + 1)}
    letters_and_numbers = "".join(
        c for c in everything if unicodedata.category(c)[0] in "LN" and ord(c) not in ignorable
    )
    assert policy._tables().ignore.sub("", everything) == letters_and_numbers
    # Dropped before decomposition: only ignored characters, and not those whose
    # image has letters ("㈱" is "(株)") or that fold to one (U+0345 is iota).
    early = set(everything) - set(policy._tables().drop.sub("", everything))
    assert not early & set(letters_and_numbers)
    assert "\u3231" not in early and "\u0345" not in early and "\ufe0f" in early
    ascii_chars = everything[:128]
    assert policy._drop(ascii_chars) == "".join(
        c for c in ascii_chars if unicodedata.category(c)[0] not in "ZPCS"
    )


def test_runs_of_combining_marks_are_cut_short() -> None:
    # Unbounded, a run of marks costs NFKD quadratic time (an attacker's cheap record).
    # Marks are ignored; the cut shows only on U+0345, which case-folds to a letter.
    limit = COMBINING_RUN_MAX
    IOTA = "\u03b9"  # noqa: N806
    assert normalize("a" + "\u0301" * (limit + 50)) == "a"
    assert normalize("a" + "\u0345" * (limit + 50)) == "a" + IOTA * limit
    # Dropped characters between the marks do not hide the run.
    assert normalize("a" + "\u0345\u200b" * 100) == "a" + IOTA * limit
    # Nor do characters that only decompose to marks (half-width voiced sound mark).
    mixed = normalize("a" + "\u0345\uff9e" * 100)
    assert len(mixed) <= limit + 1
    assert normalize(mixed) == mixed
    # Accents are marks: decomposed off their letters and ignored.
    assert normalize("Tiếng Việt có dấu") == "tiengvietcodau"


def test_keyword_hash_is_the_domain_hash_of_the_normalized_term() -> None:
    expected = hashlib.sha256(b"govchain:keyword:v1:" + "法轮功".encode()).digest()
    assert KEYWORD_DOMAIN == b"govchain:keyword:v1:"
    assert keyword_hash("法 轮 功") == keyword_hash("法轮功") == expected
    assert keyword_rule("  法·轮·功 ") == KeywordRule(expected, 3, fingerprint("法轮功"))
    assert keyword_rule("ＶＰＮ") == KeywordRule(keyword_hash("vpn"), 3, fingerprint("vpn"))


def test_the_fingerprint_is_its_definition_and_differs_by_term_and_length() -> None:
    for term in ("法轮功", "vpn", "a", "字" * KEYWORD_CHARS_MAX, "\U00020000x"):
        assert fingerprint(term) == reference_fingerprint(term)
        assert 0 <= fingerprint(term) < 2**FINGERPRINT_BITS
    # The constants are the domain's, odd, and BASE_INVERSE inverts BASE.
    assert kh.BASE % 2 == kh.MIX % 2 == 1
    assert kh.BASE * kh.BASE_INVERSE % 2**64 == 1
    assert len({fingerprint(chr(0x4E00 + i)) for i in range(2000)}) > 1990
    # The length is folded in: a term and the same term with a NUL differ.
    assert fingerprint("ab") != fingerprint("ab\0")


def test_keyword_terms_empty_or_too_long_are_refused() -> None:
    for empty in ("", "   ", "，。！", "\u200b\u200d"):
        with pytest.raises(ValueError, match="empty"):
            keyword_hash(empty)
    longest = "字" * KEYWORD_CHARS_MAX
    assert keyword_rule(longest).length == KEYWORD_CHARS_MAX
    with pytest.raises(ValueError, match="at most"):
        keyword_rule(longest + "多")
    # Length counts characters after normalization: spaces are free, "ß" is two.
    assert keyword_rule(" ".join(longest)).length == KEYWORD_CHARS_MAX
    with pytest.raises(ValueError, match="at most"):
        keyword_rule("ß" * 9)


def test_the_fast_sha256_agrees_with_hashlib() -> None:
    for data in (b"", b"x", "法轮功".encode(), bytes(range(256)) * 3):
        h = kh.KEYWORD_HASHER.copy()
        h.update(data)
        assert h.digest() == hashlib.sha256(KEYWORD_DOMAIN + data).digest()


# -- keyword rules on records --------------------------------------------------------
def test_keyword_matches_inside_a_chinese_sentence_without_spaces() -> None:
    rules = one_keyword(FALUN)
    assert hit(rules, "我今天在公园里看到有人在散发法轮功的传单。") == "rule-1"
    assert hit(rules, FALUN) == "rule-1"
    assert hit(rules, "法轮功是开头") == "rule-1"
    assert hit(rules, "结尾是法轮功") == "rule-1"


def test_keyword_matches_across_inserted_spaces_punctuation_and_width_variants() -> None:
    rules = one_keyword(FALUN)
    for disguised in (
        "他们在说 法 轮 功 的事",
        "法-轮-功",
        "法·轮·功",
        "法，轮。功",
        "法\u200b轮\u200b功",  # zero-width spaces
        "法\u3000轮\u3000功",  # ideographic spaces
        "法\n轮\t功",
    ):
        assert hit(rules, disguised) == "rule-1", disguised
    latin = one_keyword("VPN翻墙")
    assert hit(latin, "教你用ｖｐｎ　翻　墙的方法") == "rule-1"
    assert hit(latin, "教你用 V.P.N. 翻墙") == "rule-1"


def test_keyword_does_not_match_unrelated_or_partial_text() -> None:
    rules = one_keyword(FALUN)
    assert hit(rules, "今天天气很好，我们去公园散步。") is None
    assert hit(rules, "法律与轮船的功能") is None
    assert hit(rules, "法轮") is None
    assert hit(rules, "") is None
    assert hit(rules, "功轮法") is None


def test_keyword_split_by_an_invalid_utf8_byte_still_matches() -> None:
    rules = one_keyword(FALUN)
    data = "宣传".encode() + "法".encode() + b"\xff" + "轮功".encode() + b"\xc3"
    assert hit(rules, data) == "rule-1"


def test_binary_data_is_scanned_whatever_media_type_it_declares() -> None:
    rules = one_keyword(FALUN)
    blob = bytes(range(256)) * 64
    assert hit(rules, blob, "image/png") is None
    assert hit(rules, blob + FALUN.encode() + blob, "image/png") == "rule-1"
    assert hit(rules, FALUN.encode(), "application/octet-stream") == "rule-1"
    assert hit(rules, FALUN.encode(), "") == "rule-1"


def test_terms_are_found_across_chunk_boundaries_and_at_both_ends() -> None:
    terms = ("法轮功", "zq", "字字字字字字字字字字字字字字字字")
    rules = rules_of(*((f"rule-{i}", keyword_rule(t), REJECT) for i, t in enumerate(terms, 1)))
    filler = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(CHUNK_STARTS * 3))
    assert hit(rules, filler) is None
    for i, term in enumerate(terms, 1):
        n = len(normalize(term))
        # Every start near the first chunk boundary: inside, straddling, just past.
        for start in range(CHUNK_STARTS - n - 1, CHUNK_STARTS + 2):
            text = filler[:start] + term + filler[start:]
            assert hit(rules, text) == f"rule-{i}", (term, start)
        assert hit(rules, term + filler) == f"rule-{i}"
        assert hit(rules, filler + term) == f"rule-{i}"
        # One character short at the end: never matched by a window past the end.
        assert hit(rules, filler + term[:-1]) is None


def test_a_rule_whose_fingerprint_is_not_its_terms_matches_nothing() -> None:
    good = keyword_rule(FALUN)
    forged = KeywordRule(good.hash, good.length, (good.fingerprint + 1) % 2**FINGERPRINT_BITS)
    assert hit(rules_of(("rule-1", forged, REJECT)), "传单上写着法轮功") is None
    assert hit(rules_of(("rule-1", good, REJECT)), "传单上写着法轮功") == "rule-1"


def test_a_window_colliding_with_a_fingerprint_is_hashed_and_refused() -> None:
    """A window with a rule's fingerprint but another term is a candidate, never a match."""
    good = keyword_rule("zq")
    rules = rules_of(("rule-1", good, REJECT))
    table = keyword_scan.KeywordTable([(2, fingerprint("ab"), good.hash)])
    # "ab" has the rule's fingerprint in this table, but not its hash.
    assert table.found(Scan("xxabxx"), [2]) == set()
    assert hit(rules, "xxzqxx") == "rule-1"


def test_windows_are_the_utf8_of_every_character_ngram() -> None:
    for text in ("abcd", "法轮功ab", "a\U0001f600b法", "é"):
        scan = Scan(text)
        for n in range(1, 6):
            expected = [text[i : i + n].encode() for i in range(len(text) - n + 1)]
            assert list(scan.windows(n)) == expected


# -- payload-hash, size and media-type rules -----------------------------------------
def test_payload_hash_rule_matches_that_payload_only() -> None:
    banned = b"a known illegal file"
    rules = rules_of(("rule-1", PayloadHashRule(payload_hash(banned)), REJECT))
    assert hit(rules, banned, "application/octet-stream") == "rule-1"
    assert hit(rules, banned + b" ") is None


def test_size_rule_matches_data_longer_than_its_bound() -> None:
    rules = rules_of(("rule-1", SizeRule(10), HOLD))
    assert hit(rules, b"x" * 10) is None
    assert hit(rules, b"x" * 11) == "rule-1"
    assert hit(rules_of(("rule-1", SizeRule(0), HOLD)), b"") is None


def test_media_type_rule_matches_the_declared_type() -> None:
    rules = rules_of(("rule-1", MediaTypeRule("image/png"), REJECT))
    assert hit(rules, b"data", "image/png") == "rule-1"
    assert hit(rules, b"data", "IMAGE/PNG; foo=bar") == "rule-1"
    assert hit(rules, b"data", " image/png ") == "rule-1"
    assert hit(rules, b"data", "image/jpeg") is None
    assert hit(rules, b"data", "text/plain") is None
    assert hit(rules, b"data", "") is None
    wild = rules_of(("rule-1", MediaTypeRule("video/*"), HOLD))
    assert hit(wild, b"data", "video/mp4") == "rule-1"
    assert hit(wild, b"data", "Video/H264; rate=90000") == "rule-1"
    assert hit(wild, b"data", "video") is None
    assert hit(wild, b"data", "audio/mp4") is None


def test_media_type_declared_with_look_alike_letters_does_not_match() -> None:
    rules = rules_of(("rule-1", MediaTypeRule("text/markdown"), REJECT))
    # U+212A KELVIN SIGN lowercases to "k", but no client reads this as markdown.
    assert hit(rules, b"data", "text/mar\u212adown") is None
    assert hit(rules, b"data", "text/marKdown") == "rule-1"


# -- order, actions, changes ---------------------------------------------------------
def test_lowest_rule_id_wins_numerically_not_as_a_string() -> None:
    rules = rules_of(
        ("rule-10", keyword_rule(FALUN), REJECT),
        ("rule-9", SizeRule(3), HOLD),
        ("rule-100", PayloadHashRule(payload_hash(FALUN.encode())), REJECT),
    )
    m = check(rules, FALUN)
    assert m == Match("rule-9", HOLD, "proposal-of-rule-9")
    assert [
        x.rule_id for x in rules.match_all(payload_hash(FALUN.encode()), TEXT, FALUN.encode())
    ] == [
        "rule-9",
        "rule-10",
        "rule-100",
    ]


def test_keyword_rule_with_a_lower_id_beats_a_cheaper_rule() -> None:
    rules = rules_of(("rule-2", keyword_rule(FALUN), REJECT), ("rule-5", SizeRule(1), HOLD))
    assert check(rules, "说法轮功") == Match("rule-2", REJECT, "proposal-of-rule-2")
    assert check(rules, "说别的") == Match("rule-5", HOLD, "proposal-of-rule-5")


def test_rule_order_is_total_and_documented() -> None:
    ids = ["zeta", "rule-10", "rule-2", "rule-07", "rule-7", "Rule-1", "rule-x", "rule-1"]
    assert sorted(ids, key=rule_order) == [
        "rule-1",
        "rule-2",
        "rule-07",
        "rule-7",
        "rule-10",
        "Rule-1",
        "rule-x",
        "zeta",
    ]


def test_the_winning_rules_action_and_decision_are_returned() -> None:
    rules = rules_of(("rule-1", keyword_rule("赌博"), HOLD), ("rule-2", keyword_rule("赌"), REJECT))
    assert check(rules, "网上赌博") == Match("rule-1", HOLD, "proposal-of-rule-1")
    assert check(rules, "赌钱") == Match("rule-2", REJECT, "proposal-of-rule-2")


def test_remove_lifts_a_rule() -> None:
    rules = one_keyword(FALUN)
    assert hit(rules, FALUN) == "rule-1"
    assert rules.remove("rule-1") is True
    assert hit(rules, FALUN) is None
    assert rules.remove("rule-1") is False
    assert len(rules) == 0 and rules.get("rule-1") is None
    rules.add("rule-1", keyword_rule(FALUN), HOLD, "p2")  # an id may come back
    assert check(rules, FALUN) == Match("rule-1", HOLD, "p2")


def test_duplicate_terms_under_two_ids_resolve_to_the_lower_id() -> None:
    rules = rules_of(("rule-4", keyword_rule(FALUN), HOLD), ("rule-3", keyword_rule(FALUN), REJECT))
    assert hit(rules, FALUN) == "rule-3"
    rules.remove("rule-3")
    assert hit(rules, FALUN) == "rule-4"


def test_no_rules_match_nothing() -> None:
    assert check(ContentRules(), FALUN) is None
    assert ContentRules().match_all(b"\0" * 32, TEXT, b"x") == []


# -- snapshot, encoding, listing -----------------------------------------------------
ENTRIES: list[tuple[str, ContentRule, RuleAction]] = [
    ("rule-3", keyword_rule(FALUN), REJECT),
    ("rule-1", PayloadHashRule(b"\x01" * 32), HOLD),
    ("rule-12", SizeRule(1000), HOLD),
    ("rule-2", MediaTypeRule("image/*"), REJECT),
]


def test_snapshot_does_not_depend_on_insertion_order() -> None:
    a = rules_of(*ENTRIES)
    b = rules_of(*reversed(ENTRIES))
    assert a.snapshot() == b.snapshot()
    assert encode(a.snapshot()) == encode(b.snapshot())
    assert [e.rule_id for e in a.snapshot()] == ["rule-1", "rule-2", "rule-3", "rule-12"]
    assert [e.rule_id for e in a] == ["rule-1", "rule-2", "rule-3", "rule-12"]


def test_snapshot_round_trips_through_canonical_encoding() -> None:
    rules = rules_of(*ENTRIES)
    data = encode(rules.snapshot())
    entries: list[RuleEntry] = decode_canonical(data, SNAPSHOT_DECODER)
    restored = ContentRules.from_snapshot(entries)
    assert restored.snapshot() == rules.snapshot()
    assert hit(restored, "法轮功", "image/png") == "rule-2"


def test_rules_encode_as_tagged_arrays() -> None:
    h = keyword_hash(FALUN)
    fp = fingerprint(FALUN)
    assert msgspec.msgpack.decode(encode(KeywordRule(h, 3, fp))) == ["keyword", h, 3, fp]
    assert msgspec.msgpack.decode(encode(SizeRule(5))) == ["size", 5]
    for _, rule, _ in ENTRIES:
        assert decode_canonical(encode(rule), RULE_DECODER) == rule
    entry = RuleEntry("rule-1", SizeRule(5), HOLD, "p")
    assert msgspec.msgpack.decode(encode(entry)) == ["rule-1", ["size", 5], "hold", "p"]


def test_malformed_rules_do_not_decode() -> None:
    bad = [
        ["keyword", b"short", 3],
        ["keyword", b"\0" * 32, 0],
        ["keyword", b"\0" * 32, KEYWORD_CHARS_MAX + 1],
        ["payload_hash", b"\0" * 31],
        ["size", -1],
        ["media_type", "Image/PNG"],
        ["regex", ".*"],
        ["size", 5, 6],
    ]
    for value in bad:
        with pytest.raises(DecodeError):
            decode_canonical(msgspec.msgpack.encode(value), RULE_DECODER)
    with pytest.raises(DecodeError):
        decode_canonical(
            msgspec.msgpack.encode([["rule-1", ["size", 5], "drop", "p"]]), SNAPSHOT_DECODER
        )


def test_listing_shows_hashes_never_terms() -> None:
    rules = rules_of(*ENTRIES)
    views = [rule_view(e) for e in rules]
    keyword = next(v for v in views if v["kind"] == "keyword")
    assert keyword["hash"] == keyword_hash(FALUN).hex() and keyword["length"] == 3
    assert FALUN not in repr(views)
    assert describe(SizeRule(1000)) == "size rule (data over 1000 bytes)"
    got = rules.get("rule-2")
    assert got is not None and got.rule == MediaTypeRule("image/*")
    assert "rule-2" in rules and "rule-99" not in rules and len(rules) == 4


def test_copy_is_independent() -> None:
    rules = rules_of(*ENTRIES)
    other = rules.copy()
    other.remove("rule-3")
    assert hit(rules, FALUN) == "rule-3" and hit(other, FALUN) is None


# -- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule_id", "rule", "action", "ref", "message"),
    [
        ("rule-1", SizeRule(1), REJECT, "p", "already exists"),
        ("", SizeRule(1), REJECT, "p", "rule id"),
        ("rule 2", SizeRule(1), REJECT, "p", "rule id"),
        ("-rule", SizeRule(1), REJECT, "p", "rule id"),
        ("r" * 129, SizeRule(1), REJECT, "p", "rule id"),
        ("rule-2", SizeRule(1), "drop", "p", "action"),
        ("rule-2", SizeRule(1), REJECT, "x" * 129, "governance_ref"),
        ("rule-2", "keyword", REJECT, "p", "not a content rule"),
    ],
)
def test_add_of_a_bad_rule_raises_and_changes_nothing(
    rule_id: str, rule: ContentRule, action: RuleAction, ref: str, message: str
) -> None:
    rules = one_keyword(FALUN)
    before = rules.snapshot()
    with pytest.raises(ValueError, match=message):
        rules.add(rule_id, rule, action, ref)
    assert rules.snapshot() == before


@pytest.mark.parametrize(
    "build",
    [
        lambda: KeywordRule(b"\0" * 31, 3, 0),
        lambda: KeywordRule(b"\0" * 32, 0, 0),
        lambda: KeywordRule(b"\0" * 32, KEYWORD_CHARS_MAX + 1, 0),
        lambda: KeywordRule(b"\0" * 32, 3, -1),
        lambda: KeywordRule(b"\0" * 32, 3, 2**FINGERPRINT_BITS),
        lambda: PayloadHashRule(b""),
        lambda: SizeRule(-1),
        lambda: SizeRule(2**63),
        lambda: MediaTypeRule("image"),
        lambda: MediaTypeRule("Image/png"),
        lambda: MediaTypeRule("image/png; q=1"),
        lambda: MediaTypeRule("*/*"),
    ],
)
def test_malformed_rules_cannot_be_built(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]


def test_a_rule_slipped_past_its_constructor_is_still_refused() -> None:
    sneaky = SizeRule(1)
    msgspec.structs.force_setattr(sneaky, "bytes_max", -5)
    with pytest.raises(ValueError):
        ContentRules().add("rule-1", sneaky, REJECT, "p")


def test_the_rule_count_is_bounded() -> None:
    rules = ContentRules()
    for i in range(RULES_COUNT_MAX):
        rules.add(f"rule-{i}", SizeRule(i), HOLD, "p")
    with pytest.raises(ValueError, match="most allowed"):
        rules.add("rule-x", SizeRule(1), HOLD, "p")
    assert rules.remove("rule-0")
    rules.add("rule-x", SizeRule(1), HOLD, "p")


def test_admission_never_passes_more_than_the_scan_bound() -> None:
    assert DagLimits().payload_bytes_max <= SCAN_BYTES_MAX


# -- the property: match equals the naive reference ------------------------------------
# CJK, Latin, digits, full-width forms, spaces and punctuation of both widths, a
# few non-BMP characters and combining marks: what the normalizer has to handle.
ALPHABET = (
    "法轮功天安门六四翻墙赌博毒品我们的是了在人有中国"
    "abcXYZ019"
    "ＡＢｃｄ０１"
    " \u3000\u200b\t-·，。！?"
    "\U0001f600\U00020000"
    "\u0301ß"
)
texts = st.text(alphabet=ALPHABET, max_size=60)


@st.composite
def rule_sets(draw: st.DrawFn, text: str) -> list[RuleEntry]:
    """Rules, some of them keyword rules cut from the text itself so that they hit."""
    entries: list[RuleEntry] = []
    ids = draw(st.lists(st.integers(0, 40), unique=True, max_size=8))
    norm = normalize(text)
    for n in ids:
        kind = draw(st.sampled_from(["kw-inside", "kw-random", "hash", "size", "media"]))
        rule: ContentRule
        if kind == "kw-inside" and norm:
            i = draw(st.integers(0, len(norm) - 1))
            j = draw(st.integers(i + 1, min(len(norm), i + KEYWORD_CHARS_MAX)))
            piece = norm[i:j]
            rule = keyword_rule_normalized(piece)
        elif kind in ("kw-inside", "kw-random"):
            term = draw(st.text(alphabet=ALPHABET, min_size=1, max_size=4))
            if not normalize(term) or len(normalize(term)) > KEYWORD_CHARS_MAX:
                continue
            rule = keyword_rule(term)
        elif kind == "hash":
            target = draw(st.sampled_from([text.encode(), b"other"]))
            rule = PayloadHashRule(payload_hash(target))
        elif kind == "size":
            rule = SizeRule(draw(st.integers(0, 80)))
        else:
            rule = MediaTypeRule(draw(st.sampled_from(["text/plain", "text/*", "image/png"])))
        action = draw(st.sampled_from([REJECT, HOLD]))
        rule_id = draw(st.sampled_from([f"rule-{n}", f"rule-0{n}", f"other-{n}"]))
        if all(e.rule_id != rule_id for e in entries):
            entries.append(RuleEntry(rule_id, rule, action, f"p{n}"))
    return entries


@settings(database=None, deadline=None, max_examples=250)
@given(st.data(), texts, st.sampled_from(["text/plain", "TEXT/Plain; a=b", "image/png", ""]))
def test_match_equals_the_naive_reference(data: st.DataObject, text: str, media_type: str) -> None:
    raw = text.encode()
    if data.draw(st.booleans()):
        raw = raw.replace("的".encode(), "的".encode()[:2])  # broken UTF-8 inside
    entries = data.draw(rule_sets(text))
    order = data.draw(st.permutations(entries))
    rules = ContentRules(order)
    ph = payload_hash(raw)
    expected = naive_match(entries, ph, media_type, raw)
    got = rules.match(ph, media_type, raw)
    if expected is None:
        assert got is None
    else:
        assert got == Match(expected.rule_id, expected.action, expected.governance_ref)
    all_matches = rules.match_all(ph, media_type, raw)
    assert (all_matches[0] if all_matches else None) == got


@settings(database=None, deadline=None, max_examples=200)
@given(
    st.text(
        alphabet="法轮功天安门我们的是了在人abcXYZＡＢ０１", min_size=1, max_size=KEYWORD_CHARS_MAX
    ),
    st.text(alphabet="法轮功天安门我们的是了在人abcXYZＡＢ０１ \u3000，。-·!?", max_size=40),
    st.text(alphabet="法轮功天安门我们的是了在人abcXYZＡＢ０１ \u3000，。-·!?", max_size=40),
)
def test_a_term_placed_in_any_text_is_found(term: str, before: str, after: str) -> None:
    rules = one_keyword(term)
    assert hit(rules, before + term + after) == "rule-1"
    spaced = " ".join(term)
    assert hit(rules, before + spaced + after) == "rule-1"


def test_every_window_a_candidate_still_finds_the_term_past_the_dedup_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A text whose every window collides with a fingerprint: hashed, not all remembered."""
    monkeypatch.setattr(keyword_scan, "HASHED_WINDOWS_MAX", 8)
    rule = keyword_rule(FALUN)
    table = keyword_scan.KeywordTable([(rule.length, rule.fingerprint, rule.hash)])
    table._hit[:] = True  # as if an attacker had matched every fingerprint
    filler = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(500))
    found = table.found(Scan(normalize(filler + FALUN + filler)), [1, 3, 5])
    assert found == {(rule.length, rule.fingerprint, rule.hash)}
    assert table.found(Scan(normalize(filler)), [1, 3, 5]) == set()
