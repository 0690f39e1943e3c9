"""A ledger's whole state as canonical bytes, and back: what a snapshot holds.

The state hash is a chain over each height's writes, so it cannot be
recomputed from a state; a snapshot instead captures *every* field of the
state objects, the way pickle would, but as plain msgpack with no code in
it. The walk is generic so that a field added to any namespace is captured
without anyone remembering to: the equivalence tests compare the image of a
ledger restored from a snapshot and replayed with the image of a full
replay, byte for byte.

Rules that keep it safe and canonical:
- only classes defined under `govchain.state`, `govchain.apps` and
  `govchain.consensus` are written or rebuilt; rebuilding never calls
  `__init__`, `__reduce__` or any other code of the class;
- dicts keep their insertion order (iteration order is part of the state:
  it decides the order of writes); sets and frozensets are sorted by the
  encoding of their members;
- a mutable object reached twice is refused (ImageError): rebuilt, it would
  become two objects and the next write to one would miss the other;
- fields that are caches or fixed at construction are listed in SKIPPED:
  an object restored in place keeps its own; one rebuilt gets the default.
"""

from __future__ import annotations

import enum
import importlib
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

IMAGE_VERSION = 1
IMAGE_BYTES_MAX = 1 << 30  # a decoder limit, far above any state this code runs
DEPTH_MAX = 64

_MODULES = ("govchain.state.", "govchain.apps.", "govchain.consensus.")


class ImageError(ValueError):
    """A state cannot be imaged, or bytes are not an image this code reads."""


def _none() -> None:
    return None


# Class path -> field -> factory of the value a rebuilt object gets. Caches
# (rebuilt on demand), and what a namespace derives from genesis and code.
SKIPPED: dict[str, dict[str, Callable[[], Any]]] = {
    "govchain.state.policy.ContentRules": {"_sorted": _none, "_index": _none},
    "govchain.state.params.Params": {"specs": dict, "cross_checks": tuple},
}

# Tags of the encoded tree: [tag, ...]. Scalars (None, bool, int, str, bytes,
# float) stand for themselves.
_LIST, _TUPLE, _SET, _FROZEN, _DICT, _DEQUE, _OBJECT, _ENUM = "l", "t", "s", "f", "d", "q", "o", "e"


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _allowed(path: str) -> bool:
    return path.startswith(_MODULES) and "<" not in path


def _fields(obj: object) -> list[str]:
    """An object's own fields: slots along its classes, then its __dict__."""
    names: list[str] = []
    for klass in reversed(type(obj).__mro__):
        slots = klass.__dict__.get("__slots__", ())
        for s in (slots,) if isinstance(slots, str) else slots:
            if s not in ("__dict__", "__weakref__") and s not in names and hasattr(obj, s):
                names.append(s)
    names.extend(k for k in getattr(obj, "__dict__", {}) if k not in names)
    return names


