"""`govchain node`'s store at start: set aside (--resync), checked, its failures in one line.

A node refuses to run on a damaged store (storage/integrity.py), and a disk
or file fault met while running stops it with one line naming the file
(storage/faults.py): here both become the CLI's error output and exit 1.
"""

from __future__ import annotations

import logging
import sqlite3

import httpx

from govchain.apps.catalog import registry_for
from govchain.node.files import Home, read_genesis
from govchain.node.state_sync import HTTP_TIMEOUT_S, state_sync
from govchain.node.sync_wire import SyncError
from govchain.replica.outputs import ReplayDivergedError
from govchain.storage.base import StoreError
from govchain.storage.faults import store_fault
from govchain.storage.integrity import DamagedStoreError, IntegrityReport, check_store, set_aside
from govchain.storage.sqlite_rows import CorruptStoreError

from .output import EXIT_FAILURE, EXIT_USAGE, CliError

log = logging.getLogger("govchain.node")


def _resync_hint(home: Home) -> str:
    return f"rebuild it from peers with: govchain node --home {home.path} --resync"


def resync(home: Home) -> None:
    """Set the store aside (never deleted): the node starts empty and catches up from peers."""
    moved = set_aside(home.store_path)
    if moved is None:
        log.warning("--resync: no store at %s; starting empty", home.store_path)
    else:
        log.warning("--resync: %s set aside as %s; starting empty", home.store_path, moved)


def state_sync_into(home: Home, url: str) -> None:
    """Fill a new store from a peer's certified snapshot (--state-sync); a CliError if refused."""
    path = home.store_path
    if path.exists() and path.stat().st_size > 0:
        raise CliError(
            "store_exists",
            f"--state-sync fills a new store, and {path} exists: add --resync to set it aside",
            EXIT_USAGE,
        )
    genesis = read_genesis(home.genesis_path)
    log.info("state sync from %s", url)
    try:
        with httpx.Client(base_url=url, timeout=HTTP_TIMEOUT_S) as client:
            report = state_sync(path, genesis, registry_for(genesis), client)
    except (SyncError, StoreError) as exc:  # the store was filled beside, never half here
        raise CliError("sync_failed", f"state sync from {url}: {exc}", EXIT_FAILURE) from None
    log.info(
        "state sync: snapshot at height %d, %d checkpoints, %d final transactions (ids and "
        "receipts), image %d bytes, in %.1f s",
        report.height,
        report.decided,
        report.txs_final,
        report.image_bytes,
        report.seconds,
    )


def checked(home: Home, full: bool = False) -> IntegrityReport:
    """check_store over the home's store; a damaged one is a CliError that says what to do."""
    try:
        report = check_store(home.store_path, read_genesis(home.genesis_path), full)
    except DamagedStoreError as exc:
        raise CliError("store_damaged", f"{exc}; {_resync_hint(home)}", EXIT_FAILURE) from None
    log.info("store %s whole: %s", home.store_path, report.summary())
    return report


def store_failure(exc: BaseException, home: Home) -> CliError | None:
    """exc (raised opening, loading or running on the store) as one line; None: not the store's."""
    if isinstance(exc, CorruptStoreError):  # a row load() read back is not what was written
        return CliError(
            "store_damaged", f"{home.store_path} is damaged: {exc}; {_resync_hint(home)}"
        )
    fault = store_fault(exc, home.store_path)
    if fault is not None:
        hint = f"; {_resync_hint(home)}" if fault.kind == "damaged" else ""
        return CliError(f"store_{fault.kind}", f"{fault}{hint}")
    if isinstance(exc, ReplayDivergedError):
        return CliError(
            "store_incompatible",
            f"{home.store_path}: {exc}; {_resync_hint(home)}, or start a devnet afresh "
            "(govchain devnet --reset)",
        )
    if isinstance(exc, StoreError | sqlite3.Error):
        return CliError("store_failed", f"{home.store_path}: {exc}")
    return None
