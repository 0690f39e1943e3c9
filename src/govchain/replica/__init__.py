"""One node's pure heart: DAG, consensus and execution wired together, no I/O."""
