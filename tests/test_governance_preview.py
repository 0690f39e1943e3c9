"""Each action's preview (ActionSpec.preview): what `gov propose` warns of, read from the
node's documents, in the words of the action's no-op; and the CLI reading a proposal's
action back from its JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from govchain.api.views import action_json
from govchain.cli.gov_effect import NO_EFFECT, action_of, no_effect
from govchain.sdk.errors import SdkError
from govchain.state.actions.freeze_identity import FreezeIdentity
from govchain.state.actions.grant_role import GrantRole
from govchain.state.actions.intercept import Intercept
from govchain.state.actions.redact import Redact
from govchain.state.actions.release import Release
from govchain.state.actions.remove_validator import RemoveValidator
from govchain.state.actions.resume_service import ResumeService
from govchain.state.actions.revoke_role import RevokeRole
from govchain.state.actions.set_param import SetParam
from govchain.state.actions.suspend_service import SuspendService
from govchain.state.actions.unfreeze_identity import UnfreezeIdentity
from govchain.state.catalog import BUILTIN
from govchain.state.payloads import Action

ADDRESS = bytes(range(20))
TX = bytes(range(32))
KEY = bytes(range(1, 33))


@dataclass
class Docs:
    """A node's documents by key; absent: not found (NodeDocs)."""

    identities: dict[bytes, dict[str, Any]] = field(default_factory=dict)
    txs: dict[bytes, dict[str, Any]] = field(default_factory=dict)
    proposals: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    node_status: dict[str, Any] = field(default_factory=dict)

    def identity(self, address: bytes) -> dict[str, Any] | None:
        return self.identities.get(address)

    def tx(self, tx_id: bytes) -> dict[str, Any] | None:
        return self.txs.get(tx_id)

    def proposal(self, proposal_id: str) -> dict[str, Any] | None:
        return self.proposals.get(proposal_id)

    def service(self, service_id: str) -> dict[str, Any] | None:
        return self.services.get(service_id)

    def status(self) -> dict[str, Any]:
        return self.node_status


class Client:
    """Only what no_effect's ClientDocs calls, answered from Docs (None: not_found)."""

    def __init__(self, docs: Docs) -> None:
        self.docs = docs

    def _found(self, doc: dict[str, Any] | None) -> dict[str, Any]:
        if doc is None:
            raise SdkError("not_found", "not found", 404)
        return doc

    def identity(self, address: bytes) -> dict[str, Any]:
        return self._found(self.docs.identity(address))

    def tx(self, tx_id: str) -> dict[str, Any]:
        return self._found(self.docs.tx(bytes.fromhex(tx_id)))

    def proposal(self, proposal_id: str) -> dict[str, Any]:
        return self._found(self.docs.proposal(proposal_id))

    def service(self, service_id: str) -> dict[str, Any]:
        return self._found(self.docs.service(service_id))

    def status(self) -> dict[str, Any]:
        return self.docs.status()


def why(action: Action, docs: Docs, emergency: bool = False) -> str | None:
    """What `gov propose` prints before proposing, without the prefix."""
    said = no_effect(Client(docs), action, emergency)  # type: ignore[arg-type]
    return None if said is None else said.removeprefix(NO_EFFECT)


def frozen(by: str) -> Docs:
    return Docs(identities={ADDRESS: {"frozen": True, "frozen_by": by}})


def test_freezes() -> None:
    assert why(FreezeIdentity(ADDRESS), Docs()) is None
    assert why(FreezeIdentity(ADDRESS), frozen("p1")) == "already frozen by proposal p1"
    # An ordinary freeze takes over an open emergency freeze; another emergency does not.
    urgent = frozen("p1")
    urgent.proposals["p1"] = {"emergency": True, "status": "open"}
    assert why(FreezeIdentity(ADDRESS), urgent) is None
    assert why(FreezeIdentity(ADDRESS), urgent, emergency=True) == "already frozen by proposal p1"
    assert why(UnfreezeIdentity(ADDRESS), Docs()) == "the address is not frozen"
    assert why(UnfreezeIdentity(ADDRESS), frozen("p1")) is None


@pytest.mark.parametrize("kind", [Intercept, Release])
def test_holds(kind: type[Intercept] | type[Release]) -> None:
    a = kind(TX)
    assert why(a, Docs()) == "this node knows no transaction with this id"
    assert why(a, Docs(txs={TX: {"checkpoint": None}})) is None  # may still be held
    assert why(a, Docs(txs={TX: {"checkpoint": 3}})) == "the transaction is not held"
    assert why(a, Docs(txs={TX: {"checkpoint": 3, "held": True}})) is None
    settled = {"status": "rejected", "proposal": "p2", "provisional": False}
    done = Docs(txs={TX: {"checkpoint": 3, "held": True, "resolution": settled}})
    assert why(a, done) == "already rejected by proposal p2"
    provisional = Docs(
        txs={TX: {"checkpoint": 3, "held": True, "resolution": {**settled, "provisional": True}}}
    )
    assert why(a, provisional) is None
    assert why(a, provisional, emergency=True) == "already rejected by proposal p2"


