"""What add-validator and remove-validator share: a change to the validator schedule."""

from __future__ import annotations

from govchain.crypto.keys import PUBLIC_KEY_BYTES
from govchain.state.args import hex_arg, only
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.registry import Effect, no_op
from govchain.state.schedule import VALIDATOR_SUBJECT_PREFIX, VALSET_DELAY_HEIGHTS, change_entry


def change(st: Stores, public_key: bytes, weight: int | None, height: int) -> Effect:
    """Schedule a member's new weight (None: removal) from height + VALSET_DELAY_HEIGHTS."""
    try:
        done = st.validators.change(public_key, weight, height + VALSET_DELAY_HEIGHTS)
    except ValueError as exc:
        return no_op(f"the validator set would be invalid: {exc}")
    return Effect(AuditKind.VALIDATOR_CHANGE, change_entry(done).reason)


def subject(public_key: bytes) -> str:
    """A validator as audit entries name it."""
    return f"{VALIDATOR_SUBJECT_PREFIX}{public_key.hex()}"


def key_arg(args: tuple[str, ...]) -> bytes:
    """The PUBLIC_KEY of a validator action."""
    return hex_arg(only(args), PUBLIC_KEY_BYTES, "public_key")
