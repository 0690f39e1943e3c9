"""`govchain demo ransom` and `govchain demo warehouse`: stories played on a running devnet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from govchain.demo import warehouse as wr_demo
from govchain.demo.ransom import DemoError, run
from govchain.demo.warehouse_cast import DemoError as WarehouseDemoError
from govchain.node.devnet import resolve_dir

from .common import json_option, named_devnet, node_client, node_option, reported
from .output import EXIT_FAILURE, CliError, columns, emit_json, example, fail


@click.group(
    "demo",
    epilog=example("govchain demo ransom --seed 7 --json", "govchain demo warehouse --json"),
)
def demo() -> None:
    """Stories that show what the chain is for, played on a running devnet."""


@demo.command(
    "ransom",
    epilog=example(
        "./scripts/start            # in another terminal", "govchain demo ransom --seed 7"
    ),
)
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True,
              help="the story's amounts and keys (a seed plays once per chain)")  # fmt: skip
@node_option
@json_option
@reported
def ransom(seed: int, node_url: str | None, as_json: bool) -> None:
    """A ransom is paid, peeled through five hops, split, mixed and deposited at two
    exchanges; the trace finds it, the committee watches and freezes it.

    Uses the devnet's faucet and regulator keys (--devnet DIR, default ./devnet).
    Prints {"ransom", "traced", "frozen", "held", "escaped", "result_root", "steps"}.
    """
    devnet = _devnet_dir()
    with node_client(node_url) as client:
        try:
            doc = run(client, devnet, seed, lambda line: None if as_json else click.echo(line))
        except DemoError as exc:
            raise CliError("demo_failed", str(exc), EXIT_FAILURE) from None
    if as_json:
        emit_json(doc)
        return
    click.echo(
        f"ransom {doc['ransom']}: traced {doc['traced']}, frozen {doc['frozen']},"
        f" held {doc['held']}, escaped {doc['escaped']}; result_root {doc['result_root']}"
    )


def _devnet_dir() -> Path:
    """The devnet whose keys the story uses: --devnet, $GOVCHAIN_DEVNET, else ./devnet."""
    return resolve_dir(named_devnet())


@demo.command(
    "warehouse",
    epilog=example("./scripts/start            # in another terminal", "govchain demo warehouse"),
)
@node_option
@json_option
@reported
def warehouse(node_url: str | None, as_json: bool) -> None:
    """Issue 14's copper story: intake, issue, pledge, a 12.5 % price fall, margin call,
    cure, a second bank refused the same goods, a weight drop that suspends the bin
    until inspection, release and withdrawal.

    Uses the devnet's faucet and regulator keys (--devnet DIR, default ./devnet); may
    be played again on the same devnet (fresh bin, lot, tags and receipt number).
    Prints {"receipt", "ok", "steps": [{"name", "ok", "says", "<party>_sees", ...}]};
    exits 1 when a step is not ok (the story stops there).
    """
    devnet = _devnet_dir()
    with node_client(node_url) as client:
        try:
            doc = wr_demo.run(client, devnet, lambda line: None if as_json else click.echo(line))
        except WarehouseDemoError as exc:
            raise CliError("demo_failed", str(exc), EXIT_FAILURE) from None
    if as_json:
        emit_json(doc)
    else:
        _warehouse_table(doc)
    if not doc["ok"]:
        failed = next((s["name"] for s in doc["steps"] if not s["ok"]), "a step")
        err = CliError("demo_failed", f"step {failed!r} did not do what the story says")
        if as_json:  # the document is out already: only the exit code tells
            raise SystemExit(err.exit_code)
        fail(err, as_json)


def _warehouse_table(doc: dict[str, Any]) -> None:
    """The steps as a table, then what each party saw, for people."""
    rows = [[str(i), s["name"], "yes" if s["ok"] else "NO", s["says"]]
            for i, s in enumerate(doc["steps"])]  # fmt: skip
    click.echo()
    for line in columns(["#", "STEP", "OK", "WHAT HAPPENED"], rows):
        click.echo(line)
    click.echo()
    for i, s in enumerate(doc["steps"]):
        for key, seen in s.items():
            if key.endswith("_sees"):
                party = key.removesuffix("_sees").replace("_", " ")
                click.echo(f"{i}. {s['name']}: {party} sees {_brief(seen)}")
    click.echo(f"\nreceipt {doc['receipt']}: {'every step ok' if doc['ok'] else 'FAILED'}")


def _brief(seen: Any) -> str:
    """A party's view in one line."""
    if isinstance(seen, dict):
        return ", ".join(f"{k}={_brief(v)}" for k, v in seen.items())
    if isinstance(seen, list):
        return "[" + ", ".join(_brief(v) for v in seen) + "]"
    return str(seen)