def test_redactions() -> None:
    a = Redact(TX)
    assert why(a, Docs()) == "this node knows no transaction with this id"
    transfer = Docs(txs={TX: {"kind": "transfer"}})
    assert why(a, transfer) == "only records are redacted, and this is a transfer"
    assert why(a, Docs(txs={TX: {"kind": "record"}})) is None
    gone = {"kind": "record", "redacted": True, "redaction": {"proposal": "p3"}}
    assert why(a, Docs(txs={TX: gone})) == "already redacted by proposal p3"
    assert why(a, Docs(txs={TX: {"kind": "record", "redacted": True}})) == "already redacted"


def test_services() -> None:
    assert why(SuspendService("s"), Docs()) == "no service has this id"
    assert why(ResumeService("s"), Docs()) == "no service has this id"
    running = Docs(services={"s": {"suspended_by": None}})
    stopped = Docs(services={"s": {"suspended_by": "p4"}})
    assert why(SuspendService("s"), running) is None
    assert why(SuspendService("s"), stopped) == "already suspended by proposal p4"
    assert why(ResumeService("s"), running) == "the service is not suspended"
    assert why(ResumeService("s"), stopped) is None


def test_roles_and_validators() -> None:
    holder = Docs(identities={ADDRESS: {"roles": ["review"]}})
    assert why(GrantRole(ADDRESS, "review"), holder) == "already holds role review"
    assert why(GrantRole(ADDRESS, "issuer"), holder) is None
    assert why(RevokeRole(ADDRESS, "review"), holder) is None
    assert why(RevokeRole(ADDRESS, "issuer"), Docs()) == "does not hold role issuer"
    assert why(RemoveValidator(KEY), Docs(node_status={"validators": []})) == "not a validator"
    assert why(RemoveValidator(KEY), Docs(node_status={"validators": [KEY.hex()]})) is None


def test_actions_without_a_preview_are_not_checked() -> None:
    assert why(SetParam("proposal_ttl_heights", 100), Docs()) is None
    assert action_of(action_json(SetParam("proposal_ttl_heights", 100))) is None


def test_a_proposals_action_is_read_back_from_its_json() -> None:
    previewed = [
        FreezeIdentity(ADDRESS),
        UnfreezeIdentity(ADDRESS),
        Intercept(TX),
        Release(TX),
        Redact(TX),
        SuspendService("s"),
        ResumeService("s"),
        GrantRole(ADDRESS, "review"),
        RevokeRole(ADDRESS, "review"),
        RemoveValidator(KEY),
    ]
    for a in previewed:
        assert action_of(action_json(a)) == a
    with_preview = {n for n, s in BUILTIN.actions.items() if s.preview is not None}
    assert with_preview == {action_json(a)["name"] for a in previewed}
    # What this version cannot read is not checked.
    assert action_of({"name": "grant-role", "args": {"address": "zz", "role": "r"}}) is None
    assert action_of({"name": "grant-role", "args": {"address": ADDRESS.hex(), "role": 5}}) is None
    assert action_of({"name": "freeze-identity", "args": {}}) is None
    assert action_of({"name": "no-such-action"}) is None


def test_an_emergency_measure_in_force_is_read_by_its_action() -> None:
    assert all(BUILTIN.actions[n].in_force is not None for n in BUILTIN.emergency_actions)
    freeze = BUILTIN.actions["freeze-identity"]
    assert freeze.in_force is not None
    assert freeze.in_force(FreezeIdentity(ADDRESS), "p1", frozen("p1"))
    assert not freeze.in_force(FreezeIdentity(ADDRESS), "p2", frozen("p1"))
    intercept = BUILTIN.actions["intercept"]
    assert intercept.in_force is not None
    mine = {"provisional": True, "proposal": "p1"}
    assert intercept.in_force(Intercept(TX), "p1", Docs(txs={TX: {"resolution": mine}}))
    ratified = {**mine, "provisional": False}
    assert not intercept.in_force(Intercept(TX), "p1", Docs(txs={TX: {"resolution": ratified}}))
    assert not intercept.in_force(Intercept(TX), "p1", Docs())
