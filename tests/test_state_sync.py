"""State sync: a new store filled from a peer's certified snapshot, and every forgery refused.

A simulated chain (sync heights every 8) is committed into SQLite and served
by a node's API in-process; a joiner syncs from it (node/state_sync.py) into a
new store, which then loads, checks whole and restores a replica at the
snapshot's state. Each forgery a peer could serve (image, live ids, receipts,
audit entries, certificates, checkpoints) is refused with SyncError before
anything is written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from conftest import AsgiClient
from govchain.api.app import build_app
from govchain.apps.catalog import registry_for
from govchain.codec import encode
from govchain.consensus.messages import Certificate
from govchain.dag.graph import DagFrontier
from govchain.node import state_sync as state_sync_module
from govchain.node.files import Home, NodeConfig
from govchain.node.node import Node
from govchain.node.state_sync import ChainFollower, checked_snapshot, follow, state_sync
from govchain.node.sync_wire import SyncError, SyncHeight, SyncImage, decode_heights, decode_image
from govchain.replica.snapshot import Snapshot
from govchain.sim.cluster import Simulation
from govchain.state.ledger_image import image_of, read_image
from govchain.state.receipts import Receipt
from govchain.storage.integrity import check_store
from govchain.storage.sqlite import SqliteStore
from govchain.storage.sqlite_snapshots import (
    SNAPSHOT_PARTS_TABLE,
    SNAPSHOTS_TABLE,
    sync_snapshot_height,
    write_snapshot,
)
from test_snapshots import _replica, _run, _sqlite


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return _run(3)


@pytest.fixture(scope="module")
def served(sim: Simulation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsgiClient]:
    """A node over the simulation's v0 store, its API answering in-process."""
    root = tmp_path_factory.mktemp("peer")
    db = _sqlite(sim, root / "store.sqlite")
    home = Home(root / "node")
    home.write(
        NodeConfig("v0", "127.0.0.1", 1, "127.0.0.1", 2, ()), sim.genesis, sim.nodes["v0"].key
    )
    store = SqliteStore(db)
    node = Node(home, config=sim.honest_config, store=store)
    with AsgiClient(build_app(node)) as client:
        yield client
    store.close()


@pytest.fixture(scope="module")
def heights(served: AsgiClient) -> list[SyncHeight]:
    out: list[SyncHeight] = []
    while True:
        r = served.get("/v1/sync/heights", params={"from": len(out) + 1, "count": 7})
        if r.status_code == 404:
            return out
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/msgpack"
        page = decode_heights(r.content)
        assert 1 <= len(page) <= 7
        out.extend(page)


@pytest.fixture(scope="module")
def offered(served: AsgiClient) -> SyncImage:
    offer = served.get("/v1/sync/offer").json()
    r = served.get(f"/v1/sync/image/{offer['height']}")
    assert r.status_code == 200
    return decode_image(r.content)


def _follow(sim: Simulation, heights: list[SyncHeight], keep: int) -> ChainFollower:
    f = ChainFollower(sim.genesis, keep)
    for sh in heights:
        if not f.add(sh):
            break
    return f


