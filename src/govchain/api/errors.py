"""The API's client errors: a contract code, words, and an HTTP status."""

from __future__ import annotations

from starlette.requests import Request

HEIGHT_DIGITS_MAX = 18  # the API reads at most 18 digits


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


def height_arg(text: str, words: str) -> int:
    """A height of at most 18 decimal digits, or a 400 bad_height with the given words."""
    if not (text.isascii() and text.isdigit()) or len(text) > HEIGHT_DIGITS_MAX:
        raise ApiError(400, "bad_height", words)
    return int(text)


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refused (413) past limit bytes, declared or streamed."""
    declared = request.headers.get("content-length")
    if declared is not None and (
        not (declared.isascii() and declared.isdigit()) or int(declared) > limit
    ):
        raise ApiError(413, "too_large", f"a request body holds at most {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"a request body holds at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
