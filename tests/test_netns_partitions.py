"""Real network faults between node processes in Linux network namespaces (issue 16, part 2).

Four validators and an observer, each in a namespace of its own on one
bridge, configured by address, run the drill of scripts/netns-drill once for
the module (10 s a fault here; docs/network-faults.md reports the 20 s form):
a 2|2 split decides nothing and forks nothing, a 1|3 split goes on on the
side of three, a validator that cannot send and one whose link flaps do not
stop the others; after each heal every node moves again and everything
promised before the fault is final; no two nodes ever hold different
checkpoints. The network must vanish afterwards, and nothing in the root
namespace may change.

Needs root and iproute2: without them the module skips, saying why, unless
GOVCHAIN_REQUIRE_NETNS=1 (set by .ci/run), where it fails instead.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from govchain.node.netns import namespaces, tool, unavailable
from govchain.node.netns_drill import DrillConfig, run_drill
from govchain.node.netns_homes import make_homes
from govchain.node.netns_measure import Outcome
from govchain.node.netns_scenarios import SCENARIOS, by_name

REQUIRE_ENV = "GOVCHAIN_REQUIRE_NETNS"  # "1": missing namespaces fail the tests, never skip them
FAULT_S = 10.0  # CI's form; the documented figures hold faults for 20 s
NAMES = ["validator-0", "validator-1", "validator-2", "validator-3", "observer-0"]

netns = pytest.mark.xdist_group("netns")  # one drill for the module, on one worker


def _root_namespace() -> list[str]:
    """The root namespace's links and routes, as ip prints them (they must not change)."""
    ip = tool("ip")
    assert ip is not None
    links = subprocess.run([ip, "-o", "link", "show"], capture_output=True, text=True, check=True)
    routes = subprocess.run([ip, "route", "show"], capture_output=True, text=True, check=True)
    # Counters and state flags move on their own: names and routes are what we could have touched.
    names = [line.split(":")[1].strip() for line in links.stdout.splitlines()]
    return names + routes.stdout.splitlines()


@pytest.fixture(scope="module")
def drill() -> dict[str, Any]:
    """The drill's report, with the root namespace before and after it."""
    why = unavailable()
    if why is not None:
        message = f"network namespaces are unavailable here: {why}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{message} ({REQUIRE_ENV}=1)")
        pytest.skip(message)
    before = _root_namespace()
    report = run_drill(DrillConfig(duration_s=FAULT_S, rate_per_s=10.0, senders=5))
    report["root_before"], report["root_after"] = before, _root_namespace()
    return report


def scenario(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in report["scenarios"] if s["name"] == name)
    return found


def explain(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1)


@netns
def test_a_2_2_split_decides_nothing_then_every_node_moves_again(drill: dict[str, Any]) -> None:
    s = scenario(drill, "split-2-2")
    assert s["ok"], explain(s)
    # Two of four votes on each side: once what was in flight at the cut has landed, nothing.
    assert s["heights"]["decided_while_cut"] == 0, explain(s)
    assert s["resumed_after_heal_s"] is not None
    assert s["txs"]["final_after"] == s["txs"]["accepted_before"] > 0
    assert s["checkpoints"]["conflicts"] == 0


@netns
def test_a_1_3_split_goes_on_on_the_side_of_three(drill: dict[str, Any]) -> None:
    s = scenario(drill, "split-1-3")
    assert s["ok"], explain(s)
    at_cut, at_heal = s["heights"]["at_cut"], s["heights"]["at_heal"]
    for name in NAMES[1:]:
        assert at_heal[name] > max(at_cut.values()), explain(s)
    assert s["txs"]["final_after"] == s["txs"]["accepted_before"] > 0
    assert s["checkpoints"]["conflicts"] == 0


@netns
def test_a_validator_that_cannot_send_does_not_stop_the_others(drill: dict[str, Any]) -> None:
    s = scenario(drill, "one-way-0")
    assert s["ok"], explain(s)
    assert s["heights"]["decided_while_cut"] > 0
    assert s["txs"]["final_after"] == s["txs"]["accepted_before"] > 0


