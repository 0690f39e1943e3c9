"""Entry point of the govchain command.

Subcommands are imported only when they run: a command that talks to a node
need not load the node, the API server and the simulator first, which would
cost every CLI call most of a second of CPU.
"""

from __future__ import annotations

import importlib

import click

from govchain import __version__

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
    "trace": "govchain.cli.tx_cmd:trace",
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
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="govchain")
def cli() -> None:
    """govchain: a manageable blockchain on a two-layer ledger."""


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
