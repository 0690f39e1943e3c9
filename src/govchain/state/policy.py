"""Content rules: the deterministic matcher that screens data records at execution.

Governance adds and removes rules (add-filter, remove-filter); execution asks
`ContentRules.match` about every data record, and the first matching rule in
rule-id order decides whether the record is final as rejected or held.

Keyword rules publish only the SHA-256 of a normalized term, the term's
length in characters and a 20-bit fingerprint (state/keyword_hash.py), never
the term: the chain must not itself spread the word it filters. Matching
normalizes the record's text once (letters and numbers only,
compatibility-decomposed, casefolded), computes the fingerprint of every
character n-gram of each rule length at once and hashes only the candidates
(state/keyword_scan.py); characters, not words, because Chinese text has no
word boundaries.

Pure and deterministic: no clock, no I/O, no randomness, and every choice
between several matches goes through one total order (`rule_order`). The one
outside input is the Unicode database that `unicodedata` carries (NFKD, case
folding and character categories): validators must share it. Genesis names it
(`Genesis.unicode_version`, this module's `UNICODE_VERSION` by default) and a
node refuses to start under another one. See docs/content-rules.md.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import compress
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec

from govchain.codec import HASH_BYTES, INT_MAX
from govchain.state.keyword_hash import FINGERPRINT_BITS, fingerprint, keyword_digest

if TYPE_CHECKING:  # imported when first needed: numpy costs a CLI ~75 ms to load
    from govchain.state.keyword_scan import KeywordTable, RuleKeys, Scan

# Longest keyword term, in characters after normalization. It bounds the number
# of distinct n-gram lengths, hence the scan cost (docs/content-rules.md).
KEYWORD_CHARS_MAX = 16
# Active rules of all kinds together.
RULES_COUNT_MAX = 1_000
# The largest data the cost figures assume: admission's payload_bytes_max
# (dag/limits.py) keeps records at or below it, and a test pins that. A larger
# record would still be scanned whole, never cut: a cut-off is where an evader
# would put the word.
SCAN_BYTES_MAX = 65_536
RULE_ID_CHARS_MAX = 128
GOVERNANCE_REF_CHARS_MAX = 128
BYTES_MAX_LIMIT = INT_MAX
# The Unicode database this process normalizes with; validators must agree on it.
UNICODE_VERSION: str = unicodedata.unidata_version

# Combining characters kept in a row. CPython orders a run of combining marks by
# insertion sort, quadratic in its length: 64 KiB of marks took 2.3 s to NFKC.
# Unicode's Stream-Safe Text Format (UAX #15) bounds runs at 30 for the same
# reason; no real text comes near it.
COMBINING_RUN_MAX = 30
# Unicode general categories (first letter) that keyword matching ignores:
# separators, punctuation, "other" (controls, format characters such as
# zero-width spaces, surrogates, private use, unassigned), marks and symbols.
# Only letters (L) and numbers (N) count: a reader skips the rest, so an evader
# could put any of them between a term's characters (docs/content-rules.md).
IGNORED_CATEGORIES = frozenset("ZPCMS")
# Unicode's Default_Ignorable_Code_Point property, which unicodedata does not
# carry: invisible characters a renderer skips (variation selectors, joiners,
# bidi controls, tags, Hangul fillers, ...). Every range as listed in
# DerivedCoreProperties.txt of this Unicode version (27 ranges, 4,174 code
# points), the database of CPython 3.11; all but the four Hangul fillers (Lo)
# are in IGNORED_CATEGORIES anyway. Re-check the list when genesis moves to
# another version (tests/test_normalizer_ignorables.py fails until then).
DEFAULT_IGNORABLE_UNICODE_VERSION = "14.0.0"
DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),  # Cf  SOFT HYPHEN
    (0x034F, 0x034F),  # Mn  COMBINING GRAPHEME JOINER
    (0x061C, 0x061C),  # Cf  ARABIC LETTER MARK
    (0x115F, 0x1160),  # Lo  HANGUL CHOSEONG FILLER..HANGUL JUNGSEONG FILLER
    (0x17B4, 0x17B5),  # Mn  KHMER VOWEL INHERENT AQ..KHMER VOWEL INHERENT AA
    (0x180B, 0x180D),  # Mn  MONGOLIAN FREE VARIATION SELECTOR ONE..THREE
    (0x180E, 0x180E),  # Cf  MONGOLIAN VOWEL SEPARATOR
    (0x180F, 0x180F),  # Mn  MONGOLIAN FREE VARIATION SELECTOR FOUR
    (0x200B, 0x200F),  # Cf  ZERO WIDTH SPACE..RIGHT-TO-LEFT MARK
    (0x202A, 0x202E),  # Cf  LEFT-TO-RIGHT EMBEDDING..RIGHT-TO-LEFT OVERRIDE
    (0x2060, 0x2064),  # Cf  WORD JOINER..INVISIBLE PLUS
    (0x2065, 0x2065),  # Cn  <reserved-2065>
    (0x2066, 0x206F),  # Cf  LEFT-TO-RIGHT ISOLATE..NOMINAL DIGIT SHAPES
    (0x3164, 0x3164),  # Lo  HANGUL FILLER
    (0xFE00, 0xFE0F),  # Mn  VARIATION SELECTOR-1..VARIATION SELECTOR-16
    (0xFEFF, 0xFEFF),  # Cf  ZERO WIDTH NO-BREAK SPACE
    (0xFFA0, 0xFFA0),  # Lo  HALFWIDTH HANGUL FILLER
    (0xFFF0, 0xFFF8),  # Cn  <reserved-FFF0>..<reserved-FFF8>
    (0x1BCA0, 0x1BCA3),  # Cf  SHORTHAND FORMAT LETTER OVERLAP..SHORTHAND FORMAT UP STEP
    (0x1D173, 0x1D17A),  # Cf  MUSICAL SYMBOL BEGIN BEAM..MUSICAL SYMBOL END PHRASE
    (0xE0000, 0xE0000),  # Cn  <reserved-E0000>
    (0xE0001, 0xE0001),  # Cf  LANGUAGE TAG
    (0xE0002, 0xE001F),  # Cn  <reserved-E0002>..<reserved-E001F>
    (0xE0020, 0xE007F),  # Cf  TAG SPACE..CANCEL TAG
    (0xE0080, 0xE00FF),  # Cn  <reserved-E0080>..<reserved-E00FF>
    (0xE0100, 0xE01EF),  # Mn  VARIATION SELECTOR-17..VARIATION SELECTOR-256
    (0xE01F0, 0xE0FFF),  # Cn  <reserved-E01F0>..<reserved-E0FFF>
)

_RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_NUMBERED = re.compile(r"rule-([0-9]+)")
# RFC 6838 restricted names, lowercase: what a rule may name ("type/sub" or "type/*").
_MEDIA_TYPE = re.compile(
    r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/(?:\*|[a-z0-9][a-z0-9!#$&^_.+-]{0,126})"
)


# -- normalization and hashing ---------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Tables:
    """What normalize() needs, computed once from this process's Unicode database."""

    ascii_drop: dict[int, None]  # str.translate table: the ignored ASCII characters
    drop: re.Pattern[str]  # runs of characters dropped before decomposition
    ignore: re.Pattern[str]  # runs of ignored characters (IGNORED_CATEGORIES, DEFAULT_IGNORABLE)
    maybe_long_marks: re.Pattern[str]  # matches wherever long_marks might
    long_marks: re.Pattern[str]  # a run of more than COMBINING_RUN_MAX combining characters


