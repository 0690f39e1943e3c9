"""The validator schedule: which set certifies which height, and how a change moves it.

Shared by execution (the ledger schedules the changes it enacts) and by offline
verifiers (sdk/valsets.py follows the changes certified in the audit log): one
module, plain types, no execution internals. A change executed at height h
certifies from h + VALSET_DELAY_HEIGHTS on.

A change reaches verifiers as a `validator_change` audit entry. Its typed
form is `ValidatorChange`. On a chain whose genesis sets `typed_audit`, the
entry carries it as data (AuditEntry.change) as well as text; on older chains
only as text. `change_entry` and `change_of` are the one writer and the one
reader of the text (subject "validator:<key hex>", reason), whose bytes are
part of the audit hash chain and so stay as they have always been written.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import msgspec

from govchain.consensus.validators import ValidatorSet

# A validator-set change executed at height h certifies heights from h + this.
VALSET_DELAY_HEIGHTS = 2
VALIDATOR_SUBJECT_PREFIX = "validator:"
_REASON = re.compile(
    r"(?:added with weight (\d+)|weight (\d+) -> (\d+)|removed); certifies from height (\d+)"
)


class Scheduled(NamedTuple):
    """A set and the first height it certifies (encodes as [start, set])."""

    start: int
    valset: ValidatorSet


class ValidatorChange(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """One member's change and the first height it certifies.

    new_weight None: removed. old_weight: the weight before a reweighing;
    None for an addition, and for a removal (its entry does not carry it).
    Encodes as [public_key, old_weight, new_weight, certifies_from]: the typed
    part of a validator_change audit entry, under the audit hash.
    """

    public_key: bytes
    old_weight: int | None
    new_weight: int | None
    certifies_from: int


class ChangeText(NamedTuple):
    """A change as an audit entry carries it."""

    subject: str
    reason: str


def change_entry(change: ValidatorChange) -> ChangeText:
    """The subject and reason text of a validator_change audit entry."""
    old, new = change.old_weight, change.new_weight
    if new is None:
        text = "removed"
    elif old is None:
        text = f"added with weight {new}"
    else:
        text = f"weight {old} -> {new}"
    subject = f"{VALIDATOR_SUBJECT_PREFIX}{change.public_key.hex()}"
    return ChangeText(subject, f"{text}; certifies from height {change.certifies_from}")


def change_of(subject: str, reason: str) -> ValidatorChange | None:
    """The change a validator_change entry's subject and reason carry, or None if unreadable."""
    m = _REASON.fullmatch(reason)
    if m is None or not subject.startswith(VALIDATOR_SUBJECT_PREFIX):
        return None
    try:
        key = bytes.fromhex(subject.removeprefix(VALIDATOR_SUBJECT_PREFIX))
    except ValueError:
        return None
    added, before, after, start = m.groups()
    if added is not None:
        old, new = None, int(added)
    elif after is not None:
        old, new = int(before), int(after)
    else:
        old, new = None, None
    change = ValidatorChange(key, old, new, int(start))
    # Only the one canonical spelling counts (no leading zeros, no variants).
    return change if change_entry(change) == ChangeText(subject, reason) else None


class Schedule:
    """The sets in force, (first height, set) ascending by height."""

    def __init__(self, first: Scheduled) -> None:
        self.sets: list[Scheduled] = [first]

    @property
    def latest(self) -> ValidatorSet:
        """The last set scheduled: the one later changes start from."""
        return self.sets[-1].valset

    def at(self, height: int) -> ValidatorSet:
        """The set certifying height (the first one for heights before it)."""
        chosen = self.sets[0].valset
        for start, vs in self.sets:
            if start <= height:
                chosen = vs
        return chosen

    def change(self, public_key: bytes, weight: int | None, start: int) -> ValidatorChange:
        """Set a member's weight (None: remove it) in a new set certifying from start.

        ValueError when the result is not a valid set (ValidatorSet.of's words);
        the schedule is then unchanged.
        """
        weights = {m.public_key: m.weight for m in self.latest.members}
        old = weights.get(public_key)
        if weight is None:
            weights.pop(public_key, None)
        else:
            weights[public_key] = weight
        new = ValidatorSet.of(weights)
        self.sets = [s for s in self.sets if s.start < start] + [Scheduled(start, new)]
        return ValidatorChange(public_key, None if weight is None else old, weight, start)

    def follows(self, change: ValidatorChange) -> bool:
        """True when change could have been made from the latest set (the ledger's rule)."""
        old = self.weight_of(change.public_key)
        if change.new_weight is None:
            return old is not None
        return old == change.old_weight and old != change.new_weight

    def weight_of(self, public_key: bytes) -> int | None:
        """A member's weight in the latest set (None: not a member)."""
        for m in self.latest.members:
            if m.public_key == public_key:
                return m.weight
        return None
