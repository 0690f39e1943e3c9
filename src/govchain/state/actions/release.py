"""release TX_ID: execute a held transaction."""

from __future__ import annotations

from govchain.state.args import CliOptions
from govchain.state.audit import AuditKind
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.holds import Resolution
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs
from govchain.state.receipts import Status
from govchain.state.registry import ActionDoc, ActionSpec, Effect, NodeDocs

from .targets import hold_preview, open_hold, tx_id_arg, tx_id_error, tx_subject


class Release(ActionArgs, frozen=True, tag="release"):
    """Execute a held transaction (a transfer's amount goes to its recipient)."""

    tx_id: bytes


def _check(a: Release, _params: Params) -> str | None:
    return tx_id_error(a.tx_id)


def _enact(a: Release, p: Proposal, height: int, st: Stores) -> Effect:
    hold = open_hold(st, a.tx_id)
    if isinstance(hold, Effect):
        return hold
    r = hold.resolution
    if hold.amount:  # credited first: the movement records the balance after it
        st.accounts.credit(hold.to, hold.amount)
    st.holds.resolve(a.tx_id, Resolution(Status.EXECUTED.value, height, p.id), st.accounts)
    if r is not None:
        return Effect(
            AuditKind.RELEASE, f"executed, overriding emergency interception {r.proposal}"
        )
    return Effect(AuditKind.RELEASE, "executed")


def _preview(a: Release, docs: NodeDocs, emergency: bool) -> str | None:
    return hold_preview(docs, a.tx_id, emergency)


def _from_cli(args: tuple[str, ...], _opts: CliOptions) -> Release:
    return Release(tx_id_arg(args))


SPEC = ActionSpec(
    args=Release,
    cli_args=("TX_ID",),
    from_cli=_from_cli,
    check=_check,
    subject=lambda a: tx_subject(a.tx_id),
    enact=_enact,
    preview=_preview,
    doc=ActionDoc(
        "tx id", "length", "a held transaction executes; a transfer's amount goes to the recipient"
    ),
)
