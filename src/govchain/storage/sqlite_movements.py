"""The movement index's SQLite side: its tables, keys and checked reads.

`movements` holds every final movement of value under mseq = height << 32 |
its place in the height (final order); `movement_accounts` holds, per account
key (an address's first 8 bytes), posting lists of mseqs, merged in bulk by
the store (sqlite.py). `MovementReads` reads both over one connection and
one moment's in-memory postings: the store's own, or a snapshot's.
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

import msgspec

from govchain.codec import encode_all
from govchain.storage.sqlite_rows import (
    KEYS_PER_QUERY,
    SEQS_DECODER,
    CorruptStoreError,
    decode_row,
    int_row,
)
from govchain.trace.movements import UNKNOWN, Movement, MovementKind

# Rows one read of movements_of fetches: an account with many movements is
# read page by page, never held whole.
MOVEMENT_PAGE_ROWS = 4_096
# Account rows kept in memory before they are merged into movement_accounts.
MOVEMENT_MERGE_ROWS = 32_768
MOVEMENT_HEIGHT_SHIFT = 32  # mseq = height << shift | place: 4 billion movements a height
# Posting lists movements_before reads in its first query; each further query
# reads twice as many (up to MOVEMENT_PAGE_ROWS). A hot account's list holds up to
# MOVEMENT_MERGE_ROWS mseqs: a page of 25 movements reads one list, not 4,096.
POSTINGS_FIRST_ROWS = 2
_MOVEMENT_KINDS = frozenset(k.value for k in MovementKind)

MOVEMENT_TABLES = (
    """CREATE TABLE movements (
        mseq INTEGER PRIMARY KEY,
        movement BLOB NOT NULL
    )""",
    """CREATE TABLE movement_accounts (
        account_key INTEGER NOT NULL,
        last_mseq INTEGER NOT NULL,
        first_mseq INTEGER NOT NULL,
        mseqs BLOB NOT NULL,
        PRIMARY KEY (account_key, last_mseq)
    ) WITHOUT ROWID""",
    """CREATE TABLE movement_index (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        from_height INTEGER NOT NULL,
        mark INTEGER NOT NULL
    )""",
)


def account_key(address: bytes) -> int:
    """The indexed integer for an address: its first 8 bytes, as SQLite's signed 64 bits."""
    return int.from_bytes(address[:8], "big", signed=True)


def movers(src: bytes, dst: bytes) -> tuple[bytes, ...]:
    """The accounts a movement is indexed under: both ends, once each."""
    return (src,) if src == dst else (src, dst)


MOVEMENT_COLUMNS = "SELECT mseq, movement FROM movements"
MOVEMENT_DECODER = msgspec.msgpack.Decoder(Movement)
MOVEMENTS_DECODER = msgspec.msgpack.Decoder(list[Movement])
_MSGPACK_ARRAY16_MAX = 0xFFFF


_POSTINGS_OF = (  # a page of one account key's posting lists ending at or after an mseq
    "SELECT last_mseq, first_mseq, mseqs FROM movement_accounts "
    "WHERE account_key = ? AND last_mseq >= ? ORDER BY last_mseq LIMIT ?"
)
_POSTINGS_BEFORE = (  # a page of one account key's posting lists, from an mseq down
    "SELECT last_mseq, first_mseq, mseqs FROM movement_accounts "
    "WHERE account_key = ? AND last_mseq <= ? ORDER BY last_mseq DESC LIMIT ?"
)
_POSTING_ACROSS = (  # the one posting list of a key that may start before an mseq and end after
    "SELECT last_mseq, first_mseq, mseqs FROM movement_accounts "
    "WHERE account_key = ? AND last_mseq >= ? ORDER BY last_mseq LIMIT 1"
)


def mseq_range(from_height: int, to_height: int) -> tuple[int, int]:
    """The mseq keys of the heights from..to (inclusive)."""
    lo = max(from_height, 0) << MOVEMENT_HEIGHT_SHIFT
    return lo, ((max(to_height, -1) + 1) << MOVEMENT_HEIGHT_SHIFT) - 1


def _movement_values_ok(m: Movement) -> bool:
    """The checks a stored movement's values pass (height against its key apart)."""
    return not (
        m.amount <= 0
        or m.position < 0
        or m.seq < 0
        or len(m.tx_id) != 32
        or len(m.src) != 20
        or len(m.dst) != 20
        or m.kind not in _MOVEMENT_KINDS
        or m.src_after < UNKNOWN
        or m.dst_after < UNKNOWN
    )


