"""The uvicorn server that serves a node's API on its own event loop."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn

from govchain.api.app import build_app

if TYPE_CHECKING:
    from govchain.api.port import NodePort


class _Server(uvicorn.Server):
    """The node owns SIGINT/SIGTERM and stops the server itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave the node's signal handlers in place."""
        yield


def make_server(node: NodePort) -> uvicorn.Server:
    """A uvicorn Server bound to the node's API address; run with `await server.serve()`."""
    cfg = uvicorn.Config(
        build_app(node),
        host=node.node_config.api_host,
        port=node.node_config.api_port,
        log_level="warning",
        # No logging config of uvicorn's own: its records go through the node's handler,
        # in the node's format (text or JSON lines, node/logs.py).
        log_config=None,
        lifespan="off",
        ws="websockets-sansio",
        # Compressing every event for every subscriber costs the node CPU that
        # finality needs; event streams are small JSON on a local network.
        ws_per_message_deflate=False,
        limit_concurrency=512,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=2,  # open websockets must not hold a stopping node
    )
    return _Server(cfg)
