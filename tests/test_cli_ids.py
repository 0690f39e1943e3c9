"""Ids by unique prefix, addresses in any case, and the node a command talks to."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner

from govchain.cli import common
from govchain.cli.common import (
    DEFAULT_NODE,
    START_HINT,
    default_node,
    node_client,
    node_option,
    parse_address,
    reported,
    resolve_proposal_id,
    resolve_tx_id,
)
from govchain.cli.output import EXIT_USAGE, CliError
from govchain.crypto.keys import SigningKey
from govchain.sdk.client import Client

TX_IDS = ["ab" * 32, "abababab" + "00" * 28, "cd" * 32]


def _client(ids: list[str], more: bool = False) -> Client:
    """A client whose node knows ids as transactions and as proposals."""

    def handler(request: httpx.Request) -> httpx.Response:
        prefix = request.url.params["prefix"]
        found = sorted(i for i in ids if i.startswith(prefix))
        if request.url.path == "/v1/txs":
            return httpx.Response(200, json={"tx_ids": found, "more": more})
        assert request.url.path == "/v1/governance/proposals"
        return httpx.Response(200, json={"proposals": [{"proposal_id": i} for i in found]})

    return Client("http://node.test", transport=httpx.MockTransport(handler))


def _usage_error(fn: object, *args: object) -> CliError:
    with pytest.raises(CliError) as info:
        fn(*args)  # type: ignore[operator]
    assert info.value.exit_code == EXIT_USAGE
    return info.value


def test_a_unique_prefix_names_its_transaction_and_its_proposal() -> None:
    client = _client(TX_IDS)
    assert resolve_tx_id(client, "cdcdcdcd") == "cd" * 32
    assert resolve_tx_id(client, "0xCDCDCDCDcd") == "cd" * 32
    assert resolve_proposal_id(client, "abababab0") == "abababab" + "00" * 28


def test_a_full_id_passes_without_asking_the_node() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"asked {request.url}")

    client = Client("http://node.test", transport=httpx.MockTransport(refuse))
    assert resolve_tx_id(client, "EF" * 32) == "ef" * 32


def test_an_ambiguous_prefix_lists_the_matches() -> None:
    err = _usage_error(resolve_tx_id, _client(TX_IDS), "abababab")
    assert err.code == "ambiguous_id"
    assert TX_IDS[0] in err.message and TX_IDS[1] in err.message
    err = _usage_error(resolve_proposal_id, _client(TX_IDS), "abababab")
    assert err.code == "ambiguous_id"


def test_an_unknown_or_short_prefix_is_a_usage_error() -> None:
    assert _usage_error(resolve_tx_id, _client(TX_IDS), "12345678").code == "not_found"
    assert _usage_error(resolve_tx_id, _client(TX_IDS), "abababa").code == "bad_transaction_id"
    assert _usage_error(resolve_proposal_id, _client(TX_IDS), "xyzxyzxyz").code == (
        "bad_proposal_id"
    )


def test_addresses_take_0x_and_any_case() -> None:
    addr = bytes(range(20))
    assert parse_address(addr.hex()) == addr
    assert parse_address("0x" + addr.hex().upper()) == addr
    assert parse_address(" 0X" + addr.hex() + "\n") == addr


def test_a_public_key_where_an_address_belongs_names_its_address() -> None:
    key = SigningKey(b"\x07" * 32)
    err = _usage_error(parse_address, key.public_key.hex())
    assert err.code == "bad_address"
    assert key.address.hex() in err.message
    assert _usage_error(parse_address, "abc").code == "bad_address"


def _devnet(root: Path, api: str) -> Path:
    root.mkdir(parents=True)
    (root / "devnet.json").write_text(json.dumps({"nodes": [{"name": "validator-0", "api": api}]}))
    return root


@click.command()
@node_option
@click.option("--json", "as_json", is_flag=True)
@reported
def _which(node_url: str | None, as_json: bool) -> None:
    click.echo(node_url or default_node())


@click.command()
@node_option
@click.option("--json", "as_json", is_flag=True)
@reported
def _call(node_url: str | None, as_json: bool) -> None:
    with node_client(node_url) as client:
        client.status()


def _run(cmd: click.Command, args: list[str], env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(cmd, args, env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_the_default_node_comes_from_devnet_then_env_then_devnet_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = _devnet(tmp_path / "other", "http://127.0.0.1:28000")
    third = _devnet(tmp_path / "third", "http://127.0.0.1:29000")
    monkeypatch.chdir(tmp_path)
    env = {"GOVCHAIN_DEVNET": ""}
    assert _run(_which, [], env) == (0, DEFAULT_NODE + "\n")
    assert _run(_which, ["--devnet", str(other)], env)[1] == "http://127.0.0.1:28000\n"
    env = {"GOVCHAIN_DEVNET": str(third)}
    assert _run(_which, [], env)[1] == "http://127.0.0.1:29000\n"
    assert _run(_which, ["--devnet", str(other)], env)[1] == "http://127.0.0.1:28000\n"
    assert _run(_which, ["--node", "http://x:1"], env)[1] == "http://x:1\n"
    # ./devnet/devnet.json when nothing names a devnet
    _devnet(tmp_path / "devnet", "http://127.0.0.1:27500")
    assert _run(_which, [], {"GOVCHAIN_DEVNET": ""})[1] == "http://127.0.0.1:27500\n"


def test_a_named_devnet_without_devnet_json_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rc, out = _run(_which, ["--devnet", str(tmp_path / "nowhere")], {})
    assert rc == EXIT_USAGE
    assert "nowhere" in out and "--node URL" in out


def test_an_unreachable_default_node_asks_whether_a_devnet_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as bound:  # bound, never listening: connecting is refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        monkeypatch.setattr(common, "DEFAULT_NODE", url)
        rc, out = _run(_call, ["--json"], {"GOVCHAIN_DEVNET": ""})
        assert rc == 1
        error = json.loads(out)["error"]
        assert error["code"] == "unreachable"
        assert START_HINT in error["message"]
        # A node the user named gets no such guess.
        rc, out = _run(_call, ["--json", "--node", url], {"GOVCHAIN_DEVNET": ""})
        assert START_HINT not in json.loads(out)["error"]["message"]
