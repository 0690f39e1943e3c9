"""The audit log: append-only entries chained by SHA-256, its head committed in checkpoints.

entry_hash = digest(AUDIT_DOMAIN, encode(entry)); each entry's `prev` is the
previous entry's hash (AUDIT_EMPTY before the first), and the head after an
entry is its hash. Checkpoint h+1 carries the head after executing height h,
so an exported range can be checked offline against certified checkpoints
(verify_chain): any edited, dropped, inserted or reordered entry shows.

Typed entries: on a chain whose genesis sets `typed_audit`, a validator_change
entry also carries the change as data (`change`, a ValidatorChange) next to
its text, and the hash covers it. An entry without it hashes exactly as
entries always have: the nine fields, nothing after them (AuditEntry.canonical).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import NamedTuple

import msgspec

from govchain.codec import digest, encode
from govchain.state.schedule import ValidatorChange, change_of

AUDIT_DOMAIN = b"govchain:audit:v1:"
AUDIT_EMPTY = digest(AUDIT_DOMAIN, b"")
AUDIT_TEXT_BYTES_MAX = 2_048  # subject and reason, each


class AuditKind(StrEnum):
    """What an entry records."""

    PROPOSAL = "proposal"
    VOTE = "vote"
    PROPOSAL_REJECTED = "proposal_rejected"
    EXPIRY = "expiry"
    EMERGENCY = "emergency"
    LAPSE = "lapse"
    NO_OP = "no_op"  # a passed proposal whose target was invalid at enactment
    # Enactments, one kind per effect.
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    INTERCEPTION = "interception"
    RELEASE = "release"
    REDACTION = "redaction"
    SERVICE_SUSPENSION = "service_suspension"
    SERVICE_RESUMPTION = "service_resumption"
    FILTER_ADDED = "filter_added"
    FILTER_REMOVED = "filter_removed"
    VALIDATOR_CHANGE = "validator_change"
    PARAM_SET = "param_set"
    ROLE_GRANTED = "role_granted"
    ROLE_REVOKED = "role_revoked"
    PERMISSION_SET = "permission_set"
    # Enforcement on transactions.
    REJECTION_BY_RULE = "rejection_by_rule"
    REJECTION_BY_DECISION = "rejection_by_decision"
    HOLD = "hold"
    # An issuer registered, updated or revoked an identity.
    IDENTITY = "identity"


class AuditEntry(
    msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True, omit_defaults=True
):
    """One entry. subject reads "address:<hex>", "tx:<hex>", "rule:<id>", "service:<id>",
    "proposal:<id>", "validator:<hex>", "param:<name>" or "" (none).

    change: the typed form of a validator_change entry on a typed_audit chain,
    None otherwise. msgspec (0.22, issue #720) still writes a trailing None
    of an array_like struct as nil despite omit_defaults, so the hash does not
    rest on encode(self): it covers `canonical`, which leaves the field out
    when it is None. Stored and sent entries decode with or without it.
    """

    seq: int
    height: int
    kind: str
    actor: bytes  # the address that acted; b"" when the chain itself did (expiry, lapse)
    subject: str
    proposal: str  # the proposal id (hex) behind it, or ""
    reason: str
    evidence: bytes  # 32 bytes or empty
    prev: bytes
    change: ValidatorChange | None = None

    @property
    def canonical(self) -> bytes:
        """The bytes the hash covers: an untyped entry's are its nine fields, as always."""
        if self.change is None:
            return encode(msgspec.structs.astuple(self)[:-1])
        return encode(self)

    @property
    def hash(self) -> bytes:
        """This entry's hash: the head once it is appended."""
        return digest(AUDIT_DOMAIN, self.canonical)


class AuditNote(NamedTuple):
    """An entry still to be appended: what a part of execution hands the one writer."""

    kind: str  # an AuditKind, or an application's kind
    actor: bytes
    subject: str
    proposal: str = ""
    reason: str = ""
    evidence: bytes = b""


def _clip(text: str) -> str:
    """Bound a text field to AUDIT_TEXT_BYTES_MAX bytes of UTF-8 (whole characters)."""
    raw = text.encode()
    if len(raw) <= AUDIT_TEXT_BYTES_MAX:
        return text
    return raw[:AUDIT_TEXT_BYTES_MAX].decode("utf-8", "ignore")


class AuditLog:
    """The ledger's end of the log: the head, the next seq, and this height's entries.

    History lives in the node's store (from Executed.audit); the ledger keeps
    only what it needs to extend the chain. typed_changes (the genesis's
    typed_audit): validator_change entries carry their change as data too.
    """

    def __init__(self, typed_changes: bool = False) -> None:
        self.typed_changes = typed_changes
        self.head = AUDIT_EMPTY
        self.next_seq = 0
        self.pending: list[AuditEntry] = []

    def append(
        self,
        height: int,
        kind: str,
        actor: bytes,
        subject: str,
        proposal: str = "",
        reason: str = "",
        evidence: bytes = b"",
    ) -> AuditEntry:
        """Append one entry and move the head (kind: an AuditKind or an application's)."""
        subject, reason = _clip(subject), _clip(reason)
        change = None
        if self.typed_changes and kind == AuditKind.VALIDATOR_CHANGE:
            # The action wrote the text from the change (schedule.change_entry),
            # and change_of reads only that one spelling back: text and data agree.
            change = change_of(subject, reason)
            if change is None:
                raise AssertionError(f"a validator change written as {subject!r}, {reason!r}")
        entry = AuditEntry(
            self.next_seq,
            height,
            str(kind),
            actor,
            subject,
            proposal,
            reason,
            evidence,
            self.head,
            change,
        )
        self.head = entry.hash
        self.next_seq += 1
        self.pending.append(entry)
        return entry

    def note(self, height: int, n: AuditNote) -> AuditEntry:
        """Append a note handed over by governance or an action."""
        return self.append(height, n.kind, n.actor, n.subject, n.proposal, n.reason, n.evidence)

    def take(self) -> list[AuditEntry]:
        """This height's entries (and forget them: the store keeps history)."""
        out, self.pending = self.pending, []
        return out


def verify_chain(
    entries: Sequence[AuditEntry],
    heads_by_height: Mapping[int, bytes],
    *,
    from_height: int | None = None,
    to_height: int | None = None,
) -> str | None:
    """Check an export offline; returns the first problem found, or None when it holds.

    entries: every entry whose height lies in from_height..to_height (default:
    the first and last entry's heights), in seq order. heads_by_height: height
    h -> the audit head after executing h, as certified checkpoints h+1 carry
    it. Every head given for a height in from_height-1..to_height is checked:
    an edited entry changes its hash, which no longer matches the next entry's
    prev or the certified head.
    """
    if not entries and (from_height is None or to_height is None):
        return None
    lo = from_height if from_height is not None else entries[0].height
    hi = to_height if to_height is not None else entries[-1].height
    for i, e in enumerate(entries):
        if not lo <= e.height <= hi:
            return f"entry seq {e.seq} has height {e.height}, outside {lo}..{hi}"
        if i == 0:
            continue
        before = entries[i - 1]
        if e.seq != before.seq + 1:
            return f"entry seq {e.seq} follows seq {before.seq}: entries are missing or reordered"
        if e.height < before.height:
            return f"entry seq {e.seq} goes back to height {e.height}"
        if e.prev != before.hash:
            return f"entry seq {before.seq} was altered: entry seq {e.seq} does not chain to it"
    # The head after each height: the last entry at or below it, else the start.
    start = entries[0].prev if entries else None
    heads: list[tuple[int, bytes]] = [(e.height, e.hash) for e in entries]
    checked_start: bytes | None = None
    j = 0
    current = start
    for h in sorted(k for k in heads_by_height if lo - 1 <= k <= hi):
        while j < len(heads) and heads[j][0] <= h:
            current = heads[j][1]
            j += 1
        want = heads_by_height[h]
        if current is None:
            # No entries at all: every certified head in the range must be the same.
            checked_start = checked_start or want
            if want != checked_start:
                return f"the certified head changes at height {h} but the export has no entries"
            continue
        if current != want:
            return f"the entries up to height {h} do not hash to the head certified for it"
    return None
