"""The SDK's one error type, apart from the client so that importing it stays cheap."""

from __future__ import annotations


class SdkError(Exception):
    """A request failed; code and message come from the node's error document."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status
