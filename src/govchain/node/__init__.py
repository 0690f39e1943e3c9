"""The shell that wires the pure cores, storage and the network into a running node."""
