"""Redactions: which final records governance ordered deleted, and the record index.

The ledger remembers the id of every final record (any status), because
`redact` may only target one; an id is 32 bytes, as the DAG already keeps for
every final vertex. A redaction changes no balance and no receipt: execution
only reports the ids (Executed.redacted) so that the node deletes the payload
bytes in the same atomic commit.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Redaction(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Who ordered a record's payload deleted, and at the end of which height."""

    proposal: str
    height: int


class Redactions:
    """The record index and the redactions (pure)."""

    def __init__(self) -> None:
        self.records: set[bytes] = set()
        self.by_tx: dict[bytes, Redaction] = {}
        self._new_records: list[bytes] = []
        self._new_redactions: list[bytes] = []

    def add_record(self, tx_id: bytes) -> None:
        """A record became final (executed, rejected or held)."""
        self.records.add(tx_id)
        self._new_records.append(tx_id)

    def get(self, tx_id: bytes) -> Redaction | None:
        """The redaction of a record, or None."""
        return self.by_tx.get(tx_id)

    def redact(self, tx_id: bytes, proposal_id: str, height: int) -> str | None:
        """Mark a final record redacted; returns why not when it cannot be."""
        if tx_id not in self.records:
            return "not a final record"
        done = self.by_tx.get(tx_id)
        if done is not None:
            return f"already redacted by proposal {done.proposal}"
        self.by_tx[tx_id] = Redaction(proposal_id, height)
        self._new_redactions.append(tx_id)
        return None

    def take_redacted(self) -> list[bytes]:
        """Ids redacted this height, in the order decided: their payloads must go."""
        return list(self._new_redactions)

    def writes(self) -> list[Any]:
        """This height's new records (final order) and redactions (state hash)."""
        if not self._new_records and not self._new_redactions:
            return []
        out = [self._new_records, [[t, self.by_tx[t]] for t in self._new_redactions]]
        self._new_records = []
        self._new_redactions = []
        return out
