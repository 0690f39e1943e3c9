"""Schemathesis hooks for tests/test_schemathesis_live.py (loaded through SCHEMATHESIS_HOOKS).

POST /v1/txs/batch takes application/msgpack, which schemathesis cannot send by
itself: its body is described as an array of binary strings, and encoded here
as msgpack with each string a bin value (anything else as generated, so that a
body of the wrong shape reaches the node as such).
"""

from __future__ import annotations

from typing import Any

import msgspec
import schemathesis
from schemathesis.transport import SerializationContext


def _bin(value: Any) -> Any:
    """A generated binary string as bytes; other values as they are."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return value


@schemathesis.serializer("application/msgpack")
def msgpack_body(_: SerializationContext, value: Any) -> bytes:
    """The generated body as msgpack."""
    body = [_bin(v) for v in value] if isinstance(value, list) else value
    return msgspec.msgpack.encode(body, enc_hook=repr)
