"""Checks, subjects and CLI parsers for what actions target: addresses, transactions, services."""

from __future__ import annotations

from govchain.codec import HASH_BYTES
from govchain.crypto.keys import ADDRESS_BYTES
from govchain.state.args import hex_arg, only
from govchain.state.context import Stores
from govchain.state.holds import Hold
from govchain.state.identities import role_ok
from govchain.state.registry import Effect, no_op
from govchain.state.services import service_id_ok

ROLE_RULE = "role must be [a-z0-9_-]{1,32}"


def address_error(address: bytes) -> str | None:
    """Why an address argument is bad, or None."""
    return None if len(address) == ADDRESS_BYTES else "address must be 20 bytes"


def tx_id_error(tx_id: bytes) -> str | None:
    """Why a transaction id argument is bad, or None."""
    return None if len(tx_id) == HASH_BYTES else "tx_id must be 32 bytes"


def service_error(service_id: str) -> str | None:
    """Why a service id argument is bad, or None."""
    return None if service_id_ok(service_id) else "service id must be [a-z0-9_-]{1,64}"


def role_error(role: str) -> str | None:
    """Why a role argument is bad, or None."""
    return None if role_ok(role) else ROLE_RULE


def address_subject(address: bytes) -> str:
    """An address as audit entries name it."""
    return f"address:{address.hex()}"


def tx_subject(tx_id: bytes) -> str:
    """A transaction as audit entries name it."""
    return f"tx:{tx_id.hex()}"


def service_subject(service_id: str) -> str:
    """A service as audit entries name it."""
    return f"service:{service_id}"


def address_arg(args: tuple[str, ...]) -> bytes:
    """The ADDRESS of a one-argument action."""
    return hex_arg(only(args), ADDRESS_BYTES, "address")


def tx_id_arg(args: tuple[str, ...]) -> bytes:
    """The TX_ID of a one-argument action."""
    return hex_arg(only(args), HASH_BYTES, "tx_id")


def open_hold(st: Stores, tx_id: bytes) -> Hold | Effect:
    """The hold a release or interception may still decide, or the no-op saying why not.

    Open: unresolved, or only provisionally intercepted by an emergency measure.
    """
    hold = st.holds.get(tx_id)
    if hold is None:
        return no_op("the transaction is not held")
    r = hold.resolution
    if r is not None and not r.provisional:
        return no_op(f"already {r.status} by proposal {r.proposal}")
    return hold
