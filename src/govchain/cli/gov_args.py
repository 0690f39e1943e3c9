"""A `gov propose` command line as an action: names, argument forms, local checks.

Nothing here talks to a node: addresses and keys are normalised, transaction-id
prefixes resolved through a callable the command gives, and each argument
checked as execution will check it (the registry's `argument_error`), so bad
input exits 2 before anything is sent. The actions, their argument names and
their forms all come from the registry: every application's (apps/catalog.py
ALL), since the CLI parses before it knows the chain; a node refuses an
action its chain lacks ("X is not an action of this chain").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from govchain.apps.catalog import ALL
from govchain.codec import HASH_BYTES
from govchain.state.args import ArgError, CliOptions
from govchain.state.params import Params
from govchain.state.payloads import Action

from .common import parse_address, parse_hex
from .output import EXIT_USAGE, CliError

# Action name -> the names of its positional arguments (derived: the registry's).
ACTIONS: dict[str, tuple[str, ...]] = {n: s.cli_args for n, s in ALL.actions.items()}
# Names and bounds checked locally, every application's parameters included;
# participation_min's upper bound (the committee's weight) and the cross checks
# between values (which read the values in force) are the node's to check.
LOCAL_PARAMS = Params(1, 2**62, ALL.params.values())
# Options that belong to some actions only, in the words the CLI has always used.
_OPTION_GROUPS = (
    (
        frozenset({"keyword", "payload_hash", "max_bytes", "media_type", "hold"}),
        "--keyword, --payload-hash, --max-bytes, --media-type and --hold belong to add-filter",
    ),
    (frozenset({"weight"}), "--weight belongs to add-validator"),
    (
        frozenset({"trace", "trace_case", "order_hash"}),
        "--trace and --order-hash belong to freeze-amount",
    ),
    (frozenset({"until"}), "--until belongs to watch"),
    (frozenset({"case"}), "--case belongs to freeze-amount, unfreeze-amount, watch and unwatch"),
)
# The last positional name ending so takes one or more values (watch ADDRESS...).
VARIADIC = "..."


def usage_error(code: str, message: str) -> CliError:
    """A usage error (exit 2)."""
    return CliError(code, message, EXIT_USAGE)


def build_action(
    name: str,
    args: tuple[str, ...],
    *,
    keyword: str | None = None,
    payload_hash: str | None = None,
    hold: bool = False,
    weight: int | None = None,
    max_bytes: int | None = None,
    media_type: str | None = None,
    trace: str | None = None,
    trace_case: bytes | None = None,
    order_hash: str | None = None,
    until: int | None = None,
    case: str | None = None,
) -> Action:
    """The action a `gov propose` command line names; CliError (exit 2) on bad input."""
    spec = ALL.actions.get(name)
    if spec is None:
        raise usage_error(
            "unknown_action", f"unknown action {name!r}; one of: {', '.join(ACTIONS)}"
        )
    want = spec.cli_args
    if not count_fits(want, len(args)):
        shown = " ".join(want) or "no positional arguments"
        raise usage_error("bad_arguments", f"{name} takes {shown}; got {len(args)} argument(s)")
    opts = CliOptions(
        keyword,
        payload_hash,
        hold,
        weight,
        max_bytes,
        media_type,
        trace=trace,
        trace_case=trace_case,
        order_hash=order_hash,
        until=until,
        case=case,
    )
    given = opts.given()
    for group, words in _OPTION_GROUPS:
        if given & group - spec.cli_options:
            raise usage_error("bad_usage", words)
    try:
        action: Action = spec.from_cli(args, opts)
    except ArgError as exc:
        raise usage_error(exc.code, exc.message) from None
    return action


def count_fits(want: tuple[str, ...], count: int) -> bool:
    """Whether count positional values fit the names (a variadic last name takes 1 or more)."""
    if want and want[-1].endswith(VARIADIC):
        return count >= len(want)
    return count == len(want)


def argument_error(action: Action) -> str | None:
    """Why an action's arguments are bad, as execution will find (bounds checked locally)."""
    return ALL.argument_error(action, LOCAL_PARAMS)


