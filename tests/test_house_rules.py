"""House rules: the pure cores import nothing that reaches the clock, the OS or chance."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "govchain"
CORES = ["dag", "consensus", "state", "replica", "crypto", "codec.py"]
FORBIDDEN = frozenset(
    {"asyncio", "socket", "time", "random", "datetime", "os", "threading", "sqlite3", "subprocess"}
)


# -- helpers ---------------------------------------------------------------
def core_files() -> list[Path]:
    files: list[Path] = []
    for name in CORES:
        path = PACKAGE / name
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def imported_modules(source: str) -> set[str]:
    """Top-level names of every absolute module that source imports, at any depth."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def forbidden_in(source: str) -> set[str]:
    return imported_modules(source) & FORBIDDEN


# -- tests -----------------------------------------------------------------
def test_every_core_exists() -> None:
    for name in CORES:
        assert (PACKAGE / name).exists(), name
    assert len(core_files()) >= len(CORES)


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_imports_no_io_clock_or_randomness(path: Path) -> None:
    assert forbidden_in(path.read_text()) == set()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import time", {"time"}),
        ("import os.path", {"os"}),
        ("import json, random as r", {"random"}),
        ("from datetime import datetime", {"datetime"}),
        ("from asyncio.tasks import sleep", {"asyncio"}),
        ("def f():\n    import socket\n", {"socket"}),
        ("if True:\n    from subprocess import run\n", {"subprocess"}),
        ("try:\n    import sqlite3\nexcept ImportError:\n    pass\n", {"sqlite3"}),
        ("import threading", {"threading"}),
        ("import hashlib\nfrom . import time\nfrom govchain.codec import encode", set()),
        ("import timeit, osmium, randomize", set()),
    ],
)
def test_the_checker_finds_forbidden_imports(source: str, expected: set[str]) -> None:
    assert forbidden_in(source) == expected
