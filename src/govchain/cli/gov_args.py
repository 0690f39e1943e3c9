"""A `gov propose` command line as an action: names, argument forms, local checks.

Nothing here talks to a node: addresses and keys are normalised, transaction-id
prefixes resolved through a callable the command gives, and each argument
checked as execution will check it (`actions.argument_error`), so bad input
exits 2 before anything is sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from govchain.codec import HASH_BYTES
from govchain.crypto.keys import ADDRESS_BYTES, PUBLIC_KEY_BYTES
from govchain.state.params import Params, specs
from govchain.state.payloads import (
    Action,
    AddFilter,
    AddValidator,
    FreezeIdentity,
    GrantRole,
    Intercept,
    Redact,
    Release,
    RemoveFilter,
    RemoveValidator,
    ResumeService,
    RevokeRole,
    SetParam,
    SetPermission,
    SuspendService,
    UnfreezeIdentity,
)
from govchain.state.policy import (
    ContentRule,
    MediaTypeRule,
    PayloadHashRule,
    RuleAction,
    SizeRule,
    keyword_rule,
)

from .common import parse_address, parse_hex
from .output import EXIT_USAGE, CliError

# Action name -> the names of its positional arguments.
ACTIONS: dict[str, tuple[str, ...]] = {
    "freeze-identity": ("ADDRESS",),
    "unfreeze-identity": ("ADDRESS",),
    "intercept": ("TX_ID",),
    "release": ("TX_ID",),
    "redact": ("TX_ID",),
    "suspend-service": ("SERVICE_ID",),
    "resume-service": ("SERVICE_ID",),
    "add-filter": (),
    "remove-filter": ("RULE_ID",),
    "add-validator": ("PUBLIC_KEY",),
    "remove-validator": ("PUBLIC_KEY",),
    "set-param": ("NAME", "VALUE"),
    "grant-role": ("ADDRESS", "ROLE"),
    "revoke-role": ("ADDRESS", "ROLE"),
    "set-permission": ("KIND", "ROLE"),
}
PARAM_NAMES = tuple(s.name for s in specs(1, 1))
# Bounds checked locally; participation_min's upper bound (the committee's
# weight) is the node's to check.
LOCAL_PARAMS = Params(1, 2**62)


def usage_error(code: str, message: str) -> CliError:
    """A usage error (exit 2)."""
    return CliError(code, message, EXIT_USAGE)


def _filter_rule(
    keyword: str | None,
    payload_hash: str | None,
    max_bytes: int | None = None,
    media_type: str | None = None,
) -> ContentRule:
    given = [x for x in (keyword, payload_hash, max_bytes, media_type) if x is not None]
    if len(given) != 1:
        raise usage_error(
            "bad_usage",
            "add-filter takes exactly one of --keyword TEXT, --payload-hash HASH, "
            "--max-bytes N or --media-type TYPE",
        )
    if keyword is not None:
        try:
            return keyword_rule(keyword)  # hashed here: only hash and length go on chain
        except ValueError as exc:
            raise usage_error("bad_keyword", str(exc)) from None
    try:
        if max_bytes is not None:
            return SizeRule(max_bytes)
        if media_type is not None:
            return MediaTypeRule(media_type)
    except ValueError as exc:
        raise usage_error("bad_argument", f"add-filter: {exc}") from None
    assert payload_hash is not None
    return PayloadHashRule(parse_hex(payload_hash, HASH_BYTES, "payload_hash"))


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
) -> Action:
    """The action a `gov propose` command line names; CliError (exit 2) on bad input."""
    if name not in ACTIONS:
        raise usage_error(
            "unknown_action", f"unknown action {name!r}; one of: {', '.join(ACTIONS)}"
        )
    want = ACTIONS[name]
    if len(args) != len(want):
        shown = " ".join(want) or "no positional arguments"
        raise usage_error("bad_arguments", f"{name} takes {shown}; got {len(args)} argument(s)")
    filter_opts = (keyword, payload_hash, max_bytes, media_type)
    if name != "add-filter" and (any(o is not None for o in filter_opts) or hold):
        raise usage_error(
            "bad_usage",
            "--keyword, --payload-hash, --max-bytes, --media-type and --hold belong to add-filter",
        )
    if name != "add-validator" and weight is not None:
        raise usage_error("bad_usage", "--weight belongs to add-validator")
    a = args
    if name in ("freeze-identity", "unfreeze-identity"):
        address = parse_hex(a[0], ADDRESS_BYTES, "address")
        return FreezeIdentity(address) if name == "freeze-identity" else UnfreezeIdentity(address)
    if name in ("intercept", "release", "redact"):
        tx_id = parse_hex(a[0], HASH_BYTES, "tx_id")
        if name == "intercept":
            return Intercept(tx_id)
        return Release(tx_id) if name == "release" else Redact(tx_id)
    if name in ("suspend-service", "resume-service"):
        return SuspendService(a[0]) if name == "suspend-service" else ResumeService(a[0])
    if name == "add-filter":
        return AddFilter(
            _filter_rule(keyword, payload_hash, max_bytes, media_type),
            RuleAction.HOLD if hold else RuleAction.REJECT,
        )
    if name == "remove-filter":
        return RemoveFilter(a[0])
    if name in ("add-validator", "remove-validator"):
        key = parse_hex(a[0], PUBLIC_KEY_BYTES, "public_key")
        if name == "remove-validator":
            return RemoveValidator(key)
        if weight is not None and weight < 1:
            raise usage_error("bad_weight", "--weight must be a positive integer")
        return AddValidator(key, 1 if weight is None else weight)
    if name == "set-permission":
        return SetPermission(a[0], "" if a[1].lower() == "none" else a[1])
    if name == "set-param":
        if a[0] not in PARAM_NAMES:
            raise usage_error(
                "bad_param", f"unknown parameter {a[0]!r}; one of: {', '.join(PARAM_NAMES)}"
            )
        if a[1].lower() in ("none", "default"):
            return SetParam(a[0], None)
        if not (a[1].isascii() and a[1].isdigit()):
            raise usage_error(
                "bad_value", "VALUE must be a non-negative integer, or none for the default"
            )
        return SetParam(a[0], int(a[1]))
    address = parse_hex(a[0], ADDRESS_BYTES, "address")
    return GrantRole(address, a[1]) if name == "grant-role" else RevokeRole(address, a[1])


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
    if want is None or len(want) != len(args):
        return args
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
