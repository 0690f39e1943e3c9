"""The consensus layer: a Tendermint-style BFT state machine over weighted validators."""
