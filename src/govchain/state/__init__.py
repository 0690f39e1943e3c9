"""Execution: a deterministic state machine over the final order."""
