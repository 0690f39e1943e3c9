"""`govchain demo ransom` on a 4-validator devnet: the story plays, the figures add up,
the freezes are real liens, the trace it cites recomputes on another node, and the
CLI's `trace` commands read the same chain."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import websockets

from govprocs import CLI_TIMEOUT_S, GovNet
from procs import cluster

SEED = 5


SUBSCRIBED_S_MAX = 30.0


def _play_listening(net: GovNet) -> tuple[Any, list[dict[str, Any]]]:
    """Play the demo while a websocket client collects the node's "funds" events."""
    funds: list[dict[str, Any]] = []
    subscribed, done = asyncio.Event(), asyncio.Event()

    async def listen() -> None:
        async with websockets.connect(net.c.url(1).replace("http", "ws") + "/v1/events") as ws:
            while not done.is_set():
                try:
                    event = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except TimeoutError:
                    continue
                subscribed.set()  # the first event proves the subscription (test_gov_cli)
                if event["type"] == "funds":
                    funds.append(event)

    async def scenario() -> Any:
        task = asyncio.create_task(listen())
        await asyncio.wait_for(subscribed.wait(), SUBSCRIBED_S_MAX)
        args = ("demo", "ransom", "--seed", str(SEED), "--devnet", str(net.c.root))
        doc = await asyncio.to_thread(net.ok, *args)
        await asyncio.sleep(1.0)  # node 1 publishes the last height a moment later
        done.set()
        await task
        return doc

    return asyncio.run(scenario()), funds


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GovNet, Any]]:
    root = tmp_path_factory.mktemp("demo")
    with cluster(root / "net", validators=4) as c:
        net = GovNet(c, root)
        doc, funds = _play_listening(net)
        yield net, {**doc, "funds_events": funds}


def test_the_story_adds_up(played: tuple[GovNet, Any]) -> None:
    _, doc = played
    for field in ("ransom", "traced", "frozen", "held", "escaped", "result_root", "steps"):
        assert field in doc, field
    assert doc["frozen"] > 0 and doc["held"] > 0 and doc["escaped"] > 0
    assert doc["frozen"] + doc["held"] + doc["escaped"] == doc["ransom"]
    assert doc["traced"] == doc["ransom"]  # nothing left the traced graph
    names = [s["name"] for s in doc["steps"]]
    assert names.count("freeze-amount") == 2 and "watch" in names and "trace" in names
    peels = [s for s in doc["steps"] if s["name"].startswith("hop ")]
    assert len(peels) >= 5
    moved = next(s for s in doc["steps"] if s["name"] == "attacker moves split a's rest")
    assert moved["status"] == "held"


def test_the_watched_accounts_next_move_is_an_event(played: tuple[GovNet, Any]) -> None:
    _, doc = played
    moved = next(s for s in doc["steps"] if s["name"] == "attacker moves split a's rest")
    seen = [m for e in doc["funds_events"] for m in e["movements"] if m["tx_id"] == moved["tx_id"]]
    assert [m["kind"] for m in seen] == ["escrow"]
    assert seen[0]["from"] == moved["from"] and seen[0]["amount"] == moved["amount"]
    assert [w["case"] for w in seen[0]["from_guard"]["watches"]] == [doc["case"]]


def test_the_freezes_are_liens_at_the_exchanges(played: tuple[GovNet, Any]) -> None:
    net, doc = played
    freezes = [s for s in doc["steps"] if s["name"] == "freeze-amount"]
    assert sum(s["amount"] for s in freezes) == doc["frozen"]
    for s in freezes:
        assert s["endpoint"].startswith("service:exchange-")
        acct = net.get(f"/v1/accounts/{s['address']}", node=2)
        assert acct["frozen_amount"] == s["amount"]
        assert [lien["proposal"] for lien in acct["liens"]] == [s["proposal_id"]]
        # An unidentified address under a lien has an identity document that shows it.
        ident = net.get(f"/v1/identities/{s['address']}", node=1)
        assert ident["kind"] is None and ident["frozen_amount"] == s["amount"]
        shown = net.ok("gov", "show", s["proposal_id"])
        assert shown["action"]["args"]["trace_root"] == doc["result_root"]
        # gov show recomputes the cited trace on the node: the lien did not make it stale.
        assert shown["trace_check"] == {
            "valid": True, "result_root": doc["result_root"], "expected": doc["result_root"]
        }  # fmt: skip


def test_the_cited_trace_recomputes_on_another_node(played: tuple[GovNet, Any]) -> None:
    net, doc = played
    kept = net.get(f"/v1/trace/results/{doc['result_root']}", node=0)
    path = net.work / "cited.json"
    path.write_text(json.dumps(kept))
    out = net.ok("trace", "verify", str(path), node=3)
    assert out == {**out, "valid": True, "result_root": doc["result_root"]}
    kept["limits"]["hops_max"] = 3  # another case: another root
    path.write_text(json.dumps(kept))
    rc, bad = net.cli("trace", "verify", str(path), node=3)
    assert rc == 1 and bad["valid"] is False


def test_the_cli_traces_the_ransom_and_draws_it(played: tuple[GovNet, Any]) -> None:
    net, doc = played
    ransom = next(s for s in doc["steps"] if s["name"] == "ransom")
    traced = net.ok("trace", ransom["to"], "--tx", ransom["tx_id"][:12], "--hops", "12")
    assert traced["seeds"][0]["amount"] == doc["ransom"]
    assert sum(n["tainted"] for n in traced["nodes"]) == doc["ransom"]
    assert len(traced["endpoints"]) == 2
    frozen = {n["address"]: n["frozen"] for n in traced["nodes"] if n["frozen"]}
    assert sum(frozen.values()) == doc["frozen"]
    dot = subprocess.run(
        [sys.executable, "-m", "govchain.cli.main", "trace", ransom["to"], "--tx",
         ransom["tx_id"], "--format", "dot", "--node", net.c.url(1)],
        capture_output=True, text=True, check=True, timeout=CLI_TIMEOUT_S,
    ).stdout  # fmt: skip
    assert dot.startswith("digraph trace {") and dot.count(" -> ") == len(traced["edges"])
    # Backward from the victim's payment: the faucet funded it.
    back = net.ok("trace", ransom["from"], "--tx", ransom["tx_id"], "--direction", "backward")
    funded = next(s for s in doc["steps"] if s["name"] == "fund victim")
    assert funded["from"] in {n["address"] for n in back["nodes"]}


def test_a_seed_plays_once_per_chain(played: tuple[GovNet, Any]) -> None:
    net, _ = played
    rc, doc = net.cli("demo", "ransom", "--seed", str(SEED), "--devnet", str(net.c.root))
    assert rc == 1 and doc["error"]["code"] == "demo_failed"
    assert "played" in doc["error"]["message"]
