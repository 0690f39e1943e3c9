"""gov.propose: a committee member proposes an action (the registry's) with reason and evidence."""

from __future__ import annotations

import msgspec

from govchain.codec import HASH_BYTES, encode
from govchain.dag.kinds import Kind
from govchain.dag.tx import Transaction
from govchain.state.accounts import Account
from govchain.state.governance import REASON_BYTES_MAX, Opened
from govchain.state.payload_base import ActionArgs, Payload
from govchain.state.receipts import Outcome, Reason, rejected
from govchain.state.registry import KindSpec, TxContext


class ProposePayload(Payload, frozen=True):
    """A proposal: the action with its arguments, why, evidence, and whether urgent.

    The registry decodes it over its actions (`Registry.propose_decoder`);
    this class builds and encodes one.
    """

    action: ActionArgs
    reason: str
    evidence: bytes  # a 32-byte hash of the evidence, or empty
    emergency: bool = False


def run(ctx: TxContext, tx: Transaction, proposer: bytes, _acct: Account) -> Outcome | None:
    """Open a proposal; None when it was created."""
    gov = ctx.stores.governance
    weight = gov.members.get(tx.body.sender)
    if weight is None:
        return rejected(Reason.NOT_AUTHORIZED)
    registry = ctx.registry
    try:
        payload = registry.propose_decoder().decode(tx.payload)
    except msgspec.ValidationError:
        # Well-formed msgpack that does not fit: an unknown action, an
        # argument of the wrong type, a content rule out of its bounds.
        return rejected(Reason.BAD_ARGUMENT)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return rejected(Reason.MALFORMED_PAYLOAD)
    if encode(payload) != tx.payload:
        return rejected(Reason.MALFORMED_PAYLOAD)  # only the canonical encoding counts
    action: ActionArgs = payload.action
    if payload.emergency and not registry.emergency_allowed(action):
        return rejected(Reason.EMERGENCY_NOT_ALLOWED)
    if (
        not 1 <= len(payload.reason.encode()) <= REASON_BYTES_MAX
        or len(payload.evidence) not in (0, HASH_BYTES)
        or registry.argument_error(action, ctx.stores.params) is not None
    ):
        return rejected(Reason.BAD_ARGUMENT)
    if gov.is_full():
        return rejected(Reason.LIMIT_REACHED)
    opened = Opened(
        action, registry.subject_of(action), payload.reason, payload.evidence, payload.emergency
    )
    for note in gov.propose(tx.id.hex(), proposer, weight, opened, ctx.height):
        ctx.audit.note(ctx.height, note)
    return None


SPEC = KindSpec(
    kind=Kind.GOV_PROPOSE,
    payload=ProposePayload,
    run=run,
    doc_payload="`ProposePayload(action, reason, evidence, emergency)`",
    doc_who="committee members",
    committee=True,
    restrictable=False,
)
