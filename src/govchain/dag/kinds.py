"""Transaction kinds: the names a header's kind field may take, defined once.

A `Kind` is a `StrEnum`, so a member equals (and hashes as) its string: the
wire, the store and every decoded header keep carrying plain strings, and a
decoded `body.kind` compares equal to `Kind.TRANSFER` without a conversion.
Execution (state/ledger.py) gives each kind its meaning; admission only knows
the names.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What a transaction asks execution to do."""

    TRANSFER = "transfer"
    RECORD = "record"
    GOV_PROPOSE = "gov.propose"
    GOV_VOTE = "gov.vote"
    SERVICE_REGISTER = "service.register"
    IDENTITY_SET = "identity.set"


# Admission's membership test runs on every transaction: plain strings, as
# decoded headers carry them, keep it the exact-str fast path.
KINDS = frozenset(k.value for k in Kind)
# The committee's kinds: they pass freezes and tier limits, so governance can act.
GOV_KINDS = frozenset({Kind.GOV_PROPOSE.value, Kind.GOV_VOTE.value})
# Kinds a permission may restrict: governance kinds stay with the committee.
PERMISSION_KINDS = (Kind.TRANSFER, Kind.RECORD, Kind.SERVICE_REGISTER, Kind.IDENTITY_SET)
