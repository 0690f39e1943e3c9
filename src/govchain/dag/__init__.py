"""The ledger layer: transactions, admission, the DAG and its deterministic order."""
