"""freeze-amount, unfreeze-amount, watch and unwatch through the CLI: forms, then a devnet."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from govchain.api.views import account_funds_json, action_json, funds_json, identity_json
from govchain.cli.gov_cmd import build_action
from govchain.cli.gov_effect import action_from_json
from govchain.cli.gov_view import argument_rows
from govchain.cli.main import cli
from govchain.codec import encode
from govchain.state.actions.freeze_amount import FreezeAmount
from govchain.state.actions.unfreeze_amount import UnfreezeAmount
from govchain.state.actions.unwatch import Unwatch
from govchain.state.actions.watch import WatchAccounts
from govchain.state.funds import Funds, Watch
from govchain.state.identities import Identity, IdentityStatus
from govchain.trace.case import Seed, TraceCase
from govprocs import GovNet
from procs import cluster

NOWHERE = "http://127.0.0.1:1"  # argument errors must come before any request
A, B = "11" * 20, "22" * 20
ROOT = "ab" * 32
CASE = TraceCase((Seed(bytes.fromhex(B), 7, label="ransom"),))


def _cli(*args: str) -> tuple[int, Any]:
    out = CliRunner().invoke(cli, [*args, "--json"])
    return out.exit_code, json.loads(out.stdout)


def _propose(*args: str) -> tuple[int, Any]:
    return _cli("gov", "propose", *args, "--reason", "r", "--node", NOWHERE)


def test_the_forms_build_their_actions() -> None:
    assert build_action("freeze-amount", (A, "5"), trace=ROOT, case="c1") == FreezeAmount(
        bytes.fromhex(A), 5, bytes.fromhex(ROOT), case="c1"
    )
    assert build_action("unfreeze-amount", (A, "5")) == UnfreezeAmount(bytes.fromhex(A), 5)
    assert build_action("watch", (A, B), until=90, case="c1") == WatchAccounts(
        (bytes.fromhex(A), bytes.fromhex(B)), 90, "c1"
    )
    assert build_action("unwatch", (), case="c1") == Unwatch("c1")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("freeze-amount", A, "5"), "missing_trace"),
        (("freeze-amount", A, "5", "--trace", "nope"), "bad_trace"),
        (("freeze-amount", A, "0", "--trace", ROOT), "bad_amount"),
        (("freeze-amount", A, "5", "--trace", ROOT, "--case", "a b"), "bad_argument"),
        (("freeze-amount", A, "5", "--trace", ROOT, "--until", "9"), "bad_usage"),
        (("unfreeze-amount", A, "5", "--trace", ROOT), "bad_usage"),
        (("watch", "--until", "9", "--case", "c1"), "bad_arguments"),
        (("watch", A, "--case", "c1"), "missing_until"),
        (("watch", A, A, "--until", "9", "--case", "c1"), "bad_address"),
        (("unwatch",), "missing_case"),
        (("unwatch", A, "--case", "c1"), "bad_arguments"),
        (("add-filter", "--keyword", "x", "--case", "c1"), "bad_usage"),
    ],
)
def test_bad_forms_are_usage_errors(args: tuple[str, ...], code: str) -> None:
    rc, doc = _propose(*args)
    assert (rc, doc["error"]["code"]) == (2, code), doc


def test_addresses_take_0x_and_any_case() -> None:
    rc, doc = _propose("watch", "0x" + A.upper(), "--until", "0", "--case", "c1")
    assert rc == 2 and "until must be a height" in doc["error"]["message"], doc


def test_trace_takes_a_result_file_with_its_case(tmp_path: Path) -> None:
    raw = encode(CASE)
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"result_root": ROOT, "case_b64": base64.b64encode(raw).decode()}))
    built = build_action("freeze-amount", (A, "5"), trace=ROOT, trace_case=raw)
    assert isinstance(built, FreezeAmount) and built.trace_case == raw
    path.write_text(json.dumps({"result": 1}))
    rc, doc = _propose("freeze-amount", A, "5", "--trace", str(path))
    assert rc == 2 and "no result_root" in doc["error"]["message"], doc


def test_gov_show_words_a_cited_trace_case() -> None:
    action = {
        "name": "freeze-amount",
        "args": {
            "address": A,
            "amount": 5,
            "trace_root": ROOT,
            "order_hash": "",
            "trace_case": encode(CASE).hex(),
            "case": "c1",
        },
    }
    rows = dict(argument_rows(action))
    assert rows["trace root"] == ROOT and rows["order hash"] == "none"
    assert rows["trace case"] == (
        f"forward, fifo, hops ≤ 6, heights 0..{2**63 - 1}; seeds: 7 of {B}"
    )


def test_a_proposals_json_reads_back_as_its_action() -> None:
    for action in (
        FreezeAmount(bytes.fromhex(A), 5, bytes.fromhex(ROOT), b"", encode(CASE), "c1"),
        WatchAccounts((bytes.fromhex(A), bytes.fromhex(B)), 90, "c1"),
        Unwatch("c1"),
    ):
        assert action_from_json(action_json(action)) == action


def test_documents_show_liens_and_watches() -> None:
    f = Funds()
    a = bytes.fromhex(A)
    f.add_lien(a, 30, "p1", 4)
    f.add_watch(Watch("p2", "c1", 9, (a,), 5))
    assert funds_json(f, a, 8) == {
        "liens": [{"amount": 30, "proposal": "p1", "since": 4}],
        "frozen_amount": 30,
        "watched_by": [{"case": "c1", "proposal": "p2", "until": 9}],
    }
    assert funds_json(f, a, 9)["watched_by"] == []  # holds nothing from height 10 on
    assert funds_json(None, a, 8)["frozen_amount"] == 0
    assert account_funds_json(f, a, 8, 20, False)["frozen_amount"] == 20  # never above it
    assert account_funds_json(f, a, 8, 500, True)["frozen_amount"] == 500
    ident = Identity(a, None, 0, None, None, IdentityStatus.ACTIVE, (), None, None)
    doc = identity_json(ident, funds_json(f, a, 8))
    assert doc["frozen"] is False and doc["frozen_amount"] == 30 and doc["liens"]


# -- on a devnet ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GovNet]:
    root = tmp_path_factory.mktemp("funds")
    with cluster(root / "net", validators=4) as c:
        yield GovNet(c, root)


def test_a_lien_rejects_what_it_freezes_and_a_watch_holds(net: GovNet) -> None:
    [(x_key, x), (y_key, y)] = net.funded("traced", 500, 300)
    payee = secrets.token_hex(20)
    lien = net.passed(
        "freeze-amount", x, "300", "--trace", ROOT, "--case", "ransom-1", reason="trace 1"
    )
    shown = net.ok("gov", "show", lien)
    assert shown["action"]["args"]["amount"] == 300 and shown["outcome"].startswith("lien of 300")
    over = net.transfer(x_key, payee, 201)
    assert over["status"] == "rejected", over
    assert (over["receipt"]["rule"], over["receipt"]["governance_ref"]) == ("frozen_amount", lien)
    assert net.transfer(x_key, payee, 200)["status"] == "executed"
    assert net.balance(x) == 300 and net.balance(payee) == 200

    until = str(net.height() + 10_000)
    watch = net.passed("watch", y, x, "--until", until, "--case", "ransom-1", reason="stop it")
    held = net.transfer(y_key, payee, 50)
    assert held["status"] == "held", held
    assert (held["receipt"]["rule"], held["receipt"]["governance_ref"]) == ("held_watch", watch)
    net.wait_everywhere(held["tx_id"], lambda d: d["status"] == "held", "the hold")
    assert net.balance(y) == 250 and net.balance(payee) == 200

    net.passed("unwatch", "--case", "ransom-1", reason="case closed")
    assert net.transfer(y_key, payee, 1)["status"] == "executed"  # enacted with the vote
