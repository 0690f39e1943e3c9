"""Transaction kinds: the names a header's kind field may take, defined once.

A `Kind` is a `StrEnum`, so a member equals (and hashes as) its string: the
wire, the store and every decoded header keep carrying plain strings, and a
decoded `body.kind` compares equal to `Kind.TRANSFER` without a conversion.
Execution gives each kind its meaning (a `KindSpec` in the registry, one
module per kind in state/kinds/); admission only knows the names, and takes
them from `DagLimits.kinds`: these built-in ones, or the registry's when the
node runs an application (`Registry.dag_limits`), so dag/ imports nothing of
state/. Which kinds the committee's senders pass freezes with, and which
set-permission may restrict, are the registry's (`KindSpec.committee`,
`KindSpec.restrictable`).
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


# The built-in kinds, the default of DagLimits.kinds. Admission's membership
# test runs on every transaction: plain strings, as decoded headers carry them,
# keep it the exact-str fast path.
KINDS = frozenset(k.value for k in Kind)
