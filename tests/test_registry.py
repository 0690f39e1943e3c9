"""The registry: what derives from it, and how an application plugs in a kind, action, namespace."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import msgspec
import pytest

from conftest import SimCluster, receipt_of
from govchain.apps import catalog as apps_catalog
from govchain.cli.gov_args import ACTIONS
from govchain.codec import DecodeError, decode_canonical, encode
from govchain.crypto.keys import SigningKey
from govchain.dag.admission import AdmissionError, Reject
from govchain.dag.tx import Transaction, build
from govchain.sim.governor import Governor
from govchain.sim.workload import Client, Workload
from govchain.state import catalog, docs_tables
from govchain.state.accounts import Account
from govchain.state.actions.freeze_amount import FreezeAmount
from govchain.state.actions.set_permission import SetPermission
from govchain.state.actions.watch import WatchAccounts
from govchain.state.args import CliOptions, Examples, only
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.kinds.record import RecordPayload
from govchain.state.ledger import Ledger
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs, Payload
from govchain.state.payloads import EMERGENCY_ACTIONS, PROPOSE_DECODER, FreezeIdentity, Intercept
from govchain.state.receipts import Outcome, Reason, rejected
from govchain.state.registry import ActionDoc, ActionSpec, Effect, KindSpec, Registry, TxContext
from ledgerkit import ALICE, R0, R1, Chain, genesis, outcomes
from test_replica import CONFIG as REPLICA_CONFIG
from test_replica import GENESIS as REPLICA_GENESIS
from test_replica import STAMP_BITS, VALIDATORS

DOCS = Path(__file__).resolve().parent.parent / "docs" / "governance.md"


def test_the_docs_tables_are_the_registrys() -> None:
    text = DOCS.read_text()
    assert docs_tables.regenerate(text) == text, (
        "docs/governance.md differs from the registry: run "
        "python -m govchain.state.docs_tables docs/governance.md"
    )
    for name in catalog.BUILTIN.actions:
        assert f"| `{name}` |" in text


def test_cli_codec_and_emergency_list_derive_from_the_registry() -> None:
    # The CLI parses every application's actions too (a node refuses those its chain lacks).
    assert {n: s.cli_args for n, s in apps_catalog.ALL.actions.items()} == ACTIONS
    assert set(catalog.BUILTIN.actions) <= set(ACTIONS)
    assert (FreezeIdentity, Intercept, FreezeAmount, WatchAccounts) == EMERGENCY_ACTIONS
    for spec in catalog.BUILTIN.actions.values():
        assert spec.args in PROPOSE_DECODER.type.__annotations__["action"].__args__


def test_a_name_is_registered_once() -> None:
    r = catalog.builtin()
    with pytest.raises(ValueError, match="registered already"):
        r.add_action(catalog.ACTION_MODULES[0].SPEC)
    with pytest.raises(ValueError, match="registered already"):
        r.add_kind(catalog.KIND_MODULES[0].SPEC)


# -- an application: a tally of notes, its own kind, action and namespace ----------
TALLY = "tally"
NOTE_KIND = "tally.note"


class Tally:
    """The application's namespace: notes counted, and a cap set by governance."""

    def __init__(self) -> None:
        self.count = 0
        self.cap = 2
        self._changed = False

    def writes(self) -> list[int] | None:
        if not self._changed:
            return None
        self._changed = False
        return [self.count, self.cap]

    def status(self) -> dict[str, Any]:
        return {"tally": self.count}


class NotePayload(Payload, frozen=True):
    text: str


class SetCap(ActionArgs, frozen=True, tag="tally-set-cap"):
    cap: int


def _note(ctx: TxContext, tx: Transaction, _sender: bytes, _acct: Account) -> Outcome | None:
    try:
        decode_canonical(tx.payload, NOTE_DECODER)
    except DecodeError:
        return rejected(Reason.MALFORMED_PAYLOAD)
    tally = ctx.stores.namespace(TALLY, Tally)
    if tally.count >= tally.cap:
        return rejected(Reason.LIMIT_REACHED)
    tally.count += 1
    tally._changed = True
    return None


def _set_cap(a: SetCap, _p: Proposal, _height: int, st: Stores) -> Effect:
    tally = st.namespace(TALLY, Tally)
    tally.cap = a.cap
    tally._changed = True
    return Effect("tally_cap_set", f"cap {a.cap}")


NOTE_DECODER = msgspec.msgpack.Decoder(NotePayload)
NOTE_SPEC = KindSpec(NOTE_KIND, NotePayload, _note, "`NotePayload(text)`", "anyone")
CAP_SPEC = ActionSpec(
    args=SetCap,
    cli_args=("CAP",),
    from_cli=lambda args, _o: SetCap(int(only(args))),
    check=lambda a, _params: None if 0 <= a.cap <= 100 else "cap must lie in 0..100",
    subject=lambda _a: "tally:",
    enact=_set_cap,
    doc=ActionDoc("cap", "0..100", "sets the cap"),
    example=lambda _ex: SetCap(3),
    namespace=(TALLY, lambda _genesis: Tally()),
)


