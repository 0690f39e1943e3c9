"""Signed requests: how a committee member reads a node's reports over plain HTTP.

Reports carry what the public typed, contact details included: only members
of the governance committee in force may read them. A request proves its
sender with four headers,

    Govchain-Key: the member's Ed25519 public key (64 hex)
    Govchain-Time: unix time in whole seconds (decimal)
    Govchain-Nonce: 16 random bytes (32 hex)
    Govchain-Signature: Ed25519 over `message()` (128 hex)

    message = REQUEST_DOMAIN + encode([chain_id, node_key, METHOD, path_with_query, time, nonce])

(encode: canonical msgpack; node_key: the 32 bytes of the node asked, its
/v1/status "node_key"; path_with_query exactly as sent, "/v1/reports?status=open").
The chain id keeps a signature for one chain off every other, and the node
key to the one node: each node keeps different reports, and a request
overheard on its way to one must not read another's. The method and path
keep it to the one request; the time bounds how long it may be replayed
(SKEW_S_MAX either way of the node's clock) and the node remembers each
signature it accepted until then, so a captured request is refused the second
time. The nonce lets one member send the same request twice in a second.

Pure: the node's clock and the committee come in as arguments.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass

from govchain.codec import encode
from govchain.crypto.keys import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, SigningKey, verify

REQUEST_DOMAIN = b"govchain:signed-request:v1:"
HEADER_KEY = "govchain-key"
HEADER_TIME = "govchain-time"
HEADER_NONCE = "govchain-nonce"
HEADER_SIGNATURE = "govchain-signature"
HEADERS = (HEADER_KEY, HEADER_TIME, HEADER_NONCE, HEADER_SIGNATURE)
NONCE_BYTES = 16
SKEW_S_MAX = 60
TIME_DIGITS_MAX = 12  # unix seconds until the year 33658
SEEN_MAX = 10_000  # accepted signatures remembered at once (all within 2 * SKEW_S_MAX)


class SignedRequestError(Exception):
    """A signed request refused: HTTP status, snake_case code, one sentence."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def message(
    chain_id: str, node_key: bytes, method: str, path_with_query: str, time_s: int, nonce: bytes
) -> bytes:
    """The bytes a request's signature covers."""
    parts = [chain_id, node_key, method.upper(), path_with_query, time_s, nonce]
    return REQUEST_DOMAIN + encode(parts)


def sign(
    key: SigningKey,
    chain_id: str,
    node_key: bytes,
    method: str,
    path_with_query: str,
    time_s: int,
    nonce: bytes,
) -> dict[str, str]:
    """The four headers of a request to node_key signed by key (time_s: now; nonce: random)."""
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"a nonce is {NONCE_BYTES} bytes")
    sig = key.sign(message(chain_id, node_key, method, path_with_query, time_s, nonce))
    return {
        HEADER_KEY: key.public_key.hex(),
        HEADER_TIME: str(time_s),
        HEADER_NONCE: nonce.hex(),
        HEADER_SIGNATURE: sig.hex(),
    }


def _hex(headers: Mapping[str, str], name: str, size: int) -> bytes:
    value = headers.get(name, "")
    try:
        raw = bytes.fromhex(value) if value.isascii() else b""
    except ValueError:
        raw = b""
    if len(raw) != size or len(value) != size * 2 or value != value.lower():
        raise SignedRequestError(
            400, "bad_signed_request", f"the {name} header must be {size * 2} lowercase hex"
        )
    return raw


@dataclass(frozen=True, slots=True)
class Signer:
    """Who signed an accepted request."""

    public_key: bytes


class RequestVerifier:
    """Checks signed requests to one node of one chain; remembers the signatures it accepted."""

    def __init__(self, chain_id: str, node_key: bytes, seen_max: int = SEEN_MAX) -> None:
        self.chain_id, self.node_key = chain_id, node_key
        self.seen_max = seen_max
        self._seen: dict[bytes, float] = {}  # signature -> when it may be forgotten

    def __len__(self) -> int:
        """Signatures remembered now."""
        return len(self._seen)

    def check(
        self,
        headers: Mapping[str, str],
        method: str,
        path_with_query: str,
        now_s: float,
        members: Container[bytes],
    ) -> Signer:
        """The member who signed this request, or SignedRequestError (400, 401, 403, 503)."""
        if not any(h in headers for h in HEADERS):
            raise SignedRequestError(
                401,
                "unsigned",
                "reading reports takes a request signed by a committee member's key"
                " (govchain reports list --key FILE)",
            )
        key = _hex(headers, HEADER_KEY, PUBLIC_KEY_BYTES)
        nonce = _hex(headers, HEADER_NONCE, NONCE_BYTES)
        sig = _hex(headers, HEADER_SIGNATURE, SIGNATURE_BYTES)
        raw_time = headers.get(HEADER_TIME, "")
        if not (raw_time.isascii() and raw_time.isdigit() and len(raw_time) <= TIME_DIGITS_MAX):
            raise SignedRequestError(
                400, "bad_signed_request", f"the {HEADER_TIME} header is unix seconds"
            )
        time_s = int(raw_time)
        skew = time_s - now_s
        if abs(skew) > SKEW_S_MAX:
            raise SignedRequestError(
                401,
                "stale_request",
                f"the request's time is {skew:+.0f} s from this node's clock (at most"
                f" {SKEW_S_MAX} s either way): check your clock, then sign it again",
            )
        if key not in members:
            raise SignedRequestError(
                403, "not_committee", "the signing key is not a member of the committee in force"
            )
        signed = message(self.chain_id, self.node_key, method, path_with_query, time_s, nonce)
        if not verify(key, signed, sig):
            raise SignedRequestError(
                401,
                "bad_signature",
                "the signature does not cover this chain, node, method, path, time and nonce",
            )
        self._remember(sig, time_s + SKEW_S_MAX + 1, now_s)
        return Signer(key)

    def _remember(self, sig: bytes, until_s: float, now_s: float) -> None:
        """Refuse a signature seen before; else remember it until it would be stale anyway."""
        if sig in self._seen:
            raise SignedRequestError(
                401, "replayed", "this signed request was received before: sign a new one"
            )
        if len(self._seen) >= self.seen_max:
            self._seen = {s: t for s, t in self._seen.items() if t > now_s}
            if len(self._seen) >= self.seen_max:
                raise SignedRequestError(
                    503, "busy", "too many signed requests in the last two minutes: retry later"
                )
        self._seen[sig] = until_s
