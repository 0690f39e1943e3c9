"""Entry point of the govchain command."""

from __future__ import annotations

import click

from govchain import __version__

from .audit_cmd import audit
from .gov_cmd import gov
from .keys_cmd import keys
from .node_cmd import bench, devnet, init, node
from .service_cmd import service
from .sim_cmd import sim
from .tx_cmd import LATER, proof, status, tx, verify


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="govchain")
def cli() -> None:
    """govchain: a manageable blockchain on a two-layer ledger."""


COMMANDS = (sim, keys, init, node, devnet, bench, tx, status, proof, verify, gov, service, audit)
for command in (*COMMANDS, *LATER):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