def _ranges(flags: str) -> list[tuple[int, int]]:
    """Code point ranges of the runs of "1" in flags, one flag per code point."""
    out: list[tuple[int, int]] = []
    for run in re.finditer("1+", flags):
        first, last = run.start(), run.end() - 1
        if first < 0x10000 <= last:  # split at the BMP's end (see _char_class)
            out.append((first, 0xFFFF))
            first = 0x10000
        out.append((first, last))
    return out


def _classes(ranges: list[tuple[int, int]]) -> tuple[str, str]:
    """Regex character classes of ranges: the BMP part, and the part above U+FFFF.

    Kept apart because sre looks characters above U+FFFF up in a linear list of
    ranges; a lookahead for "above U+FFFF" in front of the second class keeps BMP
    text, the usual case, out of that list.
    """

    def cls(part: list[tuple[int, int]]) -> str:
        return "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in part) + "]"

    bmp = [r for r in ranges if r[1] < 0x10000]
    astral = [r for r in ranges if r[0] >= 0x10000]
    return cls(bmp), cls(astral)


_ASTRAL = "(?=[^\\x00-\\uffff])"
_FLAG_IGNORED = str.maketrans({c: "1" if c in IGNORED_CATEGORIES else "0" for c in "CLMNPSZ"})
_FLAG_MAY_CHANGE = str.maketrans({c: "\x01" if c in "MPSZ" else "\x00" for c in "CLMNPSZ"})
_FLAG_NONZERO = bytes([48] + [49] * 255)  # byte 0 -> "0", any other -> "1"


