"""`govchain init`, `govchain node` and `govchain bench` (`govchain devnet`: devnet_cmd)."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import secrets
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from govchain.consensus.validators import ValidatorSet
from govchain.crypto.keys import SigningKey
from govchain.node.bench import RATE_MAX, run_bench
from govchain.node.files import Home, NodeConfig, PeerAddr, read_genesis, write_key
from govchain.node.logs import LOG_FORMATS, configure_logging
from govchain.node.node import Node
from govchain.node.verify_pool import VERIFY_WORKERS_MAX
from govchain.state.genesis import Genesis

from . import node_store
from .common import json_option, reported, show
from .node_store import checked
from .output import EXIT_USAGE, CliError


@click.command(
    "init",
    epilog="\b\nExample:\n  govchain init --home solo && govchain node --home solo",
)
@click.option(
    "--home", type=click.Path(path_type=Path), required=True, help="the node's directory (new)"
)
@click.option("--name", default="node", help="the node's name in logs and /v1/status")
@click.option("--chain-id", default=None, help="new chain id (default: random)")
@click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(path_type=Path),
    default=None,
    help="join an existing chain instead of creating one",
)
@click.option(
    "--api", "api", default="127.0.0.1:27000", show_default=True, help="HOST:PORT of the API"
)
@click.option(
    "--p2p", "p2p", default="127.0.0.1:27100", show_default=True, help="HOST:PORT for peers"
)
@click.option("--peer", "peers", multiple=True, help="KEY@HOST:PORT of a node to dial")
@json_option
@reported
def init(
    home: Path,
    name: str,
    chain_id: str | None,
    genesis_file: Path | None,
    api: str,
    p2p: str,
    peers: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create a node home; without --genesis, a new one-validator chain with a faucet key."""
    if (home / "node.json").exists():
        raise CliError("already_initialized", f"{home} already holds a node", EXIT_USAGE)
    key = SigningKey(secrets.token_bytes(32))
    if genesis_file is not None:
        genesis = read_genesis(genesis_file)
    else:
        faucet = SigningKey(secrets.token_bytes(32))
        home.mkdir(parents=True, exist_ok=True)
        write_key(home / "faucet.key", faucet)
        genesis = Genesis(
            chain_id=chain_id or f"govchain-{secrets.token_hex(3)}",
            time_ms=time.time_ns() // 1_000_000,
            balances=((faucet.address, 10**15),),
            validators=ValidatorSet.of({key.public_key: 1}),
            # A single-node chain: the node key is the whole committee.
            committee=((key.public_key, 1),),
            threshold=1,
            typed_audit=True,  # validator changes in the audit log as data too
        )
    peer_addrs = []
    for p in peers:
        k, _, addr = p.partition("@")
        host, _, port = addr.rpartition(":")
        if len(k) != 64 or not (port.isascii() and port.isdigit()):
            raise CliError("bad_peer", f"--peer must be KEY@HOST:PORT, got {p!r}", EXIT_USAGE)
        peer_addrs.append(PeerAddr(k, host, int(port)))
    api_host, _, api_port = api.rpartition(":")
    p2p_host, _, p2p_port = p2p.rpartition(":")
    if not all(p.isascii() and p.isdigit() for p in (api_port, p2p_port)):
        raise CliError("bad_address", "--api and --p2p must be HOST:PORT", EXIT_USAGE)
    cfg = NodeConfig(name, api_host, int(api_port), p2p_host, int(p2p_port), tuple(peer_addrs))
    Home(home).write(cfg, genesis, key)
    show(
        {"home": str(home), "chain_id": genesis.chain_id, "node_key": key.public_key.hex()},
        as_json,
    )


