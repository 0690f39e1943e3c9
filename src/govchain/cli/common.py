"""Helpers shared by commands: --json/--node/--key options and error reporting."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from govchain.crypto.keys import SigningKey
from govchain.node.errors import DevnetError
from govchain.node.files import FileError, read_key
from govchain.sdk.errors import SdkError
from govchain.state.genesis import UnicodeVersionError

if TYPE_CHECKING:
    from govchain.sdk.client import Client

from .output import EXIT_FAILURE, EXIT_USAGE, CliError, emit_json, fail

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_NODE = "http://127.0.0.1:27000"
DEVNET_FILE = Path("devnet") / "devnet.json"

json_option = click.option("--json", "as_json", is_flag=True, help="print one JSON document")
node_option = click.option("--node", "node_url", default=None, help="node API URL")
key_option = click.option(
    "--key", "key_path", type=click.Path(path_type=Path), default=None, help="key file"
)


def default_node() -> str:
    """The first node of ./devnet/devnet.json, else the contract's default URL."""
    try:
        doc = json.loads(DEVNET_FILE.read_text())
        return str(doc["nodes"][0]["api"])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return DEFAULT_NODE


def load_key(path: Path | None) -> SigningKey:
    """The signing key a command needs."""
    if path is None:
        raise CliError("missing_key", "this command signs: give --key FILE", EXIT_USAGE)
    try:
        return read_key(path)
    except FileError as exc:
        raise CliError("bad_key_file", str(exc), EXIT_USAGE) from None


def parse_hex(value: str, size: int, what: str) -> bytes:
    """Lowercase hex of a fixed size, or a usage error naming what it should be."""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != size or value != value.lower():
        raise CliError(f"bad_{what}", f"{what} must be {size * 2} lowercase hex characters", 2)
    return raw


def reported(fn: F) -> F:
    """Turn known failures into the contract's error output and exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except CliError as exc:
            fail(exc, as_json)
        except FileError as exc:
            fail(CliError("bad_file", str(exc), EXIT_USAGE), as_json)
        except DevnetError as exc:
            fail(CliError("devnet_failed", str(exc), EXIT_FAILURE), as_json)
        except UnicodeVersionError as exc:
            fail(CliError("unicode_mismatch", str(exc), EXIT_FAILURE), as_json)
        except SdkError as exc:
            usage = exc.status is not None and 400 <= exc.status < 500 and exc.status != 409
            code = EXIT_USAGE if usage or exc.code == "not_found" else EXIT_FAILURE
            fail(CliError(exc.code, exc.message or exc.code, code), as_json)

    return wrapper  # type: ignore[return-value]


def show(doc: Any, as_json: bool, title: str | None = None) -> None:
    """Print a document: JSON for programs, a readable listing for people."""
    if as_json:
        emit_json(doc)
        return
    console = Console()
    if title:
        console.print(f"[bold]{title}[/bold]")
    console.print_json(json.dumps(doc))


timeout_option = click.option("--timeout", "timeout_s", default=30.0, show_default=True)
wait_option = click.option("--wait", is_flag=True, help="block until final, print the record")
# proof and audit export: where the carried chain of validator-set changes starts.
trust_from_option = click.option(
    "--trust",
    "trust_text",
    default=None,
    metavar="HEIGHT[:HASH]",
    help="carry the validator-set changes from this checkpoint (verify with the same --trust)",
)


def node_client(node_url: str | None) -> Client:
    """An SDK client for --node URL, or for the devnet's first node."""
    from govchain.sdk.client import Client  # noqa: PLC0415 (httpx: only for commands that call a node)

    return Client(node_url or default_node())
