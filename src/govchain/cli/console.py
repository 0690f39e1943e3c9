"""The Rich console for people's output: piped or captured output is not cut at 80 columns."""

from __future__ import annotations

import sys

from rich.console import Console

# Rich assumes 80 columns when it writes to a pipe or a file, and wraps tables
# (ids, addresses, log paths) mid-word; a log or a pager reads them better whole.
PIPE_WIDTH = 200


def people_console(*, stderr: bool = False, highlight: bool = True) -> Console:
    """A console on stdout (or stderr): a terminal's width, else PIPE_WIDTH columns."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else PIPE_WIDTH
    return Console(stderr=stderr, highlight=highlight, width=width)
