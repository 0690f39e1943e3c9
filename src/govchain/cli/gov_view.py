"""What a proposal means now: its emergency measure, a no-op, its lifetime in time.

The node's proposal document says where the tally stands; a person also wants
to know whether an emergency measure is in force and when it lapses, and
whether the action changed anything. This module reads that from the proposal,
its audit entries and the state it acts on (`feedback`), and words it
(`describe`). JSON documents carry the same facts as fields:

- `measure` (emergency proposals only): `{"state": "in_force" | "ratified" |
  "lapsed" | "lifted" | "no_effect" | "pending", "in_force": bool,
  "ratified": bool, "since_height": int | null, "lapses_height": int | null,
  "effect": str | null}`. `lapses_height` is the height at whose end the
  measure lapses unless ratified (in force), or did lapse (lapsed).
- `no_effect`: "no effect: <why>" when the action changes (or changed) nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

import msgspec

from govchain.apps.catalog import ALL
from govchain.codec import DecodeError, decode_canonical
from govchain.sdk.errors import SdkError
from govchain.state.audit import AuditKind
from govchain.state.governance import ProposalStatus
from govchain.state.registry import NO_OP_WORDS
from govchain.trace.case import TraceCase

from .gov_effect import NO_EFFECT, ClientDocs, action_from_json

if TYPE_CHECKING:
    from govchain.sdk.client import Client

    from .pace import Pace

SHORT_ID_CHARS = 12  # as `gov list` shows ids; any unique prefix of 8 or more is accepted
SEEDS_SHOWN_MAX = 4  # a cited trace case's seeds listed by `gov show`; the rest are counted
OPEN = ProposalStatus.OPEN
PASSED = ProposalStatus.PASSED


class MeasureState(StrEnum):
    """Where an emergency measure stands (the `measure.state` field)."""

    IN_FORCE = "in_force"
    RATIFIED = "ratified"
    LAPSED = "lapsed"
    LIFTED = "lifted"
    NO_EFFECT = "no_effect"
    PENDING = "pending"


def proposal_doc(p: dict[str, Any]) -> dict[str, Any]:
    """The node's proposal document with one id field, `proposal_id`."""
    return {k: v for k, v in p.items() if k != "id"}


def enacted_no_effect(p: dict[str, Any]) -> str | None:
    """ "no effect: <why>" when the proposal was enacted as a no-op."""
    outcome = p.get("outcome")
    if not isinstance(outcome, str) or NO_OP_WORDS not in outcome:
        return None
    return NO_EFFECT + outcome.split(NO_OP_WORDS, 1)[1]


def _emergency_effect(client: Client, p: dict[str, Any]) -> str | None:
    """What the emergency measure did when it applied (its audit entry), or None if not yet."""
    h = int(p["created_height"])
    try:
        entries = client.audit(h, h).get("entries") or []
    except SdkError:  # pruned history: say only what is known
        return None
    for e in entries:
        if e.get("kind") == AuditKind.EMERGENCY and e.get("proposal") == p["proposal_id"]:
            return str(e.get("reason"))
    return None


def _still_in_force(client: Client, p: dict[str, Any]) -> bool:
    """Whether the state still shows this proposal's emergency measure (its action's in_force)."""
    action = action_from_json(p["action"])
    spec = None if action is None else ALL.spec_of(action)
    if action is None or spec is None or spec.in_force is None:
        return False
    return bool(spec.in_force(action, str(p["proposal_id"]), ClientDocs(client)))


def measure(client: Client, p: dict[str, Any]) -> dict[str, Any] | None:
    """An emergency proposal's measure now (module docstring), or None for ordinary ones."""
    if not p.get("emergency"):
        return None
    effect = _emergency_effect(client, p)
    status = p["status"]
    applied = effect is not None and not effect.startswith(NO_EFFECT)
    lapses: int | None = None
    state: MeasureState
    if status == PASSED:
        ratified = enacted_no_effect(p) is None
        state = MeasureState.RATIFIED if ratified else MeasureState.NO_EFFECT
        effect = p.get("outcome") or effect
    elif status != OPEN:
        if applied:
            state, lapses = MeasureState.LAPSED, p.get("decided_height")
        else:
            state = MeasureState.NO_EFFECT
    elif effect is None:
        state, lapses = MeasureState.PENDING, p.get("expires_height")
    elif not applied:
        state = MeasureState.NO_EFFECT
    elif _still_in_force(client, p):
        state, lapses = MeasureState.IN_FORCE, p.get("expires_height")
    else:
        state = MeasureState.LIFTED
    return {
        "state": state.value,
        "in_force": state in (MeasureState.IN_FORCE, MeasureState.RATIFIED),
        "ratified": state == MeasureState.RATIFIED,
        "since_height": p.get("created_height") if applied else None,
        "lapses_height": lapses,
        "effect": effect,
    }


