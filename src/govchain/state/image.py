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
- each class is named once, with its field names, in its part's class
  table (each top-level part has its own, in order of first use, so a part
  encodes the same whatever the others hold); an object is its class's
  number and its values in that order. A class whose fields differ from
  this code's is refused (ImageError);
- dicts keep their insertion order (iteration order is part of the state:
  it decides the order of writes); sets and frozensets are sorted by the
  encoding of their members;
- a mutable object reached twice is refused: rebuilt, it would become two
  objects and the next write to one would miss the other;
- fields that are caches or fixed at construction are listed in SKIPPED:
  an object restored in place keeps its own; one rebuilt gets the default.
"""

from __future__ import annotations

import enum
import importlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

# 3: each part carries its own class table, so a part unchanged since the last
# image is reused as bytes (state/ledger_image.py); 2 had one table for all.
IMAGE_VERSION = 3
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
    # Whether the offline heap moved since the ledger last asked (unwritten_change).
    "govchain.apps.warehouse.book.WarehouseBook": {"_heap_moved": bool},
    # Where execution is within a height, and that height's movements until
    # take(): nothing between heights, and moved by every transaction without
    # a write to name it (a cached holds image would keep an old cursor).
    "govchain.state.holds.Moves": {
        "_height": int,
        "_out": list,
        "_position": int,
        "_seq": int,
        "_tx_id": bytes,
    },
}

# Tags of the encoded tree: [tag, ...]. Scalars (None, bool, int, str, bytes,
# float) stand for themselves.
_LIST, _TUPLE, _SET, _FROZEN, _DICT, _DEQUE, _OBJECT, _ENUM = "l", "t", "s", "f", "d", "q", "o", "e"
_SCALARS = frozenset({int, str, bytes, float, bool, type(None)})
_STRUCT, _NAMEDTUPLE, _PLAIN, _MAPPING = range(4)


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _allowed(path: str) -> bool:
    return path.startswith(_MODULES) and "<" not in path


def _slot_names(cls: type) -> list[str] | None:
    """Every slot of a class whose instances have no __dict__; None for the others."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        if "__slots__" not in klass.__dict__:
            return None  # this class gives its instances a __dict__
        slots = klass.__dict__["__slots__"]
        for s in (slots,) if isinstance(slots, str) else slots:
            if s not in names and s != "__weakref__":
                names.append(s)
    return names


@dataclass(frozen=True, slots=True)
class _Shape:
    """How one class is written: its path, kind and field names (for slotted classes)."""

    path: str
    kind: int
    names: tuple[str, ...] | None  # None: a __dict__ class, whose fields each object names
    mutable: bool


def _shape_of(cls: type) -> _Shape:
    path = _path(cls)
    if not _allowed(path):
        raise ImageError(f"{path} is not a state class")
    if issubclass(cls, msgspec.Struct):
        frozen = bool(cls.__struct_config__.frozen)
        return _Shape(path, _STRUCT, tuple(cls.__struct_fields__), not frozen)
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return _Shape(path, _NAMEDTUPLE, tuple(cls._fields), False)
    kind = _MAPPING if issubclass(cls, dict) else _PLAIN
    slots = _slot_names(cls)
    skipped = SKIPPED.get(path, {})
    names = None if slots is None else tuple(n for n in slots if n not in skipped)
    return _Shape(path, kind, names, True)


_SHAPES: dict[type, _Shape] = {}


def _shape(cls: type) -> _Shape:
    found = _SHAPES.get(cls)
    if found is None:
        found = _SHAPES[cls] = _shape_of(cls)
    return found


def _field_names(obj: object, shape: _Shape) -> tuple[str, ...]:
    if shape.names is not None:
        return shape.names
    skipped = SKIPPED.get(shape.path, {})
    return tuple(k for k in vars(obj) if k not in skipped)


