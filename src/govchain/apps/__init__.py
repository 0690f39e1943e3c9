"""Applications built on the registry (issue 14 on)."""
