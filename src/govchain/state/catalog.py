"""The built-in kinds and actions, in the order the CLI and the docs list them.

Adding an action: write its module in state/actions/ and name it here. The
codec, the CLI's action list, the docs table and the simulator's script follow.
"""

from __future__ import annotations

from govchain.state.actions import (
    add_filter,
    add_validator,
    freeze_amount,
    freeze_identity,
    grant_role,
    intercept,
    redact,
    release,
    remove_filter,
    remove_validator,
    resume_service,
    revoke_role,
    set_filing_number,
    set_param,
    set_permission,
    suspend_service,
    unfreeze_amount,
    unfreeze_identity,
    unwatch,
    watch,
)
from govchain.state.kinds import (
    gov_propose,
    gov_vote,
    identity_set,
    record,
    report_handle,
    service_register,
    transfer,
)
from govchain.state.registry import Registry

KIND_MODULES = (
    transfer,
    record,
    service_register,
    identity_set,
    gov_propose,
    gov_vote,
    report_handle,  # the complaint channel (issue 15): a committee member handles a report
)
ACTION_MODULES = (
    freeze_identity,
    unfreeze_identity,
    intercept,
    release,
    redact,
    suspend_service,
    resume_service,
    add_filter,
    remove_filter,
    add_validator,
    remove_validator,
    set_param,
    grant_role,
    revoke_role,
    set_permission,
    set_filing_number,
    # Fund tracing (issue 13); freeze-amount registers their namespace, state/funds.py.
    freeze_amount,
    unfreeze_amount,
    watch,
    unwatch,
)


def builtin() -> Registry:
    """A new registry holding every built-in kind and action (add an application's to it)."""
    r = Registry()
    for k in KIND_MODULES:
        r.add_kind(k.SPEC)
    for a in ACTION_MODULES:
        r.add_action(a.SPEC)
    return r


# The chain's registry when nothing else is named: every built-in, no application.
BUILTIN = builtin()
