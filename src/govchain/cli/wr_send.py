"""`govchain wr`'s sending: the signer, a transition's plan, and the offer it opens, signs or ends.

`send` signs one `wr` transaction, submits it and prints its result by the
--wait rule (docs/cli.md). A transition with several parties opens an offer
whose id is its transaction id; the result names it, its status and who must
still sign, as far as the node's state tells (None when it cannot know yet).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from govchain.apps.warehouse.ops import (
    Adjust,
    AnyOp,
    Decline,
    Endorse,
    Enforce,
    Issue,
    OpenWarehouse,
    Pledge,
    RegisterDevice,
    Sign,
    Withdraw,
    op_name,
)
from govchain.crypto.keys import SigningKey
from govchain.sdk.errors import SdkError

from .common import load_key, node_client
from .output import EXIT_FAILURE, emit_json, rejection
from .wr_view import show_sent

if TYPE_CHECKING:
    from govchain.sdk.client import Client

# The transitions that open an offer (docs/warehouse.md: who opens, who signs).
MULTI_PARTY = (OpenWarehouse, RegisterDevice, Issue, Endorse, Pledge, Adjust, Enforce, Withdraw)


@dataclass
class Signer:
    """The signing key and the node, each opened on first use (arguments are parsed first)."""

    key_path: Path | None
    node_url: str | None
    as_json: bool
    _key: SigningKey | None = None
    _client: Client | None = None

    @property
    def key(self) -> SigningKey:
        """The --key file's key."""
        if self._key is None:
            self._key = load_key(self.key_path)
        return self._key

    @property
    def client(self) -> Client:
        """The node's client."""
        if self._client is None:
            self._client = node_client(self.node_url)
        return self._client

    def height(self) -> int:
        """The node's executed height."""
        return int(self.client.status()["height"])

    def close(self) -> None:
        """Close the node's connections, if any were opened."""
        if self._client is not None:
            self._client.close()


@dataclass(frozen=True)
class Plan:
    """A transition to send, and what to print with its result (a lot's salt, ...)."""

    op: AnyOp
    extra: dict[str, Any] = field(default_factory=dict)
    offer_seen: dict[str, Any] | None = None  # the offer a sign names, as it was before


def read_or_none(read: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """A read's document, or None when the node cannot say (shown as unknown)."""
    try:
        return read()
    except SdkError:
        return None


def _supervisor(client: Client, warehouse: str | None) -> str | None:
    if warehouse is None:
        return None
    doc = read_or_none(lambda: client.wr_warehouse(bytes.fromhex(warehouse)))
    return None if doc is None else str(doc["supervisor"])


def _warehouse_of(client: Client, number: str) -> str | None:
    doc = read_or_none(lambda: client.wr_receipt(number))
    return None if doc is None else str(doc["warehouse"])


def _others(client: Client, op: AnyOp, sender: str) -> list[str] | None:
    """Who else must sign an offer op opens, as the node's state says now (None: unknown)."""
    found: list[str | None]
    if isinstance(op, OpenWarehouse):
        found = [op.supervisor.hex()]
    elif isinstance(op, Endorse):
        found = [op.to.hex()]
    elif isinstance(op, Pledge):
        found = [op.bank.hex()]
    elif isinstance(op, Enforce):
        found = [op.buyer.hex()]
    elif isinstance(op, RegisterDevice):
        found = [_supervisor(client, sender)]
    elif isinstance(op, Issue):
        found = [_supervisor(client, sender), op.holder.hex()]
    elif isinstance(op, Withdraw):
        found = [_warehouse_of(client, op.number)]
    elif isinstance(op, Adjust):
        pledge = read_or_none(lambda: client.wr_pledge(op.pledge)) or {}
        numbers = [*pledge.get("receipts", []), *op.add]
        houses = {_warehouse_of(client, n) for n in numbers}
        found = [_supervisor(client, w) for w in houses] or [None]
    else:
        return []
    if any(f is None for f in found):
        return None
    return sorted({f for f in found if f is not None})


def _offer_fields(signer: Signer, plan: Plan, tx_id: str, final: bool) -> dict[str, Any]:
    """The offer a plan opens, signs or declines: its id, status and who must still sign.

    final: the transaction is final and executed (--wait). must_sign is None when
    it cannot be known yet (the node does not show the offer).
    """
    op, client = plan.op, signer.client
    me = signer.key.address.hex()
    if isinstance(op, Sign | Decline):
        offer_id = op.offer.hex()
    elif isinstance(op, MULTI_PARTY):
        offer_id = tx_id
    else:
        return {}
    fields: dict[str, Any] = {"offer": offer_id, "offer_status": "open", "must_sign": None}
    seen = plan.offer_seen
    if isinstance(op, Decline):
        if final:
            fields.update(offer_status="declined", must_sign=[])
    elif isinstance(op, Sign) and final and seen is not None and seen["waiting_for"] == [me]:
        # An executed last signature executed the transition (else it is refused).
        fields.update(offer_status="executed", must_sign=[])
    elif final or isinstance(op, Sign):
        doc = read_or_none(lambda: client.wr_offer(offer_id))
        if doc is not None:
            status = str(doc["status"])
            left = sorted(set(doc["waiting_for"]) - {me}) if status == "open" else []
            fields.update(offer_status=status, must_sign=left)
        elif final:
            fields.update(offer_status="closed", must_sign=[])  # executed or declined since
    else:
        fields.update(offer_status="pending", must_sign=_others(client, op, me))
    return fields


def send(signer: Signer, plan: Plan, wait: bool, timeout_s: float, as_json: bool) -> None:
    """Sign and submit the plan's transition; print the result (the --wait rule)."""
    name = op_name(plan.op)
    client = signer.client
    tx_id = client.submit(client.wr(signer.key, plan.op))
    rec = client.wait_final(tx_id, timeout_s) if wait else {"tx_id": tx_id, "status": "pending"}
    doc: dict[str, Any] = {**rec, "transition": name, **plan.extra}
    if isinstance(plan.op, Pledge):
        doc["pledge"] = tx_id  # a pledge's id is its opening transaction's (repay, release...)
    err = rejection(doc, f"the wr {name} transaction")
    if err is None:
        doc.update(_offer_fields(signer, plan, tx_id, wait))
    else:
        doc["error"] = err
    if as_json:
        emit_json(doc)
    else:
        show_sent(doc)
    if err is not None:
        if not as_json:
            click.echo(f"error: {err['message']}", err=True)
        sys.exit(EXIT_FAILURE)  # the --wait rule: the record is printed either way
