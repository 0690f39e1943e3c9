"""The genesis document: chain id, time, balances, validators, committee, identities,
the Unicode version that content rules normalize text with, and the applications it runs."""

from __future__ import annotations

import platform
import re
import unicodedata

import msgspec

from govchain.codec import HASH_BYTES, INT_MAX, digest, encode
from govchain.consensus.validators import WEIGHT_MAX, ValidatorSet
from govchain.crypto.keys import ADDRESS_BYTES, PUBLIC_KEY_BYTES, point_on_curve
from govchain.state.identities import IDENTITY_KINDS, TIER_MAX
from govchain.state.policy import UNICODE_VERSION

GENESIS_DOMAIN = b"govchain:genesis:v1:"
SUPPLY_MAX = INT_MAX
COMMITTEE_SIZE_MAX = 64
GENESIS_IDENTITIES_MAX = 10_000
CHECKPOINT_INTERVAL_MS_MAX = 60_000
EMPTY_CHECKPOINT_INTERVAL_MS_MAX = 3_600_000
_UNICODE_VERSION = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")
# The applications a chain may opt into (apps/catalog.py APPS registers each; a
# test keeps the two equal). Named here, not imported: apps build on state.
KNOWN_APPS = ("warehouse",)
APPS_MAX = 16
# Fields added after genesis documents existed, in struct order at its end: while
# the last of them are at their default they are left out of the hash, so older
# documents keep theirs (msgspec writes trailing defaults of array_like structs).
_HASH_TRIMMED_WHEN_DEFAULT = ("typed_audit", "apps", "sync_every")
# State sync: at most one certified image per this many heights, at least this far apart.
SYNC_EVERY_MAX = 1_000_000


class UnicodeVersionError(RuntimeError):
    """This Python's Unicode database is not the one genesis names: the node must not start."""


def check_unicode(genesis: Genesis) -> None:
    """Raise UnicodeVersionError unless this Python's Unicode database is genesis's."""
    # Keyword rules match on normalized text (state/policy.py), and normalizing
    # depends on the Unicode database: validators on two versions could execute
    # the same record differently and split the chain, silently and only when
    # such text arrives. Refusing to start makes the mismatch loud and early.
    local = unicodedata.unidata_version
    if genesis.unicode_version != local:
        raise UnicodeVersionError(
            f"genesis pins Unicode {genesis.unicode_version} for content rules but this "
            f"Python ({platform.python_implementation()} {platform.python_version()}) has "
            f"Unicode {local}: run the Python version the chain uses"
        )


