"""Entry point of the govchain command.

Subcommands are imported only when they run: a command that talks to a node
need not load the node, the API server and the simulator first, which would
cost every CLI call most of a second of CPU.
"""

from __future__ import annotations

import importlib
import inspect

import click

from govchain import __version__

from .output import example

# name -> "module:attribute" of each subcommand, in the order `--help` lists them.
COMMANDS: dict[str, str] = {
    "sim": "govchain.cli.sim_cmd:sim",
    "keys": "govchain.cli.keys_cmd:keys",
    "init": "govchain.cli.node_cmd:init",
    "node": "govchain.cli.node_cmd:node",
    "devnet": "govchain.cli.devnet_cmd:devnet",
    "logs": "govchain.cli.logs_cmd:logs",
    "bench": "govchain.cli.node_cmd:bench",
    "soak": "govchain.cli.soak_cmd:soak",
    "tx": "govchain.cli.tx_cmd:tx",
    "status": "govchain.cli.tx_cmd:status",
    "balance": "govchain.cli.query_cmd:balance",
    "account": "govchain.cli.query_cmd:account",
    "checkpoint": "govchain.cli.query_cmd:checkpoint",
    "proof": "govchain.cli.tx_cmd:proof",
    "verify": "govchain.cli.tx_cmd:verify",
    "gov": "govchain.cli.gov_cmd:gov",
    "service": "govchain.cli.service_cmd:service",
    "audit": "govchain.cli.audit_cmd:audit",
    "trace": "govchain.cli.trace_cmd:trace",
    "demo": "govchain.cli.demo_cmd:demo",
    "iot": "govchain.cli.iot_cmd:iot_group",
    "wr": "govchain.cli.wr_cmd:wr",
    "reports": "govchain.cli.reports_cmd:reports",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every subcommand's name, without importing any."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import the named subcommand's module now."""
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        full_short_help(command)
        return command


def summary(help_text: str | None) -> str:
    """A help text's first paragraph on one line: the command's one-line description."""
    if not help_text:
        return ""
    first = inspect.cleandoc(help_text).split("\n\n", 1)[0]
    return " ".join(line.strip() for line in first.splitlines() if line.strip() != "\b")


def full_short_help(command: click.Command) -> None:
    """List command and its subcommands in `--help` by their whole one-line description.

    Click cuts a description to what fits the terminal after the command's
    name and ends it with "..."; a short_help of its own is shown whole and
    wrapped instead.
    """
    if command.short_help is None:
        command.short_help = summary(command.help)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            full_short_help(sub)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=example(
        "./scripts/start                      # a local network in ./devnet",
        "govchain status                      # its first node",
        "govchain COMMAND --help              # each command, with an example",
    ),
)
@click.version_option(__version__, prog_name="govchain")
def cli() -> None:
    """govchain: a manageable blockchain on a two-layer ledger.

    Every command takes --json (one JSON document on stdout) and exits 0 on
    success, 2 on bad input, 1 otherwise. Commands that send a transaction
    take --wait: exit 0 once it is final and executed (or held), 1 when it
    is final as rejected; the record is printed either way.
    """


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
