"""The Python SDK: build, sign and submit transactions (governance included), wait, check proofs.

Governance actions are the structs of govchain.state.payloads
(`FreezeIdentity(address)`, `AddFilter(keyword_rule(term), RuleAction.REJECT)`,
...): `Client.submit_proposal(key, action, reason)` and
`Client.submit_vote(key, proposal_id, yes)` return {"proposal_id", "status"}.

`Sender(key, urls)` chains one key's nonces itself and sees each transaction
final, resubmitting the same bytes to other nodes (docs/sdk.md);
`Client.submit_detailed(tx)` tells "pending" from "pending_parent".

The warehouse (sdk/wr.py): `Client.wr(key, op)` and `Sender.wr(op)` send one
transition (`govchain.apps.warehouse.ops`), `wr_readings` a batch of
device-signed readings; `Client.wr_receipt(number)`, `wr_bins(warehouse)`,
`wr_device(id)`, `wr_pledge(id)`, `wr_offer(id)`, `wr_alarms()`, `wr_prices()`, ...
read GET /v1/wr/....
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from govchain.sdk.errors import SdkError

if TYPE_CHECKING:
    from govchain.sdk.client import Client, Submission, propose_payload, vote_payload
    from govchain.sdk.sender import Sender, SenderLimits
    from govchain.sdk.wr import readings_payload, wr_payload

__all__ = [
    "Client",
    "SdkError",
    "Sender",
    "SenderLimits",
    "Submission",
    "propose_payload",
    "readings_payload",
    "vote_payload",
    "wr_payload",
]


def __getattr__(name: str) -> Any:
    # The client pulls in httpx (~0.1 s): only when it is used, so that a CLI
    # command that needs no node starts without it.
    if name in {"Client", "Submission", "propose_payload", "vote_payload"}:
        from govchain.sdk import client  # noqa: PLC0415

        return getattr(client, name)
    if name in {"Sender", "SenderLimits"}:
        from govchain.sdk import sender  # noqa: PLC0415

        return getattr(sender, name)
    if name in {"wr_payload", "readings_payload"}:
        from govchain.sdk import wr  # noqa: PLC0415

        return getattr(wr, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
