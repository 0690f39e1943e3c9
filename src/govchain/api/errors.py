"""The API's client errors: a contract code, words, and an HTTP status."""

from __future__ import annotations


class ApiError(Exception):
    """A client error with the contract's code and an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def hex_arg(value: str, chars: int, what: str) -> bytes:
    """Lowercase hex of exactly `chars` characters, or a 400 naming what it should be."""
    if len(value) != chars or value != value.lower():
        raise ApiError(400, "bad_" + what, f"{what} must be {chars} lowercase hex characters")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ApiError(400, "bad_" + what, f"{what} must be lowercase hex") from None
