"""An HTTP client for a govchain node."""

from __future__ import annotations

import time
from typing import Any

import httpx

from govchain.codec import encode
from govchain.crypto.keys import ADDRESS_BYTES, SigningKey
from govchain.dag.limits import DagLimits
from govchain.dag.tx import Transaction, build
from govchain.state.payloads import TransferPayload

VALIDITY_HEIGHTS = 1_000
FINAL_STATUSES = frozenset({"executed", "rejected", "held"})


class SdkError(Exception):
    """A request failed; code and message come from the node's error document."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


class Client:
    """Talks to one node's API."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s)
        self._status: dict[str, Any] | None = None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise SdkError("unreachable", f"cannot reach {self.url}: {exc}") from None
        try:
            doc = resp.json()
        except ValueError:
            raise SdkError(
                "bad_response", f"{path} answered {resp.status_code} without JSON"
            ) from None
        if resp.status_code >= 400:
            err = doc.get("error", {}) if isinstance(doc, dict) else {}
            raise SdkError(
                str(err.get("code", "http_error")), str(err.get("message", "")), resp.status_code
            )
        return doc

    # -- reads ------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """GET /v1/status."""
        doc: dict[str, Any] = self._call("GET", "/v1/status")
        self._status = doc
        return doc

    def account(self, address: bytes, public_key: bytes | None = None) -> dict[str, Any]:
        """Final balance and nonce; with public_key also next_nonce and last_tx."""
        params = {"public_key": public_key.hex()} if public_key else None
        doc: dict[str, Any] = self._call("GET", f"/v1/accounts/{address.hex()}", params=params)
        return doc

    def tx(self, tx_id: str) -> dict[str, Any]:
        """A transaction's record."""
        doc: dict[str, Any] = self._call("GET", f"/v1/txs/{tx_id}")
        return doc

    def checkpoint(self, height: int | str = "latest") -> dict[str, Any]:
        """A decided checkpoint."""
        doc: dict[str, Any] = self._call("GET", f"/v1/checkpoints/{height}")
        return doc

    def proof(self, tx_id: str) -> dict[str, Any]:
        """The inclusion proof of a final transaction's receipt."""
        doc: dict[str, Any] = self._call("GET", f"/v1/txs/{tx_id}/proof")
        return doc

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
        return self.build(key, "transfer", encode(TransferPayload(to, amount)))

    def submit(self, tx: Transaction | bytes) -> str:
        """POST the transaction; returns its id (pending)."""
        wire = tx.to_wire() if isinstance(tx, Transaction) else tx
        doc = self._call("POST", "/v1/txs", json={"tx": wire.hex()})
        return str(doc["tx_id"])

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
