"""`govchain wr`'s argument forms: exact units, names, hashes, tags, heights and list bounds.

Amounts are exact integers, never floats: quantities in t, kg or g (as grams),
money in yuan with up to 2 decimals or whole fen (as fen), prices in yuan a
tonne (as fen a tonne), rates in % or bp (as basis points), business days as
dates or their numbers. Each parser raises a usage error (exit 2) naming the
option and the form it wants, before anything talks to a node.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from govchain.apps.warehouse.commitment import TAGS_COUNT_MAX
from govchain.apps.warehouse.env import number_ok
from govchain.apps.warehouse.financing import DAY_MAX
from govchain.apps.warehouse.units import (
    BP_PER_ONE,
    FEN_PER_YUAN,
    G_PER_KG,
    G_PER_TONNE,
    LOAN_FEN_MAX,
    PRICE_FEN_PER_TONNE_MAX,
    QUANTITY_G_MAX,
)
from govchain.codec import HASH_BYTES
from govchain.crypto.keys import PUBLIC_KEY_BYTES, point_is_acceptable

from .common import load_key
from .output import EXIT_USAGE, CliError

DIGITS_MAX = 20  # digits of one amount: more than any limit below needs
HEIGHT_MAX = 2**62
NAME_CHARS_MAX = 64  # a receipt number, lot id or bin code (the chain's NUMBER_PATTERN)
LIST_LIMIT_MAX = 1_000  # entries one list asks for (the API's bound)
LIST_LIMIT_DEFAULT = 100
CHINA_TIME = timedelta(hours=8)  # oracles date prices by the business day in China
_DECIMAL = re.compile(rf"(\d{{1,{DIGITS_MAX}}})(?:\.(\d{{1,2}}))?")
_QUANTITY = re.compile(rf"(\d{{1,{DIGITS_MAX}}})\s*(t|kg|g)")
_QUANTITY_UNITS = {"t": G_PER_TONNE, "kg": G_PER_KG, "g": 1}
_HEX = frozenset("0123456789abcdef")


def usage(code: str, message: str) -> CliError:
    """A usage error (exit 2)."""
    return CliError(code, message, EXIT_USAGE)


# -- exact units ---------------------------------------------------------------------------
def parse_grams(text: str, what: str, zero_ok: bool = False) -> int:
    """A quantity such as "1000t", "2500kg" or "123g" in grams (t = 1,000,000 g)."""
    m = _QUANTITY.fullmatch(text.strip().lower())
    if m is None:
        raise usage(
            "bad_quantity",
            f"{what} {text!r} is not a quantity: whole numbers with a unit, as 1000t, "
            "2500kg or 123g",
        )
    grams = int(m.group(1)) * _QUANTITY_UNITS[m.group(2)]
    if grams > QUANTITY_G_MAX or (grams == 0 and not zero_ok):
        least = "0 g" if zero_ok else "1 g"
        raise usage(
            "bad_quantity", f"{what} must lie in {least}..{QUANTITY_G_MAX // G_PER_TONNE:,} t"
        )
    return grams


def _hundredths(text: str) -> int | None:
    """ "6650000.5" as 665000050: a decimal with up to 2 places, times 100; None if not one."""
    m = _DECIMAL.fullmatch(text)
    if m is None:
        return None
    return int(m.group(1)) * 100 + int((m.group(2) or "").ljust(2, "0"))


def parse_fen(text: str, what: str) -> int:
    """Money: yuan with up to 2 decimals ("6650000.50") or whole fen ("665000050fen")."""
    t = text.strip().lower()
    fen = int(t[:-3]) if t.endswith("fen") and t[:-3].isdigit() else _hundredths(t)
    if fen is None or len(t) > DIGITS_MAX + 3:
        raise usage(
            "bad_money",
            f"{what} {text!r} is not money: yuan with up to 2 decimals (6650000.50) or "
            "whole fen (665000050fen)",
        )
    if not 0 < fen <= LOAN_FEN_MAX:
        raise usage("bad_money", f"{what} must lie in 0.01..{LOAN_FEN_MAX // FEN_PER_YUAN:,} yuan")
    return fen


def parse_price(text: str, what: str = "price") -> int:
    """A price in yuan a tonne with up to 2 decimals ("80000", "70123.45"), in fen a tonne."""
    t = text.strip().lower().removesuffix("/t")
    fen = _hundredths(t)
    if fen is None:
        raise usage(
            "bad_price", f"{what} {text!r} is not a price: yuan a tonne with up to 2 decimals"
        )
    if not 0 < fen <= PRICE_FEN_PER_TONNE_MAX:
        top = PRICE_FEN_PER_TONNE_MAX // FEN_PER_YUAN
        raise usage("bad_price", f"{what} must lie in 0.01..{top:,} yuan a tonne")
    return fen


def parse_bp(text: str, what: str) -> int:
    """A rate as "5%" (up to 2 decimals) or "500bp", in basis points below 100%."""
    t = text.strip().lower()
    if t.endswith("bp") and t[:-2].isdigit() and len(t) <= DIGITS_MAX:
        bp: int | None = int(t[:-2])
    elif t.endswith("%"):
        bp = _hundredths(t[:-1])
    else:
        bp = None
    if bp is None:
        raise usage("bad_rate", f"{what} {text!r} is not a rate: give it as 5% or 500bp")
    if not 0 <= bp < BP_PER_ONE:
        raise usage("bad_rate", f"{what} must lie in 0%..99.99%")
    return bp


def parse_day(text: str | None, today: date | None = None) -> int:
    """A business day as YYYY-MM-DD or its number (days since 1970-01-01); default today."""
    if text is None:
        today = today or (datetime.now(UTC) + CHINA_TIME).date()
        return (today - date(1970, 1, 1)).days
    t = text.strip()
    if t.isascii() and t.isdigit() and len(t) <= len(str(DAY_MAX)) and int(t) <= DAY_MAX:
        return int(t)
    try:
        day = date.fromisoformat(t)
    except ValueError:
        raise usage(
            "bad_day", f"--day {text!r} is not a day: YYYY-MM-DD, or days since 1970-01-01"
        ) from None
    days = (day - date(1970, 1, 1)).days
    if not 0 <= days <= DAY_MAX:
        raise usage("bad_day", f"--day must lie in 1970-01-01..day {DAY_MAX:,}")
    return days


# -- ids, hashes, lists ---------------------------------------------------------------------
def parse_name(text: str, what: str, chars_max: int = NAME_CHARS_MAX) -> str:
    """A receipt number, lot id, bin code or device id: [A-Za-z0-9][A-Za-z0-9_.-]*."""
    if not number_ok(text) or len(text) > chars_max:
        raise usage(
            f"bad_{what.replace(' ', '_')}",
            f"{what} {text!r} must be 1-{chars_max} of letters, digits, '_', '.', '-', "
            "starting with a letter or digit",
        )
    return text


def parse_hash(text: str, what: str) -> bytes:
    """A 32-byte hash in hex (0x and any case accepted)."""
    t = text.strip().lower().removeprefix("0x")
    if len(t) != HASH_BYTES * 2 or not set(t) <= _HEX:
        raise usage(
            f"bad_{what.replace(' ', '_')}", f"{what} must be {HASH_BYTES * 2} hex characters"
        )
    return bytes.fromhex(t)


def document_hash(hex_text: str | None, path: Path | None, what: str) -> bytes:
    """A document's hash: given in hex, or the SHA-256 of a file; exactly one of them."""
    if hex_text is not None and path is None:
        return parse_hash(hex_text, what)
    if path is None or hex_text is not None:
        raise usage("bad_usage", f"give exactly one of --{what} HASH or --{what}-file FILE")
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").digest()  # what sha256sum prints
    except OSError as exc:
        raise usage("bad_file", f"cannot read {path}: {exc.strerror}") from None


