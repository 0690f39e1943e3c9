"""`govchain audit`: export the hash-chained audit log, and verify an export offline.

An export ties its entries to 2f+1 signatures: checkpoint h + 1 carries the
audit head after height h, so the export holds the certified checkpoints
`from` (the head before the range), h + 1 for every height h with entries, and
`to + 1` (the head after the range). It is bound to the genesis hash and
carries the complete chain of validator-set changes from the point its
verifier trusts (the genesis, or `--trust HEIGHT`), as proofs do
(docs/trust.md).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from govchain.node.files import read_genesis
from govchain.sdk.client import Client
from govchain.sdk.proof import certificate_from_json, check_genesis, checkpoint_from_json
from govchain.sdk.valsets import (
    Trust,
    ValidatorSets,
    ValsetError,
    entry_change,
    entry_from_json,
    json_int,
)
from govchain.state.audit import AuditEntry, verify_chain
from govchain.state.genesis import Genesis

from .common import (
    devnet_option,
    json_option,
    node_client,
    node_option,
    reported,
    show,
    trust_from_option,
)
from .genesis_lookup import find_genesis
from .output import EXIT_FAILURE, EXIT_USAGE, CliError, emit_json, example
from .tx_cmd import _proof_from, check_served, genesis_option, parse_trust, trust_option

PAGE_HEIGHTS = 10_000  # the API's span per request
CSV_FIELDS = (
    "seq",
    "height",
    "kind",
    "actor",
    "subject",
    "proposal",
    "reason",
    "evidence",
    "prev",
    "hash",
)


@click.group(
    "audit",
    epilog=example("govchain audit export --out audit.json && govchain audit verify audit.json"),
)
def audit() -> None:
    """The audit log: every governance action and its effects, hash-chained."""


def export_doc(
    client: Client, lo: int | None, hi: int | None, trust_from: int = 0
) -> dict[str, Any]:
    """Fetch entries of heights lo..hi, the certified checkpoints that tie them, and the
    validator-set changes from checkpoint trust_from (0: the genesis) that certify those."""
    st = client.status()
    latest = int(client.checkpoint("latest")["height"])
    # The head after height h is certified by checkpoint h + 1.
    top = min(int(st["height"]), latest - 1)
    # A verifier that trusts checkpoint T can check nothing before it.
    start = max(1, trust_from) if lo is None else lo
    end = top if hi is None else hi
    if start < 1:
        raise CliError("bad_range", "--from must be at least 1", EXIT_USAGE)
    if end > top:
        raise CliError(
            "bad_range",
            f"--to {end} is not certified yet: the newest certified audit head is after "
            f"height {top}",
            EXIT_USAGE,
        )
    if top < 1:
        raise CliError("not_yet", "no audit head is certified yet: wait for checkpoint 2")
    if end < start:
        raise CliError("bad_range", "--to must not be below --from", EXIT_USAGE)
    if trust_from > start:
        raise CliError(
            "bad_range",
            f"--from {start} is before the trusted checkpoint {trust_from}: a verifier that "
            "trusts it cannot check the checkpoints before it",
            EXIT_USAGE,
        )
    entries: list[dict[str, Any]] = []
    page = start
    while page <= end:
        last = min(end, page + PAGE_HEIGHTS - 1)
        doc = client.audit(page, last)
        if not doc.get("complete", True):
            raise CliError(
                "audit_unavailable",
                "the node no longer holds the audit entries of this range; ask a node "
                "with the full history, or narrow --from",
            )
        entries.extend(doc["entries"])
        page = last + 1
    heights = sorted({start, end + 1} | {int(e["height"]) + 1 for e in entries})
    checkpoints = []
    for h in heights:
        cp = client.checkpoint(h)
        cert = cp.pop("certificate")
        checkpoints.append({"height": h, "checkpoint": cp, "certificate": cert})
    chain = client.validator_changes(max(heights), trust_from)
    return {
        "chain_id": st["chain_id"],
        "genesis_hash": st.get("genesis_hash"),
        "from": start,
        "to": end,
        "entries": entries,
        "checkpoints": checkpoints,
        "trust": chain["trust"],
        "validator_changes": chain["validator_changes"],
    }


def _csv(entries: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    w.writeheader()
    for e in entries:
        w.writerow(e)
    return buf.getvalue()


@audit.command(
    "export",
    epilog=example(
        "govchain audit export --from 1 --to 40 --out audit.json",
        "govchain audit export --format csv --out audit.csv",
    ),
)
@click.option("--from", "lo", type=int, default=None, help="first height (default 1)")
@click.option("--to", "hi", type=int, default=None, help="last height (default: last certified)")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv"]),
    default="json",
    help="json (verifiable) or csv (the entries only)",
)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="write here")
@trust_from_option
@node_option
@json_option
@reported
def export(
    lo: int | None,
    hi: int | None,
    fmt: str,
    out: Path | None,
    trust_text: str | None,
    node_url: str | None,
    as_json: bool,
) -> None:
    """Export audit entries with the certified checkpoints that vouch for them."""
    start, expected = _proof_from(trust_text)
    with node_client(node_url) as client:
        doc = export_doc(client, lo, hi, start)
    check_served(doc, start, expected)
    text = _csv(doc["entries"]) if fmt == "csv" else json.dumps(doc, indent=2) + "\n"
    if out is None:
        if fmt == "json":
            emit_json(doc)
        else:
            click.echo(text, nl=False)
        return
    try:
        out.write_text(text)
    except OSError as exc:
        raise CliError("bad_file", f"cannot write {out}: {exc.strerror}", EXIT_USAGE) from None
    summary = {
        "out": str(out),
        "format": fmt,
        "from": doc["from"],
        "to": doc["to"],
        "entries": len(doc["entries"]),
        "checkpoints": len(doc["checkpoints"]),
    }
    show(summary, as_json)


def verify_export(doc: Any, genesis_path: Path, trust: Trust | None = None) -> dict[str, Any]:
    """Check an export offline; returns a summary or raises CliError (exit 1) naming the fault.

    trust: the checkpoint trusted instead of the genesis; the export must carry
    the validator-set changes from exactly there (docs/trust.md).
    """
    return verify_export_of(doc, read_genesis(genesis_path), trust)


def verify_export_of(doc: Any, genesis: Genesis, trust: Trust | None = None) -> dict[str, Any]:
    """verify_export against a genesis already read (the chain's typed_audit decides the format)."""

    def bad(message: str) -> CliError:
        return CliError("invalid_audit", message, EXIT_FAILURE)

    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise CliError("bad_file", "not an audit export (JSON with entries)", EXIT_USAGE)
    if doc.get("chain_id") != genesis.chain_id:
        raise bad(
            f"the export is of chain {doc.get('chain_id')!r}, the genesis of {genesis.chain_id!r}"
        )
    problem = check_genesis(doc, genesis)
    if problem is not None:
        raise bad(f"the export does not belong to this genesis: {problem}")
    entries: list[AuditEntry] = []
    try:
        until = max(json_int(item["height"]) for item in doc["checkpoints"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CliError("bad_file", f"malformed audit export: {exc}", EXIT_USAGE) from None
    try:
        sets = ValidatorSets(genesis, trust)
        sets.follow(doc, until)
    except ValsetError as exc:
        raise bad(f"validator-set changes: {exc}") from None
    try:
        lo, hi = json_int(doc["from"]), json_int(doc["to"])
        for raw in doc["entries"]:
            e = entry_from_json(raw)
            if "hash" in raw and raw["hash"] != e.hash.hex():
                raise bad(f"entry seq {e.seq} was altered: its fields do not hash to {raw['hash']}")
            entry_change(e, genesis.typed_audit)  # written as this chain writes changes
            entries.append(e)
        heads: dict[int, bytes] = {}
        signers: set[int] = set()
        for item in doc["checkpoints"]:
            cp_doc = item["checkpoint"]
            cp = checkpoint_from_json(cp_doc, genesis.chain_id)
            cert = certificate_from_json(item["certificate"])
            if cp.height != json_int(item["height"]):
                raise bad(f"checkpoint listed at height {item['height']} is of height {cp.height}")
            err = sets.certified_error(cp, cp_doc.get("hash"), cert)
            if err is not None:
                raise bad(err)
            heads[cp.height - 1] = cp.audit_head
            signers.add(len(cert.signatures))
    except CliError:
        raise
    except ValsetError as exc:
        raise bad(str(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise CliError("bad_file", f"malformed audit export: {exc}", EXIT_USAGE) from None
    for h, what in ((lo - 1, "before"), (hi, "after")):
        if h not in heads:
            raise bad(f"no certified checkpoint vouches for the audit head {what} the range")
    problem = verify_chain(entries, heads, from_height=lo, to_height=hi)
    if problem is not None:
        raise bad(problem)
    return {
        "valid": True,
        "chain_id": genesis.chain_id,
        "from": lo,
        "to": hi,
        "entries": len(entries),
        "checkpoints": len(heads),
        "signers_min": min(signers) if signers else 0,
        "trusted": str(sets.trust),
    }


@audit.command(
    "verify",
    epilog=example(
        "govchain audit verify audit.json",
        "govchain audit verify audit.json --devnet ./devnet2",
    ),
)
@click.argument("file", type=click.Path(path_type=Path))
@genesis_option
@devnet_option
@trust_option
@json_option
@reported
def verify(file: Path, genesis_path: Path | None, trust_text: str | None, as_json: bool) -> None:
    """Check an export offline: hash chain, certified heads, 2f+1 signatures of trusted sets."""
    trust = parse_trust(trust_text)
    try:
        doc = json.loads(file.read_text())
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise CliError(
            "bad_file", f"{file} is not a readable JSON export: {exc}", EXIT_USAGE
        ) from None
    show(verify_export(doc, find_genesis(doc, file, genesis_path), trust), as_json)
