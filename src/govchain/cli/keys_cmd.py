"""`govchain keys new|show`."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from govchain.crypto.keys import SigningKey
from govchain.node.files import write_key

from .common import json_option, load_key, reported, show
from .output import EXIT_USAGE, CliError, example


@click.group("keys", epilog=example("govchain keys new --out alice.key"))
def keys() -> None:
    """Create and inspect key files (written with mode 0600)."""


@keys.command("new", epilog=example("govchain keys new --out alice.key"))
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    required=True,
    help="the key file to write (refuses to overwrite one)",
)
@json_option
@reported
def keys_new(out: Path, as_json: bool) -> None:
    """Create a new Ed25519 key file; prints its address and public key."""
    key = new_key_file(out)
    show({"address": key.address.hex(), "public_key": key.public_key.hex()}, as_json)


@keys.command("show", epilog=example("govchain keys show devnet/keys/faucet.key"))
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@reported
def keys_show(file: Path, as_json: bool) -> None:
    """Print a key file's address and public key."""
    key = load_key(file)
    show({"address": key.address.hex(), "public_key": key.public_key.hex()}, as_json)


def new_key_file(out: Path) -> SigningKey:
    """A fresh key written to out; CliError when out exists or cannot be written."""
    if out.exists():
        raise CliError("file_exists", f"{out} already exists; refusing to overwrite a key", 2)
    key = SigningKey(secrets.token_bytes(32))
    try:
        write_key(out, key)
    except OSError as exc:
        raise CliError("cannot_write", f"cannot write {out}: {exc.strerror}", EXIT_USAGE) from None
    return key