@netns
def test_a_flapping_link_does_not_stop_the_others(drill: dict[str, Any]) -> None:
    s = scenario(drill, "flapping-0")
    assert s["ok"], explain(s)
    assert s["heights"]["decided_while_cut"] > 0
    assert s["txs"]["final_after"] == s["txs"]["accepted_before"] > 0


@netns
def test_the_stores_agree_and_every_promise_is_final_once(drill: dict[str, Any]) -> None:
    stores = drill["stores"]
    assert drill["ok"], explain({k: drill[k] for k in ("failures", "stores", "load")})
    assert stores["agreement"] and stores["supply_conserved"]
    assert stores["lost"] == 0 and stores["executed_twice"] == 0
    assert stores["final"] == drill["load"]["accepted"] > 0
    # Every node ended at the top height, or one short of it: the nodes are stopped
    # one after another while the chain's heartbeat still decides empty checkpoints
    # (a CI run saw 97 against 98); agreement above covers every height two share.
    heights = stores["heights"].values()
    assert max(heights) - min(heights) <= 1, stores["heights"]


@netns
def test_the_nodes_had_their_own_addresses_and_the_network_is_gone(drill: dict[str, Any]) -> None:
    addresses = [n["address"] for n in drill["network"]["nodes"]]
    assert len(set(addresses)) == 5 and not any(a.startswith("127.") for a in addresses)
    # netem's delay and loss, or (a kernel without netem) the loss alone.
    assert "loss 1%" in drill["network"]["links"]
    run = drill["network"]["run"]
    assert [ns for ns in namespaces() if ns.startswith(run)] == []
    assert drill["root_after"] == drill["root_before"]


# -- without root: the homes, and the verdict on made-up polls -------------------


def test_homes_listen_on_their_own_address_and_name_peers_by_theirs(tmp_path: Path) -> None:
    hosts = ["10.9.0.1", "10.9.0.2", "10.9.0.3"]
    nodes = make_homes(tmp_path, hosts, validators=2)
    for node, host in zip(nodes, hosts, strict=True):
        cfg = json.loads((node.home / "node.json").read_text())
        assert cfg["api"] == f"{host}:27000" and cfg["p2p"] == f"{host}:27100"
        peers = sorted(p["p2p"] for p in cfg["peers"])
        assert peers == sorted(f"{h}:27100" for h in hosts if h != host)
    assert [n.validator for n in nodes] == [True, True, False]


def outcome(
    name: str, cut: int, grace: int, heal: dict[int, int], resumed: float | None
) -> Outcome:
    at_cut = dict.fromkeys(range(5), cut)
    o = Outcome(name, "", 10.0, dict(at_cut), dict.fromkeys(range(5), grace), dict(heal))
    o.resumed_after_heal_s = resumed
    return o


def test_a_decision_on_the_side_of_two_is_a_failure() -> None:
    (split,) = by_name(["split-2-2"])
    o = outcome("split-2-2", 7, 7, {0: 8, 1: 8, 2: 7, 3: 7, 4: 8}, 1.0)
    o.judge(split, 10.0, NAMES)
    assert any("validator-0 reached height 8" in f for f in o.failures)


def test_a_side_of_three_that_stands_still_is_a_failure() -> None:
    (split,) = by_name(["split-1-3"])
    o = outcome("split-1-3", 7, 7, {0: 7, 1: 7, 2: 9, 3: 9, 4: 9}, 1.0)
    o.judge(split, 10.0, NAMES)
    assert o.failures == ["validator-1 made no progress during the fault (height 7, 7 at the cut)"]


@pytest.mark.parametrize("resumed", [None, 12.5])
def test_nodes_that_do_not_move_again_soon_after_the_heal_fail(resumed: float | None) -> None:
    o = outcome("flapping-0", 7, 8, {i: 12 for i in range(5)}, resumed)
    o.judge(SCENARIOS[3], 10.0, NAMES)
    assert len(o.failures) == 1 and "within 10 s" in o.failures[0]


def test_a_promise_made_before_the_cut_and_never_final_is_a_failure() -> None:
    o = outcome("one-way-0", 7, 8, {i: 12 for i in range(5)}, 2.0)
    o.accepted_before, o.final_before = 40, 39
    o.judge(SCENARIOS[2], 10.0, NAMES)
    assert o.failures == ["1 transactions promised before the cut never became final"]
