"""Reading SQLite rows back, checked: a row that does not hold what was written is
a CorruptStoreError naming its table and key (the file is damaged).

Plain values (int_row, bytes_row, str_row...), and the store's own rows:
vertices, executions' outcomes and receipts, audit entries.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from govchain.codec import DecodeError, decode_canonical
from govchain.consensus.messages import Certificate, Checkpoint
from govchain.consensus.tendermint import HardState
from govchain.crypto.keys import SIGNATURE_BYTES
from govchain.dag.tx import Transaction, decode_body, payload_hash, tx_id
from govchain.state.audit import AuditEntry
from govchain.state.receipts import Receipt, Status, reason_ok, receipts_fault
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


HARD_STATE_DECODER = msgspec.msgpack.Decoder(HardState)
CHECKPOINT_DECODER = msgspec.msgpack.Decoder(Checkpoint)
CERTIFICATE_DECODER = msgspec.msgpack.Decoder(Certificate)


class Outcome(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A receipt without its id, height and index, which its place in `executed` gives."""

    status: str
    reason: str | None
    rule: str | None
    governance_ref: str | None

    def receipt(self, tx_id: bytes, height: int, index: int) -> Receipt:
        """The whole receipt, given what its place says."""
        o = self
        return Receipt(tx_id, height, index, o.status, o.reason, o.rule, o.governance_ref)


OUTCOMES_DECODER = msgspec.msgpack.Decoder(list[Outcome])
AUDIT_DECODER = msgspec.msgpack.Decoder(AuditEntry)

_STATUSES = frozenset(s.value for s in Status)


def audit_entry(key: object, data: object) -> AuditEntry:
    """An audit row: canonical as the hash chain has it (AuditEntry.canonical).

    Untyped entries are stored as their nine fields, as before typed entries
    existed, so stores written before them open unchanged.
    """
    if not isinstance(data, bytes):
        raise CorruptStoreError("audit", key, f"expected bytes, found {type(data).__name__}")
    try:
        entry = AUDIT_DECODER.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise CorruptStoreError("audit", key, str(exc)) from exc
    if entry.canonical != data:
        raise CorruptStoreError("audit", key, "non-canonical encoding")
    return entry


def text_row(table: str, key: object, value: object, allowed: frozenset[str] | None) -> str | None:
    """value: None, or a str (one of allowed, if given); else CorruptStoreError."""
    if value is None:
        return None
    return str_row(table, key, value, allowed)


def str_row(table: str, key: object, value: object, allowed: frozenset[str] | None) -> str:
    """value: a str (one of allowed, if given); else CorruptStoreError."""
    if not isinstance(value, str) or (allowed is not None and value not in allowed):
        raise CorruptStoreError(table, key, f"unexpected value {value!r:.80}")
    return value


def vertex_row(
    row: tuple[Any, ...], table: str = "vertices"
) -> tuple[int, Transaction, tuple[int, int] | None]:
    """(seq, transaction, (covering height, place in its order)) from a vertex row.

    The row's columns: seq, tx_id, body, signature, covering height, idx, payload.
    """
    seq_raw, vid, body, sig, height, idx, payload = row
    seq = int_row(table, "seq ?", seq_raw)
    key = f"seq {seq}"
    vid = bytes_row(table, key, vid, 32)
    body = bytes_row(table, key, body)
    sig = bytes_row(table, key, sig, SIGNATURE_BYTES)
    final = None
    if height is not None or idx is not None:
        final = (int_row(table, key, height), int_row(table, key, idx))
    try:
        parsed = decode_body(body)
    except DecodeError as exc:
        raise CorruptStoreError(table, key, f"body: {exc}") from exc
    if tx_id(body, sig) != vid:
        raise CorruptStoreError(table, key, "tx_id does not match the header")
    if payload is None:  # redacted: the header stays and still verifies
        payload = b""
    else:
        payload = bytes_row(table, key, payload)
        if payload_hash(payload) != parsed.payload_hash:
            raise CorruptStoreError(table, key, "payload does not match its hash")
    return seq, Transaction(vid, parsed, body, sig, payload), final


def outcomes_of(height: int, data: object, count: int) -> list[Outcome]:
    """A height's `executed.outcomes`, checked (count: the length of its final order)."""
    key = f"height {height}"
    outcomes = decode_row("executed", key, data, OUTCOMES_DECODER)
    if len(outcomes) != count:
        raise CorruptStoreError("executed", key, f"{len(outcomes)} outcomes for {count} txs")
    for index, o in enumerate(outcomes):
        if o.status not in _STATUSES or (o.reason is not None and not reason_ok(o.reason)):
            raise CorruptStoreError("executed", key, f"outcome {index}: {o!r:.80}")
    return outcomes


def receipts_of(height: int, tx_ids: list[bytes], data: object) -> list[Receipt]:
    """A height's receipts from its `executed.outcomes` and the ids of its final order."""
    outcomes = outcomes_of(height, data, len(tx_ids))
    pairs = enumerate(zip(tx_ids, outcomes, strict=True))
    return [o.receipt(vid, height, i) for i, (vid, o) in pairs]


ARRAY_HEADER_BYTES_MAX = 5  # a msgpack array's header: 1, 3 or 5 bytes


def array_length(table: str, key: object, head: object) -> int:
    """The element count in the header of a msgpack array (fixarray, array 16, array 32)."""
    if not isinstance(head, bytes) or not head:
        raise CorruptStoreError(table, key, f"expected a msgpack array, found {head!r:.20}")
    first = head[0]
    if 0x90 <= first <= 0x9F:
        return first & 0x0F
    size = {0xDC: 2, 0xDD: 4}.get(first)
    if size is None or len(head) < 1 + size:
        raise CorruptStoreError(table, key, f"expected a msgpack array, found {head!r:.20}")
    return int.from_bytes(head[1 : 1 + size], "big")


def check_receipts(height: int, receipts: list[Receipt], root: bytes, count: int) -> None:
    """count receipts whose Merkle root is root, or CorruptStoreError naming the height."""
    if len(receipts) != count:
        raise CorruptStoreError("executed", f"height {height}", f"{len(receipts)} for {count}")
    fault = receipts_fault(height, receipts, root)
    if fault is not None:
        raise CorruptStoreError("executed", f"height {height}", fault)
