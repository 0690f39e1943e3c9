"""Run a coroutine on a thread that lives in another network namespace.

Linux gives each thread its own network namespace: a thread that calls
setns(2) opens its sockets there, and the rest of the process (pytest, its
xdist channel, the main thread) stays where it was. The drill's client (the
load, the event streams, the status polls) reaches the nodes this way from
the hub's namespace, with no address or route in the root namespace.
Python 3.11 has no os.setns, so the call goes through libc.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from govchain.net.peers import run as run_loop

T = TypeVar("T")
CLONE_NEWNET = 0x40000000  # <sched.h>: setns into a network namespace
NETNS_DIR = Path("/run/netns")  # where `ip netns add` mounts its namespaces


def enter(ns: str) -> None:
    """Move the calling thread into the named network namespace (OSError when it cannot)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(NETNS_DIR / ns, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {ns}: {os.strerror(err)}")
    finally:
        os.close(fd)


def run_in_namespace(ns: str, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """main() on an event loop of its own, on a new thread inside ns; its result or its error."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            enter(ns)
            result.append(run_loop(main()))
        except BaseException as exc:  # handed to the caller's thread as is
            error.append(exc)

    # A daemon: a Ctrl-C in the caller ends the process even while the loop runs.
    thread = threading.Thread(target=target, name=f"netns {ns}", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]
