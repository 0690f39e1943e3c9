"""Device readings: what a device signs, how the chain checks it, and its rolling digest.

Each device holds its own Ed25519 key (registered to its bin by the operator and
the supervisor). A reading is signed by the device over a domain tag and the
canonical encoding of the reading, so a gateway relays readings but cannot make
or alter one. The counter is strictly increasing per device: a replay (or an
old reading relayed again) is refused. The chain keeps each device's latest
reading and a rolling digest, H(previous digest, reading), so the whole stream
can be checked against raw data kept off the chain.
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

from govchain.codec import HASH_BYTES, digest, encode
from govchain.crypto.keys import SigningKey, verify

READING_DOMAIN: Final = b"govchain/wr-reading/v1"
ROLLING_DOMAIN: Final = b"govchain/wr-reading-digest/v1"
ROLLING_EMPTY: Final = digest(ROLLING_DOMAIN, b"")
READING_TAGS_MAX: Final = 1_024  # tags one reading may report
READINGS_PER_BATCH_MAX: Final = 256
DEVICE_ID_CHARS_MAX: Final = 64


class DeviceKind(enum.StrEnum):
    """What a device measures."""

    WEIGHBRIDGE = "weighbridge"  # weighs trucks in and out: intake and withdrawal evidence
    LOAD_CELL = "load_cell"  # a bin's load-cell tray: the bin's sensed quantity
    RFID = "rfid"  # an RFID/UWB reader at a bin: tags seen leaving it
    GATE = "gate"  # the warehouse gate: tags passing out
    CAMERA = "camera"  # heartbeat only


class Reading(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """One measurement, as its device signs it.

    grams: a weighbridge's net weight out or in, or a load cell's total; tags:
    tags a reader saw leaving its bin, or a gate saw pass; firmware: the hash of
    the firmware that took it; raw: hash of bulk raw data kept off the chain
    (empty when none).
    """

    device: str
    counter: int
    time_ms: int
    grams: int
    tags: tuple[str, ...]
    firmware: bytes
    raw: bytes = b""


class SignedReading(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """A reading and its device's signature."""

    reading: Reading
    signature: bytes


def signing_bytes(reading: Reading) -> bytes:
    """What a device signs."""
    return READING_DOMAIN + encode(reading)


def sign_reading(key: SigningKey, reading: Reading) -> SignedReading:
    """A reading signed by its device's key (devices and the simulator)."""
    return SignedReading(reading, key.sign(signing_bytes(reading)))


def signature_ok(public_key: bytes, signed: SignedReading) -> bool:
    """True when the reading carries its device's valid signature."""
    return verify(public_key, signing_bytes(signed.reading), signed.signature)


def roll(previous: bytes, reading: Reading) -> bytes:
    """The device's rolling digest after one more reading."""
    return digest(ROLLING_DOMAIN, previous, encode(reading))


def reading_problem(r: Reading) -> str | None:
    """Why a reading's fields are out of bounds (a snake_case name), or None."""
    if not 0 < len(r.device) <= DEVICE_ID_CHARS_MAX:
        return "device_id"
    if not 0 < r.counter < 2**63 or not 0 <= r.time_ms < 2**63:
        return "counter"
    if not 0 <= r.grams <= 10**12:
        return "grams"
    if len(r.tags) > READING_TAGS_MAX or any(not 0 < len(t) <= 128 for t in r.tags):
        return "tags"
    if len(r.firmware) != HASH_BYTES or len(r.raw) not in (0, HASH_BYTES):
        return "hash"
    return None