def parse_tags(text: str) -> tuple[str, ...]:
    """--tags: a file with one tag per line, or a comma-separated list (blank entries skipped)."""
    path = Path(text)
    try:
        is_file = path.is_file()
    except OSError:  # a long list is no file name (ENAMETOOLONG)
        is_file = False
    try:
        raw = path.read_text().splitlines() if is_file else text.split(",")
    except (OSError, UnicodeDecodeError) as exc:
        raise usage("bad_file", f"cannot read the tags in {path}: {exc}") from None
    tags = tuple(t.strip() for t in raw if t.strip())
    if not tags:
        raise usage("bad_tags", "--tags names no tag: give a file (one a line) or a,b,c")
    if len(tags) > TAGS_COUNT_MAX:
        raise usage("bad_tags", f"--tags lists {len(tags)} tags, more than {TAGS_COUNT_MAX}")
    return tags


def parse_lot_amount(text: str) -> tuple[str, int]:
    """LOT:QUANTITY, e.g. LOT-1:1000t."""
    lot, sep, amount = text.rpartition(":")
    if not sep:
        raise usage("bad_lot", f"{text!r}: give LOT:QUANTITY, e.g. LOT-1:1000t")
    return parse_name(lot, "lot id"), parse_grams(amount, f"the quantity of {lot}")


