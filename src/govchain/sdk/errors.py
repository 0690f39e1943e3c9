"""The SDK's one error type, apart from the client so that importing it stays cheap."""

from __future__ import annotations

import math


class SdkError(Exception):
    """A request failed; code and message come from the node's error document.

    retry_after_s: what the node's `Retry-After` header asked for (503 answers:
    not_replicated, catching_up, pool_full), in seconds; None when it named none.
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status
        self.retry_after_s = retry_after_s


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (integer or decimal); None when absent or unusable.

    The HTTP-date form is not used by govchain nodes and reads as None, as does
    a negative, infinite or NaN number: the caller then applies its own default.
    """
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds
