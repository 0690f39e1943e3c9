"""The tables docs/governance.md shows, regenerated from the registry.

Each table sits between a begin and an end marker (HTML comments, invisible
to a reader). `python -m govchain.state.docs_tables docs/governance.md`
rewrites them; tests/test_registry.py fails while the file differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from govchain.state.catalog import BUILTIN
from govchain.state.registry import Registry

MARK = "<!-- {what} table: generated from the registry (python -m govchain.state.docs_tables) -->"
END = "<!-- end of {what} table -->"


def tables(registry: Registry) -> dict[str, str]:
    """Each generated table by name."""
    return {"kinds": registry.kinds_table(), "actions": registry.actions_table()}


def regenerate(text: str, registry: Registry = BUILTIN) -> str:
    """text with every generated table replaced by the registry's; ValueError on a lost marker."""
    for what, table in tables(registry).items():
        begin, end = MARK.format(what=what), END.format(what=what)
        head, found, rest = text.partition(begin + "\n")
        if not found or end not in rest:
            raise ValueError(f"the {what} table's markers are missing")
        text = head + begin + "\n" + table + rest[rest.index(end) :]
    return text


def main(argv: list[str]) -> int:
    """Rewrite the file named in argv[1] (docs/governance.md) in place."""
    if len(argv) != 2:
        print("usage: python -m govchain.state.docs_tables docs/governance.md", file=sys.stderr)
        return 2
    path = Path(argv[1])
    path.write_text(regenerate(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
