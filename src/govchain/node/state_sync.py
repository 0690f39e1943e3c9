"""State sync: a new node starts from a peer's snapshot instead of replaying history.

The joiner trusts the peer for nothing but availability. From the genesis it
reads every decided height's checkpoint and certificate, and checks each
certificate against the validator set the chain established so far (the
validator changes in the audit entries, each height's entries tied to the
audit heads the checkpoints certify: sdk/valsets.py). Each executed height's
receipts must give the receipts root the next checkpoint certifies. Then it
takes the snapshot at the offered sync height s and checks its image and live
ids against the state hash checkpoint s + 1 certifies (state/sync_point.py).

What it keeps is a pruned store (SqliteStore.add_synced, page by page):
every checkpoint and certificate, every receipt and audit entry up to s, the
snapshot, and no transaction. The node then starts as after a restart: it fetches the cones of
the heights after s from peers and executes them, checking each state hash.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from govchain.consensus.messages import Certificate, Checkpoint
from govchain.dag.graph import DagFrontier
from govchain.node.sync_wire import (
    HEIGHTS_PER_PAGE_MAX,
    IMAGE_ANSWER_BYTES_MAX,
    PAGE_ANSWER_BYTES_MAX,
    SyncError,
    SyncHeight,
    SyncImage,
    audit_entries,
    decode_heights,
    decode_image,
)
from govchain.replica.snapshot import Snapshot
from govchain.sdk.valsets import ValidatorSets, ValsetError
from govchain.state.genesis import Genesis
from govchain.state.image import ImageError
from govchain.state.ledger_image import ledger_from_image, read_image
from govchain.state.receipts import receipts_fault
from govchain.state.registry import Registry
from govchain.state.sync_point import sealed_hash
from govchain.storage.base import SyncedHeight
from govchain.storage.sqlite import SqliteStore

log = logging.getLogger("govchain.sync")

HEIGHT_LIMIT = 10**15  # no chain we follow is longer; bounds the follower's schedule
OFFER_BYTES_MAX = 4_096
PARTIAL_SUFFIX = ".partial"
OFFER_ATTEMPTS = 3  # a replaced offer starts the sync again, this many times in all
HTTP_TIMEOUT_S = 60.0  # one page or the image: generous, a slow peer is still a peer


class _OfferGoneError(SyncError):
    """The offered snapshot was replaced by a newer one while the heights were checked."""


class _NotFoundError(SyncError):
    """The peer answered 404."""


class ChainFollower:
    """Decided heights, checked one by one from the genesis (pure: no I/O).

    Memory holds what checking the next height needs, the checkpoints around
    the sync height `keep`, and what was checked since the last take(): never
    the whole history, which the store takes page by page.
    """

    def __init__(self, genesis: Genesis, keep: int = 0) -> None:
        self.genesis = genesis
        self.keep = keep
        self._sets = ValidatorSets(genesis)
        self._sets.from_genesis(HEIGHT_LIMIT)
        self.height = 0  # checkpoints checked
        self.executed = 0  # heights whose receipts and audit entries were checked
        self.txs_final = 0  # receipts checked of heights 1..keep
        self.kept: dict[int, Checkpoint] = {}  # checkpoints keep and keep + 1
        self._previous: Checkpoint | None = None
        self._last: SyncHeight | None = None  # the newest height: its execution awaits the next
        self._complete = False
        self._decided: list[tuple[Checkpoint, Certificate]] = []
        self._synced: list[SyncedHeight] = []

    @property
    def complete(self) -> bool:
        """A height the peer had not executed came: nothing can be checked past it."""
        return self._complete

    def add(self, sh: SyncHeight) -> bool:
        """Check the next height (SyncError naming the fault); False when none can follow it."""
        if self._complete:
            raise SyncError("heights past one the peer had not executed")
        h = self.height + 1
        prev = self._last
        entries = audit_entries(prev.audit) if prev is not None else []
        if any(e.height != h - 1 for e in entries):
            raise SyncError(f"height {h - 1} carries an audit entry of another height")
        cp = sh.checkpoint
        try:
            self._sets.extend(h - 1, self._previous, entries, cp, sh.certificate)
        except ValsetError as exc:
            raise SyncError(str(exc)) from None
        if prev is not None:
            fault = receipts_fault(h - 1, prev.receipts, cp.receipts_root)
            if fault is not None:
                raise SyncError(fault)
            self.executed = h - 1
            if h - 1 <= self.keep:
                self.txs_final += len(prev.receipts)
                self._synced.append(SyncedHeight(h - 1, prev.receipts, entries, cp))
        self.height = h
        self._decided.append((cp, sh.certificate))
        if h in (self.keep, self.keep + 1):
            self.kept[h] = cp
        self._previous = cp
        self._last = sh
        if not sh.executed:
            self._complete = True
        return not self._complete

    def take(self) -> tuple[list[tuple[Checkpoint, Certificate]], list[SyncedHeight]]:
        """What was checked since the last take: checkpoints, and executions up to keep."""
        out = (self._decided, self._synced)
        self._decided, self._synced = [], []
        return out


def checked_snapshot(
    genesis: Genesis, registry: Registry, follower: ChainFollower, img: SyncImage
) -> Snapshot:
    """The snapshot a store keeps, once img agrees with what the chain certifies."""
    s = img.height
    if not genesis.is_sync_height(s):
        raise SyncError(f"height {s} is no sync height of this chain")
    if s != follower.keep or follower.executed < s or s + 1 not in follower.kept:
        raise SyncError(f"the certified heights do not reach past the snapshot at {s}")
    try:
        doc = read_image(img.image)
    except ImageError as exc:
        raise SyncError(f"the image: {exc}") from None
    certifying = follower.kept[s + 1]
    if doc.height != s or sealed_hash(doc.state_hash, img.image, img.live) != certifying.state_hash:
        raise SyncError(
            f"the image and live ids do not give the state hash checkpoint {s + 1} certifies"
        )
    if doc.receipts_root != certifying.receipts_root:
        raise SyncError("the image's receipts root is not the certified one")
    try:
        ledger = ledger_from_image(genesis, img.image, registry)
    except ImageError as exc:
        raise SyncError(f"the image does not restore: {exc}") from None
    if ledger.audit_head != certifying.audit_head:
        raise SyncError("the image's audit head is not the certified one")
    frontier = DagFrontier(s, list(follower.kept[s].tips), [], img.live)
    return Snapshot(s, certifying.state_hash, img.image, frontier, [], follower.txs_final)


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a state sync did, for its log line and the CLI."""

    height: int  # the snapshot's
    decided: int  # checkpoints checked and kept
    txs_final: int  # final transactions whose ids and receipts were kept
    image_bytes: int
    seconds: float


