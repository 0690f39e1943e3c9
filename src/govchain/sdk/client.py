"""An HTTP client for a govchain node: reads, transaction builders, governance helpers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from govchain.apps.warehouse.ops import KIND_READINGS, KIND_WR, Op
from govchain.apps.warehouse.readings import SignedReading
from govchain.codec import HASH_BYTES, ID_MATCHES_MAX, encode
from govchain.crypto.keys import ADDRESS_BYTES, SigningKey
from govchain.dag.kinds import Kind
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.sdk.errors import SdkError, parse_retry_after
from govchain.sdk.wr import WrReads, readings_payload, wr_payload
from govchain.state.payloads import (
    Action,
    IdentitySetPayload,
    ProposePayload,
    RecordPayload,
    ServiceRegisterPayload,
    TransferPayload,
    VotePayload,
)

VALIDITY_HEIGHTS = 1_000
UNKNOWN_GRACE_S = 3.0  # how long wait_proof waits for an id the node does not know yet
FINAL_STATUSES = frozenset({"executed", "rejected", "held"})
# A 202's statuses (docs/sdk.md): "pending" is the node's promise that the
# transaction becomes final; "pending_parent" is not a promise yet.
PENDING = "pending"
PENDING_PARENT = "pending_parent"
SUBMISSION_STATUSES = frozenset({PENDING, PENDING_PARENT}) | FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class Submission:
    """A node's answer to POST /v1/txs that is not an error.

    status: "pending" (202: durable on validators holding more than a third of
    the voting weight, so it becomes final even if this node dies), "pending_parent"
    (202: stored, waiting for the parents named in `missing`; not a promise
    yet: resubmit the same bytes until "pending"), or a final status (200:
    "executed", "rejected", "held": it was already final).
    """

    tx_id: str
    status: str
    missing: tuple[str, ...] = ()
    retry_after_s: float | None = None

    @property
    def accepted(self) -> bool:
        """True when the node promised finality (pending) or it is final already."""
        return self.status != PENDING_PARENT

    @property
    def final(self) -> bool:
        """True when the answer says the transaction is final (200)."""
        return self.status in FINAL_STATUSES


def propose_payload(
    action: Action, reason: str, evidence: bytes = b"", emergency: bool = False
) -> bytes:
    """The canonical payload of a gov.propose transaction."""
    if len(evidence) not in (0, HASH_BYTES):
        raise SdkError("bad_evidence", f"evidence is a {HASH_BYTES}-byte hash or nothing")
    return encode(ProposePayload(action, reason, evidence, emergency))


def vote_payload(proposal_id: str, yes: bool) -> bytes:
    """The canonical payload of a gov.vote transaction (proposal_id: 64 hex)."""
    try:
        raw = bytes.fromhex(proposal_id)
    except ValueError:
        raw = b""
    if len(raw) != HASH_BYTES:
        raise SdkError("bad_proposal_id", "a proposal id is 64 lowercase hex characters")
    return encode(VotePayload(raw, yes))


def submission_of(doc: Any, retry_after_s: float | None = None) -> Submission:
    """A Submission from a node's answer document; SdkError('bad_response') if it is not one."""
    if not isinstance(doc, dict):
        raise SdkError("bad_response", "a submission's answer is a JSON object")
    tx_id, status, missing = doc.get("tx_id"), doc.get("status"), doc.get("missing", [])
    if not isinstance(tx_id, str) or status not in SUBMISSION_STATUSES:
        raise SdkError("bad_response", f"unexpected submission answer: {str(doc)[:200]}")
    if not isinstance(missing, list) or not all(isinstance(m, str) for m in missing):
        raise SdkError("bad_response", "missing is a list of transaction ids")
    return Submission(tx_id, str(status), tuple(missing), retry_after_s)


