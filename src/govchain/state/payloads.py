"""Payload formats of the kinds that execution understands, gathered for readers.

Every payload is a msgspec array_like struct, decoded canonically
(codec.decode_canonical): one value, one byte string. Each format is defined
in its kind's or action's module (state/kinds/, state/actions/); this module
names them in one place for the SDK, the API and the tests. Governance actions
are a tagged union, so the action name is the first element of the arguments
array: `["freeze-identity", <address>]`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from govchain.state.actions.add_filter import AddFilter
from govchain.state.actions.add_validator import AddValidator
from govchain.state.actions.freeze_identity import FreezeIdentity
from govchain.state.actions.grant_role import GrantRole
from govchain.state.actions.intercept import Intercept
from govchain.state.actions.redact import Redact
from govchain.state.actions.release import Release
from govchain.state.actions.remove_filter import RemoveFilter
from govchain.state.actions.remove_validator import RemoveValidator
from govchain.state.actions.resume_service import ResumeService
from govchain.state.actions.revoke_role import RevokeRole
from govchain.state.actions.set_filing_number import SetFilingNumber
from govchain.state.actions.set_param import SetParam
from govchain.state.actions.set_permission import SetPermission
from govchain.state.actions.suspend_service import SuspendService
from govchain.state.actions.unfreeze_identity import UnfreezeIdentity
from govchain.state.catalog import BUILTIN
from govchain.state.kinds.gov_propose import ProposePayload
from govchain.state.kinds.gov_vote import VOTE_DECODER, VotePayload
from govchain.state.kinds.identity_set import IDENTITY_DECODER, IdentitySetPayload
from govchain.state.kinds.record import RECORD_DECODER, RecordPayload
from govchain.state.kinds.service_register import SERVICE_DECODER, ServiceRegisterPayload
from govchain.state.kinds.transfer import TRANSFER_DECODER, TransferPayload
from govchain.state.payload_base import ActionArgs, Payload, action_name

# Any action's arguments; which ones a chain knows is its registry's to say.
Action = ActionArgs
# The built-in registry's gov.propose decoder: its `.action` is any built-in action.
PROPOSE_DECODER: msgspec.msgpack.Decoder[Any] = BUILTIN.propose_decoder()
EMERGENCY_ACTIONS = tuple(BUILTIN.actions[n].args for n in BUILTIN.emergency_actions)

__all__ = [
    "EMERGENCY_ACTIONS",
    "IDENTITY_DECODER",
    "PROPOSE_DECODER",
    "RECORD_DECODER",
    "SERVICE_DECODER",
    "TRANSFER_DECODER",
    "VOTE_DECODER",
    "Action",
    "AddFilter",
    "AddValidator",
    "FreezeIdentity",
    "GrantRole",
    "IdentitySetPayload",
    "Intercept",
    "Payload",
    "ProposePayload",
    "RecordPayload",
    "Redact",
    "Release",
    "RemoveFilter",
    "RemoveValidator",
    "ResumeService",
    "RevokeRole",
    "ServiceRegisterPayload",
    "SetFilingNumber",
    "SetParam",
    "SetPermission",
    "SuspendService",
    "TransferPayload",
    "UnfreezeIdentity",
    "VotePayload",
    "action_name",
]
