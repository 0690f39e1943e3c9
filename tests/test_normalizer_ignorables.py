"""What the keyword normalizer ignores, and the Unicode version that genesis pins.

Issue 9, item 5: U+FE0F (a variation selector, category Mn) and other
default-ignorable code points slipped past keyword rules, as did combining
marks and symbols put between a term's characters. Keyword matching now looks
at letters and numbers only, and a node refuses to start on a Python whose
Unicode database differs from the one genesis names.
"""

from __future__ import annotations

import itertools
import json
import unicodedata
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from govchain.dag.tx import payload_hash
from govchain.node.devnet import create
from govchain.node.files import FileError, Home, genesis_to_json, read_genesis
from govchain.state import policy
from govchain.state.genesis import Genesis, UnicodeVersionError, check_unicode
from govchain.state.policy import (
    DEFAULT_IGNORABLE,
    DEFAULT_IGNORABLE_UNICODE_VERSION,
    ContentRules,
    RuleAction,
    keyword_rule,
    normalize,
)
from ledgerkit import genesis

TERM = "法轮功"


def _hit(term: str, text: str) -> bool:
    rules = ContentRules()
    rules.add("rule-1", keyword_rule(term), RuleAction.REJECT, "p1")
    data = text.encode()
    return rules.match(payload_hash(data), "text/plain", data) is not None


def _ignorables() -> list[int]:
    return [cp for first, last in DEFAULT_IGNORABLE for cp in range(first, last + 1)]


# -- default-ignorable code points ---------------------------------------------------
def test_the_variation_selector_of_the_issue_no_longer_hides_a_term() -> None:
    assert _hit(TERM, "法\ufe0f轮功")  # today: no match, U+FE0F is kept
    assert _hit(TERM, "法\ufe0f轮\ufe0e功\U000e0100")


def test_the_list_is_unicode_14s_derived_default_ignorable_code_points() -> None:
    """DerivedCoreProperties.txt 14.0.0: 27 ranges, 4,174 code points."""
    assert DEFAULT_IGNORABLE_UNICODE_VERSION == "14.0.0"
    assert len(DEFAULT_IGNORABLE) == 27
    assert len(_ignorables()) == 4_174
    assert all(a <= b for a, b in DEFAULT_IGNORABLE)
    assert all(b < a for (_, b), (a, _) in itertools.pairwise(DEFAULT_IGNORABLE))
    # Where the pinned database knows them, their categories are as the file says.
    if unicodedata.unidata_version == DEFAULT_IGNORABLE_UNICODE_VERSION:
        cats = {unicodedata.category(chr(cp)) for cp in _ignorables()}
        assert cats == {"Cf", "Cn", "Mn", "Lo"}
        assert {chr(cp) for cp in _ignorables() if unicodedata.category(chr(cp)) == "Lo"} == set(
            "\u115f\u1160\u3164\uffa0"
        )


def test_every_default_ignorable_code_point_is_ignored() -> None:
    # A surrogate cannot be encoded, but none is in the list.
    kept = [f"U+{cp:04X}" for cp in _ignorables() if normalize(f"a{chr(cp)}b") != "ab"]
    assert kept == []  # today: U+034F, U+115F, U+17B4, U+180B, U+3164, U+FE00 ... kept


@pytest.mark.parametrize(
    "cp",
    [
        *(0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x180B, 0x180E, 0x180F, 0x200D),
        *(0x202E, 0x2066, 0x3164, 0xFE0F, 0xFEFF, 0xFFA0, 0x1BCA0, 0x1D173, 0xE0001, 0xE0041),
        *(0xE0100, 0xE01EF),
    ],
    ids=lambda cp: f"U+{cp:04X}",
)
def test_an_ignorable_between_the_characters_of_a_term_does_not_hide_it(cp: int) -> None:
    assert _hit(TERM, "是" + chr(cp).join(TERM) + "的")


def test_a_keyword_term_with_ignorables_makes_the_same_rule() -> None:
    """The CLI and the SDK build rules with keyword_rule: the same normalizer as matching."""
    assert keyword_rule("法\ufe0f轮\u200d功") == keyword_rule(TERM)
    assert keyword_rule("\u3164v\u034fp\U000e0070n") == keyword_rule("VPN")
    with pytest.raises(ValueError, match="empty"):
        keyword_rule("\ufe0f\u200d\u3164\U000e0100")


# -- combining marks and symbols ----------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "法\u0301轮\u0316功",  # nonspacing marks on ideographs
        "法\u20dd轮功",  # an enclosing circle
        "法\u093e轮功",  # a spacing mark
        "法★轮💣功",  # symbols
        "法\U0001f1e8\U0001f1f3轮功",  # a flag: two regional indicators
        "法👩\u200d💻轮1\ufe0f\u20e3功",  # a ZWJ sequence, a keycap
        "法$轮+功",  # ASCII symbols
    ],
)
def test_marks_and_symbols_between_the_characters_of_a_term_do_not_hide_it(text: str) -> None:
    expected = "法轮1功" if "\u20e3" in text else TERM
    assert normalize(text) == expected
    assert _hit(TERM, text.replace("1", ""))


