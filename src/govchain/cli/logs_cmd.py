"""`govchain logs [NAME] [-f]`: a devnet node's log, or every node's, merged by time."""

from __future__ import annotations

import heapq
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import click

from govchain.node.devnet import LOG_NAME, resolve_dir

from .common import json_option, reported, show
from .output import EXIT_FAILURE, EXIT_USAGE, CliError

FOLLOW_POLL_S = 0.25
TAIL_BLOCK_BYTES = 65536
READ_CHUNK_BYTES = 1 << 20  # bytes taken from one log per poll while following
JSON_LINES_MAX = 100_000  # --json holds every line in one document: bounded
COLOURS = ("cyan", "green", "yellow", "magenta", "blue", "red", "bright_cyan", "bright_green")
# A node's log lines start with the time (logging's asctime): lines without one
# (a traceback's) belong to the record above them.
STAMP_BYTES = 23  # "2026-12-03 12:30:08,123"
_STAMP = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")

EPILOG = """\b
Examples:
  govchain logs                    # every node, merged by time
  govchain logs validator-2 -f     # one node, then follow it
  govchain logs -f --tail 20 --dir devnet2"""


@click.command("logs", epilog=EPILOG)
@click.argument("name", required=False)
@click.option("--follow", "-f", is_flag=True, help="keep printing lines as they are written")
@click.option("--tail", "-n", "tail", type=int, default=None, help="only the last N lines of each")
@click.option(
    "--dir",
    "root",
    type=click.Path(path_type=Path),
    default=None,
    help="the devnet's directory (default: $GOVCHAIN_DEVNET, else ./devnet)",
)
@json_option
@reported
def logs(
    name: str | None, follow: bool, tail: int | None, root: Path | None, as_json: bool
) -> None:
    """Print a devnet node's log (default: every node's, each line prefixed by its name)."""
    where = resolve_dir(root)
    if follow and as_json:
        raise CliError(
            "bad_argument", "--follow streams lines; --json prints one document: choose one",
            EXIT_USAGE,
        )  # fmt: skip
    if tail is not None and tail < 0:
        raise CliError("bad_argument", "--tail must not be negative", EXIT_USAGE)
    homes = _homes(where)
    if name is not None:
        if name not in homes:
            known = ", ".join(homes)
            msg = f"no node named {name!r} in {where} ({known})"
            raise CliError("unknown_node", msg, EXIT_USAGE)
        homes = {name: homes[name]}
    sources = [Source(n, home / LOG_NAME, prefix=len(homes) > 1) for n, home in homes.items()]
    width = max(len(n) for n in homes)
    if as_json:
        lines = [
            {"node": s.name, "line": line.decode(errors="replace")}
            for s, line in _merged(sources, tail)
        ]
        if len(lines) > JSON_LINES_MAX:
            raise CliError(
                "too_many_lines", f"over {JSON_LINES_MAX} lines: add --tail N", EXIT_USAGE
            )
        show({"dir": str(where), "lines": lines}, True)
        return
    colour = {s.name: COLOURS[i % len(COLOURS)] for i, s in enumerate(sources)}
    for s, line in _merged(sources, tail):
        _echo(s, line, width, colour[s.name])
    if follow:
        try:
            _follow(sources, width, colour)
        except KeyboardInterrupt:
            return


def _homes(root: Path) -> dict[str, Path]:
    """Every node's home in the devnet, by name."""
    nodes = root / "nodes"
    if not nodes.is_dir():
        raise CliError(
            "no_devnet", f"no devnet in {root}: start one with govchain devnet --dir {root}",
            EXIT_FAILURE,
        )  # fmt: skip
    return {p.name: p for p in sorted(nodes.iterdir()) if p.is_dir()}


@dataclass
class Source:
    """One node's log file and how far it has been read."""

    name: str
    path: Path
    prefix: bool
    offset: int = 0
    partial: bytes = field(default=b"")


def _merged(sources: list[Source], tail: int | None) -> Iterator[tuple[Source, bytes]]:
    """Every line so far, the logs merged by their time stamps; leaves offsets at the end."""
    streams = [_records(s, tail) for s in sources]
    for _stamp, _order, s, lines in heapq.merge(*streams, key=lambda r: r[:2]):
        yield from ((s, line) for line in lines)


def _records(s: Source, tail: int | None) -> Iterator[tuple[bytes, int, Source, list[bytes]]]:
    """A log's records (a stamped line and the unstamped lines after it)."""
    try:
        f = s.path.open("rb")
    except FileNotFoundError:
        return
    with f:
        start = _tail_offset(f, tail) if tail is not None else 0
        f.seek(start)
        stamp = b""
        lines: list[bytes] = []
        order = 0
        for raw in f:
            if not raw.endswith(b"\n"):
                s.partial = raw  # still being written: the follower finishes it
                break
            line = raw.rstrip(b"\n")
            stamped = _STAMP.match(line) is not None
            if stamped and lines:
                yield stamp, order, s, lines
                order += 1
                lines = []
            if stamped:
                stamp = line[:STAMP_BYTES]
            lines.append(line)
        s.offset = f.tell()
        if lines:
            yield stamp, order, s, lines


def _tail_offset(f: IO[bytes], lines: int) -> int:
    """Where the last `lines` whole lines of f start."""
    end = f.seek(0, os.SEEK_END)
    if lines == 0:
        return end
    pos, seen = end, 0
    while pos > 0:
        step = min(TAIL_BLOCK_BYTES, pos)
        pos -= step
        f.seek(pos)
        block = f.read(step)
        # A final newline ends the last line; it does not start one.
        count_in = block[:-1] if pos + step == end else block
        for i in range(len(count_in) - 1, -1, -1):
            if count_in[i] == 0x0A:
                seen += 1
                if seen == lines:
                    return pos + i + 1
    return 0


def _follow(sources: list[Source], width: int, colour: dict[str, str]) -> None:
    """Print new lines as they are written, until Ctrl-C; a log that shrank starts over."""
    while True:
        for s in sources:
            for line in _new_lines(s):
                _echo(s, line, width, colour[s.name])
        time.sleep(FOLLOW_POLL_S)


def _new_lines(s: Source) -> list[bytes]:
    try:
        size = s.path.stat().st_size
    except FileNotFoundError:
        return []
    if size < s.offset:  # replaced or truncated (a --reset devnet): from the top
        s.offset, s.partial = 0, b""
    if size == s.offset:
        return []
    with s.path.open("rb") as f:
        f.seek(s.offset)
        data = f.read(READ_CHUNK_BYTES)
    s.offset += len(data)
    data = s.partial + data
    *lines, s.partial = data.split(b"\n")
    return lines


def _echo(s: Source, line: bytes, width: int, colour: str) -> None:
    text = line.decode(errors="replace")
    if s.prefix:
        text = click.style(f"{s.name:<{width}} | ", fg=colour) + text
    click.echo(text)