def test_a_new_store_syncs_from_a_peer_and_resumes_there(
    sim: Simulation, served: AsgiClient, tmp_path: Path
) -> None:
    offer = served.get("/v1/sync/offer").json()
    s = offer["height"]
    assert s > 0 and s % sim.genesis.sync_every == 0
    assert offer["decided"] > s
    db = tmp_path / "joiner.sqlite"
    report = state_sync(db, sim.genesis, registry_for(sim.genesis), served)
    assert report.height == s
    assert sorted(p.name for p in tmp_path.iterdir()) == ["joiner.sqlite"]  # no .partial left
    assert report.decided >= s + 1
    with SqliteStore(db) as joined:
        # Every final id up to s is known (a new vertex may name any as a parent),
        # with the receipt the peer holds, and none of the transactions.
        for h in range(1, s + 1):
            assert joined.receipts(h) == _receipts_of(sim, h), f"height {h}'s receipts"
        for rc in _receipts_of(sim, s):
            assert joined.is_final(rc.tx_id)
        assert joined.pruned_height() == s
        assert joined.decided_height() == report.decided
        persisted = joined.load()
        assert persisted.snapshot is not None and persisted.snapshot.height == s
        replica = _replica(sim, joined, persisted)
        assert replica.ledger.height == s
        assert replica.ledger.state_hash == persisted.decided[s][0].state_hash
        # Every field as the peer had it (the image's own hash is the writes' one).
        served_image = read_image(decode_image(served.get(f"/v1/sync/image/{s}").content).image)
        mine = read_image(image_of(replica.ledger))
        assert mine.parts == served_image.parts
    check_store(db, sim.genesis, full=True)  # raises DamagedStoreError on any fault


def _receipts_of(sim: Simulation, h: int) -> list[Receipt]:
    store = sim.nodes["v0"].store
    assert store is not None
    return store.receipts(h)


def test_a_joiner_refuses_a_store_that_is_not_new(
    sim: Simulation, served: AsgiClient, tmp_path: Path
) -> None:
    db = _sqlite(sim, tmp_path / "full.sqlite")
    with pytest.raises(SyncError, match="new store"):
        state_sync(db, sim.genesis, registry_for(sim.genesis), served)