class GenesisIdentity(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """An identity that exists from height 0 (issuer: genesis itself)."""

    address: bytes
    kind: str
    tier: int
    attrs_hash: bytes = b""


class Genesis(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Everything height 0 is made of. Its hash is the DAG's root vertex id.

    committee: the governance committee, (Ed25519 public key, weight) sorted by
    key; only its members propose and vote. threshold: the yes weight a
    proposal needs to pass. unicode_version: the Unicode database content rules
    normalize with (unicodedata.unidata_version); a node on another one refuses
    to start (check_unicode). By default, the one of the Python that builds it.
    typed_audit: validator_change audit entries carry the change as data
    (AuditEntry.change) besides its text, and verifiers insist on it. Off, the
    field is left out of the hash, so genesis documents from before it keep
    theirs; every genesis the project creates now turns it on.
    apps: the applications the chain runs besides the built-ins, sorted
    (KNOWN_APPS; apps/catalog.py registry_for builds the registry from them).
    Empty, it is left out of the hash, and so is typed_audit when off; with
    any application every field is hashed.
    sync_every: every height that is a multiple of it is a sync height, where
    the state hash also commits the ledger's whole image, so that a new node
    can start from a peer's snapshot checked against a certified checkpoint
    (state/sync_point.py, docs/snapshots.md). 0 (the default): none, and the
    field is left out of the hash.
    """

    chain_id: str
    time_ms: int
    balances: tuple[tuple[bytes, int], ...]
    validators: ValidatorSet
    committee: tuple[tuple[bytes, int], ...]
    threshold: int
    identities: tuple[GenesisIdentity, ...] = ()
    unicode_version: str = UNICODE_VERSION
    # Pacing, as CometBFT's timeout_commit and create_empty_blocks(_interval) or
    # anvil's --block-time: a checkpoint's time is at least checkpoint_interval_ms
    # after its previous one's (a rule every validator checks), and with nothing
    # new to cover a proposer waits empty_checkpoint_interval_ms after the
    # previous checkpoint before proposing an empty one (None: never; heights,
    # and every lifetime counted in heights, then stand still while idle).
    checkpoint_interval_ms: int = 0
    empty_checkpoint_interval_ms: int | None = 1_000
    typed_audit: bool = False
    apps: tuple[str, ...] = ()
    sync_every: int = 0

    def __post_init__(self) -> None:
        if not 1 <= len(self.chain_id) <= 64:
            raise ValueError("chain_id must be 1..64 characters")
        if not isinstance(self.typed_audit, bool):
            raise ValueError("typed_audit must be true or false")
        if not _UNICODE_VERSION.fullmatch(self.unicode_version):
            raise ValueError("unicode_version must be a Unicode version such as 14.0.0")
        addrs = [a for a, _ in self.balances]
        if addrs != sorted(set(addrs)) or any(len(a) != ADDRESS_BYTES for a in addrs):
            raise ValueError("genesis balances need distinct sorted 20-byte addresses")
        if any(v <= 0 for _, v in self.balances) or self.supply > SUPPLY_MAX:
            raise ValueError("genesis balances must be positive and within the supply bound")
        self._check_committee()
        self._check_identities()
        self._check_apps()
        if type(self.sync_every) is not int or not 0 <= self.sync_every <= SYNC_EVERY_MAX:
            raise ValueError(f"sync_every must lie in 0..{SYNC_EVERY_MAX}")
        if not 0 <= self.checkpoint_interval_ms <= CHECKPOINT_INTERVAL_MS_MAX:
            raise ValueError(f"checkpoint_interval_ms must lie in 0..{CHECKPOINT_INTERVAL_MS_MAX}")
        empty = self.empty_checkpoint_interval_ms
        if empty is not None and not 0 <= empty <= EMPTY_CHECKPOINT_INTERVAL_MS_MAX:
            raise ValueError(
                f"empty_checkpoint_interval_ms must lie in 0..{EMPTY_CHECKPOINT_INTERVAL_MS_MAX}"
                " or be null (never)"
            )

    def _check_committee(self) -> None:
        keys = [k for k, _ in self.committee]
        if not 1 <= len(keys) <= COMMITTEE_SIZE_MAX:
            raise ValueError(f"the committee has 1..{COMMITTEE_SIZE_MAX} members")
        if keys != sorted(set(keys)):
            raise ValueError("committee members must be distinct and sorted by public key")
        for key, weight in self.committee:
            if len(key) != PUBLIC_KEY_BYTES or not point_on_curve(key):
                raise ValueError("a committee key is not an acceptable Ed25519 public key")
            if not 1 <= weight <= WEIGHT_MAX:
                raise ValueError(f"committee weights must lie in 1..{WEIGHT_MAX}")
        if not 1 <= self.threshold <= self.committee_weight:
            raise ValueError("threshold must lie in 1..the committee's total weight")

    def _check_identities(self) -> None:
        addrs = [i.address for i in self.identities]
        if len(addrs) > GENESIS_IDENTITIES_MAX:
            raise ValueError(f"at most {GENESIS_IDENTITIES_MAX} genesis identities")
        if addrs != sorted(set(addrs)) or any(len(a) != ADDRESS_BYTES for a in addrs):
            raise ValueError("genesis identities need distinct sorted 20-byte addresses")
        for i in self.identities:
            if i.kind not in IDENTITY_KINDS:
                raise ValueError(f"identity kind must be one of {', '.join(IDENTITY_KINDS)}")
            if not 0 <= i.tier <= TIER_MAX:
                raise ValueError(f"identity tier must lie in 0..{TIER_MAX}")
            if len(i.attrs_hash) not in (0, HASH_BYTES):
                raise ValueError("identity attrs_hash must be empty or 32 bytes")

    def _check_apps(self) -> None:
        apps = self.apps
        if not isinstance(apps, tuple) or not all(isinstance(a, str) for a in apps):
            raise ValueError("apps must be a list of application names")
        if len(apps) > APPS_MAX:
            raise ValueError(f"at most {APPS_MAX} apps")
        if list(apps) != sorted(set(apps)):
            raise ValueError("apps must be distinct and sorted")
        for name in apps:
            if name not in KNOWN_APPS:
                raise ValueError(f"unknown app {name!r}; known: {', '.join(KNOWN_APPS)}")

    def is_sync_height(self, height: int) -> bool:
        """True when the state hash after height also commits the ledger's image."""
        return self.sync_every > 0 and height > 0 and height % self.sync_every == 0

    @property
    def supply(self) -> int:
        """Total of all balances, conserved by every transfer."""
        return sum(v for _, v in self.balances)

    @property
    def committee_weight(self) -> int:
        """Sum of the committee's weights."""
        return sum(w for _, w in self.committee)

    @property
    def hash(self) -> bytes:
        """The genesis id: root of the DAG and 'previous' of height 1."""
        fields = msgspec.structs.astuple(self)
        # Trailing later fields at their default are not hashed: older genesis
        # documents keep their hash. One that differs keeps every field before it.
        kept = len(fields)
        for name in reversed(_HASH_TRIMMED_WHEN_DEFAULT):
            if getattr(self, name) != _DEFAULTS[name]:
                break
            kept -= 1
        return digest(GENESIS_DOMAIN, encode(fields[:kept]))


# Each trimmed field's default; the trimmed fields must close the struct, in order.
_DEFAULTS = {f.name: f.default for f in msgspec.structs.fields(Genesis)}
if Genesis.__struct_fields__[-len(_HASH_TRIMMED_WHEN_DEFAULT) :] != _HASH_TRIMMED_WHEN_DEFAULT:
    raise RuntimeError("the hash-trimmed fields must be the last of Genesis, in order")
