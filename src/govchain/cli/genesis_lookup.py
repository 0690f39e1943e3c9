"""Where `verify` and `audit verify` find the genesis to check a file against.

In order: `--genesis FILE`; the devnet named by `--devnet DIR` or
`$GOVCHAIN_DEVNET`; else a known devnet whose genesis hash is the one the
file is bound to. Known devnets are looked for as git looks for a repository:
`devnet/` (and any directory holding a devnet.json) here, beside the file,
and in the directories above both. A devnet keeps its genesis in every node's
home, DIR/nodes/<name>/genesis.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from govchain.node.devnet import DEFAULT_DIR, DEVNET_FILE_NAME

from .common import named_devnet
from .output import EXIT_USAGE, CliError

GENESIS_FILE_NAME = "genesis.json"
PARENTS_MAX = 16  # directories walked up from here and from the file
CHILDREN_MAX = 256  # subdirectories of here looked at for a devnet.json
WHERE = "a devnet keeps it in DIR/nodes/<name>/genesis.json"


def devnet_genesis(root: Path) -> Path | None:
    """The genesis file of the devnet in root (its first node's), if it has one."""
    nodes = root / "nodes"
    try:
        homes = sorted(p for p in nodes.iterdir() if (p / GENESIS_FILE_NAME).is_file())
    except OSError:
        return None
    return homes[0] / GENESIS_FILE_NAME if homes else None


def _recorded_hash(path: Path) -> str | None:
    """The hash a genesis file records (read_genesis checks it against the content later)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    value = doc.get("hash") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def _up(start: Path) -> Iterator[Path]:
    here = start.resolve()
    for _ in range(PARENTS_MAX):
        yield here
        if here.parent == here:
            return
        here = here.parent


def known_devnets(file: Path) -> list[Path]:
    """Devnet directories near here and near file, nearest first, each once."""
    out: dict[Path, None] = {}

    def add(root: Path) -> None:
        if (root / "nodes").is_dir():
            out.setdefault(root.resolve(), None)

    cwd = Path.cwd()
    add(cwd / DEFAULT_DIR)
    try:
        children = sorted(cwd.iterdir())[:CHILDREN_MAX]
    except OSError:
        children = []
    for child in children:
        if (child / DEVNET_FILE_NAME).is_file():
            add(child)
    for start in (file.parent, cwd):
        for here in _up(start):
            if (here / DEVNET_FILE_NAME).is_file():
                add(here)
            add(here / DEFAULT_DIR)
    return list(out)


def find_genesis(doc: Any, file: Path, explicit: Path | None) -> Path:
    """The genesis file to check doc (read from file) against, or a usage error saying where."""
    if explicit is not None:
        return explicit
    named = named_devnet()
    if named is not None:
        found = devnet_genesis(named)
        if found is None:
            raise CliError(
                "missing_genesis",
                f"no genesis under {named / 'nodes'} (a devnet keeps it in "
                f"{named}/nodes/<name>/genesis.json): give --genesis FILE",
                EXIT_USAGE,
            )
        return found
    bound = doc.get("genesis_hash") if isinstance(doc, dict) else None
    for root in known_devnets(file):
        found = devnet_genesis(root)
        if found is not None and (bound is None or _recorded_hash(found) == bound):
            return found
    chain = doc.get("chain_id") if isinstance(doc, dict) else None
    of = f" of chain {chain} (genesis {bound})" if chain and bound else ""
    raise CliError(
        "missing_genesis",
        f"cannot find the genesis{of} near here or near {file}: give --genesis FILE ({WHERE}),"
        " --devnet DIR or GOVCHAIN_DEVNET=DIR",
        EXIT_USAGE,
    )