def _slot_names(cls: type) -> set[str] | None:
    """Every field of a class whose instances have no __dict__; None for the others."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        if "__slots__" not in klass.__dict__:
            return None  # this class gives its instances a __dict__
        slots = klass.__dict__["__slots__"]
        names.update((slots,) if isinstance(slots, str) else slots)
    return names - {"__weakref__"}


class _Encoder:
    def __init__(self) -> None:
        self._seen: set[int] = set()

    def _mutable(self, obj: object, where: str) -> None:
        if id(obj) in self._seen:
            raise ImageError(f"{where}: a mutable {type(obj).__name__} is reached twice")
        self._seen.add(id(obj))

    def value(self, obj: Any, where: str, depth: int = 0) -> Any:
        if depth > DEPTH_MAX:
            raise ImageError(f"{where}: nested deeper than {DEPTH_MAX}")
        if obj is None or isinstance(obj, bool):
            return obj
        if isinstance(obj, enum.Enum):
            return [_ENUM, self._class_path(type(obj), where), obj.value]
        if type(obj) in (int, str, bytes, float):
            return obj
        d = depth + 1
        if type(obj) is list:
            self._mutable(obj, where)
            return [_LIST, [self.value(v, f"{where}[{i}]", d) for i, v in enumerate(obj)]]
        if type(obj) is tuple:
            return [_TUPLE, [self.value(v, f"{where}[{i}]", d) for i, v in enumerate(obj)]]
        if type(obj) is dict:
            self._mutable(obj, where)
            return [_DICT, self._items(obj, where, d)]
        if type(obj) in (set, frozenset):
            if type(obj) is set:
                self._mutable(obj, where)
            members = [self.value(v, f"{where}{{}}", d) for v in obj]
            members.sort(key=msgspec.msgpack.encode)
            return [_SET if type(obj) is set else _FROZEN, members]
        if type(obj) is deque:
            self._mutable(obj, where)
            items = [self.value(v, f"{where}[{i}]", d) for i, v in enumerate(obj)]
            return [_DEQUE, obj.maxlen, items]
        return self._object(obj, where, d)

    def _items(self, obj: dict[Any, Any], where: str, depth: int) -> list[list[Any]]:
        return [
            [self.value(k, f"{where}.key", depth), self.value(v, f"{where}[{k!r:.40}]", depth)]
            for k, v in obj.items()
        ]

    def _class_path(self, cls: type, where: str) -> str:
        path = _path(cls)
        if not _allowed(path):
            raise ImageError(f"{where}: {path} is not a state class")
        return path

    def _object(self, obj: Any, where: str, depth: int) -> Any:
        cls = type(obj)
        path = self._class_path(cls, where)
        if isinstance(obj, msgspec.Struct):
            if not cls.__struct_config__.frozen:
                self._mutable(obj, where)
            names: list[str] = list(cls.__struct_fields__)
        elif isinstance(obj, tuple) and hasattr(cls, "_fields"):  # a NamedTuple
            names = list(cls._fields)
        else:
            self._mutable(obj, where)
            skipped = SKIPPED.get(path, {})
            names = [n for n in _fields(obj) if n not in skipped]
        fields = [[n, self.value(getattr(obj, n), f"{where}.{n}", depth)] for n in names]
        if isinstance(obj, dict):  # a dict subclass (Accounts): its items too
            fields.append(["__items__", [_DICT, self._items(obj, where, depth)]])
        return [_OBJECT, path, fields]


class _Decoder:
    def __init__(self) -> None:
        self._classes: dict[str, type] = {}

    def cls(self, path: Any) -> type:
        if not isinstance(path, str) or not _allowed(path):
            raise ImageError(f"an image names {path!r:.80}, not a state class")
        found = self._classes.get(path)
        if found is not None:
            return found
        module_name, _, name = path.rpartition(".")
        obj: Any = None
        # A nested class (Outer.Inner) has dots in its qualname: try each split.
        parts = path.split(".")
        for cut in range(len(parts) - 1, 1, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for attr in parts[cut:]:
                obj = getattr(obj, attr, None)
            break
        if not isinstance(obj, type) or _path(obj) != path:
            raise ImageError(f"an image names {module_name}.{name}, which this code lacks")
        self._classes[path] = obj
        return obj

    def value(self, node: Any, depth: int = 0) -> Any:
        if depth > DEPTH_MAX:
            raise ImageError(f"an image nests deeper than {DEPTH_MAX}")
        if node is None or isinstance(node, (bool, int, str, bytes, float)):
            return node
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise ImageError(f"an image holds {node!r:.80}")
        tag, d = node[0], depth + 1
        if tag == _ENUM and len(node) == 3:
            enum_cls = self.cls(node[1])
            try:
                return enum_cls(node[2])
            except (ValueError, TypeError) as exc:
                raise ImageError(f"{node[1]}: {exc}") from None
        if tag == _OBJECT and len(node) == 3:
            return self._object(self.cls(node[1]), self._fields(node[2], d))
        if tag == _DEQUE and len(node) == 3:
            maxlen = node[1]
            if maxlen is not None and not isinstance(maxlen, int):
                raise ImageError("a deque's maxlen must be an integer")
            return deque(self._seq(node[2], d), maxlen=maxlen)
        if len(node) != 2:
            raise ImageError(f"an image holds a malformed {tag!r:.10}")
        try:
            return self._collection(tag, node[1], d)
        except TypeError as exc:  # an unhashable key or member
            raise ImageError(f"an image's {tag!r:.10} holds {exc}") from None

    def _collection(self, tag: str, items: Any, d: int) -> Any:
        if tag == _LIST:
            return self._seq(items, d)
        if tag == _TUPLE:
            return tuple(self._seq(items, d))
        if tag == _SET:
            return set(self._seq(items, d))
        if tag == _FROZEN:
            return frozenset(self._seq(items, d))
        if tag == _DICT:
            return dict(self._pairs(items, d))
        raise ImageError(f"an image holds an unknown tag {tag!r:.10}")

    def _seq(self, items: Any, depth: int) -> list[Any]:
        if not isinstance(items, list):
            raise ImageError("an image's sequence is not a list")
        return [self.value(v, depth) for v in items]

    def _pairs(self, items: Any, depth: int) -> list[tuple[Any, Any]]:
        if not isinstance(items, list) or not all(
            isinstance(p, list) and len(p) == 2 for p in items
        ):
            raise ImageError("an image's mapping is not a list of pairs")
        return [(self.value(k, depth), self.value(v, depth)) for k, v in items]

    def _fields(self, items: Any, depth: int) -> dict[str, Any]:
        pairs = self._pairs(items, depth)
        if not all(isinstance(k, str) for k, _ in pairs):
            raise ImageError("an object's field names must be text")
        return dict(pairs)

    def _object(self, cls: type, fields: dict[str, Any]) -> Any:
        items = fields.pop("__items__", None)
        try:
            if issubclass(cls, msgspec.Struct):
                return cls(**fields)
            if issubclass(cls, tuple) and hasattr(cls, "_fields"):
                return cls(**fields)
            obj = cls.__new__(cls)
        except (TypeError, ValueError, msgspec.ValidationError) as exc:
            raise ImageError(f"{_path(cls)}: {exc}") from None
        for name, factory in SKIPPED.get(_path(cls), {}).items():
            fields.setdefault(name, factory())
        slots = _slot_names(cls)
        if slots is not None and set(fields) != slots:
            raise ImageError(f"{_path(cls)}: the image's fields differ from this code's")
        put_fields(obj, fields)
        if items is not None:
            if not isinstance(obj, dict) or not isinstance(items, dict):
                raise ImageError(f"{_path(cls)} holds items but is no mapping")
            obj.update(items)
        return obj


def put_fields(obj: object, fields: dict[str, Any]) -> None:
    """Set an object's fields (frozen dataclasses too) from a decoded image."""
    for name, value in fields.items():
        try:
            object.__setattr__(obj, name, value)
        except (AttributeError, TypeError) as exc:
            raise ImageError(f"{type(obj).__name__}.{name}: {exc}") from None