def emergency_allowed(action: Action) -> bool:
    """True for an action that may be proposed as an emergency measure."""
    return ALL.emergency_allowed(action)


def evidence_hash(evidence: str | None, evidence_file: Path | None) -> bytes:
    """--evidence HASH or the SHA-256 of --evidence-file FILE; empty without either."""
    if evidence is not None and evidence_file is not None:
        raise usage_error("bad_usage", "give --evidence HASH or --evidence-file FILE, not both")
    if evidence is not None:
        return parse_hex(lower_hex(evidence), HASH_BYTES, "evidence")
    if evidence_file is not None:
        try:
            return hashlib.sha256(evidence_file.read_bytes()).digest()
        except OSError as exc:
            raise usage_error("bad_file", f"cannot read {evidence_file}: {exc.strerror}") from None
    return b""


# A trace result file is read whole; `govchain trace --json` of a 10,000-account
# trace stays well below this.
TRACE_FILE_BYTES_MAX = 64 * 1024 * 1024
ROOT_HEX_CHARS = HASH_BYTES * 2


def trace_arg(value: str) -> tuple[str, bytes | None]:
    """--trace as (result_root hex, the cited TraceCase's bytes or None when not given).

    A RESULT_ROOT (64 hex, 0x and any case) stands for itself; anything else
    names a trace result JSON file (as `govchain trace --json` prints it): its
    "result_root", and its "case_b64" (base64 of the canonical TraceCase) if any.
    """
    root = lower_hex(value)
    if len(root) == ROOT_HEX_CHARS and all(c in "0123456789abcdef" for c in root):
        return root, None
    path = Path(value)
    what = f"--trace {value}: neither a RESULT_ROOT (64 hex) nor a trace result file"
    try:
        if path.stat().st_size > TRACE_FILE_BYTES_MAX:
            raise usage_error("bad_trace", f"{what} of at most {TRACE_FILE_BYTES_MAX} bytes")
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise usage_error("bad_trace", what) from None
    except OSError as exc:
        raise usage_error("bad_file", f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise usage_error("bad_trace", f"{what}: {path} is not JSON") from None
    found = doc.get("result_root") if isinstance(doc, dict) else None
    if not isinstance(found, str) or len(found) != ROOT_HEX_CHARS:
        raise usage_error("bad_trace", f"{path} has no result_root of 64 hex characters")
    raw = doc.get("case_b64")
    if raw is None:
        return lower_hex(found), None
    try:
        case = base64.b64decode(str(raw), validate=True)
    except (binascii.Error, ValueError):
        raise usage_error("bad_trace", f"{path}: case_b64 is not base64") from None
    return lower_hex(found), case


def lower_hex(text: str) -> str:
    """Hex as given, without a 0x prefix and in lowercase (checked by build_action)."""
    t = text.strip().lower()
    return t[2:] if t.startswith("0x") else t


def canonical_args(
    name: str, args: tuple[str, ...], tx_id_of: Callable[[str], str]
) -> tuple[str, ...]:
    """ARGS as build_action takes them: addresses and keys normalised, tx id prefixes resolved.

    Left as given when the action or the count is wrong: build_action says so.
    """
    want = ACTIONS.get(name)
    if want is None or not count_fits(want, len(args)):
        return args
    if want and want[-1].endswith(VARIADIC):
        last = want[-1].removesuffix(VARIADIC)
        want = want[:-1] + (last,) * (len(args) - len(want) + 1)
    out = []
    for kind, value in zip(want, args, strict=True):
        if kind == "ADDRESS":
            out.append(parse_address(value).hex())
        elif kind == "TX_ID":
            out.append(tx_id_of(value))
        elif kind == "PUBLIC_KEY":
            out.append(lower_hex(value))
        else:
            out.append(value)
    return tuple(out)
