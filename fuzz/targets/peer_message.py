"""Peer messages (replica/messages.py) into a replica, as a node's shell delivers them.

A script of messages from the other validators (targets/_replica.py); each
must decode canonically or end the script with DecodeError, and no decoded
message, whatever it holds, may make the replica raise.
"""

from __future__ import annotations

from govchain.codec import DecodeError
from targets._replica import drive, seed_scripts

ACCEPTED: tuple[type[BaseException], ...] = (DecodeError,)


def test_one_input(data: bytes) -> None:
    """Run one script of peer messages; only DecodeError may come out."""
    drive(data)


def seeds() -> dict[str, bytes]:
    """Honest scripts: gossip and fetches, acknowledgements, a round, a commit."""
    return seed_scripts()