class _Encoder:
    """One walk over state objects, with the class table it fills."""

    def __init__(self, seen: set[int] | None = None) -> None:
        # Shared between the encoders of one image: an object reached from two
        # parts is refused too.
        self._seen: set[int] = set() if seen is None else seen
        self.classes: list[list[Any]] = []  # [path, [field names]] in order of first use
        self._ids: dict[tuple[str, tuple[str, ...]], int] = {}

    def _class_id(self, path: str, names: tuple[str, ...]) -> int:
        key = (path, names)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.classes)
            self.classes.append([path, list(names)])
        return found

    def _mutable(self, obj: object, where: Callable[[], str]) -> None:
        if id(obj) in self._seen:
            raise ImageError(f"{where()}: a mutable {type(obj).__name__} is reached twice")
        self._seen.add(id(obj))

    def value(self, obj: Any, where: Callable[[], str], depth: int = 0) -> Any:
        t = type(obj)
        if t in _SCALARS:
            return obj
        if depth > DEPTH_MAX:
            raise ImageError(f"{where()}: nested deeper than {DEPTH_MAX}")
        d = depth + 1
        if t is list:
            self._mutable(obj, where)
            return [_LIST, self._many(obj, where, d)]
        if t is dict:
            self._mutable(obj, where)
            return [_DICT, self._flat(obj, where, d)]
        if t is tuple:
            return [_TUPLE, self._many(obj, where, d)]
        if t is set or t is frozenset:
            if t is set:
                self._mutable(obj, where)
            members = self._many(obj, where, d)
            members.sort(key=msgspec.msgpack.encode)
            return [_SET if t is set else _FROZEN, members]
        if t is deque:
            self._mutable(obj, where)
            return [_DEQUE, obj.maxlen, self._many(obj, where, d)]
        if isinstance(obj, enum.Enum):
            return [_ENUM, self._class_id(self._checked_shape(t, where).path, ()), obj.value]
        return self._object(obj, where, d)

    # A state holds tens of thousands of objects whose fields are mostly scalars:
    # those are taken as they are, without a call each (a third of the walk's time).
    def _many(self, items: Iterable[Any], where: Callable[[], str], depth: int) -> list[Any]:
        value, scalars = self.value, _SCALARS
        return [v if type(v) in scalars else value(v, where, depth) for v in items]

    def _flat(self, obj: dict[Any, Any], where: Callable[[], str], depth: int) -> list[Any]:
        out: list[Any] = []
        value, scalars = self.value, _SCALARS
        for k, v in obj.items():
            out.append(k if type(k) in scalars else value(k, where, depth))
            out.append(v if type(v) in scalars else value(v, where, depth))
        return out

    def _checked_shape(self, cls: type, where: Callable[[], str]) -> _Shape:
        try:
            return _shape(cls)
        except ImageError as exc:
            raise ImageError(f"{where()}: {exc}") from None

    def _object(self, obj: Any, where: Callable[[], str], depth: int) -> Any:
        shape = self._checked_shape(type(obj), where)
        if shape.mutable:
            self._mutable(obj, where)
        names = _field_names(obj, shape)
        if shape.kind == _STRUCT:  # one C call for every field's value
            values = self._many(msgspec.structs.astuple(obj), where, depth)
        else:
            values = self._many([getattr(obj, n) for n in names], where, depth)
        if shape.kind == _MAPPING:  # a dict subclass (Accounts): its items last
            values.append([_DICT, self._flat(obj, where, depth)])
        return [_OBJECT, self._class_id(shape.path, names), values]


@dataclass(frozen=True, slots=True)
class _Known:
    """A class of an image's table, resolved against this code."""

    cls: type
    shape: _Shape
    names: tuple[str, ...]


