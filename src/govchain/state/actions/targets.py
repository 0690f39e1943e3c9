"""Checks, subjects and CLI parsers for what actions target: addresses, transactions, services."""

from __future__ import annotations

from govchain.codec import HASH_BYTES
from govchain.crypto.keys import ADDRESS_BYTES
from govchain.state.args import hex_arg, only
from govchain.state.context import Stores
from govchain.state.holds import Hold
from govchain.state.identities import role_ok
from govchain.state.registry import Effect, NodeDocs, no_op
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


def frozen_by(docs: NodeDocs, address: bytes) -> str | None:
    """The proposal that froze address, as the node shows it (None: not frozen)."""
    ident = docs.identity(address)
    by = ident.get("frozen_by") if ident is not None and ident.get("frozen") else None
    return str(by) if by else None


def suspension(docs: NodeDocs, service_id: str) -> tuple[str | None, str | None]:
    """Why a service cannot be previewed (unknown to the node), and who suspended it."""
    service = docs.service(service_id)
    if service is None:
        return "no service has this id", None
    by = service.get("suspended_by")
    return None, str(by) if by else None


def holds_role(docs: NodeDocs, address: bytes, role: str) -> bool:
    """Whether the node shows address holding role."""
    ident = docs.identity(address)
    roles = ident.get("roles") if ident is not None else None
    return role in roles if isinstance(roles, list) else False


def hold_preview(docs: NodeDocs, tx_id: bytes, emergency: bool) -> str | None:
    """Why a release or interception would change nothing now, as open_hold decides it."""
    rec = docs.tx(tx_id)
    if rec is None:
        return "this node knows no transaction with this id"
    if rec.get("checkpoint") is None:
        return None  # not final yet: it may still be held
    if "held" not in rec:
        return "the transaction is not held"
    r = rec.get("resolution")
    if r is None:
        return None
    if emergency or not r.get("provisional"):
        return f"already {r.get('status')} by proposal {r.get('proposal')}"
    return None


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
