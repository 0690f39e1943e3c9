"""Commands that talk to a node: tx, status, proof, verify; later issues' commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from govchain.codec import encode
from govchain.dag.kinds import Kind
from govchain.node.files import read_genesis
from govchain.sdk.client import Client
from govchain.sdk.proof import ProofError, Trust, verify_proof
from govchain.state.payloads import RecordPayload

from .common import (
    devnet_option,
    json_option,
    key_option,
    load_key,
    node_client,
    node_option,
    parse_address,
    reported,
    resolve_tx_id,
    show,
    timeout_option,
    trust_from_option,
    wait_option,
)
from .genesis_lookup import find_genesis
from .output import EXIT_FAILURE, EXIT_USAGE, CliError, example, rejection
from .tx_view import show_tx

WAIT_RULE = (
    "With --wait: blocks until the transaction is final and prints its record; exits 0"
    " when it is executed or held, 1 when it is final as rejected."
)
FAUCET = "./devnet/keys/faucet.key"
TRANSFER_EXAMPLE = (
    "govchain tx transfer --to 0x1f2e3d4c5b6a79880706f5e4d3c2b1a098765432 \\",
    f"    --amount 250 --key {FAUCET} --wait",
)


def _finish(client: Client, tx_id: str, wait: bool, timeout_s: float, as_json: bool) -> None:
    """Print the pending id, or with --wait the final record: exit 1 when final as rejected."""
    if wait:
        doc = client.wait_final(tx_id, timeout_s)
        refused = rejection(doc, "transaction")
        if refused is not None:
            doc = {**doc, "error": refused}  # the one --wait rule (docs/cli.md)
        show(doc, as_json, "final")
        if refused is not None:
            sys.exit(EXIT_FAILURE)  # the contract: the record is printed either way
    else:
        show({"tx_id": tx_id, "status": "pending"}, as_json)


@click.group(
    "tx",
    epilog=example(
        *TRANSFER_EXAMPLE,
        "govchain tx show 3f9a2c1d",
    ),
)
def tx() -> None:
    """Send and inspect transactions."""


@tx.command(
    "transfer",
    epilog=WAIT_RULE + "\n\n" + example(*TRANSFER_EXAMPLE),
)
@click.option("--to", "to", required=True, help="recipient address (40 hex, 0x and any case)")
@click.option("--amount", type=int, required=True, help="how much to move (a positive integer)")
@key_option
@node_option
@wait_option
@timeout_option
@json_option
@reported
def transfer(
    to: str,
    amount: int,
    key_path: Path | None,
    node_url: str | None,
    wait: bool,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Move AMOUNT from the key's account to an address."""
    recipient = parse_address(to)
    if amount <= 0:
        raise CliError("bad_amount", "--amount must be a positive integer", EXIT_USAGE)
    key = load_key(key_path)
    with node_client(node_url) as client:
        tx_id = client.submit(client.transfer(key, recipient, amount))
        _finish(client, tx_id, wait, timeout_s, as_json)


@tx.command(
    "record",
    epilog=WAIT_RULE
    + "\n\n"
    + example(f'govchain tx record --data "hello ledger" --key {FAUCET} --wait'),
)
@click.option("--data", default=None, help="the record's content, as text")
@click.option(
    "--file", "file", type=click.Path(path_type=Path), default=None, help="the content: a file"
)
@click.option("--service", default="", help="the registered service this record belongs to")
@click.option(
    "--media-type",
    default=None,
    help="media type (default: text/plain for --data, application/octet-stream for --file)",
)
@key_option
@node_option
@wait_option
@timeout_option
@json_option
@reported
def record(
    data: str | None,
    file: Path | None,
    service: str,
    media_type: str | None,
    key_path: Path | None,
    node_url: str | None,
    wait: bool,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Write a data record on the open layer."""
    if (data is None) == (file is None):
        raise CliError("bad_usage", "give exactly one of --data TEXT or --file PATH", EXIT_USAGE)
    try:
        content = data.encode() if data is not None else Path(str(file)).read_bytes()
    except OSError as exc:
        raise CliError("bad_file", f"cannot read {file}: {exc.strerror}", EXIT_USAGE) from None
    if media_type is None:
        media_type = "text/plain" if data is not None else "application/octet-stream"
    payload = encode(RecordPayload(service, media_type, content))
    key = load_key(key_path)
    with node_client(node_url) as client:
        tx_id = client.submit(client.build(key, Kind.RECORD, payload))
        _finish(client, tx_id, wait, timeout_s, as_json)


@tx.command(
    "show",
    epilog=example(
        "govchain tx show 3f9a2c1d        # 8 or more hex digits of its id",
        "govchain tx show 3f9a2c1d --raw  # the payload's bytes too (base64)",
    ),
)
@click.argument("tx_id")
@click.option("--raw", is_flag=True, help="also print the payload's bytes (base64)")
@node_option
@json_option
@reported
def tx_show(tx_id: str, raw: bool, node_url: str | None, as_json: bool) -> None:
    """Print a transaction's record with its payload decoded (TX_ID: 8+ hex digits of it)."""
    with node_client(node_url) as client:
        doc = client.tx(resolve_tx_id(client, tx_id))
    if as_json:
        show(doc, as_json)
    else:
        show_tx(doc, raw)


@click.command("status", epilog=example("govchain status --devnet ./devnet2"))
@node_option
@json_option
@reported
def status(node_url: str | None, as_json: bool) -> None:
    """The node's chain, height, validators and DAG size."""
    with node_client(node_url) as client:
        show(client.status(), as_json)


def parse_trust(text: str | None) -> Trust | None:
    """--trust HEIGHT:HASH as a Trust, or a usage error (exit 2) saying what it takes."""
    if text is None:
        return None
    try:
        return Trust.parse(text)
    except ValueError as exc:
        raise CliError("bad_trust", str(exc), EXIT_USAGE) from None


trust_option = click.option(
    "--trust",
    "trust_text",
    default=None,
    metavar="HEIGHT:HASH",
    help="the checkpoint you trust instead of the genesis (docs/trust.md)",
)


def _proof_from(text: str | None) -> tuple[int, str | None]:
    """--trust for `govchain proof`: HEIGHT:HASH, or HEIGHT alone (the hash is not checked)."""
    if text is None:
        return 0, None
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text), None
    trust = parse_trust(text)
    assert trust is not None
    return trust.height, trust.hash.hex()


