"""Reads a devnet user reaches for: `govchain balance`, `account` and `checkpoint`."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from govchain.sdk.client import Client
from govchain.sdk.errors import SdkError

from .common import json_option, node_client, node_option, parse_address, reported, show
from .console import people_console
from .output import EXIT_USAGE, CliError, emit_json, example
from .tx_view import printable

HEIGHT_DIGITS_MAX = 18


def _fields(rows: list[tuple[str, Any]], title: str | None = None) -> None:
    """Label/value lines for people."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, escape(printable(str(value))))
    console = people_console()
    if title:
        console.print(f"[bold]{escape(title)}[/bold]")
    console.print(grid)


def balance_doc(client: Client, address: bytes) -> dict[str, Any]:
    """{"address", "balance", "frozen_amount"}: the contract's balance."""
    acct = client.account(address)
    return {
        "address": address.hex(),
        "balance": int(acct["balance"]),
        "frozen_amount": int(acct.get("frozen_amount", 0)),
    }


def account_doc(client: Client, address: bytes) -> dict[str, Any]:
    """Balance, nonce, identity (null when none is recorded), freezes in force and holds."""
    acct = client.account(address)
    try:
        identity: dict[str, Any] | None = client.identity(address)
    except SdkError as exc:
        if exc.code != "not_found":
            raise
        identity = None
    freezes = []
    if identity is not None and identity.get("frozen"):
        freezes.append(
            {
                "kind": "identity",
                "proposal": identity.get("frozen_by"),
                "amount": int(acct.get("frozen_amount", acct["balance"])),
            }
        )
    held = client.holds(address)
    return {
        "address": address.hex(),
        "balance": int(acct["balance"]),
        "frozen_amount": int(acct.get("frozen_amount", 0)),
        "nonce": int(acct["nonce"]),
        "identity": identity,
        "freezes": freezes,
        "holds": held["holds"],
        "holds_more": bool(held.get("more")),
        "height": acct.get("height"),
    }


@click.command(
    "balance",
    epilog=example("govchain balance 0x1F2E3D4C5B6A79880706f5e4d3c2b1a098765432"),
)
@click.argument("address")
@node_option
@json_option
@reported
def balance(address: str, node_url: str | None, as_json: bool) -> None:
    """An address's final balance and how much of it a freeze holds.

    ADDRESS: 40 hex digits, with or without 0x, in any case.
    """
    addr = parse_address(address)
    with node_client(node_url) as client:
        doc = balance_doc(client, addr)
    if as_json:
        emit_json(doc)
        return
    rows = [("address", doc["address"]), ("balance", doc["balance"])]
    _fields([*rows, ("frozen", doc["frozen_amount"])])


def _identity_words(identity: dict[str, Any] | None) -> str:
    if identity is None:
        return "none recorded"
    words = f"{identity.get('kind') or 'unregistered'}, tier {identity.get('tier')}"
    words += f", {identity.get('status')}"
    if identity.get("roles"):
        words += f", roles: {', '.join(identity['roles'])}"
    return words


@click.command(
    "account",
    epilog=example("govchain account $(govchain keys show alice.key --json | jq -r .address)"),
)
@click.argument("address")
@node_option
@json_option
@reported
def account(address: str, node_url: str | None, as_json: bool) -> None:
    """An address's balance, nonce, identity, freezes and held transactions."""
    addr = parse_address(address)
    with node_client(node_url) as client:
        doc = account_doc(client, addr)
    if as_json:
        emit_json(doc)
        return
    rows: list[tuple[str, Any]] = [
        ("address", doc["address"]),
        ("balance", doc["balance"]),
        ("frozen", doc["frozen_amount"]),
        ("nonce", doc["nonce"]),
        ("identity", _identity_words(doc["identity"])),
    ]
    rows += [("freeze", f"{f['kind']} by proposal {f['proposal']}") for f in doc["freezes"]]
    for h in doc["holds"]:
        what = f"{h['direction']} {h['kind']} {h['tx_id']} amount {h['amount']}"
        rows.append(("held", f"{what} since checkpoint {h['height']}"))
    if doc["holds_more"]:
        rows.append(("held", "... and more"))
    _fields(rows, f"as of checkpoint {doc['height']}")


@click.command(
    "checkpoint",
    epilog=example("govchain checkpoint        # the latest", "govchain checkpoint 12"),
)
@click.argument("height", default="latest")
@node_option
@json_option
@reported
def checkpoint(height: str, node_url: str | None, as_json: bool) -> None:
    """A decided checkpoint with its certificate (HEIGHT, or latest by default)."""
    if height != "latest" and not (
        height.isascii() and height.isdigit() and 0 < len(height) <= HEIGHT_DIGITS_MAX
    ):
        raise CliError("bad_height", "HEIGHT is a positive integer or 'latest'", EXIT_USAGE)
    with node_client(node_url) as client:
        doc = client.checkpoint(height if height == "latest" else int(height))
    if as_json:
        show(doc, as_json)
        return
    cert = doc.get("certificate") or {}
    _fields(
        [
            ("height", doc["height"]),
            ("hash", doc["hash"]),
            ("previous", doc["previous"]),
            ("time_ms", doc.get("time_ms")),
            ("tips", len(doc.get("tips", []))),
            ("state_hash", doc["state_hash"]),
            ("receipts_root", doc["receipts_root"]),
            ("audit_head", doc.get("audit_head")),
            ("validator_set_hash", doc["validator_set_hash"]),
            ("signatures", len(cert.get("signatures", []))),
        ]
    )
