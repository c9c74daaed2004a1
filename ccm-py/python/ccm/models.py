"""Domain records returned by :class:`ccm.Engine`: read-only views over the same
JSON shape the REST API returns.

Every record has typed attributes for its documented fields (nested records are
records too), ``==`` by type and content, a ``repr`` naming the record, and
``to_dict()`` giving the full JSON shape back. Timestamps are RFC 3339 strings;
:func:`parse_time` turns one into a :class:`datetime.datetime`.
"""

import copy
from datetime import datetime
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple, Type, get_origin

__all__ = [
    "Record",
    "Meta",
    "Worker",
    "WorkerSpec",
    "WorkerStatus",
    "LabletDefinition",
    "Lablet",
    "LabletSpec",
    "LabletStatus",
    "LabletAccess",
    "Lab",
    "Job",
    "Event",
    "parse_time",
]


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


def _wrap(value: Any, kind: Optional[Type["Record"]]) -> Any:
    if isinstance(value, dict):
        return (kind or Record)(value)
    if isinstance(value, list):
        return [_wrap(item, kind) for item in value]
    return value


class Record:
    """A read-only record over a JSON object; the base of every domain class."""

    __slots__ = ("_data",)
    _data: Dict[str, Any]
    #: Nested fields and the record class they are read as.
    _nested: ClassVar[Dict[str, Type["Record"]]] = {}
    #: Fields shown by ``repr``.
    _shown: ClassVar[Tuple[str, ...]] = ()

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

    @classmethod
    def _is_mapping(cls, name: str) -> bool:
        for klass in cls.__mro__:
            annotation = getattr(klass, "__annotations__", {}).get(name)
            if annotation is not None:
                return get_origin(annotation) is dict
        return False

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: fields live in the JSON object.
        if name.startswith("_"):
            raise AttributeError(name)
        data = object.__getattribute__(self, "_data")
        if name in data:
            if type(self)._is_mapping(name):
                # Declared as a plain mapping (labels, tags): a copy, not a record.
                return copy.deepcopy(data[name])
            return _wrap(data[name], type(self)._nested.get(name))
        if name in type(self)._fields():
            return None
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

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


class Meta(Record):
    """Metadata every stored resource carries."""

    name: str
    labels: Dict[str, str]
    version: int
    generation: int
    observed_generation: int
    finalizers: List[str]
    deletion_timestamp: Optional[str]
    created_at: str
    updated_at: str
    _shown = ("name", "version", "generation")


class WorkerSpec(Record):
    """What the operator wants of a worker."""

    desired_status: str
    idle: Record
    draining: bool
    stop_reason: Optional[str]
    start_reason: Optional[str]
    monitoring_interval_seconds: Optional[int]
    cml_endpoint: Optional[str]
    image: Optional[str]
    _shown = ("desired_status", "draining")


class WorkerStatus(Record):
    """What was observed of a worker."""

    lifecycle: str
    ec2_state: Optional[str]
    reason: Optional[str]
    cml: Record
    licence: Record
    metrics: Record
    activity: Record
    capacity: Record
    launched_at: Optional[str]
    transitioned_at: Optional[str]
    terminated_at: Optional[str]
    next_refresh_at: Optional[str]
    detailed_monitoring: bool
    alerts: List[str]
    _shown = ("lifecycle", "ec2_state")


class Worker(Record):
    """An EC2 instance hosting CML, managed by the engine."""

    id: str
    meta: Meta
    region: str
    instance_id: Optional[str]
    instance_type: str
    ami: Optional[Record]
    network: Record
    tags: Dict[str, str]
    spec: WorkerSpec
    status: WorkerStatus
    audit: Record
    _nested = {"meta": Meta, "spec": WorkerSpec, "status": WorkerStatus}
    _shown = ("id", "name", "region", "lifecycle")

    @property
    def name(self) -> str:
        """The worker's name (``meta.name``)."""
        return str(self._data.get("meta", {}).get("name", ""))

    @property
    def lifecycle(self) -> str:
        """The observed lifecycle state (``status.lifecycle``): ``running``, ``stopped``…"""
        return str(self._data.get("status", {}).get("lifecycle", ""))


class LabletDefinition(Record):
    """A versioned lab template lablets are made from."""

    id: str
    meta: Meta
    version: str
    topology_yaml: str
    needs: Record
    licence_affinity: Optional[str]
    min_cml_version: Optional[str]
    max_duration_minutes: int
    warm_pool_depth: int
    active: bool
    _nested = {"meta": Meta}
    _shown = ("id", "name", "version", "active")

    @property
    def name(self) -> str:
        """The definition's name (``meta.name``)."""
        return str(self._data.get("meta", {}).get("name", ""))


class LabletSpec(Record):
    """What was booked."""

    definition_id: str
    owner: str
    timeslot: Record
    reservation_id: Optional[str]
    cancel_requested: bool
    _shown = ("definition_id", "owner")


class LabletAccess(Record):
    """One way into a lablet's lab: a node's console as a student dials it,
    ``telnet <host> <port>``."""

    node: str
    label: str
    protocol: str
    host: str
    port: int
    _shown = ("label", "protocol", "host", "port")


class LabletStatus(Record):
    """Where a lablet is in its life."""

    phase: str
    worker_id: Optional[str]
    cml_lab_id: Optional[str]
    ports: List[int]
    access: List[LabletAccess]
    attempts: int
    last_error: Optional[str]
    history: List[Record]
    _nested = {"access": LabletAccess}
    _shown = ("phase", "worker_id")


class Lablet(Record):
    """A timed lab session made from a definition."""

    id: str
    meta: Meta
    spec: LabletSpec
    status: LabletStatus
    _nested = {"meta": Meta, "spec": LabletSpec, "status": LabletStatus}
    _shown = ("id", "phase", "worker_id")

    @property
    def phase(self) -> str:
        """The lablet's phase (``status.phase``): ``pending``, ``ready``, ``terminated``…"""
        return str(self._data.get("status", {}).get("phase", ""))

    @property
    def worker_id(self) -> Optional[str]:
        """The worker it is bound to (``status.worker_id``), if any."""
        value = self._data.get("status", {}).get("worker_id")
        return None if value is None else str(value)

    @property
    def access(self) -> List[LabletAccess]:
        """How students reach its nodes' consoles (``status.access``): one entry
        per node given a port when its lab was imported, empty before and after."""
        return [LabletAccess(a) for a in self._data.get("status", {}).get("access", [])]


class Lab(Record):
    """A CML lab mirrored from a worker."""

    id: str
    worker_id: str
    cml_lab_id: str
    title: str
    description: str
    owner: Optional[str]
    state: str
    node_count: int
    link_count: int
    first_seen_at: str
    last_synced_at: str
    gone: bool
    history: List[Record]
    version: int
    _shown = ("cml_lab_id", "title", "state")


class Job(Record):
    """A recurrent job of the engine, with its last outcome."""

    name: str
    schedule: Record
    next_run_at: Optional[str]
    last_run_at: Optional[str]
    last_duration_ms: Optional[int]
    last_outcome: Optional[Record]
    paused: bool
    version: int
    _shown = ("name", "next_run_at", "paused")


class Event(Record):
    """One entry of the ordered event log."""

    sequence: int
    id: str
    occurred_at: str
    subject: Record
    type: str
    data: Any
    _shown = ("sequence", "type", "subject")