def parse_child(text: str) -> tuple[str, tuple[tuple[str, int], ...]]:
    """NUMBER=LOT:QUANTITY[,LOT:QUANTITY...]: one child of a split."""
    number, sep, lots = text.partition("=")
    if not sep or not lots:
        raise usage("bad_child", f"{text!r}: give NUMBER=LOT:QUANTITY[,LOT:QUANTITY...]")
    return parse_name(number, "receipt number"), tuple(
        parse_lot_amount(item) for item in lots.split(",")
    )


def parse_bin(text: str) -> tuple[str, int]:
    """CODE:CAPACITY, e.g. A1:2000t."""
    code, sep, capacity = text.rpartition(":")
    if not sep:
        raise usage("bad_bin", f"{text!r}: give CODE:CAPACITY, e.g. A1:2000t")
    return parse_name(code, "bin code"), parse_grams(capacity, f"the capacity of bin {code}")


def parse_public_key(text: str | None, path: Path | None) -> bytes:
    """A device's Ed25519 public key: 64 hex characters, or read from a key file."""
    if (text is None) == (path is None):
        raise usage("bad_usage", "give exactly one of PUBLIC_KEY or --device-key FILE")
    given = _key_file_public_key(path) if path is not None else text or ""
    t = given.strip().lower().removeprefix("0x")
    raw = bytes.fromhex(t) if len(t) == PUBLIC_KEY_BYTES * 2 and set(t) <= _HEX else b""
    if not point_is_acceptable(raw):
        raise usage(
            "bad_public_key",
            f"the device's public key must be {PUBLIC_KEY_BYTES * 2} hex characters of an "
            "acceptable Ed25519 point",
        )
    return raw


def _key_file_public_key(path: Path) -> str:
    """The public key in a key file (`govchain keys new`), a keys-show JSON, or bare hex."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise usage("bad_file", f"cannot read {path}: {exc}") from None
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    if isinstance(doc, dict) and isinstance(doc.get("public_key"), str):
        return str(doc["public_key"])
    if isinstance(doc, dict) and "seed" in doc:
        return load_key(path).public_key.hex()
    raise usage("bad_file", f"{path} holds no public_key")


def parse_height(text: str, now: Callable[[], int]) -> int:
    """A height, or +N: N heights after the node's current one."""
    t = text.strip()
    relative = t.startswith("+")
    digits = t[1:] if relative else t
    if not (digits.isascii() and digits.isdigit() and len(digits) <= DIGITS_MAX):
        raise usage("bad_height", f"{text!r} is not a height: give H or +N (N heights from now)")
    height = now() + int(digits) if relative else int(digits)
    if height > HEIGHT_MAX:
        raise usage("bad_height", f"{text!r} is beyond any height")
    return height


def parse_names(values: Iterable[str], what: str) -> tuple[str, ...]:
    """Several receipt numbers (or other names), each checked as parse_name does."""
    return tuple(parse_name(v, what) for v in values)


def parse_limit(text: str) -> int:
    """--limit: how many entries a list asks for, 1..LIST_LIMIT_MAX."""
    if not (text.isascii() and text.isdigit() and 1 <= int(text[:6]) <= LIST_LIMIT_MAX):
        raise usage("bad_limit", f"--limit must lie in 1..{LIST_LIMIT_MAX}")
    return int(text)


def parse_status(text: str | None, statuses: tuple[str, ...]) -> str | None:
    """--status: one of the listed statuses, or None when not given."""
    if text is not None and text not in statuses:
        raise usage("bad_status", f"--status is one of {', '.join(statuses)}")
    return text


# -- options in --help ------------------------------------------------------------------------
def with_params(
    target: Callable[..., Any], own: list[Any], common: Iterable[Callable[[Any], Any]]
) -> Callable[..., Any]:
    """target with the common options after the command's own in --help (own listed first)."""
    target.__click_params__ = []  # type: ignore[attr-defined]
    for option in common:
        target = option(target)
    shared: list[Any] = getattr(target, "__click_params__", [])
    # Click lists parameters in the reverse order they were attached.
    target.__click_params__ = shared + own  # type: ignore[attr-defined]
    return target
