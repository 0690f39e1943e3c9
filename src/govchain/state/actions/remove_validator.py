"""remove-validator PUBLIC_KEY: remove a validator."""

from __future__ import annotations

from govchain.crypto.keys import PUBLIC_KEY_BYTES
from govchain.state.args import CliOptions, Examples
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, NodeDocs, no_op

from .validators import change, key_arg, subject


class RemoveValidator(ActionArgs, frozen=True, tag="remove-validator"):
    """Remove a validator."""

    public_key: bytes


def _check(a: RemoveValidator, _params: Params) -> str | None:
    return None if len(a.public_key) == PUBLIC_KEY_BYTES else "public_key is 32 bytes"


def _enact(a: RemoveValidator, _p: Proposal, height: int, st: Stores) -> Effect:
    if st.validators.weight_of(a.public_key) is None:
        return no_op("not a validator")
    return change(st, a.public_key, None, height)


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> RemoveValidator:
    return RemoveValidator(key_arg(args))


def _example(ex: Examples) -> RemoveValidator:
    return RemoveValidator(ex.public_key)  # no validator's key: a no-op, the set stays


def _preview(a: RemoveValidator, docs: NodeDocs, _emergency: bool) -> str | None:
    """Why removing a.public_key would change nothing now, or None."""
    validators = docs.status().get("validators") or []
    return None if a.public_key.hex() in validators else "not a validator"


SPEC = ActionSpec(
    args=RemoveValidator,
    cli_args=("PUBLIC_KEY",),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: subject(a.public_key),
    enact=_enact,
    example=_example,
    doc=ActionDoc("public key", "length", "removes it; certifies from h + 2"),
    preview=_preview,
)
