"""Placement inputs as typed classes: :class:`WorkerCapacity` and
:class:`LabletRequest`. :func:`ccm.place` also takes plain dicts or any objects
with these attribute names, or columns: a dict mapping these names to
equal-length lists, tuples or numpy arrays. Keys, columns and listable
attributes (dataclass fields, ``__slots__``, named-tuple fields, the instance
``__dict__`` of other objects) outside these names raise
:class:`ccm.InvalidInput`."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, List, Optional, Tuple, Union

__all__ = ["WorkerCapacity", "LabletRequest", "PriceRow"]


@dataclass(frozen=True)
class WorkerCapacity:
    """A worker's free capacity and eligibility, as placement sees it."""

    id: Any
    cpus: float
    memory_gib: float
    storage_gib: int = 0
    #: Free CML node slots; ``None`` for no limit.
    nodes: Optional[int] = None
    running: bool = True
    cml_available: bool = True
    draining: bool = False
    #: ``personal``, ``enterprise`` or ``evaluation``; ``None`` when unknown.
    licence: Optional[str] = None
    #: CML version such as ``"2.9.1"``; ``None`` when unknown.
    cml_version: Optional[str] = None
    #: Free ports as inclusive ``(first, last)`` pairs; ``None`` for 2000–9999.
    free_ports: Optional[List[Tuple[int, int]]] = None
    #: When the last lablet it holds ends (aware ``datetime`` or Unix seconds);
    #: read by ``policy="lifetime"``, ``None`` when it holds none.
    busy_until: Optional[Union[datetime, float]] = None


@dataclass(frozen=True)
class LabletRequest:
    """What one lablet needs."""

    id: Any
    cpus: float
    memory_gib: float
    storage_gib: int = 0
    nodes: int = 0
    #: How many ports to reserve.
    ports: int = 0
    #: Required licence kind, if any.
    licence: Optional[str] = None
    #: Oldest CML version able to run it, if any.
    min_cml_version: Optional[str] = None
    #: When it ends (aware ``datetime`` or Unix seconds); read by
    #: ``policy="lifetime"``, which is ``"pack"`` for a request without one.
    ends_at: Optional[Union[datetime, float]] = None


@dataclass(frozen=True)
class PriceRow:
    """An instance type scale-up may suggest."""

    name: str
    vcpus: int
    memory_gib: int
    storage_gib: int
    node_slots: int
    hourly_usd: float
