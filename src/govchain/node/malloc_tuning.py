"""glibc's allocator, told to give large blocks back: a node's RSS follows its state.

glibc serves a request above its mmap threshold (128 KiB at start) with a
mapping of its own, returned to the system when freed. But freeing such a
block raises the threshold to the block's size ("dynamic threshold"), up to
32 MiB: after one large temporary (a snapshot's encoding, a sync height's
live ids) every later large temporary comes from the heap, whose free memory
glibc keeps. Measured at a million live final ids: 86 MB of RSS that no
object held (docs/node.md, "Memory"). Setting the threshold explicitly turns
the dynamic adjustment off. Elsewhere (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (glibc malloc.h)
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value, kept fixed


def _glibc() -> Any | None:
    """The C library when it is glibc (it has gnu_get_libc_version), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (glibc alone has it)
    except (OSError, AttributeError):
        return None
    return libc


def pin_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold at MMAP_THRESHOLD_BYTES; False when not glibc or refused."""
    libc = _glibc()
    return libc is not None and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1


def trim() -> None:
    """Return the heap's free memory at its top and in free pages to the system (glibc)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
