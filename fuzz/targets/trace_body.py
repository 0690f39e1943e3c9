"""The body of POST /v1/trace (api/trace_view.py ask_of_body): a case to trace.

The body alone, parsed as the route parses it; a 400 (ApiError) is the one
acceptable refusal. The whole route, with the case pinned and traced over a
store, is api_txs's mode 4.
"""

from __future__ import annotations

import json

from govchain.api.errors import ApiError
from govchain.api.trace_view import ask_of_body
from targets._kit import ALICE, BOB, check

ACCEPTED: tuple[type[BaseException], ...] = (ApiError,)


def test_one_input(data: bytes) -> None:
    """Parse one body; only ApiError may come out, and only as a 4xx."""
    try:
        ask = ask_of_body(data)
    except ApiError as exc:
        check(400 <= exc.status < 500, f"a body answered {exc.status}")
        raise
    check(len(ask.seeds) >= 1, "a case without seeds")


def seeds() -> dict[str, bytes]:
    """Cases as `govchain trace --json` and the explorer send them."""
    alice, bob = ALICE.address.hex(), BOB.address.hex()
    cases = {
        "balance": {"seeds": [{"address": alice}]},
        "tx": {
            "seeds": [{"address": bob, "tx_id": "ab" * 32, "amount": 5, "label": "ransom"}],
            "direction": "backward",
            "policy": "haircut",
            "limits": {"hops_max": 4, "accounts_max": 100, "events_max": 1000},
        },
        "window": {
            "seeds": [{"address": alice, "height": 3}, {"address": bob, "height": -1}],
            "policy": "poison",
            "hops": 2,
            "limits": {"from_height": 1, "to_height": 9},
        },
    }
    return {name: json.dumps(case).encode() for name, case in cases.items()}
