"""`govchain demo ransom`: the fund-tracing story, played on a running devnet."""

from __future__ import annotations

from pathlib import Path

import click

from govchain.demo.ransom import DemoError, run
from govchain.node.devnet import resolve_dir

from .common import json_option, named_devnet, node_client, node_option, reported
from .output import EXIT_FAILURE, CliError, emit_json, example


@click.group("demo", epilog=example("govchain demo ransom --seed 7 --json"))
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
