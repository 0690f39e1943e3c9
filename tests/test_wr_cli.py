"""`govchain wr`: exact units, every transition's argument form, and a receipt's start on a devnet.

The forms are checked without a node: argument errors come before any request,
and a well-formed command hands the transition it built to the sender (captured
here). Then a 1-validator devnet with the roles granted by governance and the
depositor identified by an issuer: a warehouse opens and its supervisor signs,
devices register, goods are weighed in, a receipt is issued and signed, and
`wr show` / `wr bins` read it back; it is pledged, and `wr pledges` lists the
pledge and shows it by an id prefix.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from govchain.apps.warehouse.commitment import Spec, commitment_of
from govchain.apps.warehouse.ops import (
    AddBin,
    AddCollateral,
    Adjust,
    Decline,
    Endorse,
    Enforce,
    Inspect,
    Intake,
    Issue,
    Merge,
    OpenWarehouse,
    Pledge,
    PostPrice,
    RegisterDevice,
    Release,
    Repay,
    Sign,
    Split,
    Withdraw,
)
from govchain.apps.warehouse.readings import Reading, sign_reading
from govchain.cli import wr_cmd
from govchain.cli.main import cli
from govchain.cli.output import CliError
from govchain.cli.wr_args import parse_bp, parse_day, parse_fen, parse_grams, parse_price
from govchain.cli.wr_send import Plan
from govchain.cli.wr_view import fen_words, grams_words, history_rows, pledge_rows, price_words
from govchain.crypto.keys import SigningKey
from govchain.node.files import read_key, write_key
from govchain.sdk.client import Client
from procs import Cluster, cluster

NOWHERE = "http://127.0.0.1:1"  # argument errors come before any request
A, B, C = "11" * 20, "22" * 20, "33" * 20
H = "ab" * 32
TX = "cd" * 32
T = 1_000_000  # grams a tonne
FINAL_S = 30.0
READS = ("show", "bins", "receipts", "pledges")


# -- exact units ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "grams"),
    [("1000t", 1_000 * T), ("2500kg", 2_500_000), ("123g", 123), ("7 T", 7 * T), ("1kg", 1_000)],
)
def test_quantities_are_exact_grams(text: str, grams: int) -> None:
    assert parse_grams(text, "q") == grams


@pytest.mark.parametrize("text", ["1000", "1.5t", "-1t", "0t", "1e3kg", "1,000t", "1000001t", "t"])
def test_a_quantity_without_a_whole_number_and_unit_is_refused(text: str) -> None:
    with pytest.raises(CliError) as exc:
        parse_grams(text, "--gross")
    assert exc.value.exit_code == 2 and exc.value.code == "bad_quantity"
    assert "--gross" in exc.value.message


def test_a_tare_may_be_zero() -> None:
    assert parse_grams("0g", "--tare", zero_ok=True) == 0


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("53200000", 5_320_000_000),
        ("6650000.50", 665_000_050),
        ("6650000.5", 665_000_050),
        ("0.01", 1),
        ("665000050fen", 665_000_050),
    ],
)
def test_money_is_yuan_to_the_fen_or_whole_fen(text: str, fen: int) -> None:
    assert parse_fen(text, "--loan") == fen


@pytest.mark.parametrize("text", ["1.234", "0", "-5", "1e6", "5,000", "¥5", "1.5fen", "yuan"])
def test_money_with_more_than_two_decimals_or_no_number_is_refused(text: str) -> None:
    with pytest.raises(CliError) as exc:
        parse_fen(text, "--loan")
    assert (exc.value.exit_code, exc.value.code) == (2, "bad_money")


def test_prices_are_yuan_a_tonne_in_fen_a_tonne() -> None:
    assert parse_price("80000") == 8_000_000
    assert parse_price("70123.45/t") == 7_012_345
    for bad in ("80000.001", "0", "eighty", "1000000001"):
        with pytest.raises(CliError) as exc:
            parse_price(bad)
        assert exc.value.code == "bad_price", bad


def test_rates_are_percent_or_basis_points() -> None:
    assert parse_bp("5%", "h") == parse_bp("500bp", "h") == 500
    assert parse_bp("5.25%", "h") == 525
    for bad in ("5", "100%", "0.001%", "10000bp", "x%"):
        with pytest.raises(CliError) as exc:
            parse_bp(bad, "--haircut")
        assert exc.value.code == "bad_rate", bad


def test_days_are_dates_or_their_numbers() -> None:
    assert parse_day("1970-01-02") == 1
    assert parse_day("2026-03-02") == (date(2026, 3, 2) - date(1970, 1, 1)).days
    assert parse_day("20514") == 20514
    assert parse_day(None, today=date(1970, 1, 11)) == 10
    for bad in ("yesterday", "9999-12-31", "1000001"):
        with pytest.raises(CliError):
            parse_day(bad)


def test_figures_print_exactly_in_their_unit() -> None:
    assert grams_words(1_000 * T) == "1,000 t"
    assert grams_words(2_500_000) == "2,500 kg"
    assert grams_words(142_857_143) == "142,857,143 g"
    assert grams_words(None) == "-"
    assert fen_words(665_000_050) == "¥6,650,000.50"
    assert price_words(8_000_000) == "¥80,000.00/t"


# -- argument forms -----------------------------------------------------------------------
@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "op.key"
    write_key(path, SigningKey.from_label("wr-cli-operator"))
    return path


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Plan]:
    """The plans the commands would send (nothing reaches a node)."""
    plans: list[Plan] = []
    monkeypatch.setattr(wr_cmd, "send", lambda _s, plan, *_a: plans.append(plan))
    return plans


def _wr(*args: str) -> tuple[int, Any]:
    out = CliRunner().invoke(cli, ["wr", *args, "--json", "--node", NOWHERE])
    try:
        return out.exit_code, json.loads(out.stdout) if out.stdout else None
    except ValueError:
        return out.exit_code, out.stdout


def _built(sent: list[Plan], key_file: Path, *args: str) -> Plan:
    rc, doc = _wr(*args, "--key", str(key_file))
    assert rc == 0 and len(sent) == 1, (rc, doc)
    return sent.pop()


def test_each_transition_builds_its_op(sent: list[Plan], key_file: Path, tmp_path: Path) -> None:
    doc = tmp_path / "receipt.pdf"
    doc.write_bytes(b"GB/T 30332-2024 fields")
    doc_hash = hashlib.sha256(doc.read_bytes()).digest()
    a, b, h, tx = bytes.fromhex(A), bytes.fromhex(B), bytes.fromhex(H), bytes.fromhex(TX)
    cases: list[tuple[tuple[str, ...], object]] = [
        (
            ("open-warehouse", "Qingdao No.1", "--supervisor", "0x" + A.upper(),
             "--bin", "A1:2000t", "--bin", "B2:500t"),
            OpenWarehouse("Qingdao No.1", a, (("A1", 2_000 * T), ("B2", 500 * T))),
        ),
        (("add-bin", "B3", "--capacity", "2500kg"), AddBin("B3", 2_500_000)),
        (
            ("issue", "WR-1", "--holder", B, "--lot", "LOT-1:600t", "--lot", "LOT-2:400t",
             "--document-file", str(doc)),
            Issue("WR-1", b, (("LOT-1", 600 * T), ("LOT-2", 400 * T)), doc_hash),
        ),
        (("endorse", "WR-1", "--to", B), Endorse("WR-1", b)),
        (
            ("pledge", "WR-1", "WR-2", "--bank", C, "--loan", "53200000", "--haircut", "5%"),
            Pledge(("WR-1", "WR-2"), bytes.fromhex(C), 5_320_000_000, 500),
        ),
        (("add-collateral", TX, "WR-9"), AddCollateral(TX, ("WR-9",))),
        (("repay", TX, "--amount", "6650000.50"), Repay(TX, 665_000_050)),
        (("adjust", TX, "--remove", "WR-3", "--add", "WR-7"), Adjust(TX, ("WR-7",), ("WR-3",))),
        (("release", TX), Release(TX)),
        (("enforce", TX, "--buyer", A, "--price", "49000000fen"), Enforce(TX, a, 49_000_000)),
        (
            ("split", "WR-1", "--child", "WR-2=LOT-1:600t", "--child", "WR-3=LOT-1:400t,LOT-2:1g"),
            Split("WR-1", (("WR-2", (("LOT-1", 600 * T),)),
                           ("WR-3", (("LOT-1", 400 * T), ("LOT-2", 1))))),
        ),
        (("merge", "WR-2", "WR-3", "--into", "WR-4"), Merge(("WR-2", "WR-3"), "WR-4")),
        (("withdraw", "WR-4"), Withdraw("WR-4")),
        (("inspect", A, "A1", "--found", "999t", "--report", H), Inspect(a, "A1", 999 * T, h)),
        (
            ("price", "copper_cathode", "80000", "--source", "spot", "--day", "1970-01-31"),
            PostPrice("copper_cathode", "spot", 8_000_000, 30),
        ),
        (("sign", TX), Sign(tx)),
        (("decline", "0x" + TX.upper()), Decline(tx)),
    ]  # fmt: skip
    for args, op in cases:
        assert _built(sent, key_file, *args).op == op, args


def test_register_device_takes_a_key_file_or_the_public_key(
    sent: list[Plan], key_file: Path, tmp_path: Path
) -> None:
    device = SigningKey.from_label("wr-cli-scale")
    path = tmp_path / "scale.key"
    write_key(path, device)
    common = ("--kind", "weighbridge", "--bin", "A1", "--calibrated-until", "900")
    by_file = _built(sent, key_file, "register-device", "scale-1", "--device-key", str(path),
                     *common, "--firmware", H)  # fmt: skip
    assert by_file.op == RegisterDevice(
        "scale-1", "weighbridge", "A1", device.public_key, 900, bytes.fromhex(H)
    )
    by_hex = _built(sent, key_file, "register-device", "scale-1", device.public_key.hex(),
                    *common, "--firmware", H)  # fmt: skip
    assert by_hex.op == by_file.op


def test_intake_commits_the_goods_and_prints_the_salt(
    sent: list[Plan], key_file: Path, tmp_path: Path
) -> None:
    tags = tmp_path / "tags.txt"
    tags.write_text("EPC-0002\nEPC-0001\n\nEPC-0002\n")
    args = ("intake", "LOT-1", "--bin", "A1", "--tags", str(tags), "--commodity", "copper_cathode",
            "--brand", "JCC", "--grade", "Cu-CATH-1", "--pieces", "400", "--gross", "1001t",
            "--tare", "1t", "--weighbridge", "scale-1")  # fmt: skip
    plan = _built(sent, key_file, *args, "--salt", "0x" + H.upper())
    spec = Spec("copper_cathode", "JCC", "Cu-CATH-1", 400, 1_001 * T, T, 1_000 * T)
    op = plan.op
    assert op == Intake(
        "LOT-1", "A1", ("EPC-0002", "EPC-0001", "EPC-0002"), spec, bytes.fromhex(H), b"", "scale-1"
    )
    operator = read_key(key_file).address
    committed = commitment_of(operator, "A1", op.tags, spec, op.salt)
    assert plan.extra == {"lot": "LOT-1", "salt": H, "commitment": committed.hex(), "net_g": 10**9}
    # Without --salt: a fresh random salt each time, printed with the result.
    salts = {_built(sent, key_file, *args, "--tags", "a,b").extra["salt"] for _ in range(2)}
    assert len(salts) == 2 and all(len(s) == 64 for s in salts)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("open-warehouse", "W", "--supervisor", A, "--bin", "A1"), "bad_bin"),
        (("open-warehouse", "W", "--supervisor", A, "--bin", "A1:1t", "--bin", "A1:2t"), "bad_bin"),
        (("open-warehouse", "W", "--supervisor", H, "--bin", "A1:1t"), "bad_address"),
        (("add-bin", "A 1", "--capacity", "1t"), "bad_bin_code"),
        (("issue", "WR-1", "--holder", B, "--lot", "LOT-1:1000"), "bad_quantity"),
        (("issue", "WR-1", "--holder", B, "--lot", "LOT-1:1t"), "bad_usage"),
        (("issue", "WR-1", "--holder", B, "--lot", "LOT-1:1t", "--document", "ab"), "bad_document"),
        (("pledge", "WR-1", "--bank", C), "bad_usage"),
        (("pledge", "3f9a2c1d"), "bad_usage"),  # a pledge is read with `wr pledges ID`
        (("pledge", "WR-1", "--bank", C, "--loan", "1.001", "--haircut", "5%"), "bad_money"),
        (("pledge", "WR-1", "--bank", C, "--loan", "1", "--haircut", "5"), "bad_rate"),
        (("repay", TX, "--amount", "-1"), "bad_money"),
        (("adjust", TX), "bad_usage"),
        (("split", "WR-1", "--child", "WR-2"), "bad_child"),
        (("price", "cu", "80000.001", "--source", "spot"), "bad_price"),
        (("price", "cu", "80000", "--source", "spot", "--day", "soon"), "bad_day"),
        (("sign", "3f9a"), "bad_transaction_id"),
        (("register-device", "s-1", "--kind", "gate", "--bin", "A1", "--calibrated-until", "9",
          "--firmware", H), "bad_usage"),
        (("register-device", "s-1", "00" * 32, "--kind", "gate", "--bin", "A1",
          "--calibrated-until", "9", "--firmware", H), "bad_public_key"),
        (("intake", "L", "--bin", "A1", "--tags", ",", "--commodity", "c", "--brand", "b",
          "--grade", "g", "--pieces", "1", "--gross", "1t", "--weighbridge", "s"), "bad_tags"),
        (("intake", "L", "--bin", "A1", "--tags", "x", "--commodity", "c", "--brand", "b",
          "--grade", "g", "--pieces", "1", "--gross", "1t", "--tare", "1t", "--weighbridge", "s"),
         "bad_spec"),
        (("intake", "L", "--bin", "A1", "--tags", "x", "--commodity", "c", "--brand", "b",
          "--grade", "g", "--pieces", "1", "--gross", "2t", "--tare", "1t", "--net", "2t",
          "--weighbridge", "s"), "bad_spec"),
        (("show", "no such"), "bad_receipt_number"),
        (("bins", "nowhere"), "bad_address"),
        (("receipts", "--status", "lost"), "bad_status"),
        (("receipts", "--limit", "0"), "bad_limit"),
        (("pledges", "3f9a"), "bad_transaction_id"),
        (("pledges", TX, "--bank", C), "bad_usage"),
        (("pledges", "--status", "valid"), "bad_status"),
        (("pledges", "--borrower", "nobody"), "bad_address"),
        (("pledges", "--limit", "1001"), "bad_limit"),
    ],
)  # fmt: skip
def test_bad_input_is_a_usage_error_naming_the_problem(
    args: tuple[str, ...], code: str, key_file: Path
) -> None:
    signs = args[0] not in READS  # reads take no --key
    rc, doc = _wr(*args, "--key", str(key_file)) if signs else _wr(*args)
    assert (rc, doc["error"]["code"]) == (2, code), doc
    assert doc["error"]["message"]


def test_pledge_only_sends_and_points_to_the_read(key_file: Path) -> None:
    rc, doc = _wr("pledge", "3f9a2c1d", "--key", str(key_file))
    assert (rc, doc["error"]["code"]) == (2, "bad_usage")
    assert "--bank, --loan, --haircut" in doc["error"]["message"]
    assert "govchain wr pledges ID" in doc["error"]["message"]


def test_a_transition_needs_a_key() -> None:
    rc, doc = _wr("withdraw", "WR-1")
    assert (rc, doc["error"]["code"]) == (2, "missing_key")


def test_the_pledge_list_shows_a_pasteable_id_and_figures_in_units() -> None:
    summary = {
        "id": TX,
        "bank": A,
        "borrower": B,
        "commodity": "copper_cathode",
        "receipts": ["WR-1"],
        "quantity_g": 1_000 * T,
        "outstanding_fen": 5_320_000_000,
        "status": "active",
        "opened": 41,
    }
    [row] = pledge_rows({"pledges": [summary], "more": False})
    assert row[:6] == [TX[:16], "active", "copper_cathode", "1,000 t", "¥53,200,000.00", "41"]
    assert row[6:] == [A[:10] + "…", B[:10] + "…"]


def test_the_history_table_shows_each_step_with_its_proof() -> None:
    step = {
        "version": 1,
        "height": 12,
        "tx": TX,
        "transition": "issue",
        "signers": [A, B],
        "readings": [{"device": "cell-a1", "counter": 3}],
        "prices": [{"commodity": "cu", "source": "spot", "day": 20514}],
        "proof": {"verified": True, "anchor": 13},
    }
    [row] = history_rows([step])
    assert row[:6] == ["1", "12", "issue", TX[:10] + "…", "cell-a1#3", "spot@20514"]
    assert row[6] == f"{A[:10]}… {B[:10]}…" and row[7] == "verified (anchor 13)"


# -- a devnet ---------------------------------------------------------------------------------
FIRMWARE = hashlib.sha256(b"firmware 1.0").hexdigest()
NUMBER = "WR-2026-0001"
TAGS = [f"EPC-{i:04d}" for i in range(40)]


class Net:
    """A 1-validator devnet driven through the CLI in process (the SDK for what has no CLI)."""

    def __init__(self, c: Cluster, work: Path) -> None:
        self.c, self.work = c, work
        self.url = c.url(0)
        self.client = Client(self.url)

    def key(self, name: str) -> str:
        path = self.c.root / "keys" / f"{name}.key"
        if not path.exists():
            write_key(path, SigningKey(secrets.token_bytes(32)))
        return str(path)

    def address(self, name: str) -> str:
        return read_key(Path(self.key(name))).address.hex()

    def run(self, *args: str) -> tuple[int, Any]:
        out = CliRunner().invoke(cli, [*args, "--json", "--node", self.url])
        return out.exit_code, json.loads(out.stdout)

    def ok(self, *args: str) -> Any:
        rc, doc = self.run(*args)
        assert rc == 0, (args, doc)
        return doc

    def final(self, *tx_ids: str) -> list[dict[str, Any]]:
        """The records once final (each must have executed)."""
        records = [self.client.wait_final(t, FINAL_S) for t in tx_ids]
        assert all(r["status"] == "executed" for r in records), records
        return records


def _granted(net: Net, roles: dict[str, str]) -> None:
    """Each address its role: regulator-1 proposes, regulator-2 votes (threshold 2)."""
    r1, r2 = net.key("regulator-1"), net.key("regulator-2")
    proposals = [
        net.ok(*f"gov propose grant-role {addr} {role} --reason test --key {r1} --no-wait".split())
        for addr, role in roles.items()
    ]
    net.final(*(p["tx_id"] for p in proposals))
    votes = [
        net.ok("gov", "vote", p["proposal_id"], "yes", "--key", r2, "--no-wait") for p in proposals
    ]
    net.final(*(v["tx_id"] for v in votes))
    for p in proposals:
        assert net.client.proposal(p["proposal_id"])["status"] == "passed"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    root = tmp_path_factory.mktemp("wr")
    with cluster(root / "net", validators=1) as c:
        n = Net(c, root)
        try:
            yield n
        finally:
            n.client.close()


def test_a_receipt_is_issued_from_the_cli_and_read_back(net: Net) -> None:
    op, sup, dep, faucet = (net.key(n) for n in ("operator", "supervisor", "depositor", "faucet"))
    op_a, sup_a, dep_a = (net.address(n) for n in ("operator", "supervisor", "depositor"))
    bank, oracle = net.key("bank"), net.key("oracle")
    bank_a, oracle_a = net.address("bank"), net.address("oracle")
    roles = {net.address("faucet"): "issuer", op_a: "warehouse", sup_a: "supervisor"}
    _granted(net, {**roles, dep_a: "depositor", bank_a: "bank", oracle_a: "oracle"})
    # The issuer identifies the depositor (no CLI for identity.set), while the warehouse opens.
    ident = net.client.submit(
        net.client.set_identity(
            read_key(Path(faucet)), bytes.fromhex(dep_a), "organization", 1, b"\1" * 32
        )
    )
    opened = net.ok("wr", "open-warehouse", "Qingdao No.1", "--supervisor", sup_a,
                    "--bin", "A1:2000t", "--key", op, "--wait")  # fmt: skip
    assert opened["status"] == "executed" and opened["transition"] == "open-warehouse"
    assert opened["offer"] == opened["tx_id"] and opened["offer_status"] == "open"
    assert opened["must_sign"] == [sup_a]
    signed = net.ok("wr", "sign", opened["offer"][:12], "--key", sup, "--wait")
    assert (signed["signs"], signed["offer_status"], signed["must_sign"]) == (
        "open-warehouse",
        "executed",
        [],
    )

    # Two devices, each an offer the supervisor signs.
    scale, cell = SigningKey(secrets.token_bytes(32)), SigningKey(secrets.token_bytes(32))
    register = "--bin A1 --calibrated-until +100000 --firmware " + FIRMWARE + " --key " + op
    offers = [
        net.ok("wr", "register-device", name, k.public_key.hex(), "--kind", kind, *register.split())
        for name, k, kind in (("scale-1", scale, "weighbridge"), ("cell-a1", cell, "load_cell"))
    ]
    assert all(o["status"] == "pending" and o["must_sign"] == [sup_a] for o in offers), offers
    net.final(*(o["tx_id"] for o in offers))
    signs = [net.ok("wr", "sign", o["offer"], "--key", sup)["tx_id"] for o in offers]
    net.final(*signs, ident)

    # The gateway relays the weighbridge's gross and the load cell's total (SDK: no CLI).
    fw = bytes.fromhex(FIRMWARE)
    readings = [
        sign_reading(scale, Reading("scale-1", 1, 1_000, 1_001 * T, (), fw)),
        sign_reading(cell, Reading("cell-a1", 1, 1_000, 1_000 * T, (), fw)),
    ]
    net.final(net.client.submit(net.client.wr_readings(read_key(Path(faucet)), readings)))

    intake = ("intake", "LOT-1", "--bin", "A1", "--tags", ",".join(TAGS), "--commodity",
              "copper_cathode", "--brand", "JCC", "--grade", "Cu-CATH-1", "--pieces", "40",
              "--gross", "1001t", "--tare", "1t", "--weighbridge", "scale-1", "--key", op,
              "--wait")  # fmt: skip
    lot = net.ok("wr", *intake)
    assert (lot["status"], lot["lot"], lot["net_g"]) == ("executed", "LOT-1", 1_000 * T)
    assert len(lot["salt"]) == 64 and "offer" not in lot
    # The same pieces again, under a fresh salt: final as rejected, exit 1, the reason named.
    rc, again = net.run("wr", *[a if a != "LOT-1" else "LOT-2" for a in intake])
    assert rc == 1 and again["status"] == "rejected", again
    assert (
        "wr_tags_in_use" in json.dumps(again["receipt"]) and again["error"]["code"] == "tx_rejected"
    )

    document = hashlib.sha256(b"receipt").hexdigest()
    issue = f"issue {NUMBER} --holder {dep_a} --lot LOT-1:1000t --document {document} --key {op}"
    issued = net.ok("wr", *issue.split(), "--wait")
    assert issued["must_sign"] == sorted([sup_a, dep_a]) and issued["number"] == NUMBER
    first = net.ok("wr", "sign", issued["offer"], "--key", sup)
    assert first["must_sign"] == [dep_a], first
    net.final(first["tx_id"])
    last = net.ok("wr", "sign", issued["offer"], "--key", dep, "--wait")
    assert (last["offer_status"], last["must_sign"]) == ("executed", [])

    shown = net.ok("wr", "show", NUMBER)
    for key in (
        "number",
        "status",
        "holder",
        "controller",
        "lots",
        "encumbrances",
        "ltv",
        "history",
    ):
        assert key in shown, key
    assert (shown["number"], shown["status"], shown["holder"], shown["controller"]) == (
        NUMBER,
        "valid",
        dep_a,
        dep_a,
    )
    assert shown["lots"] == [{"lot": "LOT-1", "grams": 1_000 * T}]
    assert shown["encumbrances"] == [] and shown["ltv"] is None
    [step] = shown["history"]
    assert step["transition"] == "issue" and step["signers"] == [op_a, sup_a, dep_a]
    assert step["readings"] == [{"device": "cell-a1", "counter": 1}]

    proved = net.ok("wr", "show", NUMBER, "--proofs", "--devnet", str(net.c.root))
    assert proved["history"][0]["proof"]["verified"] is True, proved["history"][0]

    bins = net.ok("wr", "bins", op_a)
    [a1] = bins["bins"]
    assert (a1["bin"], a1["green"], a1["problems"]) == ("A1", True, [])
    assert (a1["sensed_g"], a1["book_g"], a1["receipted_g"]) == (1_000 * T,) * 3

    # The depositor pledges it for a 70% loan at today's prices; the bank signs.
    fund = ("tx", "transfer", "--to", bank_a, "--amount", str(10**12), "--key", faucet)
    funded = net.ok(*fund)["tx_id"]
    post = ("wr", "price", "copper_cathode", "80000", "--key", oracle, "--source")
    net.ok(*post, "settlement")
    assert net.ok(*post, "spot", "--wait")["fen_per_tonne"] == 8_000_000  # both: one sender
    loan = ("--bank", bank_a, "--loan", "53200000", "--haircut", "5%", "--key", dep, "--wait")
    pledged = net.ok("wr", "pledge", NUMBER, *loan)
    assert pledged["pledge"] == pledged["offer"] == pledged["tx_id"]
    assert pledged["must_sign"] == [bank_a]
    net.final(funded)
    net.ok("wr", "sign", pledged["offer"][:8], "--key", bank, "--wait")
    shown = net.ok("wr", "show", NUMBER)
    assert shown["controller"] == bank_a and shown["ltv"] == 0.7
    assert [e["pledge"] for e in shown["encumbrances"]] == [pledged["pledge"]]
    # The same goods again: refused when proposed (at most one pledge per unit of goods).
    rc, second = net.run("wr", "pledge", NUMBER, *loan)
    assert rc == 1 and "wr_encumbered" in json.dumps(second["receipt"]), second
    # The pledge read back: in full by an id prefix, and in the lists that match it.
    one = net.ok("wr", "pledges", pledged["pledge"][:10])
    assert one["id"] == pledged["pledge"] and one["ltv"] == 0.7
    assert one["outstanding_fen"] == 5_320_000_000
    listed = net.ok("wr", "pledges", "--bank", bank_a, "--borrower", dep_a, "--status", "active")
    assert [(p["id"], p["receipts"]) for p in listed["pledges"]] == [(pledged["pledge"], [NUMBER])]
    assert listed["more"] is False
    assert net.ok("wr", "pledges", "--status", "released")["pledges"] == []
    assert net.ok("wr", "pledges", "--borrower", bank_a)["pledges"] == []

    # People's views: the receipt's state and history, the bin's figures.
    people = CliRunner().invoke(cli, ["wr", "show", NUMBER, "--node", net.url])
    assert people.exit_code == 0 and "1,000 t" in people.stdout and "issue" in people.stdout
    people = CliRunner().invoke(cli, ["wr", "bins", op_a, "--node", net.url])
    assert people.exit_code == 0 and "green" in people.stdout, people.stdout
    people = CliRunner().invoke(cli, ["wr", "pledges", "--node", net.url])
    assert people.exit_code == 0 and pledged["pledge"][:16] in people.stdout, people.stdout
    assert "active" in people.stdout and "¥53,200,000.00" in people.stdout
