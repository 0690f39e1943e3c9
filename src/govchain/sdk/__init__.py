"""The Python SDK: build, sign and submit transactions (governance included), wait, check proofs.

Governance actions are the structs of govchain.state.payloads
(`FreezeIdentity(address)`, `AddFilter(keyword_rule(term), RuleAction.REJECT)`,
...): `Client.submit_proposal(key, action, reason)` and
`Client.submit_vote(key, proposal_id, yes)` return {"proposal_id", "status"}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from govchain.sdk.errors import SdkError

if TYPE_CHECKING:
    from govchain.sdk.client import Client, propose_payload, vote_payload

__all__ = ["Client", "SdkError", "propose_payload", "vote_payload"]


def __getattr__(name: str) -> Any:
    # The client pulls in httpx (~0.1 s): only when it is used, so that a CLI
    # command that needs no node starts without it.
    if name in {"Client", "propose_payload", "vote_payload"}:
        from govchain.sdk import client  # noqa: PLC0415

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
