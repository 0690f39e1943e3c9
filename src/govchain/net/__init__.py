"""The peer-to-peer transport: frames, a signed handshake, and PeerNetwork (asyncio)."""
