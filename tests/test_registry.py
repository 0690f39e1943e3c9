"""The registry: what derives from it, and how an application plugs in a kind, action, namespace."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import msgspec
import pytest

from govchain.cli.gov_args import ACTIONS
from govchain.codec import DecodeError, decode_canonical
from govchain.crypto.keys import SigningKey
from govchain.dag.tx import Transaction
from govchain.sim.governor import Governor
from govchain.sim.workload import Client, Workload
from govchain.state import catalog, docs_tables
from govchain.state.accounts import Account
from govchain.state.args import CliOptions, Examples, only
from govchain.state.context import Stores
from govchain.state.governance import Proposal
from govchain.state.kinds.record import RecordPayload
from govchain.state.ledger import Ledger
from govchain.state.params import Params
from govchain.state.payload_base import ActionArgs, Payload
from govchain.state.payloads import EMERGENCY_ACTIONS, PROPOSE_DECODER, FreezeIdentity, Intercept
from govchain.state.receipts import Outcome, Reason, rejected
from govchain.state.registry import ActionDoc, ActionSpec, Effect, KindSpec, TxContext
from ledgerkit import ALICE, R0, R1, Chain, genesis, outcomes

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
    assert {n: s.cli_args for n, s in catalog.BUILTIN.actions.items()} == ACTIONS
    assert (FreezeIdentity, Intercept) == EMERGENCY_ACTIONS
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


def _app_chain() -> Chain:
    registry = catalog.builtin()
    registry.add_kind(NOTE_SPEC)
    registry.add_action(CAP_SPEC)
    chain = Chain()
    chain.ledger = Ledger(genesis(), registry)
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
