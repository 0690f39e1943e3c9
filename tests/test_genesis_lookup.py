"""Where verify and audit verify find the genesis (cli/genesis_lookup.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govchain.cli.genesis_lookup import find_genesis, known_devnets
from govchain.cli.output import EXIT_USAGE, CliError


def _devnet(root: Path, genesis_hash: str, with_file: bool = True) -> Path:
    home = root / "nodes" / "validator-0"
    home.mkdir(parents=True)
    (home / "genesis.json").write_text(json.dumps({"hash": genesis_hash}))
    if with_file:
        (root / "devnet.json").write_text("{}")
    return home / "genesis.json"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVCHAIN_DEVNET", raising=False)


def test_the_genesis_whose_hash_the_file_names_is_found_here_or_near_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "work"
    here.mkdir()
    monkeypatch.chdir(here)
    ours = _devnet(here / "devnet", "aa" * 32)
    other = _devnet(here / "devnet2", "bb" * 32)
    far = _devnet(tmp_path / "far" / "net", "cc" * 32)
    proof = here / "proof.json"
    assert find_genesis({"genesis_hash": "aa" * 32}, proof, None) == ours.resolve()
    assert find_genesis({"genesis_hash": "bb" * 32}, proof, None) == other.resolve()
    # Beside the file, or in a directory above it: as git finds its repository.
    beside = far.parent.parent.parent / "proof.json"
    assert find_genesis({"genesis_hash": "cc" * 32}, beside, None) == far.resolve()
    assert (here / "devnet").resolve() in known_devnets(proof)


def test_when_nothing_matches_the_error_says_where_the_genesis_lives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _devnet(tmp_path / "devnet", "aa" * 32)
    with pytest.raises(CliError) as info:
        find_genesis({"chain_id": "c", "genesis_hash": "dd" * 32}, tmp_path / "p.json", None)
    assert info.value.exit_code == EXIT_USAGE
    assert "DIR/nodes/<name>/genesis.json" in info.value.message
    assert "dd" * 32 in info.value.message


def test_a_named_devnet_or_genesis_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    named = _devnet(tmp_path / "named", "ee" * 32, with_file=False)
    monkeypatch.setenv("GOVCHAIN_DEVNET", str(tmp_path / "named"))
    doc = {"genesis_hash": "ff" * 32}  # another chain's: verify will say so, not this lookup
    assert find_genesis(doc, tmp_path / "p.json", None) == named
    given = tmp_path / "g.json"
    assert find_genesis(doc, tmp_path / "p.json", given) == given
    monkeypatch.setenv("GOVCHAIN_DEVNET", str(tmp_path / "empty"))
    with pytest.raises(CliError, match=r"nodes/<name>/genesis\.json"):
        find_genesis(doc, tmp_path / "p.json", None)
