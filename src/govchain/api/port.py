"""What the API needs of a node: a protocol the node implements, so the API never imports it.

The node starts the API (node -> api); the API sees the node only through this
port, so the two do not import each other (no import cycle), and tests may
serve the API over anything that has these members.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from govchain.crypto.keys import SigningKey
from govchain.dag.admission import AdmissionError
from govchain.net.peers import PeerNetwork
from govchain.node.files import NodeConfig
from govchain.node.metrics import NodeMetrics
from govchain.replica.replication import Submitted
from govchain.replica.view import ChainView
from govchain.state.genesis import Genesis
from govchain.storage.base import Store


class NodePort(Protocol):
    """The members of a running node that its HTTP and websocket API use."""

    store: Store
    genesis: Genesis
    key: SigningKey
    net: PeerNetwork
    node_config: NodeConfig
    metrics: NodeMetrics
    subscribers: set[asyncio.Queue[dict[str, Any]]]

    @property
    def name(self) -> str:
        """The node's name from node.json."""
        ...

    @property
    def view(self) -> ChainView:
        """The replica's read-only view: everything the API reads of the chain."""
        ...

    def pool_full(self) -> bool:
        """True while the node refuses new client transactions (back-pressure)."""
        ...

    def subscribe(self) -> asyncio.Queue[dict[str, Any]] | None:
        """A bounded queue of events, or None when there are too many subscribers."""
        ...

    async def accept(self, wires: list[bytes]) -> list[Submitted | AdmissionError]:
        """Clients' transactions, answered once what each answer promises holds."""
        ...
