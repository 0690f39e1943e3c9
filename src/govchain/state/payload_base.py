"""The base of every payload format, and of governance actions' arguments.

A leaf module: the kind and action modules define their payloads on these
bases, and `state/payloads.py` gathers them for readers.
"""

from __future__ import annotations

import msgspec


class Payload(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Base of every payload format: a canonical msgpack array."""


class ActionArgs(Payload, frozen=True):
    """Base of a governance action's arguments; each subclass sets its tag, the action name.

    Actions form a tagged union, so the action name is the first element of
    the arguments array: `["freeze-identity", <address>]`.
    """


def action_name(action: ActionArgs) -> str:
    """The contract's name of an action ("freeze-identity", ...)."""
    tag = action.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{type(action).__name__} is not a registered action (no tag)")
    return tag
