"""unfreeze-amount ADDRESS AMOUNT: lift AMOUNT of an address's liens, newest first."""

from __future__ import annotations

from govchain.crypto.keys import ADDRESS_BYTES
from govchain.state.args import CliOptions, Examples, amount_arg, hex_arg
from govchain.state.context import Stores
from govchain.state.funds import AUDIT_LIEN_LIFTED, NAMESPACE, Funds, case_id_error
from govchain.state.genesis import SUPPLY_MAX
from govchain.state.governance import Proposal
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, no_op

from .targets import address_error, address_subject


class UnfreezeAmount(ActionArgs, frozen=True, tag="unfreeze-amount"):
    """Lift amount of address's liens, newest first (a lien may be lifted in part)."""

    address: bytes
    amount: int
    case: str = ""


def _check(a: UnfreezeAmount, _params: Params) -> str | None:
    if not 1 <= a.amount <= SUPPLY_MAX:
        return "amount must be a positive integer within the supply"
    return address_error(a.address) or case_id_error(a.case, optional=True)


def _enact(a: UnfreezeAmount, _p: Proposal, height: int, st: Stores) -> Effect:
    funds = st.namespace(NAMESPACE, Funds)
    frozen = funds.frozen(a.address)
    case = f" (case {a.case})" if a.case else ""
    if frozen == 0:
        return no_op(f"no lien is in force on the address{case}")
    if a.amount > frozen:
        return no_op(f"the amount {a.amount} is above the liens in force {frozen}{case}")
    # A lift that ends a lien in part keeps its remainder as one more record.
    room = funds.lien_room(a.address) if funds.lift_splits(a.address, a.amount) else None
    if room is not None:
        return no_op(f"{room}: lift whole liens only{case}")
    lifted = funds.lift(a.address, a.amount, height)
    left = frozen - a.amount
    by = ", ".join(lifted)
    return Effect(
        AUDIT_LIEN_LIFTED, f"lifted {a.amount} of the liens of {by}; {left} stays frozen{case}"
    )


def _from_cli(args: tuple[str, ...], opts: CliOptions) -> UnfreezeAmount:
    address, amount = args
    return UnfreezeAmount(
        hex_arg(address, ADDRESS_BYTES, "address"), amount_arg(amount), opts.case or ""
    )


def _example(ex: Examples) -> UnfreezeAmount:
    return UnfreezeAmount(ex.address, 1, "sim-example")


SPEC = ActionSpec(
    args=UnfreezeAmount,
    cli_args=("ADDRESS", "AMOUNT"),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: address_subject(a.address),
    enact=_enact,
    example=_example,
    cli_options=frozenset({"case"}),
    doc=ActionDoc(
        "address, amount, case id or none",
        "lengths, amount within the supply, case id",
        "lifts that much of the liens in force, newest first; more than in force: no-op",
    ),
)