@functools.cache
def _tables() -> _Tables:
    """Build the tables (a few tenths of a second, once per process, on first use).

    A Python loop over unicodedata.category costs ~140 ns a character, so
    characters are dropped by str.translate (ASCII text) or one compiled character
    class (other text), a few tens of ns. The tables themselves come from C-level
    map() loops over all 1.1 million code points; Python loops only over the few
    thousand that decompose or are candidates for an early drop.
    """
    # One flag character per code point (1.1 million: no Python-level loop, and
    # no list of a million one-character strings either).
    every = range(0x110000)
    categories = "".join(map(itemgetter(0), map(unicodedata.category, map(chr, every))))
    flags = bytearray(categories.translate(_FLAG_IGNORED), "ascii")
    for first, last in DEFAULT_IGNORABLE:
        flags[first : last + 1] = b"1" * (last - first + 1)
    ignored = flags.decode("ascii")
    # Dropped before decomposition: an ignored character all of whose image
    # (NFKD, casefold, NFKD) is ignored too, so dropping it first changes
    # nothing. Not the others: "㈱" decomposes to "(株)", U+0345 folds to iota.
    # No "other" (C) character decomposes or case-folds, so the candidates are
    # the 11,000 or so separators, punctuation, marks and symbols, and the
    # Hangul fillers.
    candidates = bytearray(categories.translate(_FLAG_MAY_CHANGE), "ascii")
    for first, last in DEFAULT_IGNORABLE:
        candidates[first : last + 1] = b"\x01" * (last - first + 1)
    for cp in compress(every, candidates):
        if not all(ignored[ord(c)] == "1" for c in _image(chr(cp))):
            flags[cp] = 48  # "0": kept until after decomposition
    dropped = _ranges(flags.decode("ascii"))
    # Combining characters: canonical combining class > 0, plus the few with class 0
    # whose decomposition is only such characters (U+0F73, U+FF9E, ...).
    classes = bytearray(map(unicodedata.combining, map(chr, every)))
    for cp in compress(every, map(unicodedata.decomposition, map(chr, every))):
        if all(map(unicodedata.combining, unicodedata.normalize("NFKD", chr(cp)))):
            classes[cp] = 1
    drop_bmp, drop_astral = _classes(dropped)
    ignore_bmp, ignore_astral = _classes(_ranges(ignored))
    marks_bmp, marks_astral = _classes(_ranges(classes.translate(_FLAG_NONZERO).decode("ascii")))
    mark = f"(?:{marks_bmp}|{_ASTRAL}{marks_astral})"
    return _Tables(
        ascii_drop={cp: None for cp in range(0x80) if ignored[cp] == "1"},
        drop=re.compile(f"{drop_bmp}+|{_ASTRAL}{drop_astral}+"),
        ignore=re.compile(f"{ignore_bmp}+|{_ASTRAL}{ignore_astral}+"),
        # A cheap superset test first: a run of BMP marks or any characters above U+FFFF.
        maybe_long_marks=re.compile(
            f"{marks_bmp[:-1]}\U00010000-\U0010ffff]{{{COMBINING_RUN_MAX + 1}}}"
        ),
        long_marks=re.compile(f"({mark}{{{COMBINING_RUN_MAX}}}){mark}+"),
    )


def prepare() -> None:
    """Build normalize()'s tables and load the scanner now (a node calls this at start)."""
    _tables()
    import govchain.state.keyword_scan  # noqa: F401, PLC0415 (numpy: ~75 ms to import)


