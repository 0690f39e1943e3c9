"""Entry point of the govchain command."""

from __future__ import annotations

import click

from govchain import __version__

from .sim_cmd import sim


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="govchain")
def cli() -> None:
    """govchain: a manageable blockchain on a two-layer ledger."""


cli.add_command(sim)


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
