"""Fuzz targets: one module per decoder fed from outside (docs/fuzzing.md).

Each module exposes `test_one_input(data: bytes) -> None`, `ACCEPTED` (the
typed errors that input may cause: anything else is a finding) and
`seeds() -> dict[str, bytes]` (valid encodings made by the code itself, which
fuzz/make_corpus.py writes under fuzz/corpus/<target>/).
"""

from __future__ import annotations

# In the order `fuzz/run.py all` runs them.
TARGETS = (
    "tx_wire",
    "frames",
    "peer_message",
    "consensus",
    "handshake",
    "api_txs",
    "trace_body",
    "report_body",
    "proof_file",
    "audit_file",
    "sync_answers",
)

# What a target's process instruments for coverage (packages of govchain), when
# not all of it: the API target imports nearly everything, and instrumenting
# what its bodies never reach only slows its start.
INSTRUMENT: dict[str, tuple[str, ...]] = {
    "api_txs": (
        "govchain.api",
        "govchain.codec",
        "govchain.dag",
        "govchain.node.node",
        "govchain.replica.replica",
        "govchain.replica.replication",
        "govchain.trace",
    ),
}

# libFuzzer dictionaries (fuzz/dicts/<name>.dict) of the targets that read JSON:
# tokens such as 1e999 or a lone surrogate are hard to reach one byte at a time.
DICTS: dict[str, str] = {
    name: "json" for name in ("api_txs", "trace_body", "report_body", "proof_file", "audit_file")
}