def _image(text: str) -> str:
    """What decomposition and case folding make of text: NFKD(casefold(NFKD(text)))."""
    decomposed = unicodedata.normalize("NFKD", text)
    folded = decomposed.casefold()
    # Case folding may give characters that decompose ("İ" folds to "i" U+0307 and
    # a few fold to precomposed letters): decompose again, only when it changed.
    return decomposed if folded == decomposed else unicodedata.normalize("NFKD", folded)


def _drop(text: str) -> str:
    """text without the characters dropped before decomposition, and with no combining
    run longer than COMBINING_RUN_MAX (the excess removed, once the drop has joined runs)."""
    t = _tables()
    if text.isascii():
        return text.translate(t.ascii_drop)  # no combining characters in ASCII
    text = t.drop.sub("", text)
    if t.maybe_long_marks.search(text) is None:
        return text
    return t.long_marks.sub(r"\1", text)


def normalize(text: str) -> str:
    """Canonical form for keyword matching: the letters and numbers of the text, casefolded.

    Defined as NFC(ignore(NFKD(casefold(NFKD(text))))), where ignore deletes
    every character of IGNORED_CATEGORIES or DEFAULT_IGNORABLE: only letters
    and numbers are left, accents and other marks decomposed off their letters
    and deleted, compatibility forms (full width, ligatures, "㈱") spelled out
    first. NFC then joins what NFKD split and needs no mark (Hangul syllables).

    Before decomposing, the ignored characters whose whole image is ignored are
    dropped (most of them: spaces, punctuation, marks, emoji) and runs of
    combining characters are cut to COMBINING_RUN_MAX, which bounds NFKD's cost
    and lets typical text (CJK with full-width punctuation) take the
    quick-check paths. Dropping them first changes nothing else.
    """
    t = _tables()
    if text.isascii():  # nothing decomposes, casefold is lower()
        return text.translate(t.ascii_drop).lower()
    first = _drop(text)
    image = _image(first)
    # The usual case: nothing decomposed nor folded, so nothing ignored is left
    # (a character dropped late is one that decomposition or folding changes).
    if image == first:
        return unicodedata.normalize("NFC", first)
    return unicodedata.normalize("NFC", t.ignore.sub("", image))


def keyword_hash(term: str) -> bytes:
    """What a keyword rule publishes: SHA-256 of the domain and the normalized term's UTF-8."""
    return _keyword_hash_normalized(_checked_term(term))


def keyword_rule(term: str) -> KeywordRule:
    """The rule for a term, as the CLI builds it locally: hash, length, fingerprint; no term."""
    return keyword_rule_normalized(_checked_term(term))


def keyword_rule_normalized(norm: str) -> KeywordRule:
    """The rule for a term already normalized (1..KEYWORD_CHARS_MAX characters)."""
    return KeywordRule(_keyword_hash_normalized(norm), len(norm), fingerprint(norm))


def _checked_term(term: str) -> str:
    norm = normalize(term)
    if not norm:
        raise ValueError("the keyword is empty once everything but letters and numbers is removed")
    if len(norm) > KEYWORD_CHARS_MAX:
        raise ValueError(
            f"the keyword has {len(norm)} characters once normalized; at most "
            f"{KEYWORD_CHARS_MAX} are allowed"
        )
    return norm


def _keyword_hash_normalized(norm: str) -> bytes:
    return keyword_digest(norm.encode("utf-8"))


def media_type_essence(media_type: str) -> str:
    """A declared media type reduced to lowercase "type/subtype" ("" when it has none)."""
    essence = media_type.partition(";")[0].strip(" \t")
    # ASCII-only lowering: str.lower() would turn U+212A KELVIN SIGN into "k".
    return essence.lower() if essence.isascii() else ""