def encode_value(obj: Any, where: str) -> Any:
    """The image tree of one state object (msgpack-ready)."""
    return _Encoder().value(obj, where)


def encode_values(named: list[tuple[str, Any]]) -> list[list[Any]]:
    """Several state objects imaged by one walk (so sharing between them is caught)."""
    enc = _Encoder()
    return [[name, enc.value(obj, name)] for name, obj in named]


def decode_value(node: Any) -> Any:
    """A state object rebuilt from its image tree."""
    return _Decoder().value(node)


def restore_in_place(obj: object, node: Any, where: str) -> None:
    """Overwrite an existing object's fields from its image (aliases of it stay valid).

    Fields in SKIPPED keep the object's own values (fixed at construction).
    """
    dec = _Decoder()
    if (
        not isinstance(node, list)
        or len(node) != 3
        or node[0] != _OBJECT
        or dec.cls(node[1]) is not type(obj)
    ):
        raise ImageError(f"{where}: the image is not of a {type(obj).__name__}")
    fields = dec._fields(node[2], 1)
    items = fields.pop("__items__", None)
    skipped = SKIPPED.get(_path(type(obj)), {})
    if set(fields) != set(_fields(obj)) - set(skipped):
        raise ImageError(f"{where}: the image's fields differ from this code's")
    put_fields(obj, fields)
    if items is not None:
        if not isinstance(obj, dict) or not isinstance(items, dict):
            raise ImageError(f"{where}: holds items but is no mapping")
        obj.clear()
        obj.update(items)