def movement_row(row: tuple[Any, ...]) -> Movement:
    """A movements row, checked."""
    mseq_raw, data = row
    t, key = "movements", f"mseq {mseq_raw!r}"
    mseq = int_row(t, key, mseq_raw)
    m = decode_row(t, key, data, MOVEMENT_DECODER)
    if not _movement_values_ok(m):
        raise CorruptStoreError(t, key, f"unexpected values {m!r:.120}")
    if mseq >> MOVEMENT_HEIGHT_SHIFT != m.height:
        raise CorruptStoreError(t, key, f"not a key of height {m.height}")
    return m


def _msgpack_array_header(count: int) -> bytes:
    """The msgpack header of an array of count items (count < 2^32)."""
    if count < 16:
        return bytes((0x90 | count,))
    if count <= _MSGPACK_ARRAY16_MAX:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


def movement_rows(rows: list[tuple[Any, ...]]) -> list[Movement]:
    """Movements rows, each checked as _movement checks it, decoded in one call.

    The rows' bytes are decoded as one msgpack array and re-encoded in one
    call, each compared with its row (canonical, row by row): a trace reads
    hundreds of thousands of movements, and two calls a row were a third of
    its reading. On any doubt the rows are read one by one, so a bad row
    raises just what _movement raises.
    """
    try:
        datas = [data for _, data in rows]
        decoded = MOVEMENTS_DECODER.decode(_msgpack_array_header(len(datas)) + b"".join(datas))
        sound = encode_all(decoded) == datas
    except (TypeError, msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        sound = False  # not bytes, or not movements: _movement names the row
    if sound:
        shift = MOVEMENT_HEIGHT_SHIFT
        sound = all(
            type(mseq) is int and mseq >> shift == m.height and _movement_values_ok(m)
            for (mseq, _), m in zip(rows, decoded, strict=True)
        )
    return decoded if sound else [movement_row(row) for row in rows]


class MovementReads:
    """Reads of the movement index over one connection and one moment's in-memory postings."""

    def __init__(self, conn: sqlite3.Connection, unmerged: dict[bytes, list[int]], mark: int):
        self._conn = conn
        self._unmerged = unmerged
        self._movement_mark = mark

    def movements_of(self, account: bytes, from_height: int, to_height: int) -> Iterator[Movement]:
        """Movements of account in the heights: the merged index a page of posting
        lists at a time, each page one query and its movements fetched together,
        then the movements still waiting in memory (all later)."""
        lo, hi = mseq_range(from_height, to_height)
        mark = self._movement_mark
        waiting = [s for s in self._unmerged.get(account, ()) if lo <= s <= hi]
        key = account_key(account)
        end = min(hi, mark)
        after = lo
        while after <= end:
            rows = self._conn.execute(_POSTINGS_OF, (key, after, MOVEMENT_PAGE_ROWS)).fetchall()
            # One fetch for the whole page, not one per list: an account has a
            # list per merge it took part in, most of them a few mseqs long.
            wanted: list[int] = []
            past_end = False
            for last, first, data in rows:
                if int_row("movement_accounts", f"key {key}", first) > end:
                    past_end = True  # this list and every later one start past the window
                    break
                where = f"key {key}, last {last}"
                seqs = decode_row("movement_accounts", where, data, SEQS_DECODER)
                wanted.extend(s for s in seqs if after <= s <= end)
            yield from self._movements_at(account, wanted, strict=False)
            if past_end or len(rows) < MOVEMENT_PAGE_ROWS:
                break
            after = rows[-1][0] + 1
        yield from self._movements_at(account, waiting, strict=True)

    def last_before(self, account: bytes, height: int) -> Movement | None:
        """The account's last movement below height: the movements waiting in memory,
        then the posting lists read backwards from the height's first key."""
        first_key = mseq_range(height, height)[0]
        waiting = [s for s in self._unmerged.get(account, ()) if s < first_key]
        if waiting:  # all above the merged ones
            return next(self._movements_at(account, waiting[-1:], strict=True))
        below = min(first_key, self._movement_mark + 1)
        key = account_key(account)
        across = self._conn.execute(_POSTING_ACROSS, (key, below)).fetchall()
        top = below - 1
        while True:
            page = self._conn.execute(_POSTINGS_BEFORE, (key, top, MOVEMENT_PAGE_ROWS)).fetchall()
            rows, across = across + page, []
            for last, _first, data in rows:
                seqs = decode_row(
                    "movement_accounts", f"key {key}, last {last}", data, SEQS_DECODER
                )
                # Latest first; another account sharing the key is skipped.
                for mseq in reversed([s for s in seqs if s < below]):
                    found = next(self._movements_at(account, [mseq], strict=False), None)
                    if found is not None:
                        return found
            if len(page) < MOVEMENT_PAGE_ROWS:
                return None
            top = int_row("movement_accounts", f"key {key}", page[-1][0]) - 1

    def movements_before(
        self, account: bytes, before_mseq: int, limit: int
    ) -> list[tuple[int, Movement]]:
        """The account's last `limit` movements with an mseq below before_mseq, newest
        first, each with its mseq (a reader's cursor for the next page).

        The movements waiting in memory are the newest; then the posting lists,
        read backwards a few at a time (the first query reads POSTINGS_FIRST_ROWS
        lists, each next one twice as many), and only the movements the page
        needs are fetched: a page costs its own size, not the account's history.
        """
        out: list[tuple[int, Movement]] = []
        if limit <= 0:
            return out
        waiting = self._unmerged.get(account, [])  # ascending, all above the mark
        end = bisect_left(waiting, before_mseq)
        newest = waiting[max(0, end - limit) : end]
        out.extend(reversed(list(self._pairs_at(account, newest, strict=True))))
        below = min(before_mseq, self._movement_mark + 1)
        for seqs in self._postings_down(account_key(account), below):
            top = bisect_left(seqs, below)  # a list is ascending
            while top > 0 and len(out) < limit:
                # Newest first, as many as the page still lacks: another account
                # sharing the key may take some of them, then the loop asks again.
                start = max(0, top - (limit - len(out)))
                out.extend(reversed(list(self._pairs_at(account, seqs[start:top], strict=False))))
                top = start
            if len(out) >= limit:
                break
        return out

    def _postings_down(self, key: int, below: int) -> Iterator[list[int]]:
        """The key's posting lists that hold an mseq below `below`, newest first.

        At most one list reaches across `below` (a key's lists never overlap:
        each merge takes only mseqs above the previous mark); then the lists that
        end below it, in pages that grow from POSTINGS_FIRST_ROWS.
        """
        table = "movement_accounts"
        for last, first, data in self._conn.execute(_POSTING_ACROSS, (key, below)).fetchall():
            if int_row(table, f"key {key}", first) < below:
                yield decode_row(table, f"key {key}, last {last}", data, SEQS_DECODER)
        top = below - 1
        rows_max = min(POSTINGS_FIRST_ROWS, MOVEMENT_PAGE_ROWS)
        while True:
            page = self._conn.execute(_POSTINGS_BEFORE, (key, top, rows_max)).fetchall()
            for last, _first, data in page:
                yield decode_row(table, f"key {key}, last {last}", data, SEQS_DECODER)
            if len(page) < rows_max:
                return
            top = int_row(table, f"key {key}", page[-1][0]) - 1
            rows_max = min(rows_max * 2, MOVEMENT_PAGE_ROWS)

    def _movements_at(self, account: bytes, mseqs: list[int], strict: bool) -> Iterator[Movement]:
        """The movements of account among mseqs (ascending), fetched in chunks.

        strict: every one must be there and be account's (the memory's list);
        else another account sharing the key is skipped (a posting list).
        """
        for _mseq, m in self._pairs_at(account, mseqs, strict):
            yield m

    def _pairs_at(
        self, account: bytes, mseqs: list[int], strict: bool
    ) -> Iterator[tuple[int, Movement]]:
        """_movements_at's movements, each with its mseq."""
        for begin in range(0, len(mseqs), KEYS_PER_QUERY):
            chunk = mseqs[begin : begin + KEYS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            query = f"{MOVEMENT_COLUMNS} WHERE mseq IN ({marks}) ORDER BY mseq"
            rows = self._conn.execute(query, chunk).fetchall()
            if len(rows) != len(chunk):
                raise CorruptStoreError("movements", f"mseq {chunk[0]}", "a movement is missing")
            for row, m in zip(rows, movement_rows(rows), strict=True):
                if account in (m.src, m.dst):
                    yield row[0], m
                elif strict:
                    raise CorruptStoreError("movements", f"mseq {row[0]}", "another account's")
