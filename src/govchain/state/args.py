"""Command-line forms of action arguments: parsers an action's `from_cli` uses.

The CLI normalises first (addresses with 0x and any case, id prefixes
resolved, keys lowercased), then an action's `from_cli` builds its arguments
struct with these parsers. A bad value raises ArgError, which the CLI shows
as a usage error with the same code and words.
"""

from __future__ import annotations

from dataclasses import dataclass


class ArgError(ValueError):
    """A command-line argument that cannot make the action; code names the problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class CliOptions:
    """The options of `gov propose` that some actions read (None: not given)."""

    keyword: str | None = None
    payload_hash: str | None = None
    hold: bool = False
    weight: int | None = None
    max_bytes: int | None = None
    media_type: str | None = None
    # Fund-tracing measures (freeze-amount, unfreeze-amount, watch, unwatch).
    trace: str | None = None  # the cited trace's result_root, lowercase hex
    trace_case: bytes | None = None  # its canonical TraceCase, when the CLI found it
    order_hash: str | None = None  # lowercase hex
    until: int | None = None
    case: str | None = None

    def given(self) -> frozenset[str]:
        """Names of the options given."""
        values = {
            "keyword": self.keyword,
            "payload_hash": self.payload_hash,
            "weight": self.weight,
            "max_bytes": self.max_bytes,
            "media_type": self.media_type,
            "trace": self.trace,
            "trace_case": self.trace_case,
            "order_hash": self.order_hash,
            "until": self.until,
            "case": self.case,
        }
        out = {k for k, v in values.items() if v is not None}
        return frozenset(out | ({"hold"} if self.hold else set()))


@dataclass(frozen=True, slots=True)
class Examples:
    """Targets a simulated committee may name when an action shows itself off."""

    address: bytes  # an address that holds no role and is not frozen
    public_key: bytes  # a key that is no validator's
    text: str  # a short printable text


def hex_arg(value: str, size: int, what: str) -> bytes:
    """Lowercase hex of a fixed size, or ArgError naming what it should be."""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != size or value != value.lower():
        raise ArgError(f"bad_{what}", f"{what} must be {size * 2} lowercase hex characters")
    return raw


def amount_arg(value: str, what: str = "amount") -> int:
    """A positive decimal integer, or ArgError naming what it should be."""
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise ArgError(f"bad_{what}", f"{what} must be a positive integer")
    return int(value)


def only(args: tuple[str, ...]) -> str:
    """The one positional argument (the CLI checked the count)."""
    (value,) = args
    return value