# -- rules -------------------------------------------------------------------------
class KeywordRule(
    msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True, tag="keyword"
):
    """Matches records whose normalized text contains the term.

    Fields: keyword_hash(term), its length in characters and its fingerprint
    (state/keyword_hash.py), all of the normalized term. A window matches when
    all three agree; the CLI builds them from one term (keyword_rule).
    """

    hash: bytes
    length: int
    fingerprint: int

    def __post_init__(self) -> None:
        if len(self.hash) != HASH_BYTES:
            raise ValueError(f"a keyword rule's hash has {HASH_BYTES} bytes")
        if type(self.length) is not int or not 1 <= self.length <= KEYWORD_CHARS_MAX:
            raise ValueError(f"a keyword rule's length lies in 1..{KEYWORD_CHARS_MAX} characters")
        if type(self.fingerprint) is not int or not 0 <= self.fingerprint < 1 << FINGERPRINT_BITS:
            raise ValueError(f"a keyword rule's fingerprint has {FINGERPRINT_BITS} bits")


class PayloadHashRule(
    msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True, tag="payload_hash"
):
    """Matches the one payload whose header names this payload_hash (dag.tx.payload_hash)."""

    payload_hash: bytes

    def __post_init__(self) -> None:
        if len(self.payload_hash) != HASH_BYTES:
            raise ValueError(f"a payload-hash rule's hash has {HASH_BYTES} bytes")


class SizeRule(
    msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True, tag="size"
):
    """Matches data longer than bytes_max bytes."""

    bytes_max: int

    def __post_init__(self) -> None:
        if type(self.bytes_max) is not int or not 0 <= self.bytes_max <= BYTES_MAX_LIMIT:
            raise ValueError(f"a size rule's bytes_max lies in 0..{BYTES_MAX_LIMIT}")


class MediaTypeRule(
    msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True, tag="media_type"
):
    """Matches records declaring this media type ("type/subtype", or "type/*" for a whole type)."""

    media_type: str

    def __post_init__(self) -> None:
        if not _MEDIA_TYPE.fullmatch(self.media_type):
            raise ValueError(
                'a media-type rule names a lowercase "type/subtype" or "type/*" without parameters'
            )


ContentRule: TypeAlias = KeywordRule | PayloadHashRule | SizeRule | MediaTypeRule


class RuleAction(StrEnum):
    """What a match does to the record: final as rejected, or final as held for review."""

    REJECT = "reject"
    HOLD = "hold"


class Match(msgspec.Struct, array_like=True, frozen=True):
    """The rule that decided a record, for its receipt."""

    rule_id: str
    action: RuleAction
    governance_ref: str


