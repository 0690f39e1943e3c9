"""The narrow state interface that transaction kinds and governance actions act on.

`Stores` holds one object per namespace of state, each with its own small
write API and its own record of what changed (for the state hash). A kind or
an action receives these, never the `Ledger`: it cannot touch the height, the
hashes or another part's bookkeeping, and it cannot write the audit log (an
action returns its effect; governance returns notes; the ledger appends).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from govchain.state.accounts import Accounts
from govchain.state.governance import Governance
from govchain.state.holds import Holds
from govchain.state.identities import Identities
from govchain.state.params import Params
from govchain.state.permissions import Permissions
from govchain.state.redactions import Redactions
from govchain.state.rulebook import RuleBook
from govchain.state.schedule import Schedule
from govchain.state.services import Services


@runtime_checkable
class Namespace(Protocol):
    """An application's (or an extension action's) own state, committed into the state root."""

    def writes(self) -> Any:
        """What changed this height, for the state hash; None when nothing did."""

    def status(self) -> dict[str, Any]:
        """Facts `govchain status` shows (name -> JSON value); empty for none."""


# A namespace whose fields can change at a height without writes() naming it
# (a height hook's scratch, say) also defines unwritten_change() -> bool, true
# once after such a height: the ledger's image then walks it afresh instead of
# reusing its cached bytes (state/ledger_image.py; the warehouse's offline heap).


N = TypeVar("N", bound=Namespace)


@dataclass(slots=True)
class Stores:
    """Every part of execution state, by namespace."""

    accounts: Accounts
    identities: Identities
    services: Services
    holds: Holds
    redactions: Redactions
    rules: RuleBook
    params: Params
    permissions: Permissions
    validators: Schedule
    governance: Governance
    extensions: dict[str, Namespace] = field(default_factory=dict)

    def namespace(self, name: str, cls: type[N]) -> N:
        """A registered namespace, as the type its module made it."""
        ns = self.extensions[name]
        if not isinstance(ns, cls):
            raise TypeError(f"namespace {name!r} is a {type(ns).__name__}, not a {cls.__name__}")
        return ns