def _get(
    client: httpx.Client, path: str, limit: int, params: dict[str, Any] | None = None
) -> bytes:
    """A 200 answer's body of at most limit bytes; SyncError otherwise."""
    try:
        with client.stream("GET", path, params=params) as resp:
            if resp.status_code != 200:
                resp.read()
                if resp.status_code == 404:
                    raise _NotFoundError(f"GET {path}: HTTP 404: {resp.text[:200]}")
                raise SyncError(f"GET {path}: HTTP {resp.status_code}: {resp.text[:200]}")
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise SyncError(f"GET {path}: the answer exceeds {limit} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise SyncError(f"GET {path}: {exc}") from None


def _offer(client: httpx.Client) -> int:
    """The offered snapshot's height."""
    try:
        doc = json.loads(_get(client, "/v1/sync/offer", OFFER_BYTES_MAX))
        height = doc["height"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SyncError(f"the peer's offer is malformed: {exc}") from None
    if type(height) is not int or height < 1:
        raise SyncError("the peer's offer names no height")
    return height


def follow(client: httpx.Client, follower: ChainFollower, store: SqliteStore | None) -> None:
    """Every decided height the peer serves, checked, up to its newest or its first unexecuted.

    store: takes each page's checked heights as it goes (None: dropped).
    """
    more = True
    while more:
        start = follower.height + 1
        params = {"from": start, "count": HEIGHTS_PER_PAGE_MAX}
        try:
            raw = _get(client, "/v1/sync/heights", PAGE_ANSWER_BYTES_MAX, params)
        except _NotFoundError:
            break  # past the peer's newest decided height
        page = decode_heights(raw)
        if not page:
            raise SyncError(f"the peer answered no height from {start}")
        for sh in page:
            more = follower.add(sh)
            if not more:
                break
        decided, synced = follower.take()
        if store is not None:
            store.add_synced(decided, synced)


def state_sync(
    store_path: Path, genesis: Genesis, registry: Registry, client: httpx.Client
) -> SyncReport:
    """Fill a new store at store_path from the peer client talks to; SyncError when refused.

    The store is filled in a file beside it (`.partial`), renamed into place
    once whole: a crash or a refusal never leaves a half-filled store where
    the node would start from it. A peer keeps only its newest snapshot at a
    sync height: when a newer one replaced the offered one while the heights
    were being checked, the sync starts again from a new offer
    (OFFER_ATTEMPTS in all).
    """
    started = time.monotonic()
    if store_path.exists() and store_path.stat().st_size > 0:
        raise SyncError(f"{store_path} exists: state sync fills only a new store")
    for attempt in range(1, OFFER_ATTEMPTS + 1):
        try:
            return _sync_once(store_path, genesis, registry, client, started)
        except _OfferGoneError:
            if attempt == OFFER_ATTEMPTS:
                raise
            log.info("state sync: the offered snapshot was replaced; asking again")
    raise AssertionError("unreachable")


def _sync_once(
    store_path: Path, genesis: Genesis, registry: Registry, client: httpx.Client, started: float
) -> SyncReport:
    partial = store_path.with_name(store_path.name + PARTIAL_SUFFIX)
    _remove_store(partial)
    height = _offer(client)
    follower = ChainFollower(genesis, height)
    try:
        with SqliteStore(partial, genesis.sync_every) as store:
            follow(client, follower, store)
            log.info("state sync: %d decided heights checked", follower.height)
            try:
                raw = _get(client, f"/v1/sync/image/{height}", IMAGE_ANSWER_BYTES_MAX)
            except _NotFoundError as exc:
                raise _OfferGoneError(f"the snapshot offered at {height} is gone: {exc}") from None
            img = decode_image(raw)
            if img.height != height:
                raise SyncError(f"asked for the image at {height}, got one at {img.height}")
            snap = checked_snapshot(genesis, registry, follower, img)
            store.add_synced(*follower.take())
            store.finish_synced(snap)
        for suffix in ("-wal", "-shm"):  # the last close folds the WAL into the file
            if partial.with_name(partial.name + suffix).exists():
                raise SyncError(f"{partial}{suffix} is left after closing: not renamed")
        os.replace(partial, store_path)
        fd = os.open(store_path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)  # the rename itself is durable
        finally:
            os.close(fd)
    except BaseException:
        _remove_store(partial)
        raise
    return SyncReport(
        height,
        follower.height,
        snap.txs_final,
        len(img.image),
        time.monotonic() - started,
    )


def _remove_store(path: Path) -> None:
    """A store file and its WAL and shared-memory files, if any."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)
