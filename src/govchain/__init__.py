"""govchain: a manageable blockchain on a two-layer ledger."""

__version__ = "0.1.0"
