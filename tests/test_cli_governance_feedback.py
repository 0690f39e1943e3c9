"""What a committee member sees when proposing and voting, on one running devnet.

`propose` shows the status `list` shows; an emergency measure says it is in
force, when it lapses and whether it was ratified; a proposal that would
change nothing says "no effect"; `gov show --json` has one id field; and every
--wait follows one rule: exit 0 when executed, 1 when final as rejected, the
document printed either way. One devnet (one validator: the committee of three
regulators does not need more) serves the module; each test uses fresh
addresses, so the order of the tests does not matter.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from govchain.cli.gov_view import describe
from govchain.cli.pace import Pace, duration_words
from govprocs import CLI_TIMEOUT_S, GovNet
from procs import cluster


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GovNet]:
    root = tmp_path_factory.mktemp("feedback")
    with cluster(root / "net", validators=1) as c:
        yield GovNet(c, root)


def _text(net: GovNet, *args: str) -> tuple[int, str, str]:
    """A command for people (no --json): exit code, stdout, stderr."""
    out = subprocess.run(
        [sys.executable, "-m", "govchain.cli.main", *args, "--node", net.c.url(0)],
        capture_output=True,
        text=True,
        cwd=net.work,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    return out.returncode, out.stdout, out.stderr


def _propose(net: GovNet, *args: str, by: str = "regulator-1") -> Any:
    return net.ok("gov", "propose", *args, "--reason", "feedback test", "--key", net.key(by))


def _address() -> str:
    return secrets.token_hex(20)


def test_propose_prints_the_status_list_shows_and_show_has_one_id(net: GovNet) -> None:
    opened = _propose(net, "freeze-identity", _address())  # waits by default
    pid = opened["proposal_id"]
    assert opened["status"] == "open"
    listed = net.ok("gov", "list")["proposals"]
    mine = next(p for p in listed if p["proposal_id"] == pid)
    assert mine["status"] == opened["status"]
    assert "id" not in mine
    shown = net.ok("gov", "show", pid)
    assert shown["proposal_id"] == pid and "id" not in shown
    assert shown["status"] == "open" and shown["measure"] is None
    # Addresses take 0x and upper case; a unique prefix of 8+ hex characters names a proposal.
    upper = _propose(net, "freeze-identity", "0x" + _address().upper())
    assert upper["status"] == "open"
    for p in (pid, upper["proposal_id"]):
        assert net.ok("gov", "show", p[:10])["proposal_id"] == p


def test_propose_for_people_names_the_status_and_the_next_step(net: GovNet) -> None:
    rc, out, _ = _text(
        net, "gov", "propose", "freeze-identity", _address(), "--reason", "people",
        "--key", net.key("regulator-1"),
    )  # fmt: skip
    assert rc == 0, out
    assert ": freeze-identity" in out
    assert "status: open (yes 1, no 0); votes accepted through height" in out
    assert "govchain gov vote" in out
    assert "pending" not in out


def test_an_emergency_measure_shows_in_force_when_it_lapses_and_ratification(
    net: GovNet,
) -> None:
    opened = _propose(net, "freeze-identity", _address(), "--emergency")
    pid = opened["proposal_id"]
    m = opened["measure"]
    assert opened["status"] == "open"
    assert m["state"] == "in_force" and m["in_force"] is True and m["ratified"] is False
    shown = net.ok("gov", "show", pid)
    assert m["lapses_height"] == shown["expires_height"]
    assert m["since_height"] == shown["created_height"]
    rc, out, _ = _text(net, "gov", "show", pid)
    assert rc == 0
    assert f"emergency measure in force since height {m['since_height']}" in out
    # Heights read in time, at the pace GET /v1/status reports (seconds_per_checkpoint).
    assert f"lapses at height {m['lapses_height']} (in about " in out
    assert "unless ratified" in out

    voted = net.ok("gov", "vote", pid, "yes", "--key", net.key("regulator-2"))
    assert voted["status"] == "passed"
    assert voted["measure"]["state"] == "ratified" and voted["measure"]["ratified"] is True
    rc, out, _ = _text(net, "gov", "show", pid)
    assert "emergency measure ratified" in out


def test_an_emergency_measure_voted_down_lapses(net: GovNet) -> None:
    pid = _propose(net, "freeze-identity", _address(), "--emergency")["proposal_id"]
    first = net.ok("gov", "vote", pid, "no", "--key", net.key("regulator-2"))
    assert first["status"] == "open" and first["measure"]["in_force"] is True
    second = net.ok("gov", "vote", pid, "no", "--key", net.key("regulator-3"))
    assert second["status"] == "rejected"
    m = second["measure"]
    assert m["state"] == "lapsed" and m["in_force"] is False and m["ratified"] is False
    shown = net.ok("gov", "show", pid)
    assert m["lapses_height"] == shown["decided_height"]


def test_a_proposal_with_no_effect_says_so_when_it_is_proposed(net: GovNet) -> None:
    target = _address()
    frozen = _propose(net, "freeze-identity", target)["proposal_id"]
    assert net.ok("gov", "vote", frozen, "yes", "--key", net.key("regulator-2"))["status"] == (
        "passed"
    )
    again = _propose(net, "freeze-identity", target)
    assert again["status"] == "open"
    assert again["no_effect"] == f"no effect: already frozen by proposal {frozen}"
    assert net.ok("gov", "show", again["proposal_id"])["no_effect"] == again["no_effect"]
    urgent = _propose(net, "freeze-identity", target, "--emergency")
    assert urgent["measure"]["state"] == "no_effect" and urgent["measure"]["in_force"] is False
    assert urgent["no_effect"].startswith("no effect: already frozen by proposal")
    rc, out, _ = _text(
        net, "gov", "propose", "unfreeze-identity", _address(), "--reason", "nothing to lift",
        "--key", net.key("regulator-1"),
    )  # fmt: skip
    assert rc == 0 and "no effect: the address is not frozen" in out
    # Redacting a transfer (named by a prefix of its id) removes nothing: only records carry text.
    paid = net.ok(
        "tx", "transfer", "--to", _address(), "--amount", "5", "--key", net.key("faucet"), "--wait"
    )
    redact = _propose(net, "redact", paid["tx_id"][:12])
    assert redact["no_effect"] == "no effect: only records are redacted, and this is a transfer"
    assert net.ok("gov", "show", redact["proposal_id"])["action"]["args"]["tx_id"] == paid["tx_id"]
    # Passed anyway, the enactment is a no-op, and the status says it in the same words.
    lifted = _propose(net, "unfreeze-identity", _address())["proposal_id"]
    voted = net.ok("gov", "vote", lifted, "yes", "--key", net.key("regulator-2"))
    assert voted["status"] == "passed"
    assert voted["no_effect"] == "no effect: the address is not frozen"


def test_every_wait_exits_1_when_final_as_rejected_and_prints_the_document(
    net: GovNet,
) -> None:
    pid = _propose(net, "freeze-identity", _address())["proposal_id"]
    net.ok("gov", "vote", pid, "yes", "--key", net.key("regulator-2"))
    rc, late = net.cli("gov", "vote", pid, "yes", "--key", net.key("regulator-3"), "--wait")
    assert rc == 1
    assert late["proposal_id"] == pid and late["status"] == "passed"
    assert late["tx_status"] == "rejected" and late["receipt"]["rule"] == "proposal_closed"
    assert late["error"]["code"] == "tx_rejected"

    rc, refused = net.cli(
        "gov", "propose", "freeze-identity", _address(), "--reason", "not a member",
        "--key", net.key("faucet"),
    )  # fmt: skip
    assert rc == 1 and refused["status"] == "rejected"
    assert refused["receipt"]["rule"] == "not_authorized"

    owner, _ = net.new_key("owner")
    other, _ = net.new_key("other")
    service = f"shop-{secrets.token_hex(4)}"
    rc, reg = net.cli("service", "register", service, "--key", owner, "--wait")
    assert rc == 0 and reg["status"] == "executed" and "error" not in reg
    rc, taken = net.cli("service", "register", service, "--key", other, "--wait")
    assert rc == 1
    assert taken["status"] == "rejected" and taken["tx_id"] and "receipt" in taken
    assert taken["error"]["code"] == "tx_rejected"
    rc, out, err = _text(net, "service", "register", service, "--key", other, "--wait")
    assert rc == 1 and "rejected" in out and "error:" in err


def test_no_wait_returns_the_pending_transaction(net: GovNet) -> None:
    doc = net.ok(
        "gov", "propose", "freeze-identity", _address(), "--reason", "fast",
        "--key", net.key("regulator-1"), "--no-wait",
    )  # fmt: skip
    assert doc["status"] == "pending" and doc["proposal_id"] == doc["tx_id"]


def test_heights_read_in_time() -> None:
    assert duration_words(40) == "40 s"
    assert duration_words(100) == "1 min 40 s"
    assert duration_words(3_600 + 300) == "1 h 5 min"
    assert duration_words(3 * 86_400 + 4 * 3_600) == "3 days 4 h"
    pace = Pace(height=212, seconds_per_checkpoint=1.0)
    assert pace.when(312) == "height 312 (in about 1 min 40 s)"
    assert pace.when(200) == "height 200"
    assert Pace(212, None).when(312) == "height 312"
    assert Pace.of_status({"height": 5}).seconds_per_checkpoint is None
    assert Pace.of_status({"height": 5, "seconds_per_checkpoint": 0}).seconds_per_checkpoint is None
    p = {
        "proposal_id": "ab" * 32,
        "action": {"name": "freeze-identity", "args": {}},
        "emergency": True,
        "status": "open",
        "yes_weight": 1,
        "no_weight": 0,
        "created_height": 212,
        "expires_height": 312,
        "outcome": None,
    }
    m = {
        "state": "in_force",
        "in_force": True,
        "ratified": False,
        "since_height": 212,
        "lapses_height": 312,
        "effect": "frozen pending ratification",
    }
    lines = "\n".join(describe(p, {"measure": m}, pace))
    assert "lapses at height 312 (in about 1 min 40 s) unless ratified" in lines
    assert "votes accepted through height 312 (in about 1 min 40 s)" in lines
