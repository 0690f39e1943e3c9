"""Finding keyword rules in a record's normalized text, knowing only their hashes.

A keyword rule publishes its term's length n, SHA-256 hash and 20-bit
fingerprint (state/keyword_hash.py). A record matches when some n-character
window of its normalized text has both. Hashing every window with SHA-256,
once per distinct rule length, costs ~0.5 µs a window in Python (up to 16
lengths: ~1 ms for a 200-byte record, ~1 s for a hostile 64 KiB one). Here the
fingerprints of all windows of all rule lengths are computed at once with
numpy's uint64 arithmetic, which wraps modulo 2^64 exactly as the definition
does:

    H[k]      = sum_{j<k} cp(text[j]) * BASE^j            (one cumulative sum)
    W(i, n)   = (H[i+n] - H[i]) * BASE_INVERSE^i          (the window's polynomial)
    fp(i, n)  = ((W(i, n) + n) * MIX) >> 44

and a 2^20-entry table of the rules' fingerprints picks the candidates; only
those are hashed with SHA-256, and a rule matches when its length, fingerprint
and hash all agree. Candidates are about one window in 2^20 a rule: the scan
costs a few dozen numpy operations a record, whatever its language.

A text comes in chunks of CHUNK_STARTS start positions, so the temporaries stay
under CHUNK_STARTS x 16 x 8 bytes however long the record is. Pure and
deterministic: integer arithmetic only, the same on every platform numpy runs on.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from itertools import compress
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from govchain.state.keyword_hash import (
    BASE,
    BASE_INVERSE,
    FINGERPRINT_BITS,
    FINGERPRINT_SHIFT,
    MIX,
    keyword_digest,
)

U64: TypeAlias = npt.NDArray[np.uint64]
# (length, fingerprint, hash): what a keyword rule asks of a window.
RuleKeys: TypeAlias = tuple[int, int, bytes]

# Start positions scanned per vectorized step: bounds the temporaries (one uint64
# per start and rule length, a few arrays of them) to ~1 MiB at 16 lengths.
CHUNK_STARTS = 2_048
# Candidate windows remembered per record so that a repeated one is hashed once:
# beyond this many, the rest are hashed without remembering (a text crafted to
# collide with the public fingerprints must not also cost memory per window).
HASHED_WINDOWS_MAX = 4_096
# Powers of BASE are kept for at least this many characters (grown on demand).
POWERS_MIN = 4_096
# 1 for bytes that start a UTF-8 character, 0 for continuation bytes (0x80..0xBF).
_STARTS = bytes(0 if 0x80 <= i < 0xC0 else 1 for i in range(256))
_MIX = np.uint64(MIX)
_SHIFT = np.uint64(FINGERPRINT_SHIFT)


def _power_table(base: int, count: int) -> U64:
    """base^0 .. base^(count-1) modulo 2^64 (a wrapping cumulative product)."""
    powers = np.full(count, base, dtype=np.uint64)
    powers[0] = 1
    return np.cumprod(powers, dtype=np.uint64)


class _Powers:
    """BASE^i and BASE_INVERSE^i for every position a scanned text has had so far."""

    def __init__(self) -> None:
        self.up: U64 = _power_table(BASE, POWERS_MIN)
        self.down: U64 = _power_table(BASE_INVERSE, POWERS_MIN)

    def at_least(self, count: int) -> tuple[U64, U64]:
        """Both tables with at least count entries (grown by doubling)."""
        up, down = self.up, self.down
        if len(up) < count:
            size = max(count, 2 * len(up))
            up, down = _power_table(BASE, size), _power_table(BASE_INVERSE, size)
            # Replaced together, after both exist: a reader on another thread
            # sees either the old pair or the new one, each correct.
            self.up, self.down = up, down
        return up, down


_POWERS = _Powers()


class Scan:
    """One record's normalized text, ready for windows at any length.

    The text is encoded once; a window of n characters is a slice of those bytes
    between two character offsets, so no window is encoded again.
    """

    __slots__ = ("chars", "data", "offsets", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.chars = len(text)
        self.data = text.encode("utf-8")
        # Character i spans data[offsets[i]:offsets[i + 1]]; None for ASCII (offset i).
        self.offsets: list[int] | None = None
        if len(self.data) != self.chars:
            # C-level loops only: keep the positions of bytes that start a character.
            self.offsets = list(compress(range(len(self.data)), self.data.translate(_STARTS)))
            self.offsets.append(len(self.data))

    def window(self, start: int, n: int) -> bytes:
        """The UTF-8 of the n characters from start."""
        if self.offsets is None:
            return self.data[start : start + n]
        return self.data[self.offsets[start] : self.offsets[start + n]]

    def windows(self, n: int) -> Iterator[bytes]:
        """The UTF-8 encoding of every n-character window, in text order."""
        for start in range(self.chars - n + 1):
            yield self.window(start, n)

    def codes(self) -> U64:
        """The code points of the text, as uint64."""
        return np.frombuffer(self.text.encode("utf-32-le"), dtype="<u4").astype(np.uint64)


class Columns:
    """The rule lengths a scan covers, as the arrays the vector arithmetic takes."""

    __slots__ = ("cols", "lengths", "tags", "widest")

    def __init__(self, lengths: Collection[int]) -> None:
        self.lengths = sorted(lengths)
        self.cols = np.array(self.lengths, dtype=np.intp)
        self.tags = self.cols.astype(np.uint64)
        self.widest = self.lengths[-1]


def window_fingerprints(scan: Scan, columns: Columns) -> Iterator[tuple[int, U64]]:
    """For each chunk: its first start and the fingerprints of its windows, starts x lengths.

    Column c holds the windows of columns.lengths[c]; a window running past the
    text's end (start + n > chars) holds a meaningless value the caller drops.
    """
    m, widest = scan.chars, columns.widest
    up, down = _POWERS.at_least(m)
    # prefix[k] = sum of code(j) * BASE^j for j < k; past the end, the total again.
    prefix = np.empty(m + 1 + widest, dtype=np.uint64)
    prefix[0] = 0
    np.cumsum(scan.codes() * up[:m], dtype=np.uint64, out=prefix[1 : m + 1])
    prefix[m + 1 :] = prefix[m]
    # rows[i][k] = prefix[i + k]: a strided view, nothing copied (numpy's
    # sliding_window_view builds the same view but costs 25 times as much).
    step = prefix.itemsize
    rows: U64 = np.ndarray((m + 1, widest + 1), np.uint64, prefix, 0, (step, step))
    for first in range(0, m, CHUNK_STARTS):
        last = min(m, first + CHUNK_STARTS)
        part = rows[first:last]
        w = part[:, columns.cols] - part[:, :1]
        w *= down[first:last, None]
        w += columns.tags
        w *= _MIX
        w >>= _SHIFT
        yield first, w


class KeywordTable:
    """The keyword rules as (length, fingerprint, hash), ready to scan texts."""

    __slots__ = ("_columns", "_hit", "rules")

    def __init__(self, rules: Iterable[RuleKeys]) -> None:
        self.rules: frozenset[RuleKeys] = frozenset(rules)
        self._hit = np.zeros(1 << FINGERPRINT_BITS, dtype=np.bool_)
        for _, fp, _ in self.rules:
            self._hit[fp] = True
        # By the lengths asked for: match() asks for the lengths with a rule before
        # its best cheap match (a prefix of at most 16 in rule order), less those
        # longer than the text: at most 16 x 17 sets.
        self._columns: dict[tuple[int, ...], Columns] = {}

    def _columns_of(self, lengths: tuple[int, ...]) -> Columns:
        columns = self._columns.get(lengths)
        if columns is None:
            columns = self._columns[lengths] = Columns(lengths)
        return columns

    def found(self, scan: Scan, lengths: Collection[int]) -> set[RuleKeys]:
        """The rules of these lengths that some window of scan matches."""
        found: set[RuleKeys] = set()
        if not lengths:
            return found
        columns = self._columns_of(tuple(lengths))
        if columns.widest > scan.chars:  # a short text: only the lengths that fit
            fit = tuple(n for n in columns.lengths if n <= scan.chars)
            if not fit:
                return found
            columns = self._columns_of(fit)
        cols = columns.lengths
        hashed: set[bytes] = set()  # a window repeated in the text is hashed once
        for first, fps in window_fingerprints(scan, columns):
            hits = self._hit.take(fps)
            if not hits.any():  # the usual case, and cheaper than nonzero()
                continue
            starts, which = np.nonzero(hits)
            for r, c in zip(starts.tolist(), which.tolist(), strict=True):
                start, n = first + r, cols[c]
                if start + n > scan.chars:
                    continue  # ran past the end of the text
                window = scan.window(start, n)
                if window in hashed:
                    continue
                if len(hashed) < HASHED_WINDOWS_MAX:
                    hashed.add(window)
                key = (n, int(fps[r, c]), keyword_digest(window))
                if key in self.rules:
                    found.add(key)
        return found