def feedback(client: Client, p: dict[str, Any], before: str | None = None) -> dict[str, Any]:
    """{"measure"?, "no_effect"?}: only the keys that apply.

    `before` is what the pre-check (gov_effect.no_effect) found when proposing;
    it stands while the proposal is open and nothing later says otherwise.
    """
    out: dict[str, Any] = {}
    m = measure(client, p)
    if m is not None:
        out["measure"] = m
    why = enacted_no_effect(p)
    if why is None and m is not None and m["state"] == MeasureState.NO_EFFECT:
        effect = m["effect"]
        why = effect if isinstance(effect, str) and effect.startswith(NO_EFFECT) else None
    if why is None and p["status"] == OPEN and before is not None:
        why = before
    if why is not None:
        out["no_effect"] = why
    return out


def _status_line(p: dict[str, Any], pace: Pace) -> str:
    status = p["status"]
    tally = f"yes {p['yes_weight']}, no {p['no_weight']}"
    if status == OPEN:
        return f"open ({tally}); votes accepted through {pace.when(int(p['expires_height']))}"
    if status == PASSED:
        line = f"passed at height {p['decided_height']} ({tally})"
        if p.get("enacted_height") is not None:
            line += f"; enacted at the end of height {p['enacted_height']}"
        return line
    if status == ProposalStatus.REJECTED:
        return f"rejected at height {p['decided_height']} ({tally}: passing became impossible)"
    return f"expired at height {p['decided_height']} ({tally}: not decided in time)"


def _measure_line(m: dict[str, Any], p: dict[str, Any], pace: Pace) -> str | None:
    state = m["state"]
    if state == MeasureState.IN_FORCE:
        return (
            f"emergency measure in force since height {m['since_height']} ({m['effect']}); "
            f"lapses at {pace.when(int(m['lapses_height']))} unless ratified"
        )
    if state == MeasureState.PENDING:
        return f"emergency measure applies at the end of height {p['created_height']}"
    if state == MeasureState.RATIFIED:
        return "emergency measure ratified: it stays in force"
    if state == MeasureState.LAPSED:
        return f"emergency measure lapsed at height {m['lapses_height']}: not ratified"
    if state == MeasureState.LIFTED:
        return "emergency measure no longer in force: a later decision lifted or took it over"
    return None  # no_effect: the no-effect line says it


def describe(p: dict[str, Any], fb: dict[str, Any], pace: Pace) -> list[str]:
    """Lines for people: status with heights in time, the measure, any no-op, the outcome."""
    name = p["action"]["name"] + (" (emergency)" if p.get("emergency") else "")
    lines = [f"proposal {p['proposal_id']}: {name}", f"  status: {_status_line(p, pace)}"]
    m = fb.get("measure")
    if m is not None:
        text = _measure_line(m, p, pace)
        if text is not None:
            lines.append(f"  {text}")
    if "no_effect" in fb:
        lines.append(f"  {fb['no_effect']}")
    elif p.get("outcome"):
        lines.append(f"  outcome: {p['outcome']}")
    return lines


def trace_case_words(hex_text: str) -> str:
    """A cited trace case (hex of its canonical msgpack) in words: seeds, direction, policy."""
    if not hex_text:
        return "not given"
    try:
        case = decode_canonical(bytes.fromhex(hex_text), msgspec.msgpack.Decoder(TraceCase))
    except (ValueError, DecodeError):
        return f"{len(hex_text) // 2} bytes this version cannot read"
    seeds = [f"{s.amount} of {s.account.hex()}" for s in case.seeds[:SEEDS_SHOWN_MAX]]
    more = len(case.seeds) - len(seeds)
    if more:
        seeds.append(f"{more} more")
    lim = case.limits
    return (
        f"{case.direction}, {case.policy}, hops ≤ {lim.hops_max}, "
        f"heights {lim.from_height}..{lim.to_height}; seeds: {'; '.join(seeds)}"
    )


def argument_rows(action: dict[str, Any]) -> list[tuple[str, str]]:
    """A proposal's action arguments as (label, value) rows for people."""
    args = action.get("args") or {}
    name = action.get("name")
    if name == "freeze-amount":
        return [
            ("address", str(args.get("address"))),
            ("amount", str(args.get("amount"))),
            ("trace root", str(args.get("trace_root"))),
            ("trace case", trace_case_words(str(args.get("trace_case") or ""))),
            ("order hash", str(args.get("order_hash") or "none")),
            ("case", str(args.get("case") or "none")),
        ]
    if name == "watch":
        addresses = args.get("addresses") or []
        return [
            ("addresses", ", ".join(str(a) for a in addresses)),
            ("until", f"height {args.get('until')}"),
            ("case", str(args.get("case"))),
        ]
    return [("arguments", ", ".join(f"{k}={v}" for k, v in args.items()) or "none")]


def next_step(p: dict[str, Any]) -> str | None:
    """What a committee member does next with an open proposal, as a command line."""
    if p["status"] != OPEN:
        return None
    short = p["proposal_id"][:SHORT_ID_CHARS]
    return f"  next: another member votes: govchain gov vote {short} yes --key MEMBER.key"
