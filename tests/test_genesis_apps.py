"""A chain opts into applications at genesis (issue 14): its hash, its file, its registry.

Genesis.apps names the applications; apps/catalog.py registry_for builds the
registry every node, the simulator and the API run from it. An application's
parameters join set-param, and its cross checks keep relations between them
whatever governance sets, one proposal or several at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import msgspec
import pytest

from conftest import SimCluster
from govchain.api.decoded import decoded_view
from govchain.apps import catalog as apps_catalog
from govchain.apps.catalog import APPS, registry_for, registry_of
from govchain.codec import encode
from govchain.node.files import FileError, genesis_to_json, read_genesis
from govchain.state.actions.set_param import SetParam
from govchain.state.args import only
from govchain.state.audit import AuditKind
from govchain.state.catalog import BUILTIN, builtin
from govchain.state.context import Stores
from govchain.state.genesis import APPS_MAX, KNOWN_APPS, Genesis
from govchain.state.governance import Proposal
from govchain.state.kinds.gov_propose import ProposePayload
from govchain.state.ledger import Ledger
from govchain.state.params import Params, ParamSpec
from govchain.state.payload_base import ActionArgs
from govchain.state.registry import ActionDoc, ActionSpec, Effect, Registry
from ledgerkit import R0, R1, Chain, genesis, outcomes
from test_replica import CONFIG as REPLICA_CONFIG
from test_replica import GENESIS as REPLICA_GENESIS
from test_replica import VALIDATORS

# Computed by the code before Genesis.apps existed (commit eeb9391), for
# ledgerkit's genesis with unicode_version 14.0.0: typed_audit off, on, and on
# with pacing fields off their defaults.
HASH_PLAIN = "47deb73ec977acfbe636611a863fd195c495836de0d569bdd75a10b2022d6c97"
HASH_TYPED = "82aac7a73f620739dbba2c250131444118c02dd1a78b7a606eb168610515aace"
HASH_TYPED_PACED = "13b55ef8635367dc9ac081006ab454843f311926d3040ae554394291a16236e0"


def _base() -> Genesis:
    return msgspec.structs.replace(genesis(), unicode_version="14.0.0")


# -- the genesis document --------------------------------------------------------------
def test_a_genesis_without_apps_keeps_its_hash() -> None:
    g = _base()
    assert g.apps == () and g.hash.hex() == HASH_PLAIN
    typed = msgspec.structs.replace(g, typed_audit=True)
    assert typed.hash.hex() == HASH_TYPED
    paced = msgspec.structs.replace(
        typed, checkpoint_interval_ms=5, empty_checkpoint_interval_ms=None
    )
    assert paced.hash.hex() == HASH_TYPED_PACED


def test_apps_change_the_hash_and_then_every_field_counts() -> None:
    g = _base()
    with_apps = msgspec.structs.replace(g, apps=("warehouse",))
    typed_apps = msgspec.structs.replace(with_apps, typed_audit=True)
    hashes = {
        g.hash,
        with_apps.hash,
        typed_apps.hash,
        msgspec.structs.replace(g, typed_audit=True).hash,
    }
    assert len(hashes) == 4  # typed_audit off is hashed once an app is named


@pytest.mark.parametrize(
    ("apps", "message"),
    [
        (("casino",), "unknown app 'casino'"),
        (("warehouse", "warehouse"), "distinct and sorted"),
        (("warehouse", "a"), "distinct and sorted"),
        (tuple(f"a{i:02}" for i in range(APPS_MAX + 1)), f"at most {APPS_MAX}"),
        (["warehouse"], "list of application names"),
        ((7,), "list of application names"),
    ],
    ids=["unknown", "repeated", "unsorted", "too-many", "not-a-tuple", "not-a-name"],
)
def test_bad_apps_are_refused(apps: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        msgspec.structs.replace(_base(), apps=apps)


def test_the_genesis_names_the_applications_the_catalog_registers() -> None:
    assert tuple(sorted(APPS)) == KNOWN_APPS


def test_genesis_json_round_trips_apps_and_reads_files_without_them(tmp_path: Path) -> None:
    path = tmp_path / "genesis.json"
    plain = _base()
    path.write_text(json.dumps(genesis_to_json(plain)))
    assert "apps" not in json.loads(path.read_text())  # files keep their exact old form
    assert read_genesis(path) == plain
    with_apps = msgspec.structs.replace(plain, apps=("warehouse",), typed_audit=True)
    path.write_text(json.dumps(genesis_to_json(with_apps)))
    doc = json.loads(path.read_text())
    assert doc["apps"] == ["warehouse"]
    assert read_genesis(path) == with_apps
    # Taking the apps away from a file is caught by its recorded hash.
    del doc["apps"]
    path.write_text(json.dumps(doc))
    with pytest.raises(FileError, match="hash does not match"):
        read_genesis(path)
    for bad, words in (("warehouse", "list of names"), (["nope"], "unknown app")):
        doc["apps"] = bad
        path.write_text(json.dumps(doc))
        with pytest.raises(FileError, match=words):
            read_genesis(path)


# -- the registry a genesis calls for ----------------------------------------------------
def test_registry_for_is_builtin_without_apps_and_one_cached_registry_with_them() -> None:
    plain = _base()
    assert registry_for(plain) is BUILTIN
    g = msgspec.structs.replace(plain, apps=("warehouse",))
    r = registry_for(g)
    assert r is not BUILTIN and r is registry_for(g) and r.apps == ("warehouse",)
    assert set(BUILTIN.actions) <= set(r.actions) and set(BUILTIN.kinds) <= set(r.kinds)
    assert apps_catalog.ALL is registry_of(KNOWN_APPS)
    with pytest.raises(ValueError, match="unknown app"):
        registry_of(("casino",))


def test_a_replica_refuses_a_registry_without_its_chains_apps() -> None:
    g = msgspec.structs.replace(REPLICA_GENESIS, apps=("warehouse",))
    with pytest.raises(ValueError, match="genesis names"):
        SimCluster(g, VALIDATORS, REPLICA_CONFIG)
    with pytest.raises(ValueError, match="genesis names"):
        SimCluster(
            REPLICA_GENESIS, VALIDATORS, REPLICA_CONFIG, registry=registry_of(("warehouse",))
        )
    running = SimCluster(g, VALIDATORS, REPLICA_CONFIG, registry=registry_for(g))
    assert all(r.ledger.registry is registry_for(g) for r in running.replicas.values())


# -- an application's parameters and their cross checks -----------------------------------
LOW, HIGH = "test_band_low_bp", "test_band_high_bp"


def _ordered(values: Mapping[str, int | None]) -> str | None:
    low, high = values[LOW], values[HIGH]
    if low is not None and high is not None and not low < high:
        return f"{LOW} must stay below {HIGH}"
    return None


class Ping(ActionArgs, frozen=True, tag="test-ping"):
    note: str


def _ping(_a: Ping, _p: Proposal, _height: int, _st: Stores) -> Effect:
    return Effect("test_pinged", "ping")


PING = ActionSpec(
    args=Ping,
    cli_args=("NOTE",),
    from_cli=lambda args, _o: Ping(only(args)),
    check=lambda _a, _params: None,
    subject=lambda _a: "test:",
    enact=_ping,
    doc=ActionDoc("note", "-", "nothing"),
)


def _app_registry() -> Registry:
    registry = builtin()
    registry.add_param(ParamSpec(LOW, 7_500, 0, 10_000, "lower band"))
    registry.add_param(ParamSpec(HIGH, 8_000, 0, 10_000, "upper band"))
    registry.add_param_check(_ordered)
    registry.add_action(PING)
    return registry


def _app_chain() -> Chain:
    chain = Chain()
    chain.ledger = Ledger(genesis(), _app_registry())
    return chain


def test_an_applications_parameter_is_set_by_governance_only_on_its_chain() -> None:
    chain = _app_chain()
    assert chain.ledger.param(LOW) == 7_500
    chain.decide(SetParam(LOW, 7_000))
    assert chain.ledger.param(LOW) == 7_000
    chain.decide(SetParam(LOW, None))  # none: the default again
    assert chain.ledger.param(LOW) == 7_500
    plain = Chain()  # BUILTIN: no such parameter
    assert outcomes(plain.run(plain.propose(R0, SetParam(LOW, 7_000)))) == ["bad_argument"]


def test_a_cross_check_refuses_a_proposal_that_breaks_a_relation() -> None:
    chain = _app_chain()
    assert outcomes(chain.run(chain.propose(R0, SetParam(LOW, 8_000)))) == ["bad_argument"]
    assert outcomes(chain.run(chain.propose(R0, SetParam(HIGH, 7_500)))) == ["bad_argument"]
    assert outcomes(chain.run(chain.propose(R0, SetParam(LOW, 20_000)))) == ["bad_argument"]
    chain.decide(SetParam(HIGH, 9_000))
    chain.decide(SetParam(LOW, 8_500))  # fine now that the upper band moved first
    assert (chain.ledger.param(LOW), chain.ledger.param(HIGH)) == (8_500, 9_000)
    # Restoring HIGH's default (8,000) would put it below LOW: refused too.
    assert outcomes(chain.run(chain.propose(R0, SetParam(HIGH, None)))) == ["bad_argument"]


def test_two_proposals_enacted_in_one_height_cannot_jointly_break_a_relation() -> None:
    chain = _app_chain()
    # Each is fine against the values in force when proposed (7,500 < 8,000).
    raise_low = chain.propose(R0, SetParam(LOW, 7_900))
    lower_high = chain.propose(R0, SetParam(HIGH, 7_600))
    assert outcomes(chain.run(raise_low, lower_high)) == ["executed", "executed"]
    result = chain.run(chain.vote(R1, raise_low), chain.vote(R1, lower_high))
    assert outcomes(result) == ["executed", "executed"]
    entries = [(e.kind, e.reason) for e in result.audit if e.kind in ("param_set", "no_op")]
    assert entries == [
        (AuditKind.PARAM_SET, f"{LOW} = 7900"),
        (AuditKind.NO_OP, f"set-param: no-op: {LOW} must stay below {HIGH}"),
    ]
    assert (chain.ledger.param(LOW), chain.ledger.param(HIGH)) == (7_900, 8_000)


def test_a_parameter_name_is_registered_once() -> None:
    registry = _app_registry()
    for name in (LOW, "hold_amount_min"):
        with pytest.raises(ValueError, match="registered already"):
            registry.add_param(ParamSpec(name, None, 0, 1, "again"))
    with pytest.raises(ValueError, match="parameter name"):
        registry.add_param(ParamSpec("Bad Name", None, 0, 1, "malformed"))
    with pytest.raises(ValueError, match="outside its bounds"):
        registry.add_param(ParamSpec("test_off", 5, 0, 1, "default out of bounds"))
    with pytest.raises(ValueError, match="defined already"):
        Params(2, 3, [ParamSpec("hold_amount_min", None, 0, 1, "clash")])


# -- the API decodes proposals of the chain's registry ---------------------------------
def test_the_decoded_view_of_a_proposal_follows_the_chains_registry() -> None:
    payload = encode(ProposePayload(Ping("hello"), "r", b"", False))
    assert decoded_view("gov.propose", payload, BUILTIN) is None  # not an action there
    view = decoded_view("gov.propose", payload, _app_registry())
    assert view is not None and view["action"] == {"name": "test-ping", "args": {"note": "hello"}}
