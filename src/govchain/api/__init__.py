"""HTTP and websocket API served by every node."""