@click.command("node", epilog="\b\nExample:\n  govchain node --home solo --log-level debug")
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    required=True,
    help="the node's directory (made by govchain init or govchain devnet)",
)
@click.option("--exit-with-parent", is_flag=True, hidden=True)
@click.option(
    "--log-level", default="info", show_default=True, help="debug, info, warning or error"
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="text lines, or one JSON object a line (ts, level, logger, msg, extra fields, exc)",
)
@click.option(
    "--resync",
    is_flag=True,
    help="set the store aside (data/store.sqlite.damaged-<UTC time>) and rebuild it from peers",
)
@click.option(
    "--prune",
    is_flag=True,
    help="keep only the ids of transactions final before the older kept snapshot "
    "(docs/snapshots.md); the full history stays on archive nodes",
)
@click.option(
    "--state-sync",
    "sync_from",
    metavar="URL",
    default=None,
    help="a new node: start from the snapshot the peer at URL (its API) offers, checked "
    "against the chain's certificates, instead of replaying history (docs/snapshots.md)",
)
@click.option(
    "--check-store",
    is_flag=True,
    help="check every row of the store (docs/disk-faults.md), print the result and exit",
)
@click.option(
    "--verify-workers",
    type=click.IntRange(0, VERIFY_WORKERS_MAX),
    default=None,
    help="processes that check signatures beside the event loop; 0: on the loop "
    "(default: node.json's verify_workers, else the cores but one, at most 4; "
    "docs/verification.md)",
)
@reported
def node(
    home: Path,
    exit_with_parent: bool,
    log_level: str,
    log_format: str,
    resync: bool,
    prune: bool,
    sync_from: str | None,
    check_store: bool,
    verify_workers: int | None,
) -> None:
    """Run a node in the foreground until SIGINT or SIGTERM."""
    configure_logging(log_level, log_format)
    if check_store:
        report = checked(Home(home), full=True)
        show({"store": str(report.path), "whole": True, "checked": report.summary()}, False)
        return
    if resync:
        node_store.resync(Home(home))
    if sync_from is not None:
        node_store.state_sync_into(Home(home), sync_from)
    # A stop asked for while the store loads and replays (seconds on a long
    # chain) is honoured once that is done, not by dying half-way: the event
    # loop's own handlers take over in Node.run.
    stop_asked: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stop_asked.append(signum))
    # The store's start check (mostly SQLite's quick_check, which leaves the
    # GIL) runs beside the load and replay: a second on a million transactions.
    # Nothing is served before both are done, and a damaged store is said first.
    # A new store (no file yet, or empty) has nothing to check, and the node
    # creating it must not race the check's reads: checked before, at once.
    store = Home(home).store_path
    new_store = not store.exists() or store.stat().st_size == 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-check") as pool:
        check = pool.submit(checked, Home(home))
        if new_store:
            check.result()
        try:
            n = Node(Home(home), prune=prune, verify_workers=verify_workers)
        except Exception as exc:
            check.result()
            failed = node_store.store_failure(exc, Home(home))
            if failed is None:
                raise
            raise failed from None
        try:
            check.result()
        except BaseException:
            n.store.close()
            raise
    if stop_asked:
        n.store.close()
        logging.getLogger("govchain.node").info("stopped before it started")
        return
    runner = asyncio.run
    if importlib.util.find_spec("uvloop") is not None:
        runner = importlib.import_module("uvloop").run
    runner(n.run(exit_with_parent=exit_with_parent))
    if n.failure is not None:  # logged where it happened; the exit status says it too
        raise node_store.store_failure(n.failure, Home(home)) or CliError(
            "node_failed", f"stopped: {n.failure}"
        )


@click.command("bench", epilog="\b\nExample:\n  govchain bench --validators 4 --txs 20000 --json")
@click.option(
    "--validators", default=4, show_default=True, type=int, help="validators of the devnet (1-16)"
)
@click.option(
    "--txs", default=20_000, show_default=True, type=int, help="transfers to send (100-1000000)"
)
@click.option(
    "--verify-workers",
    type=int,
    default=None,
    help="each node's signature-checking processes (0: on the event loop; "
    "default: as govchain devnet chooses)",
)
@click.option(
    "--rate",
    type=float,
    default=None,
    help="a paced load: transactions per second, sent 10 a request on a schedule "
    "(default: a flood, as fast as the nodes take them)",
)
@json_option
@reported
def bench(
    validators: int, txs: int, verify_workers: int | None, rate: float | None, as_json: bool
) -> None:
    """Start a devnet, submit pre-signed transfers (a flood, or paced), measure."""
    if not 1 <= validators <= 16:
        raise CliError("bad_argument", "--validators must lie in 1..16", EXIT_USAGE)
    if not 100 <= txs <= 1_000_000:
        raise CliError("bad_argument", "--txs must lie in 100..1000000", EXIT_USAGE)
    if verify_workers is not None and not 0 <= verify_workers <= VERIFY_WORKERS_MAX:
        raise CliError(
            "bad_argument", f"--verify-workers must lie in 0..{VERIFY_WORKERS_MAX}", EXIT_USAGE
        )
    if rate is not None and not 1 <= rate <= RATE_MAX:
        raise CliError("bad_argument", f"--rate must lie in 1..{RATE_MAX:g}", EXIT_USAGE)
    show(
        run_bench(validators, txs, verify_workers=verify_workers, rate=rate),
        as_json,
        "govchain bench",
    )