def _resolve(path: str) -> type:
    parts = path.split(".")
    for cut in range(len(parts) - 1, 1, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
        if isinstance(obj, type) and _path(obj) == path:
            return obj
        break
    raise ImageError(f"an image names {path}, which this code lacks")


class _Decoder:
    """Rebuilds objects from trees, with an image's class table."""

    def __init__(self, classes: Any) -> None:
        if not isinstance(classes, list):
            raise ImageError("an image's class table is not a list")
        self._known: list[_Known] = [self._entry(e) for e in classes]

    @staticmethod
    def _entry(entry: Any) -> _Known:
        if (
            not isinstance(entry, list)
            or len(entry) != 2
            or not isinstance(entry[0], str)
            or not isinstance(entry[1], list)
            or not all(isinstance(n, str) for n in entry[1])
        ):
            raise ImageError(f"an image's class entry {entry!r:.80} is malformed")
        path, names = entry[0], tuple(entry[1])
        if not _allowed(path):
            raise ImageError(f"an image names {path!r:.80}, not a state class")
        cls = _resolve(path)
        shape = _shape(cls)
        if issubclass(cls, enum.Enum):
            if names:
                raise ImageError(f"{path}: an enum has no fields")
        elif shape.names is not None and names != shape.names:
            raise ImageError(f"{path}: the image's fields differ from this code's")
        return _Known(cls, shape, names)

    def known(self, index: Any) -> _Known:
        """The class an object's tree names by number."""
        if type(index) is not int or not 0 <= index < len(self._known):
            raise ImageError(f"an image names class {index!r:.20}, not in its table")
        return self._known[index]

    def value(self, node: Any, depth: int = 0) -> Any:
        if type(node) in _SCALARS:
            return node
        if depth > DEPTH_MAX:
            raise ImageError(f"an image nests deeper than {DEPTH_MAX}")
        if type(node) is not list or not node or type(node[0]) is not str:
            raise ImageError(f"an image holds {node!r:.80}")
        tag, d = node[0], depth + 1
        if len(node) == 3:
            if tag == _OBJECT:
                known = self.known(node[1])
                return self.build(known, self.fields(known, node[2], d))
            if tag == _ENUM:
                known = self.known(node[1])
                if not issubclass(known.cls, enum.Enum):
                    raise ImageError(f"{known.shape.path} is no enum")
                try:
                    return known.cls(node[2])
                except (ValueError, TypeError) as exc:
                    raise ImageError(f"{known.shape.path}: {exc}") from None
            if tag == _DEQUE:
                if node[1] is not None and type(node[1]) is not int:
                    raise ImageError("a deque's maxlen must be an integer")
                return deque(self._seq(node[2], d), maxlen=node[1])
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
            flat = self._seq(items, d)
            if len(flat) % 2:
                raise ImageError("an image's mapping has a key without a value")
            return dict(zip(flat[::2], flat[1::2], strict=True))
        raise ImageError(f"an image holds an unknown tag {tag!r:.10}")

    def _seq(self, items: Any, depth: int) -> list[Any]:
        if type(items) is not list:
            raise ImageError("an image's sequence is not a list")
        return [self.value(v, depth) for v in items]

    def fields(self, known: _Known, values: Any, depth: int) -> dict[str, Any]:
        """An object's decoded fields by name (its items under "__items__")."""
        if issubclass(known.cls, enum.Enum):
            raise ImageError(f"{known.shape.path} is an enum, not an object")
        decoded = self._seq(values, depth)
        extra = 1 if known.shape.kind == _MAPPING else 0
        if len(decoded) != len(known.names) + extra:
            raise ImageError(f"{known.shape.path}: the image's values do not fit its fields")
        out = dict(zip(known.names, decoded, strict=False))
        if extra:
            if type(decoded[-1]) is not dict:
                raise ImageError(f"{known.shape.path}: a mapping's items must be a dict")
            out["__items__"] = decoded[-1]
        return out

    def build(self, known: _Known, fields: dict[str, Any]) -> Any:
        """A new object of known's class with fields (never through its __init__)."""
        cls: Any = known.cls
        items = fields.pop("__items__", None)
        try:
            if known.shape.kind in (_STRUCT, _NAMEDTUPLE):
                return cls(**fields)
            obj = cls.__new__(cls)
        except (TypeError, ValueError, msgspec.ValidationError) as exc:
            raise ImageError(f"{known.shape.path}: {exc}") from None
        for name, factory in SKIPPED.get(known.shape.path, {}).items():
            fields.setdefault(name, factory())
        put_fields(obj, fields)
        if items is not None:
            obj.update(items)
        return obj


def put_fields(obj: object, fields: dict[str, Any]) -> None:
    """Set an object's fields (frozen dataclasses too) from a decoded image."""
    for name, value in fields.items():
        try:
            object.__setattr__(obj, name, value)
        except (AttributeError, TypeError) as exc:
            raise ImageError(f"{type(obj).__name__}.{name}: {exc}") from None


def _named(text: str) -> Callable[[], str]:
    """Where a walk is, for its error messages."""
    return lambda: text


def encode_part(obj: Any, where: str, seen: set[int]) -> tuple[list[list[Any]], Any]:
    """One state object's own class table and tree; seen: the ids the image's walk reached."""
    enc = _Encoder(seen)
    return enc.classes, enc.value(obj, _named(where))


def encode_value(obj: Any, where: str) -> tuple[list[list[Any]], Any]:
    """One state object's class table and tree."""
    return encode_part(obj, where, set())


def decode_value(classes: Any, node: Any) -> Any:
    """A state object rebuilt from its class table and tree."""
    return _Decoder(classes).value(node)


def _part_names(parts: Any) -> list[Any] | None:
    """Each part's name as an image gives it (None where a part is no list, or empty)."""
    if type(parts) is not list:
        return None
    return [p[0] if type(p) is list and p else None for p in parts]


def restore_in_place(named: dict[str, object], parts: Any) -> None:
    """Overwrite existing objects' fields from their images (aliases of them stay valid).

    named: the objects by part name, exactly the parts' names in order; parts:
    [[name, class table, tree], ...]. Fields in SKIPPED keep each object's own
    values (fixed at construction).
    """
    if _part_names(parts) != list(named):
        raise ImageError("the image's parts differ from this chain's")
    decoded: list[tuple[object, dict[str, Any]]] = []
    for part in parts:  # decode everything first: a bad image changes nothing
        if len(part) != 3:
            raise ImageError(f"{part[0]!r:.40}: a part is [name, class table, tree]")
        name, classes, node = part
        obj = named[name]
        dec = _Decoder(classes)
        if type(node) is not list or len(node) != 3 or node[0] != _OBJECT:
            raise ImageError(f"{name}: the image is not of an object")
        known = dec.known(node[1])
        if known.cls is not type(obj):
            raise ImageError(f"{name}: the image is not of a {type(obj).__name__}")
        fields = dec.fields(known, node[2], 1)
        if known.shape.names is None and set(fields) - {"__items__"} != set(
            _field_names(obj, known.shape)
        ):
            raise ImageError(f"{name}: the image's fields differ from this code's")
        decoded.append((obj, fields))
    for obj, fields in decoded:
        items = fields.pop("__items__", None)
        put_fields(obj, fields)
        if isinstance(obj, dict) and items is not None:
            obj.clear()
            obj.update(items)
