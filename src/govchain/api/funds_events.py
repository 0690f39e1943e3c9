"""WS /v1/events "funds" events: value moved into or out of an account under a measure.

An investigator watching a case wants to hear the moment money touches an
account the committee watches or has a lien on (issue 13): the attacker's
next move, a deposit arriving at a frozen exchange account. The guards dict
of the funds namespace holds exactly those accounts, so a height's
movements are checked at one dict lookup each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from govchain.state.funds import Funds, Guard
from govchain.trace.movements import Movement

EVENT_MOVEMENTS_MAX = 1_000  # movements one event lists; `more` says when there were more


def _guard_json(guard: Guard, height: int, funds: Funds) -> dict[str, Any]:
    watches = [
        {"proposal": p, "until": until, "case": _case_of(funds, p)}
        for until, p in guard.watches
        if height <= until
    ]
    return {"frozen_amount": guard.frozen, "lien": guard.lien_ref, "watches": watches}


def _case_of(funds: Funds, proposal: str) -> str | None:
    watch = funds.watches.get(proposal)
    return watch.case if watch is not None else None


def funds_event(
    funds: Funds | None, movements: Sequence[Movement], height: int
) -> dict[str, Any] | None:
    """The height's "funds" event, or None when no movement touched a guarded account."""
    if funds is None or not funds.guards:
        return None
    guards = funds.guards
    out: list[dict[str, Any]] = []
    more = False
    for m in movements:
        src, dst = guards.get(m.src), guards.get(m.dst)
        if src is None and dst is None:
            continue
        if len(out) >= EVENT_MOVEMENTS_MAX:
            more = True
            break
        out.append(
            {
                "tx_id": m.tx_id.hex(),
                "kind": m.kind,
                "from": m.src.hex(),
                "to": m.dst.hex(),
                "amount": m.amount,
                "from_guard": None if src is None else _guard_json(src, height, funds),
                "to_guard": None if dst is None else _guard_json(dst, height, funds),
            }
        )
    if not out:
        return None
    return {"type": "funds", "height": height, "movements": out, "more": more}