def _app_registry() -> Registry:
    registry = catalog.builtin()
    registry.add_kind(NOTE_SPEC)
    registry.add_action(CAP_SPEC)
    return registry


def _app_chain() -> Chain:
    chain = Chain()
    chain.ledger = Ledger(genesis(), _app_registry())
    return chain


def test_an_application_registers_a_kind_an_action_and_a_namespace() -> None:
    chain = _app_chain()
    notes = [chain.tx(ALICE, NOTE_KIND, NotePayload(f"n{i}")) for i in range(3)]
    assert outcomes(chain.run(*notes)) == ["executed", "executed", "limit_reached"]
    p = chain.propose(R0, SetCap(3))
    result = chain.run(p, chain.vote(R1, p))
    assert outcomes(result) == ["executed", "executed"]
    assert [e.reason for e in result.audit if e.kind == "tally_cap_set"] == ["cap 3"]
    assert outcomes(chain.run(chain.tx(ALICE, NOTE_KIND, NotePayload("n3")))) == ["executed"]
    assert chain.ledger.status_fields()["tally"] == 3
    # Out of bounds: the registry's check rejects the proposal.
    assert outcomes(chain.run(chain.propose(R0, SetCap(101)))) == ["bad_argument"]


def test_a_namespace_enters_the_state_root_only_when_it_changes() -> None:
    plain, app = Chain(), _app_chain()
    for chain in (plain, app):
        chain.run(chain.tx(ALICE, "record", RecordPayload("", "text/plain", b"hi")))
    assert plain.ledger.state_hash == app.ledger.state_hash
    plain.run(plain.tx(ALICE, NOTE_KIND, NotePayload("x")))  # unknown kind there
    app.run(app.tx(ALICE, NOTE_KIND, NotePayload("x")))
    assert plain.ledger.state_hash != app.ledger.state_hash


def test_set_permission_may_restrict_an_applications_kind() -> None:
    params = Params(2, 3)
    restrict = SetPermission(NOTE_KIND, "")
    assert _app_registry().argument_error(restrict, params) is None
    built_in_only = "kind must be one of transfer, record, service.register, identity.set"
    assert catalog.BUILTIN.argument_error(restrict, params) == built_in_only
    assert catalog.BUILTIN.argument_error(SetPermission("gov.vote", ""), params) == built_in_only


# -- end to end: a cluster running the application ---------------------------------
def _note_tx(nonce: int, parent: bytes, kind: str = NOTE_KIND) -> Transaction:
    """ALICE's note on the replica tests' chain, naming parent."""
    return build(
        ALICE,
        chain_id=REPLICA_GENESIS.chain_id,
        kind=kind,
        nonce=nonce,
        parents=[parent],
        valid_until=40,
        payload=encode(NotePayload(f"n{nonce}")),
        stamp_bits_min=STAMP_BITS,
    )


def _refusal(c: SimCluster, tx: Transaction) -> Reject:
    with pytest.raises(AdmissionError) as refused:
        c.submit("r0", tx)
    return refused.value.reason


def test_an_applications_kind_is_admitted_executed_and_receipted_by_a_cluster() -> None:
    # Built-ins only: the application's kind is refused at admission, as any unknown kind.
    plain = SimCluster(REPLICA_GENESIS, VALIDATORS, REPLICA_CONFIG)
    assert _refusal(plain, _note_tx(0, REPLICA_GENESIS.hash)) == Reject.UNKNOWN_KIND
    # The replicas run the application's registry.
    c = SimCluster(REPLICA_GENESIS, VALIDATORS, REPLICA_CONFIG, registry=_app_registry())
    notes = [_note_tx(0, REPLICA_GENESIS.hash)]
    for nonce in (1, 2):  # each names the one before: one order on every replica
        notes.append(_note_tx(nonce, notes[-1].id))
    for tx in notes:
        c.submit("r0", tx)
    c.run_until(c.final_everywhere(*notes))
    for r in c.replicas.values():
        got = [receipt_of(r, tx.id) for tx in notes]
        assert [(rc.status, rc.reason) for rc in got if rc is not None] == [
            ("executed", None),
            ("executed", None),
            ("rejected", "limit_reached"),
        ]
        assert r.ledger.status_fields()["tally"] == 2
    # A kind neither built in nor registered is still refused, for the same reason.
    assert _refusal(c, _note_tx(3, notes[-1].id, "other.note")) == Reject.UNKNOWN_KIND


def test_the_simulators_script_proposes_every_action() -> None:
    def client(label: str) -> Client:
        return Client(SigningKey.from_label(label))

    clients = [client(f"c{i}") for i in range(5)]
    governor = Governor(
        Workload(random.Random(1), clients, 0),
        [client(f"r{i}") for i in range(3)],
        client("biz"),
        clients,
    )
    assert set(catalog.BUILTIN.actions) <= governor.covered() | {"add-validator"}
    # The examples are valid proposals.
    ex = Examples(ALICE.address, ALICE.public_key, "京网信备11010519000001号")
    params = Params(2, 3)
    for name, spec in catalog.BUILTIN.actions.items():
        if spec.example is not None:
            assert catalog.BUILTIN.argument_error(spec.example(ex), params) is None, name
    assert CliOptions().given() == frozenset()