def test_a_refused_sync_leaves_no_store_behind(
    sim: Simulation, served: AsgiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peer whose image does not check out: nothing where the node would start from."""
    real = decode_image

    def forged(raw: bytes) -> SyncImage:
        img = real(raw)
        return msgspec.structs.replace(img, image=img.image[:-1] + bytes([img.image[-1] ^ 1]))

    monkeypatch.setattr("govchain.node.state_sync.decode_image", forged)
    db = tmp_path / "joiner.sqlite"
    with pytest.raises(SyncError):
        state_sync(db, sim.genesis, registry_for(sim.genesis), served)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_replaced_offer_starts_the_sync_again(
    sim: Simulation, served: AsgiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The peer dropped the offered snapshot (a newer sync height came) while the joiner
    checked heights: the joiner asks for the offer again instead of failing."""
    real = state_sync_module._get
    asked: list[str] = []
    gone = {"times": 1}

    def replacing(client: Any, path: str, limit: int, params: Any = None) -> bytes:
        asked.append(path)
        if path.startswith("/v1/sync/image/") and gone["times"] > 0:
            gone["times"] -= 1
            raise state_sync_module._NotFoundError(f"GET {path}: HTTP 404: no_image")
        return real(client, path, limit, params)

    monkeypatch.setattr(state_sync_module, "_get", replacing)
    db = tmp_path / "joiner.sqlite"
    report = state_sync(db, sim.genesis, registry_for(sim.genesis), served)
    assert asked.count("/v1/sync/offer") == 2
    assert report.height == served.get("/v1/sync/offer").json()["height"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["joiner.sqlite"]
    # Gone every time: refused after OFFER_ATTEMPTS offers, nothing left behind.
    gone["times"] = state_sync_module.OFFER_ATTEMPTS
    asked.clear()
    again = tmp_path / "again.sqlite"
    with pytest.raises(SyncError, match="is gone"):
        state_sync(again, sim.genesis, registry_for(sim.genesis), served)
    assert asked.count("/v1/sync/offer") == state_sync_module.OFFER_ATTEMPTS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["joiner.sqlite"]


def test_the_offer_and_its_answers_are_typed(served: AsgiClient) -> None:
    offer = served.get("/v1/sync/offer").json()
    assert set(offer) == {"height", "decided", "state_hash", "image_bytes"}
    assert served.get(f"/v1/sync/image/{offer['height'] + 1}").json()["error"]["code"] == "no_image"
    assert served.get("/v1/sync/heights").json()["error"]["code"] == "bad_from"
    assert served.get("/v1/sync/heights?from=0").status_code == 400
    assert served.get("/v1/sync/heights?from=1&count=257").status_code == 400
    top = offer["decided"]
    assert served.get(f"/v1/sync/heights?from={top + 1}").json()["error"]["code"] == "not_decided"


# -- forgeries: each refused before anything is written ---------------------------------------
def _refused(sim: Simulation, heights: list[SyncHeight], img: SyncImage, words: str) -> None:
    with pytest.raises(SyncError, match=words):
        f = _follow(sim, heights, img.height)
        checked_snapshot(sim.genesis, registry_for(sim.genesis), f, img)


def test_the_honest_answers_pass(
    sim: Simulation, heights: list[SyncHeight], offered: SyncImage
) -> None:
    f = _follow(sim, heights, offered.height)
    snap = checked_snapshot(sim.genesis, registry_for(sim.genesis), f, offered)
    assert snap.height == offered.height
    decided, synced = f.take()
    assert [cp for cp, _ in decided] == [sh.checkpoint for sh in heights[: f.height]]
    assert [s.height for s in synced] == list(range(1, offered.height + 1))
    assert snap.txs_final == sum(len(s.receipts) for s in synced) > 0


def test_a_flipped_byte_in_the_image_is_refused(
    sim: Simulation, heights: list[SyncHeight], offered: SyncImage
) -> None:
    image = bytearray(offered.image)
    image[len(image) // 2] ^= 1
    forged = msgspec.structs.replace(offered, image=bytes(image))
    _refused(sim, heights, forged, "state hash|image")


def test_a_live_id_left_out_is_refused(
    sim: Simulation, heights: list[SyncHeight], offered: SyncImage
) -> None:
    assert offered.live, "the simulation's snapshot holds live ids"
    until, ids = offered.live[-1]
    live = [*offered.live[:-1], *([(until, ids[1:])] if len(ids) > 1 else [])]
    forged = msgspec.structs.replace(offered, live=live)
    _refused(sim, heights, forged, "state hash")


def test_live_ids_out_of_their_order_do_not_decode(offered: SyncImage) -> None:
    groups = list(offered.live)
    shuffled = [*reversed(groups)] if len(groups) > 1 else [(groups[0][0], groups[0][1] * 2)]
    bad: list[list[tuple[int, list[bytes]]]] = [shuffled, [(1, [b"short"])], [(5, [])]]
    for live in bad:
        raw = encode(msgspec.structs.replace(offered, live=live))
        with pytest.raises(SyncError, match="live ids"):
            decode_image(raw)


def test_an_image_of_another_sync_height_is_refused(
    sim: Simulation, heights: list[SyncHeight], offered: SyncImage
) -> None:
    forged = msgspec.structs.replace(offered, height=offered.height - sim.genesis.sync_every)
    _refused(sim, heights, forged, "state hash")


def test_a_changed_receipt_is_refused(
    sim: Simulation, heights: list[SyncHeight], offered: SyncImage
) -> None:
    i = next(i for i, sh in enumerate(heights) if sh.receipts)
    rc = heights[i].receipts[0]
    forged_rc = msgspec.structs.replace(rc, status="rejected", reason="frozen")
    forged = list(heights)
    forged[i] = msgspec.structs.replace(heights[i], receipts=[forged_rc, *heights[i].receipts[1:]])
    _refused(sim, forged, offered, "receipts")


def test_a_receipt_left_out_is_refused(
    sim: Simulation, heights: list[SyncHeight], offered: SyncImage
) -> None:
    i = next(i for i, sh in enumerate(heights) if len(sh.receipts) > 1)
    forged = list(heights)
    forged[i] = msgspec.structs.replace(heights[i], receipts=heights[i].receipts[:-1])
    _refused(sim, forged, offered, "receipts")


def test_an_audit_entry_left_out_is_refused(
    sim: Simulation, heights: list[SyncHeight], offered: SyncImage
) -> None:
    i = next(i for i, sh in enumerate(heights) if sh.audit)
    forged = list(heights)
    forged[i] = msgspec.structs.replace(heights[i], audit=heights[i].audit[1:])
    _refused(sim, forged, offered, "audit|head")


def test_a_forged_signature_is_refused(
    sim: Simulation, heights: list[SyncHeight], offered: SyncImage
) -> None:
    cert = heights[3].certificate
    index, sig = cert.signatures[0]
    bad = bytes([sig[0] ^ 1]) + sig[1:]
    forged_cert = Certificate(
        cert.height, cert.round, cert.value, ((index, bad), *cert.signatures[1:])
    )
    forged = list(heights)
    forged[3] = msgspec.structs.replace(heights[3], certificate=forged_cert)
    _refused(sim, forged, offered, "certificate")


def test_a_changed_checkpoint_is_refused(
    sim: Simulation, heights: list[SyncHeight], offered: SyncImage
) -> None:
    cp = heights[5].checkpoint
    forged = list(heights)
    forged[5] = msgspec.structs.replace(
        heights[5], checkpoint=msgspec.structs.replace(cp, state_hash=bytes(32))
    )
    _refused(sim, forged, offered, "certificate")


def test_a_missing_height_is_refused(
    sim: Simulation, heights: list[SyncHeight], offered: SyncImage
) -> None:
    _refused(sim, heights[:4] + heights[5:], offered, "given for height 5")


def test_garbage_pages_are_typed_errors() -> None:
    # The last: a string that is not UTF-8, which msgspec raises as UnicodeDecodeError
    # (found by fuzz/targets/sync_answers.py in its first seconds).
    regress = (
        Path(__file__).parent.parent / "fuzz/corpus/sync_answers/regress-bad-utf8-in-a-receipt"
    )
    garbage = (b"", b"\xc1", msgspec.msgpack.encode([[1, 2, 3]]), b"\x91" + b"\x00" * 40)
    for raw in (*garbage, regress.read_bytes()):
        with pytest.raises(SyncError):
            decode_heights(raw)
        with pytest.raises(SyncError):
            decode_image(raw)


def test_follow_stops_at_the_peers_newest_height(
    sim: Simulation, served: AsgiClient, heights: list[SyncHeight]
) -> None:
    f = ChainFollower(sim.genesis)
    follow(served, f, None)
    assert f.height == len(heights) or f.complete


def test_the_store_keeps_its_newest_certified_sync_snapshot_beside_the_newest_two() -> None:
    c = sqlite3.connect(":memory:")
    c.execute(SNAPSHOTS_TABLE)
    c.execute(SNAPSHOT_PARTS_TABLE)

    def kept_after(height: int, decided: int | None = None) -> list[int]:
        snap = Snapshot(height, bytes(32), b"", DagFrontier(height, [], [], []), [], 0)
        write_snapshot(c, snap, 1, 8, height + 1 if decided is None else decided)
        return [r[0] for r in c.execute("SELECT height FROM snapshots ORDER BY height")]

    assert kept_after(8) == [8]
    assert kept_after(10) == [8, 10]
    assert kept_after(12) == [8, 10, 12]  # 8: the one offered to joiners
    assert kept_after(14) == [8, 12, 14]
    assert kept_after(16) == [14, 16]
    assert sync_snapshot_height(c, 8) == 16
    assert sync_snapshot_height(c, 0) is None
    # Executed at 24 with nothing deciding 25 yet: 16 stays, and is still offered.
    assert kept_after(18) == [16, 18]
    assert kept_after(20) == [16, 18, 20]
    assert kept_after(22) == [16, 20, 22]
    assert kept_after(24, decided=24) == [16, 22, 24]
    assert sync_snapshot_height(c, 8, below=24) == 16
    assert sync_snapshot_height(c, 8, below=25) == 24
    assert kept_after(26) == [24, 26]  # 25 decided since: 24 is offered, 16 goes
