"""The Python SDK: build, sign and submit transactions (governance included), wait, check proofs.

Governance actions are the structs of govchain.state.payloads
(`FreezeIdentity(address)`, `AddFilter(keyword_rule(term), RuleAction.REJECT)`,
...): `Client.submit_proposal(key, action, reason)` and
`Client.submit_vote(key, proposal_id, yes)` return {"proposal_id", "status"}.
"""

from govchain.sdk.client import Client, SdkError, propose_payload, vote_payload

__all__ = ["Client", "SdkError", "propose_payload", "vote_payload"]
