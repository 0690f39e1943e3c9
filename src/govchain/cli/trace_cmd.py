"""`govchain trace ADDRESS ...` (follow funds) and `govchain trace verify FILE` (recompute one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import msgspec

from govchain.api.trace_view import case_json
from govchain.codec import DecodeError, decode_canonical
from govchain.sdk.client import Client
from govchain.sdk.errors import SdkError
from govchain.trace.case import TraceCase

from .common import (
    json_option,
    node_client,
    node_option,
    parse_address,
    reported,
    resolve_tx_id,
)
from .output import EXIT_FAILURE, EXIT_USAGE, CliError, emit_json, example
from .trace_view import dot_lines, people_lines

FORMATS = ("table", "json", "dot")
CASE_DECODER = msgspec.msgpack.Decoder(TraceCase)


class _TraceGroup(click.Group):
    """`trace ADDRESS ...` runs the trace; `trace verify FILE` checks one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """A first argument that names no subcommand is the ADDRESS of a trace."""
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["address", *args]
        return super().parse_args(ctx, args)


@click.group(
    "trace",
    cls=_TraceGroup,
    epilog=example(
        "govchain trace 0x1f2e3d4c5b6a79880706f5e4d3c2b1a098765432 --tx 3f9a2c1d --hops 8",
        "govchain trace 0x1f2e3d4c5b6a79880706f5e4d3c2b1a098765432 --direction backward",
        "govchain trace ADDRESS --tx TX_ID --format dot | dot -Tsvg > trace.svg",
        "govchain trace ADDRESS --tx TX_ID --json > case.json && govchain trace verify case.json",
    ),
)
def trace() -> None:
    """Follow funds through final order: where they went, or where they came from.

    `govchain trace ADDRESS [--tx TX_ID] [--amount N] [--direction forward|backward]
    [--policy fifo|libr|haircut|poison] [--hops K] [--format table|json|dot]`;
    `govchain trace verify FILE` recomputes a saved result on a node.
    """


@trace.command(
    "address", epilog=example("govchain trace 0x1f2e3d4c5b6a79880706f5e4d3c2b1a098765432")
)
@click.argument("address")
@click.option(
    "--tx",
    "tx_id",
    default=None,
    help="the transaction that brought the funds (forward) or took them (backward);"
    " a unique prefix of 8+ hex digits will do",
)
@click.option("--amount", type=click.IntRange(min=1), default=None, help="at most this much")
@click.option(
    "--direction",
    type=click.Choice(["forward", "backward"]),
    default="forward",
    show_default=True,
    help="forward: where the funds went; backward: where they came from",
)
@click.option(
    "--policy",
    type=click.Choice(["fifo", "libr", "haircut", "poison"]),
    default="fifo",
    show_default=True,
    help="how taint mixes with clean money (backward: fifo or libr)",
)
@click.option(
    "--hops",
    type=click.IntRange(1, 32),
    default=6,
    show_default=True,
    help="follow at most this many movements from a seed",
)
@click.option(
    "--height",
    type=click.IntRange(min=0),
    default=None,
    help="without --tx: the balance at the start of this height (default: now)",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table: for people; json: the contract's document; dot: a Graphviz graph",
)
@node_option
@json_option
@reported
def address_cmd(
    address: str,
    tx_id: str | None,
    amount: int | None,
    direction: str,
    policy: str,
    hops: int,
    height: int | None,
    fmt: str,
    node_url: str | None,
    as_json: bool,
) -> None:
    """Trace ADDRESS's funds: from the transaction --tx, or its balance now.

    For people: where the money is now (tainted, how much a freeze can claim,
    how much is frozen), the path it took as a tree, and the result_root a
    freeze-amount proposal cites. --json (= --format json) prints the
    contract's document; --format dot a Graphviz graph.
    """
    addr = parse_address(address)
    query: dict[str, str | int] = {"direction": direction, "policy": policy, "hops": hops}
    if amount is not None:
        query["amount"] = amount
    if height is not None:
        query["height"] = height
    with node_client(node_url) as client:
        if tx_id is not None:
            query["tx_id"] = resolve_tx_id(client, tx_id)
        doc = client.trace(addr, **query)
    if as_json or fmt == "json":
        emit_json(doc)
    elif fmt == "dot":
        click.echo("\n".join(dot_lines(doc)))
    else:
        people_lines(doc)


def recompute(client: Client, doc: Any) -> dict[str, Any]:
    """{"valid", "result_root", "expected", "snapshot"}: doc's case traced again on the node."""
    if not isinstance(doc, dict) or not isinstance(doc.get("result_root"), str):
        raise CliError("bad_file", "not a trace result: it has no result_root", EXIT_USAGE)
    if "seeds" not in doc or "limits" not in doc:
        raise CliError("bad_file", "not a trace result: it has no pinned case", EXIT_USAGE)
    again = client.trace_case(doc)
    return {
        "valid": again["result_root"] == doc["result_root"],
        "result_root": again["result_root"],
        "expected": doc["result_root"],
        "snapshot": again["snapshot"],
    }


def cited_trace(client: Client, action: dict[str, Any]) -> dict[str, Any] | None:
    """A freeze-amount's cited trace, recomputed on the node: {"valid", "result_root",
    "expected"} (None: not a freeze-amount, or it carries no case to recompute)."""
    args = action.get("args") or {}
    case_hex = args.get("trace_case")
    if action.get("name") != "freeze-amount" or not isinstance(case_hex, str) or not case_hex:
        return None
    expected = str(args.get("trace_root"))
    try:
        case = decode_canonical(bytes.fromhex(case_hex), CASE_DECODER)
    except (ValueError, DecodeError):
        return {"valid": False, "result_root": None, "expected": expected,
                "error": "the cited case does not decode"}  # fmt: skip
    try:
        again = client.trace_case(case_json(case))
    except SdkError as exc:
        return {"valid": False, "result_root": None, "expected": expected,
                "error": f"{exc.code}: {exc}"}  # fmt: skip
    got = str(again["result_root"])
    return {"valid": got == expected, "result_root": got, "expected": expected}


@trace.command("verify", epilog=example("govchain trace verify case.json"))
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@node_option
@json_option
@reported
def verify_cmd(file: Path, node_url: str | None, as_json: bool) -> None:
    """Recompute a saved trace (from `govchain trace --json`) on a node and compare roots.

    Prints {"valid", "result_root"}; exits 1 when the node's root differs.
    """
    try:
        doc: Any = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise CliError("bad_file", f"{file} is not a readable trace: {exc}", EXIT_USAGE) from None
    with node_client(node_url) as client:
        out = recompute(client, doc)
    if as_json:
        emit_json(out)
    elif out["valid"]:
        click.echo(f"valid: the node recomputes result_root {out['result_root']}")
    else:
        click.echo(
            f"INVALID: the node computes {out['result_root']}, the file says {out['expected']}"
        )
    if not out["valid"]:
        raise SystemExit(EXIT_FAILURE)
