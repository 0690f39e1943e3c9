"""add-validator PUBLIC_KEY [--weight N]: add a validator, or set a member's weight."""

from __future__ import annotations

from govchain.consensus.validators import WEIGHT_MAX
from govchain.crypto.keys import PUBLIC_KEY_BYTES, point_on_curve
from govchain.state.args import ArgError, CliOptions
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, no_op

from .validators import change, key_arg, subject

WEIGHT_DEFAULT = 1


class AddValidator(ActionArgs, frozen=True, tag="add-validator"):
    """Add a validator, or set an existing one's weight."""

    public_key: bytes
    weight: int = WEIGHT_DEFAULT


def _check(a: AddValidator, _params: Params) -> str | None:
    if len(a.public_key) != PUBLIC_KEY_BYTES or not point_on_curve(a.public_key):
        return "public_key must be an acceptable Ed25519 public key"
    return None if 1 <= a.weight <= WEIGHT_MAX else f"weight must lie in 1..{WEIGHT_MAX}"


def _enact(a: AddValidator, _p: Proposal, height: int, st: Stores) -> Effect:
    old = st.validators.weight_of(a.public_key)
    if old == a.weight:
        return no_op(f"already a validator of weight {old}")
    return change(st, a.public_key, a.weight, height)


def _from_cli(args: tuple[str, ...], opts: CliOptions) -> AddValidator:
    key = key_arg(args)
    if opts.weight is not None and opts.weight < 1:
        raise ArgError("bad_weight", "--weight must be a positive integer")
    return AddValidator(key, WEIGHT_DEFAULT if opts.weight is None else opts.weight)


SPEC = ActionSpec(
    args=AddValidator,
    cli_args=("PUBLIC_KEY",),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: subject(a.public_key),
    enact=_enact,
    cli_options=frozenset({"weight"}),
    doc=ActionDoc(
        "public key, weight (default 1)",
        "acceptable key, weight 1..1,000,000",
        "adds it, or sets an existing member's weight; certifies from h + 2",
    ),
)
