"""Keys, strict Ed25519 signatures and Merkle proofs."""
