"""Helpers shared by commands: options, devnet discovery, ids, addresses and error reporting."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from govchain.codec import ID_HEX_CHARS, ID_PREFIX_CHARS_MIN
from govchain.crypto.keys import ADDRESS_BYTES, PUBLIC_KEY_BYTES, SigningKey, address_of
from govchain.node.devnet import DEVNET_ENV
from govchain.node.errors import DevnetError
from govchain.node.files import FileError, read_key
from govchain.sdk.errors import SdkError
from govchain.state.genesis import UnicodeVersionError

if TYPE_CHECKING:
    from govchain.sdk.client import Client

from .console import people_console
from .output import EXIT_FAILURE, EXIT_USAGE, CliError, emit_json, fail

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_NODE = "http://127.0.0.1:27000"
START_HINT = "is a devnet running? ./scripts/start"
ID_MATCHES_SHOWN_MAX = 16  # matches an ambiguity error lists (the API returns no more)
ADDRESS_CHARS = ADDRESS_BYTES * 2
PUBLIC_KEY_CHARS = PUBLIC_KEY_BYTES * 2
_HEX_DIGITS = frozenset("0123456789abcdef")
# Where the chosen node came from, kept on the click context for error messages.
_META_DEVNET = "govchain.devnet"
_META_NODE_HINT = "govchain.node_hint"

json_option = click.option("--json", "as_json", is_flag=True, help="print one JSON document")
key_option = click.option(
    "--key", "key_path", type=click.Path(path_type=Path), default=None, help="key file"
)


def _remember_devnet(ctx: click.Context, _: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.meta[_META_DEVNET] = value


devnet_option = click.option(
    "--devnet",
    "devnet_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    expose_value=False,  # read through devnet_dir(): commands keep their signatures
    callback=_remember_devnet,
    help=f"the devnet directory to talk to (default: ${DEVNET_ENV}, else ./devnet)",
)


def node_option(fn: F) -> F:
    """--node URL and --devnet DIR: the node a command talks to."""
    with_node = click.option(
        "--node",
        "node_url",
        default=None,
        help="node API URL (default: the first node of the devnet)",
    )(fn)
    return devnet_option(with_node)


def devnet_dir() -> Path | None:
    """The devnet directory --devnet named on this command line, if any."""
    ctx = click.get_current_context(silent=True)
    value = ctx.meta.get(_META_DEVNET) if ctx is not None else None
    return value if isinstance(value, Path) else None


def named_devnet() -> Path | None:
    """The devnet directory the user named (--devnet, else $GOVCHAIN_DEVNET), if any."""
    explicit = devnet_dir()
    if explicit is not None:
        return explicit
    env = os.environ.get(DEVNET_ENV, "")
    return Path(env) if env else None


def _first_api(path: Path) -> str:
    """The API URL of the first node a devnet.json lists."""
    try:
        doc = json.loads(path.read_text())
        return str(doc["nodes"][0]["api"])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        raise CliError(
            "bad_devnet", f"{path} does not list a node's API URL: give --node URL", EXIT_USAGE
        ) from None


def _set_hint(hint: str) -> None:
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_META_NODE_HINT] = hint


def default_node() -> str:
    """The first node of the devnet named by --devnet, $GOVCHAIN_DEVNET or ./devnet, else 27000.

    A devnet the user named that has no devnet.json is an error: quietly
    talking to another network would be worse.
    """
    from govchain.node.devnet import devnet_file  # noqa: PLC0415 (only commands that need it)

    named = named_devnet()
    path = devnet_file(named)
    if path is None:
        if named is not None:
            raise CliError(
                "no_devnet",
                f"no devnet in {named} ({named / 'devnet.json'} is missing): start one with "
                f"./scripts/start --dir {named}, or give --node URL",
                EXIT_USAGE,
            )
        _set_hint(START_HINT)
        return DEFAULT_NODE
    _set_hint(f"is the devnet in {path.parent} running? ./scripts/start --dir {path.parent}")
    return _first_api(path)


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


def _clean_hex(text: str) -> str:
    """text stripped of blanks and a 0x prefix, in lowercase."""
    t = text.strip().lower()
    return t[2:] if t.startswith("0x") else t


def parse_address(text: str) -> bytes:
    """An address: 40 hex characters, with or without 0x, in any case.

    A 64-hex public key gets an error that names its address, the likeliest
    paste mistake.
    """
    t = _clean_hex(text)
    if set(t) <= _HEX_DIGITS:
        if len(t) == ADDRESS_CHARS:
            return bytes.fromhex(t)
        if len(t) == PUBLIC_KEY_CHARS:
            raise CliError(
                "bad_address",
                f"{t} is a public key, not an address: its address is "
                f"{address_of(bytes.fromhex(t)).hex()}",
                EXIT_USAGE,
            )
    raise CliError(
        "bad_address",
        f"{text!r} is not an address: an address is {ADDRESS_CHARS} hex characters "
        "(0x and upper case accepted)",
        EXIT_USAGE,
    )


def id_prefix(text: str, what: str = "id") -> str:
    """A full id or a prefix of at least 8 hex characters, lowercase; else a usage error."""
    t = _clean_hex(text)
    if not (ID_PREFIX_CHARS_MIN <= len(t) <= ID_HEX_CHARS and set(t) <= _HEX_DIGITS):
        raise CliError(
            f"bad_{what.replace(' ', '_')}",
            f"{text!r} is not a {what}: give its {ID_HEX_CHARS} hex characters or a unique prefix "
            f"of at least {ID_PREFIX_CHARS_MIN}",
            EXIT_USAGE,
        )
    return t


def unique_match(prefix: str, matches: Sequence[str], more: bool, what: str) -> str:
    """The one id among matches, or a usage error: none found, or an ambiguous prefix."""
    if len(matches) == 1 and not more:
        return matches[0]
    if not matches:
        raise CliError("not_found", f"no {what} id starts with {prefix}", EXIT_USAGE)
    shown = list(matches[:ID_MATCHES_SHOWN_MAX])
    tail = ", and more" if more or len(matches) > len(shown) else ""
    raise CliError(
        "ambiguous_id",
        f"{prefix} is ambiguous: {len(shown)}{'+' if tail else ''} {what} ids start with it: "
        f"{', '.join(shown)}{tail}; give more characters",
        EXIT_USAGE,
    )


def resolve_tx_id(client: Client, text: str) -> str:
    """A transaction id from its 64 hex characters or a unique prefix of at least 8.

    A full id passes through without asking the node; a prefix is looked up
    (stored and pending transactions).
    """
    prefix = id_prefix(text, "transaction id")
    if len(prefix) == ID_HEX_CHARS:
        return prefix
    matches, more = client.tx_ids_with_prefix(prefix)
    return unique_match(prefix, matches, more, "transaction")


def resolve_proposal_id(client: Client, text: str) -> str:
    """A proposal id from its 64 hex characters or a unique prefix of at least 8."""
    prefix = id_prefix(text, "proposal id")
    if len(prefix) == ID_HEX_CHARS:
        return prefix
    matches, more = client.proposal_ids_with_prefix(prefix)
    return unique_match(prefix, matches, more, "proposal")


def _node_hint() -> str | None:
    ctx = click.get_current_context(silent=True)
    hint = ctx.meta.get(_META_NODE_HINT) if ctx is not None else None
    return hint if isinstance(hint, str) else None


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
            message = exc.message or exc.code
            hint = _node_hint() if exc.code == "unreachable" else None
            if hint is not None:
                message = f"{message}; {hint}"
            fail(CliError(exc.code, message, code), as_json)

    return wrapper  # type: ignore[return-value]


def show(doc: Any, as_json: bool, title: str | None = None) -> None:
    """Print a document: JSON for programs, a readable listing for people."""
    if as_json:
        emit_json(doc)
        return
    console = people_console()
    if title:
        console.print(f"[bold]{title}[/bold]")
    console.print_json(json.dumps(doc))


timeout_option = click.option(
    "--timeout", "timeout_s", default=30.0, show_default=True, help="seconds to wait at most"
)
wait_option = click.option(
    "--wait",
    is_flag=True,
    help="block until final and print the record: exit 0 executed or held, 1 rejected",
)
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