def test_accents_are_stripped_after_compatibility_decomposition() -> None:
    assert normalize("Tiếng Việt có dấu") == "tiengvietcodau"
    assert normalize("fǎlún gōng") == normalize("FALUN GONG") == "falungong"
    assert normalize("İ") == "i"  # casefold gives i + U+0307
    assert normalize("ﬁ") == "fi"  # a ligature: NFKD
    assert _hit("falungong", "Fǎ Lún Gōng")


def test_compatibility_symbols_keep_the_letters_they_stand_for() -> None:
    # Decomposed first, so the symbol's letters survive the drop of symbols.
    assert normalize("㈱") == normalize("(株)") == "株"
    assert normalize("™") == "tm"
    assert normalize("㎏") == "kg"
    assert normalize("①②") == "12"
    assert normalize("㊙") == "秘"


def test_hangul_syllables_survive_decomposition() -> None:
    assert normalize("한국어") == "한국어"  # NFKD splits them into jamo; NFC joins them
    assert normalize("한\u3164국어") == "한국어"


def test_a_mark_that_case_folds_to_a_letter_is_kept_as_the_letter() -> None:
    """U+0345 folds to iota: composed and decomposed inputs agree."""
    alpha_iota = "\u03b1\u03b9"
    assert normalize("\u1fb3") == normalize("\u03b1\u0345") == alpha_iota
    assert normalize("\u0391\u0399") == alpha_iota


LETTERS_AND_NUMBERS = "LN"


@settings(database=None, deadline=None, max_examples=400)
@given(st.text())
@example("a\ufe0fb\u034f\u3164\U000e0100")
@example("\u1100\u3164\u1161")
def test_only_letters_and_numbers_remain_and_normalize_is_stable(text: str) -> None:
    once = normalize(text)
    ignorable = set(_ignorables())
    assert all(unicodedata.category(c)[0] in LETTERS_AND_NUMBERS for c in once)
    assert not any(ord(c) in ignorable for c in once)
    assert normalize(once) == once
    assert normalize(unicodedata.normalize("NFD", text)) == once
    assert normalize(unicodedata.normalize("NFKC", text)) == once


# -- the Unicode version in genesis -------------------------------------------------
def test_genesis_names_the_unicode_version_of_this_python() -> None:
    g = genesis()
    assert g.unicode_version == unicodedata.unidata_version == policy.UNICODE_VERSION
    other = msgspec.structs.replace(g, unicode_version="99.0.0")
    assert other.hash != g.hash  # the version is part of what the chain commits to
    check_unicode(g)
    with pytest.raises(UnicodeVersionError, match=r"99\.0\.0"):
        check_unicode(other)


@pytest.mark.parametrize("bad", ["", "14", "14.0", "v14.0.0", "14.0.0 ", "1" * 40])
def test_a_malformed_unicode_version_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="unicode_version"):
        msgspec.structs.replace(genesis(), unicode_version=bad)


def test_genesis_json_carries_the_unicode_version(tmp_path: Path) -> None:
    g = msgspec.structs.replace(genesis(), unicode_version="15.1.0")
    path = tmp_path / "genesis.json"
    doc = genesis_to_json(g)
    assert doc["unicode_version"] == "15.1.0"
    path.write_text(json.dumps(doc))
    assert read_genesis(path) == g  # reading is not refusing: offline verifiers read it too
    del doc["unicode_version"]
    path.write_text(json.dumps(doc))
    with pytest.raises(FileError, match="unicode_version"):
        read_genesis(path)


def _home_with_unicode(tmp_path: Path, version: str) -> Path:
    (node_dir,) = create(tmp_path / "devnet", 1, 0, 40_300)
    path = Home(node_dir.home).genesis_path
    g = msgspec.structs.replace(read_genesis(path), unicode_version=version)
    path.write_text(json.dumps(genesis_to_json(g)))
    return node_dir.home


def test_a_node_refuses_to_start_under_another_unicode_version(tmp_path: Path) -> None:
    from govchain.node.node import Node  # noqa: PLC0415 (heavy: only this test needs it)

    home = _home_with_unicode(tmp_path, "99.0.0")
    with pytest.raises(UnicodeVersionError, match=r"99\.0\.0"):
        Node(Home(home))
    assert not Home(home).store_path.exists()  # refused before the store is touched


def test_govchain_node_reports_the_mismatch_and_exits_1(tmp_path: Path) -> None:
    from govchain.cli.main import cli  # noqa: PLC0415

    home = _home_with_unicode(tmp_path, "99.0.0")
    result = CliRunner().invoke(cli, ["node", "--home", str(home)])
    assert result.exit_code == 1, result.output
    assert "99.0.0" in result.output and unicodedata.unidata_version in result.output
    assert not isinstance(result.exception, UnicodeVersionError)  # reported, not a traceback


def test_the_genesis_default_is_sensible() -> None:
    """Every chain this code base builds (init, devnet, simulator, tests) pins this Python's."""
    g = Genesis(
        chain_id="c",
        time_ms=0,
        balances=(),
        validators=genesis().validators,
        committee=genesis().committee,
        threshold=1,
    )
    assert g.unicode_version == unicodedata.unidata_version