def check_served(doc: Any, start: int, expected: str | None) -> None:
    """Refuse at once what the node served from another trusted point than the user's hash.

    Failing here rather than at verification names the real cause: the node's
    checkpoint (or genesis) at that height is not the one the user trusts.
    """
    if expected is None:
        return
    try:
        served = (
            doc["genesis_hash"] if start == 0 else doc["trust"]["handoff"]["checkpoint"]["hash"]
        )
    except (KeyError, TypeError):
        served = None
    if served != expected:
        what = "genesis" if start == 0 else f"checkpoint {start}"
        raise CliError(
            "untrusted_checkpoint",
            f"the node's {what} is {served}, not {expected} that you trust",
            EXIT_FAILURE,
        )


@click.command(
    "proof",
    epilog=example("govchain proof 3f9a2c1d --out proof.json && govchain verify proof.json"),
)
@click.argument("tx_id")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="write the proof (JSON) here"
)
@trust_from_option
@node_option
@timeout_option
@json_option
@reported
def proof(
    tx_id: str,
    out: Path,
    trust_text: str | None,
    node_url: str | None,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Save the proof that a transaction's receipt is certified, once it can be (--timeout)."""
    start, expected = _proof_from(trust_text)
    with node_client(node_url) as client:
        tx_id = resolve_tx_id(client, tx_id)
        doc = client.wait_proof(tx_id, start, timeout_s)
    check_served(doc, start, expected)
    try:
        out.write_text(json.dumps(doc, indent=2) + "\n")
    except OSError as exc:
        raise CliError("bad_file", f"cannot write {out}: {exc.strerror}", EXIT_USAGE) from None
    show({"tx_id": tx_id, "out": str(out), "trust_from": start}, as_json)


genesis_option = click.option(
    "--genesis",
    "genesis_path",
    type=click.Path(path_type=Path),
    default=None,
    help="the chain's genesis.json (default: the devnet's, found by --devnet, GOVCHAIN_DEVNET"
    " or the genesis hash the file names)",
)


@click.command(
    "verify",
    epilog=example(
        "govchain verify proof.json",
        "govchain verify proof.json --genesis ./devnet/nodes/validator-0/genesis.json",
    ),
)
@click.argument("file", type=click.Path(path_type=Path))
@genesis_option
@devnet_option
@trust_option
@json_option
@reported
def verify(file: Path, genesis_path: Path | None, trust_text: str | None, as_json: bool) -> None:
    """Check a proof offline from the genesis (or --trust HEIGHT:HASH) through every set change."""
    trust = parse_trust(trust_text)
    try:
        doc: Any = json.loads(file.read_text())
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise CliError("bad_file", f"{file} is not a readable proof: {exc}", EXIT_USAGE) from None
    genesis = read_genesis(find_genesis(doc, file, genesis_path))
    try:
        result = verify_proof(doc, genesis, trust)
    except ProofError as exc:
        raise CliError("invalid_proof", str(exc), EXIT_FAILURE) from None
    show(result, as_json)