class Client(WrReads):
    """Talks to one node's API (the warehouse's reads: sdk/wr.py)."""

    def __init__(
        self,
        url: str,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        # transport: None for real sockets; tests pass an httpx.MockTransport.
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, transport=transport)
        self._status: dict[str, Any] | None = None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """A GET whose answer is one JSON object."""
        doc: dict[str, Any] = self._call("GET", path, params=params)
        return doc

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        return self._exchange(method, path, **kw)[1]

    def _exchange(self, method: str, path: str, **kw: Any) -> tuple[httpx.Response, Any]:
        """One request: the response and its JSON document; SdkError for any failure."""
        try:
            resp = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise SdkError("unreachable", f"cannot reach {self.url}: {exc}") from None
        retry_after_s = parse_retry_after(resp.headers.get("retry-after"))
        try:
            doc = resp.json()
        except ValueError:
            raise SdkError(
                "bad_response",
                f"{path} answered {resp.status_code} without JSON",
                resp.status_code,
                retry_after_s,
            ) from None
        if resp.status_code >= 400:
            err = doc.get("error", {}) if isinstance(doc, dict) else {}
            err = err if isinstance(err, dict) else {}
            raise SdkError(
                str(err.get("code", "http_error")),
                str(err.get("message", "")),
                resp.status_code,
                retry_after_s,
            )
        return resp, doc

    # -- reads ------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """GET /v1/status."""
        doc = self._get("/v1/status")
        self._status = doc
        return doc

    def account(self, address: bytes, public_key: bytes | None = None) -> dict[str, Any]:
        """Final balance and nonce; with public_key also next_nonce and last_tx."""
        params = {"public_key": public_key.hex()} if public_key else None
        return self._get(f"/v1/accounts/{address.hex()}", params=params)

    def holds(self, address: bytes) -> dict[str, Any]:
        """GET /v1/accounts/{address}/holds: its transactions held for review."""
        return self._get(f"/v1/accounts/{address.hex()}/holds")

    def tx(self, tx_id: str) -> dict[str, Any]:
        """A transaction's record."""
        return self._get(f"/v1/txs/{tx_id}")

    def checkpoint(self, height: int | str = "latest") -> dict[str, Any]:
        """A decided checkpoint."""
        return self._get(f"/v1/checkpoints/{height}")

    def proof(self, tx_id: str, trust_from: int = 0) -> dict[str, Any]:
        """The inclusion proof of a final transaction's receipt.

        trust_from: the checkpoint the verifier will trust (0: the genesis);
        the proof carries the validator-set changes from there (docs/trust.md).
        """
        params = {"from": str(trust_from)} if trust_from else None
        return self._get(f"/v1/txs/{tx_id}/proof", params=params)

    def identity(self, address: bytes) -> dict[str, Any]:
        """GET /v1/identities/{address}: kind, tier, status, roles, freeze."""
        return self._get(f"/v1/identities/{address.hex()}")

    def service(self, service_id: str) -> dict[str, Any]:
        """GET /v1/services/{id}: owner, writer role, suspension."""
        return self._get(f"/v1/services/{service_id}")

    def trace(self, address: bytes, **query: str | int) -> dict[str, Any]:
        """GET /v1/trace/{address}: one seed (tx_id, amount, direction, policy, hops, height)."""
        params = {k: str(v) for k, v in query.items()}
        return self._get(f"/v1/trace/{address.hex()}", params)

    def trace_case(self, case: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/trace: a case of one or more seeds (a trace answer is one)."""
        doc: dict[str, Any] = self._call("POST", "/v1/trace", json=case)
        return doc

    def trace_result(self, result_root: str) -> dict[str, Any]:
        """GET /v1/trace/results/{root}: the pinned case of a result this node answered lately."""
        return self._get(f"/v1/trace/results/{result_root}")

    def tx_ids_with_prefix(self, prefix: str) -> tuple[list[str], bool]:
        """Ids of stored or pending transactions starting with prefix, and whether more do.

        GET /v1/txs?prefix=HEX: sorted, at most ID_MATCHES_MAX.
        """
        doc = self._get("/v1/txs", params={"prefix": prefix})
        return [str(t) for t in doc["tx_ids"]], bool(doc.get("more"))

    def proposal_ids_with_prefix(self, prefix: str) -> tuple[list[str], bool]:
        """Ids of proposals starting with prefix (at most ID_MATCHES_MAX), and whether more do."""
        params = {"prefix": prefix, "limit": str(ID_MATCHES_MAX + 1)}
        doc = self._call("GET", "/v1/governance/proposals", params=params)
        ids = sorted(str(p["proposal_id"]) for p in doc["proposals"])
        return ids[:ID_MATCHES_MAX], len(ids) > ID_MATCHES_MAX

    def proposal(self, proposal_id: str) -> dict[str, Any]:
        """GET /v1/governance/proposals/{id}."""
        return self._get(f"/v1/governance/proposals/{proposal_id}")

    def proposals(self, limit: int | None = None, status: str | None = None) -> list[Any]:
        """GET /v1/governance/proposals: newest first."""
        params: dict[str, str] = {}
        if limit is not None:
            params["limit"] = str(limit)
        if status is not None:
            params["status"] = status
        doc = self._call("GET", "/v1/governance/proposals", params=params or None)
        return list(doc["proposals"])

    def audit(self, from_height: int | None = None, to_height: int | None = None) -> dict[str, Any]:
        """GET /v1/audit: entries (hex fields) of heights from..to, with the range served."""
        params: dict[str, str] = {}
        if from_height is not None:
            params["from"] = str(from_height)
        if to_height is not None:
            params["to"] = str(to_height)
        return self._get("/v1/audit", params=params or None)

    def validator_changes(self, to_height: int, trust_from: int = 0) -> dict[str, Any]:
        """GET /v1/validator-changes: {"trust", "validator_changes"} from a checkpoint to a height.

        trust_from: the checkpoint a verifier trusts (0: the genesis).
        """
        params = {"to": str(to_height), "from": str(trust_from)}
        return self._get("/v1/validator-changes", params=params)

    def tips(self) -> tuple[list[bytes], int]:
        """Parents to name, and the DAG's covered height."""
        doc = self._call("GET", "/v1/dag/tips")
        return [bytes.fromhex(t) for t in doc["tips"]], int(doc["height"])

    # -- writes -------------------------------------------------------------------
    def build(self, key: SigningKey, kind: str, payload: bytes) -> Transaction:
        """A signed transaction chained after the sender's pending ones."""
        chain_id = (self._status or self.status())["chain_id"]
        acct = self.account(key.address, key.public_key)
        tips, height = self.tips()
        parents = set(tips)
        if acct.get("last_tx"):
            parents.add(bytes.fromhex(acct["last_tx"]))
        return build(
            key,
            chain_id=chain_id,
            kind=kind,
            nonce=int(acct.get("next_nonce", acct["nonce"])),
            parents=sorted(parents)[: DagLimits().parents_count_max],
            valid_until=height + VALIDITY_HEIGHTS,
            payload=payload,
            stamp_bits_min=DagLimits().stamp_bits_min,
        )

    def transfer(self, key: SigningKey, to: bytes, amount: int) -> Transaction:
        """Build a signed transfer (submit it with submit())."""
        if len(to) != ADDRESS_BYTES:
            raise SdkError("bad_address", f"an address is {ADDRESS_BYTES} bytes")
        return self.build(key, Kind.TRANSFER, encode(TransferPayload(to, amount)))

    def record(
        self, key: SigningKey, data: bytes, service: str = "", media_type: str = "text/plain"
    ) -> Transaction:
        """Build a signed data record, optionally belonging to a service."""
        return self.build(key, Kind.RECORD, encode(RecordPayload(service, media_type, data)))

    def wr(self, key: SigningKey, op: Op) -> Transaction:
        """Build a signed `wr` transaction: one warehouse transition (sdk/wr.py)."""
        return self.build(key, KIND_WR, wr_payload(op))

    def wr_readings(self, key: SigningKey, readings: Sequence[SignedReading]) -> Transaction:
        """Build a gateway's signed `wr.readings` batch of device-signed readings."""
        return self.build(key, KIND_READINGS, readings_payload(readings))

    def register_service(
        self, key: SigningKey, service_id: str, writer_role: str = ""
    ) -> Transaction:
        """Build a service.register transaction (the signer owns the service)."""
        return self.build(
            key, Kind.SERVICE_REGISTER, encode(ServiceRegisterPayload(service_id, writer_role))
        )

    def set_identity(
        self,
        key: SigningKey,
        address: bytes,
        kind: str,
        tier: int,
        attrs_hash: bytes,
        status: str = "active",
    ) -> Transaction:
        """Build an identity.set transaction (the signer must hold role issuer)."""
        payload = IdentitySetPayload(address, kind, tier, attrs_hash, status)
        return self.build(key, Kind.IDENTITY_SET, encode(payload))

    def propose(
        self,
        key: SigningKey,
        action: Action,
        reason: str,
        evidence: bytes = b"",
        emergency: bool = False,
    ) -> Transaction:
        """Build a gov.propose transaction; its id (hex) is the proposal's id."""
        return self.build(
            key, Kind.GOV_PROPOSE, propose_payload(action, reason, evidence, emergency)
        )

    def vote(self, key: SigningKey, proposal_id: str, yes: bool) -> Transaction:
        """Build a gov.vote transaction."""
        return self.build(key, Kind.GOV_VOTE, vote_payload(proposal_id, yes))

    def submit_proposal(
        self,
        key: SigningKey,
        action: Action,
        reason: str,
        evidence: bytes = b"",
        emergency: bool = False,
        wait: bool = True,
        timeout_s: float = 30.0,
    ) -> dict[str, Any]:
        """Propose and (with wait) return {"proposal_id", "status"} once the tx is final."""
        tx_id = self.submit(self.propose(key, action, reason, evidence, emergency))
        return self.governance_outcome(tx_id, tx_id, wait, timeout_s)

    def submit_vote(
        self,
        key: SigningKey,
        proposal_id: str,
        yes: bool,
        wait: bool = True,
        timeout_s: float = 30.0,
    ) -> dict[str, Any]:
        """Vote and (with wait) return {"proposal_id", "status"} once the tx is final."""
        tx_id = self.submit(self.vote(key, proposal_id, yes))
        return self.governance_outcome(tx_id, proposal_id, wait, timeout_s)

    def governance_outcome(
        self, tx_id: str, proposal_id: str, wait: bool, timeout_s: float = 30.0
    ) -> dict[str, Any]:
        """{"proposal_id", "status"}; with wait, once the carrying tx is final.

        Raises SdkError("tx_rejected") naming the receipt's reason when the
        carrying transaction was final as rejected.
        """
        if not wait:
            return {"proposal_id": proposal_id, "status": "pending", "tx_id": tx_id}
        rec = self.wait_final(tx_id, timeout_s)
        if rec["status"] != "executed":
            receipt = rec.get("receipt") or {}
            code = receipt.get("rule") or rec["status"]
            words = receipt.get("reason") or "no reason given"
            raise SdkError(
                "tx_rejected",
                f"transaction {tx_id} was final as {rec['status']} ({code}): {words}",
            )
        p = self.proposal(proposal_id)
        return {"proposal_id": proposal_id, "status": p["status"], "tx_id": tx_id}

    def submit(self, tx: Transaction | bytes) -> str:
        """POST the transaction; its id once a node holds it (submit_detailed tells how)."""
        return self.submit_detailed(tx).tx_id

    def submit_detailed(self, tx: Transaction | bytes) -> Submission:
        """POST the transaction; the node's answer: pending, pending_parent or final.

        Raises SdkError for an error answer: 4xx means the transaction is bad
        and nothing was stored (do not retry); 503 (not_replicated, catching_up,
        pool_full) carries the node's Retry-After in `retry_after_s`, and the
        same bytes may be sent again, here or to another node.
        """
        wire = tx.to_wire() if isinstance(tx, Transaction) else tx
        resp, doc = self._exchange("POST", "/v1/txs", json={"tx": wire.hex()})
        sub = submission_of(doc, parse_retry_after(resp.headers.get("retry-after")))
        if isinstance(tx, Transaction) and sub.tx_id != tx.id.hex():
            raise SdkError(
                "bad_response", f"{self.url} answered for {sub.tx_id}, not for {tx.id.hex()}"
            )
        return sub

    def wait_final(
        self, tx_id: str, timeout_s: float = 30.0, poll_s: float = 0.1
    ) -> dict[str, Any]:
        """Poll until the transaction is final; raises SdkError('timeout') otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                doc = self.tx(tx_id)
                if doc["status"] in FINAL_STATUSES:
                    return doc
            except SdkError as exc:
                if exc.code != "not_found":
                    raise
            if time.monotonic() >= deadline:
                raise SdkError("timeout", f"{tx_id} was not final within {timeout_s:g} s")
            time.sleep(poll_s)

    def wait_proof(
        self, tx_id: str, trust_from: int = 0, timeout_s: float = 30.0, poll_s: float = 0.2
    ) -> dict[str, Any]:
        """Poll until the checkpoint certifying the transaction is decided; then its proof.

        An id the node does not know is waited for only UNKNOWN_GRACE_S (it may
        be on its way from the node that took it), then raises not_found.
        """
        start = time.monotonic()
        deadline = start + timeout_s
        while True:
            try:
                return self.proof(tx_id, trust_from)
            except SdkError as exc:
                # Not final yet, or final but its anchor not decided yet: wait.
                unknown = exc.code == "not_found"
                if unknown and time.monotonic() - start >= min(UNKNOWN_GRACE_S, timeout_s):
                    raise
                if not unknown and exc.code not in ("not_final", "not_yet_provable"):
                    raise
                last = exc.message
            if time.monotonic() >= deadline:
                raise SdkError("timeout", f"no proof of {tx_id} within {timeout_s:g} s: {last}")
            time.sleep(poll_s)
