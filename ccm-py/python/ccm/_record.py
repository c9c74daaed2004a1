"""The runtime of the generated records (:mod:`ccm.models`): a read-only view
over a JSON object whose fields are read, on access, as the types the OpenAPI
document gives them.

A record class lists its fields as annotations (a family member: those it
adds to its base); ``_types`` says how a field reads (a record class, a :class:`WireEnum`, :class:`datetime`, or a list or map
of one of them); ``_names`` maps attributes to JSON names where they differ
(``from_`` for ``from``); a family base names its tag (``_tag``) and the class
of each tag value (``_variants``), and constructing the base gives the variant.
"""

import copy
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple, Type

__all__ = ["Record", "WireEnum", "parse_time"]


def parse_time(text: str) -> datetime:
    """Parses an RFC 3339 timestamp from the engine into an aware datetime."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python 3.9's fromisoformat takes at most microseconds.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(text)


class WireEnum(str, Enum):
    """An enumeration of the REST API: each member is the API's string, and
    compares, formats and prints as that string."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


def _list(item: Any) -> Tuple[str, Any]:
    return ("list", item)


def _map(value: Any) -> Tuple[str, Any]:
    return ("map", value)


def _read(kind: Any, value: Any) -> Any:
    """``value`` from the JSON read as ``kind`` (a copy where it is mutable)."""
    if value is None:
        return None
    if kind is datetime:
        return parse_time(value) if isinstance(value, str) else value
    if isinstance(kind, tuple):
        shape, inner = kind
        if shape == "list" and isinstance(value, list):
            return [_read(inner, item) for item in value]
        if shape == "map" and isinstance(value, dict):
            return {key: _read(inner, item) for key, item in value.items()}
    elif isinstance(kind, type) and issubclass(kind, WireEnum):
        try:
            return kind(value)
        except ValueError:
            # A value a newer engine added: kept as its string.
            return value
    elif isinstance(kind, type) and issubclass(kind, Record) and isinstance(value, Mapping):
        return kind(value)
    return copy.deepcopy(value)


class Record:
    """A read-only record over a JSON object; the base of every record class."""

    __slots__ = ("_data",)
    _data: Dict[str, Any]
    #: How each JSON field reads (absent: as the JSON value).
    _types: ClassVar[Dict[str, Any]] = {}
    #: Attribute → JSON name, where they differ.
    _names: ClassVar[Dict[str, str]] = {}
    #: Fields shown by ``repr``.
    _shown: ClassVar[Tuple[str, ...]] = ()
    #: The field telling a family's members apart, and the class of each value.
    _tag: ClassVar[Optional[str]] = None
    _variants: ClassVar[Dict[str, Type["Record"]]] = {}

    def __new__(cls, data: Mapping[str, Any]) -> "Record":
        if cls._tag is not None and isinstance(data, Mapping):
            variant = cls._variants.get(data.get(cls._tag))  # type: ignore[arg-type]
            if variant is not None and issubclass(variant, cls):
                cls = variant
        return object.__new__(cls)

    def __init__(self, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            raise TypeError(f"{type(self).__name__} needs a mapping, not {type(data).__name__}")
        object.__setattr__(self, "_data", dict(data))

    @classmethod
    def _fields(cls) -> List[str]:
        names: List[str] = []
        for klass in reversed(cls.__mro__):
            for name in getattr(klass, "__annotations__", {}):
                if not name.startswith("_") and name not in names:
                    names.append(name)
        return names

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: fields live in the JSON object.
        if name.startswith("_"):
            raise AttributeError(name)
        data = object.__getattribute__(self, "_data")
        key = type(self)._inherited("_names", name, name)
        if key in data:
            return _read(type(self)._inherited("_types", key, None), data[key])
        if name in type(self)._fields():
            return None
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    @classmethod
    def _inherited(cls, table: str, key: str, default: Any) -> Any:
        # A family member's tables hold what it adds; its bases' hold the rest.
        for klass in cls.__mro__:
            entries = vars(klass).get(table)
            if entries and key in entries:
                return entries[key]
        return default

    def _path(self, *names: str) -> Any:
        value: Any = self
        for name in names:
            if value is None:
                return None
            value = getattr(value, name)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        return self._data == other._data  # type: ignore[attr-defined, no-any-return]

    __hash__ = None  # type: ignore[assignment]

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | set(self._data) | set(type(self)._fields()))

    def __repr__(self) -> str:
        shown = type(self)._shown or tuple(list(self._data)[:4])
        parts = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{type(self).__name__}({parts})"

    def to_dict(self) -> Dict[str, Any]:
        """The record's full JSON shape (a deep copy)."""
        return copy.deepcopy(self._data)