class RuleEntry(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """One active rule as the state holds it: id, rule, action, and the decision that set it."""

    rule_id: str
    rule: ContentRule
    action: RuleAction
    governance_ref: str


RULE_DECODER = msgspec.msgpack.Decoder(ContentRule)
SNAPSHOT_DECODER = msgspec.msgpack.Decoder(list[RuleEntry])

RuleKey: TypeAlias = tuple[int, int, str]


def rule_order(rule_id: str) -> RuleKey:
    """Sort key of the total order on rule ids: "rule-<n>" by n, then by string; others after."""
    m = _NUMBERED.fullmatch(rule_id)
    return (0, int(m.group(1)), rule_id) if m else (1, 0, rule_id)


def check_rule(rule: ContentRule) -> None:
    """Raise ValueError unless rule is a well-formed content rule."""
    if not isinstance(rule, KeywordRule | PayloadHashRule | SizeRule | MediaTypeRule):
        raise ValueError(f"not a content rule: {type(rule).__name__}")
    # Structs are checked when built or decoded; check again in case one was
    # altered since (msgspec.structs.force_setattr skips __post_init__).
    rule.__post_init__()


def describe(rule: ContentRule) -> str:
    """A rule in words, for receipts and the explorer (never the keyword itself)."""
    if isinstance(rule, KeywordRule):
        return f"keyword rule ({rule.length} characters, hash {rule.hash.hex()[:16]})"
    if isinstance(rule, PayloadHashRule):
        return f"payload-hash rule ({rule.payload_hash.hex()})"
    if isinstance(rule, SizeRule):
        return f"size rule (data over {rule.bytes_max} bytes)"
    return f"media-type rule ({rule.media_type})"


def rule_view(entry: RuleEntry) -> dict[str, Any]:
    """An entry as JSON-ready builtins with hex bytes (the HTTP edge's convention)."""
    rule = entry.rule
    fields: dict[str, Any]
    if isinstance(rule, KeywordRule):
        fields = {
            "kind": "keyword",
            "hash": rule.hash.hex(),
            "length": rule.length,
            "fingerprint": rule.fingerprint,
        }
    elif isinstance(rule, PayloadHashRule):
        fields = {"kind": "payload_hash", "payload_hash": rule.payload_hash.hex()}
    elif isinstance(rule, SizeRule):
        fields = {"kind": "size", "bytes_max": rule.bytes_max}
    else:
        fields = {"kind": "media_type", "media_type": rule.media_type}
    return {
        "rule_id": entry.rule_id,
        **fields,
        "action": entry.action.value,
        "governance_ref": entry.governance_ref,
        "description": describe(rule),
    }


# -- the rule set ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Index:
    """Lookup structures derived from the entries; rebuilt after any change."""

    payload: dict[bytes, list[RuleKey]]
    media: dict[str, list[RuleKey]]
    sizes: list[tuple[RuleKey, int]]  # ascending by key
    keywords: dict[RuleKeys, list[RuleKey]]  # (length, fingerprint, hash) -> keys, ascending
    lengths: list[tuple[RuleKey, int]]  # (least key of the length's rules, length), ascending
    table: KeywordTable | None  # None without keyword rules


def scan_of(data: bytes) -> Scan:
    """A record's data as the matcher reads it: UTF-8, undecodable bytes ignored, normalized."""
    from govchain.state.keyword_scan import Scan  # noqa: PLC0415 (numpy, see prepare)

    # "ignore", not "replace": U+FFFD, a symbol, is ignored by normalize too,
    # but a stray byte must not split a keyword whatever the normalizer keeps.
    return Scan(normalize(data.decode("utf-8", "ignore")))


class ContentRules:
    """The active content rules: a pure, mutable container held by the ledger."""

    def __init__(self, entries: Iterable[RuleEntry] = ()) -> None:
        self._entries: dict[str, RuleEntry] = {}
        self._sorted: list[RuleEntry] | None = None
        self._index: _Index | None = None
        for e in entries:
            self.add(e.rule_id, e.rule, e.action, e.governance_ref)

    @classmethod
    def from_snapshot(cls, entries: Iterable[RuleEntry]) -> ContentRules:
        """The container that snapshot() was taken from (entries checked again)."""
        return cls(entries)

    # -- changes, by governance ---------------------------------------------------
    def add(self, rule_id: str, rule: ContentRule, action: RuleAction, governance_ref: str) -> None:
        """Activate a rule; ValueError on a duplicate or malformed id, a bad rule, or a full set."""
        if not isinstance(rule_id, str) or not (
            len(rule_id) <= RULE_ID_CHARS_MAX and _RULE_ID.fullmatch(rule_id)
        ):
            raise ValueError(
                f"a rule id is 1..{RULE_ID_CHARS_MAX} characters of A-Z a-z 0-9 . _ : - "
                "starting with a letter or digit"
            )
        if rule_id in self._entries:
            raise ValueError(f"rule {rule_id} already exists")
        if len(self._entries) >= RULES_COUNT_MAX:
            raise ValueError(f"there are already {RULES_COUNT_MAX} content rules, the most allowed")
        check_rule(rule)
        try:
            action = RuleAction(action)
        except ValueError:
            raise ValueError(f"a rule's action is one of {[a.value for a in RuleAction]}") from None
        if not isinstance(governance_ref, str) or len(governance_ref) > GOVERNANCE_REF_CHARS_MAX:
            raise ValueError(f"governance_ref is a string of at most {GOVERNANCE_REF_CHARS_MAX}")
        self._entries[rule_id] = RuleEntry(rule_id, rule, action, governance_ref)
        self._changed()

    def remove(self, rule_id: str) -> bool:
        """Deactivate a rule; False when no rule has this id."""
        if self._entries.pop(rule_id, None) is None:
            return False
        self._changed()
        return True

    def _changed(self) -> None:
        self._sorted = None
        self._index = None

    # -- reading --------------------------------------------------------------------
    def get(self, rule_id: str) -> RuleEntry | None:
        """The entry with this id, or None."""
        return self._entries.get(rule_id)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._entries

    def __iter__(self) -> Iterator[RuleEntry]:
        """Entries in rule order (rule_order)."""
        return iter(self.snapshot())

    def snapshot(self) -> list[RuleEntry]:
        """Every entry in rule order: what the state hash commits to (encode() it)."""
        if self._sorted is None:
            self._sorted = sorted(self._entries.values(), key=lambda e: rule_order(e.rule_id))
        return list(self._sorted)

    def copy(self) -> ContentRules:
        """An independent container with the same entries (entries are immutable)."""
        other = ContentRules()
        other._entries = dict(self._entries)
        return other

    # -- matching, by execution ------------------------------------------------------
    def match(self, payload_hash: bytes, media_type: str, data: bytes) -> Match | None:
        """The matching rule that comes first in rule order, or None.

        payload_hash is the header's; media_type what the record declares; data
        the payload bytes. Only the keyword lengths with a rule earlier than the
        best cheap match are scanned; with none, the text is not even decoded.
        """
        idx = self._index or self._build()
        best = self._cheap_best(idx, payload_hash, media_type, len(data))
        lengths = [n for key, n in idx.lengths if best is None or key < best]
        if lengths and idx.table is not None:
            for found in idx.table.found(scan_of(data), lengths):
                key = idx.keywords[found][0]
                if best is None or key < best:
                    best = key
        return None if best is None else self._match_of(best)

    def match_all(self, payload_hash: bytes, media_type: str, data: bytes) -> list[Match]:
        """Every matching rule, in rule order (for review tools; match() is the verdict)."""
        idx = self._index or self._build()
        keys: list[RuleKey] = []
        keys += idx.payload.get(payload_hash, [])
        for name in _media_names(media_type):
            keys += idx.media.get(name, [])
        keys += [key for key, bytes_max in idx.sizes if len(data) > bytes_max]
        if idx.table is not None:
            for found in idx.table.found(scan_of(data), [n for _, n in idx.lengths]):
                keys += idx.keywords[found]
        return [self._match_of(k) for k in sorted(keys)]

    def _cheap_best(
        self, idx: _Index, payload_hash: bytes, media_type: str, size: int
    ) -> RuleKey | None:
        """First matching payload-hash, media-type or size rule: no text is looked at."""
        found: list[RuleKey] = []
        keys = idx.payload.get(payload_hash)
        if keys:
            found.append(keys[0])
        for name in _media_names(media_type):
            keys = idx.media.get(name)
            if keys:
                found.append(keys[0])
        for key, bytes_max in idx.sizes:
            if size > bytes_max:
                found.append(key)
                break  # ascending keys: the first one is the least
        return min(found) if found else None

    def _match_of(self, key: RuleKey) -> Match:
        e = self._entries[key[2]]
        return Match(e.rule_id, e.action, e.governance_ref)

    def _build(self) -> _Index:
        payload: dict[bytes, list[RuleKey]] = {}
        media: dict[str, list[RuleKey]] = {}
        sizes: list[tuple[RuleKey, int]] = []
        keywords: dict[RuleKeys, list[RuleKey]] = {}
        least: dict[int, RuleKey] = {}  # by length
        for e in self.snapshot():  # ascending keys, so every list below is sorted
            key, rule = rule_order(e.rule_id), e.rule
            if isinstance(rule, KeywordRule):
                keywords.setdefault((rule.length, rule.fingerprint, rule.hash), []).append(key)
                least.setdefault(rule.length, key)
            elif isinstance(rule, PayloadHashRule):
                payload.setdefault(rule.payload_hash, []).append(key)
            elif isinstance(rule, SizeRule):
                sizes.append((key, rule.bytes_max))
            else:
                media.setdefault(rule.media_type, []).append(key)
        table: KeywordTable | None = None
        if keywords:
            from govchain.state.keyword_scan import KeywordTable  # noqa: PLC0415 (see prepare)

            table = KeywordTable(keywords)
        lengths = sorted((key, n) for n, key in least.items())
        self._index = _Index(payload, media, sizes, keywords, lengths, table)
        return self._index


def _media_names(media_type: str) -> tuple[str, ...]:
    """The rule media types that a declared one matches: itself and its "type/*"."""
    essence = media_type_essence(media_type)
    kind, slash, sub = essence.partition("/")
    if not (kind and slash and sub):
        return ()
    return (essence,) if sub == "*" else (essence, f"{kind}/*")
