"""The genesis document: the governance committee, its threshold, identities, genesis.json."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from govchain.node.files import FileError, genesis_to_json, read_genesis
from govchain.state.genesis import Genesis, GenesisIdentity
from ledgerkit import ALICE, REGULATORS, VALIDATORS, genesis

IDS = (
    GenesisIdentity(ALICE.address, "person", 1, bytes(32)),
    GenesisIdentity(VALIDATORS[0].address, "validator", 3),
)


def committee_of(pairs: list[tuple[bytes, int]], threshold: int = 1) -> Genesis:
    return msgspec.structs.replace(genesis(), committee=tuple(pairs), threshold=threshold)


def test_a_valid_genesis_has_a_committee_and_threshold() -> None:
    g = genesis(identities=tuple(sorted(IDS, key=lambda i: i.address)))
    assert g.committee_weight == 3 and g.threshold == 2
    assert len(g.identities) == 2


@pytest.mark.parametrize(
    ("pairs", "threshold", "message"),
    [
        ([], 1, "1..64 members"),
        (sorted([(k.public_key, 1) for k in REGULATORS], reverse=True), 1, "sorted"),
        ([(REGULATORS[0].public_key, 1)] * 2, 1, "distinct"),
        ([(b"\x01" + bytes(31), 1)], 1, "acceptable"),
        ([(REGULATORS[0].public_key, 0)], 1, "weights"),
        ([(REGULATORS[0].public_key, 1)], 2, "threshold"),
        ([(REGULATORS[0].public_key, 1)], 0, "threshold"),
    ],
    ids=["empty", "unsorted", "duplicate", "small-order", "zero-weight", "too-high", "zero"],
)
def test_a_bad_committee_is_refused(
    pairs: list[tuple[bytes, int]], threshold: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        committee_of(pairs, threshold)


@pytest.mark.parametrize(
    "identity",
    [
        GenesisIdentity(ALICE.address, "wizard", 1),
        GenesisIdentity(ALICE.address, "person", 4),
        GenesisIdentity(ALICE.address, "person", 1, b"short"),
        GenesisIdentity(ALICE.address[:19], "person", 1),
    ],
    ids=["kind", "tier", "attrs", "address"],
)
def test_a_bad_genesis_identity_is_refused(identity: GenesisIdentity) -> None:
    with pytest.raises(ValueError, match="identit"):
        genesis(identities=(identity,))


def test_genesis_json_round_trips_and_keeps_its_hash(tmp_path: Path) -> None:
    g = genesis(identities=tuple(sorted(IDS, key=lambda i: i.address)))
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(genesis_to_json(g)))
    assert read_genesis(path) == g
    doc = json.loads(path.read_text())
    doc["threshold"] = 1
    path.write_text(json.dumps(doc))
    with pytest.raises(FileError, match="hash does not match"):
        read_genesis(path)
    doc["threshold"] = 9
    del doc["hash"]
    path.write_text(json.dumps(doc))
    with pytest.raises(FileError, match="threshold"):
        read_genesis(path)


# Computed by the code before Genesis.typed_audit existed (commit 4fca8a1).
OLD_GENESIS_HASH = "47deb73ec977acfbe636611a863fd195c495836de0d569bdd75a10b2022d6c97"


def test_typed_audit_off_keeps_the_genesis_hash_and_on_changes_it() -> None:
    g = msgspec.structs.replace(genesis(), unicode_version="14.0.0")
    assert not g.typed_audit and g.hash.hex() == OLD_GENESIS_HASH
    typed = msgspec.structs.replace(g, typed_audit=True)
    assert typed.hash != g.hash  # a chain's format is part of its identity
    with pytest.raises(ValueError, match="typed_audit"):
        msgspec.structs.replace(g, typed_audit=1)
