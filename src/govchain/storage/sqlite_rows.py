"""Reading SQLite rows back, checked: a row that does not hold what was written is
a CorruptStoreError naming its table and key (the file is damaged)."""

from __future__ import annotations

from typing import TypeVar

import msgspec

from govchain.codec import DecodeError, decode_canonical
from govchain.storage.base import StoreError

T = TypeVar("T")
SEQS_DECODER = msgspec.msgpack.Decoder(list[int])
KEYS_PER_QUERY = 500  # well below SQLite's limit on bound parameters


class CorruptStoreError(StoreError):
    """A row read back does not hold what was written: the file is damaged."""

    def __init__(self, table: str, key: object, what: str) -> None:
        super().__init__(f"store corrupt: table {table}, {key}: {what}")
        self.table = table


def decode_row(table: str, key: object, data: object, decoder: msgspec.msgpack.Decoder[T]) -> T:
    """data decoded canonically, or CorruptStoreError."""
    if not isinstance(data, bytes):
        raise CorruptStoreError(table, key, f"expected bytes, found {type(data).__name__}")
    try:
        return decode_canonical(data, decoder)
    except DecodeError as exc:
        raise CorruptStoreError(table, key, str(exc)) from exc


def int_row(table: str, key: object, value: object) -> int:
    """value, an integer, or CorruptStoreError."""
    if type(value) is not int:
        raise CorruptStoreError(table, key, f"expected an integer, found {value!r}")
    return value


def bytes_row(table: str, key: object, value: object, length: int | None = None) -> bytes:
    """value, bytes (of length, if given), or CorruptStoreError."""
    if not isinstance(value, bytes) or (length is not None and len(value) != length):
        raise CorruptStoreError(
            table, key, f"expected {length or 'some'} bytes, found {value!r:.80}"
        )
    return value
