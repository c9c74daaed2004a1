"""Type stubs of the Rust extension ``ccm._native`` (see ``ccm-py/src``)."""

from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

SETTING_ALIASES: List[Tuple[str, str]]
#: The crate's version (Cargo's ``CARGO_PKG_VERSION``).
__version__: str

#: Records as rows (dicts or objects) or as columns (a mapping of equal-length
#: lists, tuples, numpy arrays or other iterables).
_Records = Union[Iterable[Any], Mapping[str, Any]]

class Assignment:
    """A lablet placed on a worker, with the ports reserved for it."""

    @property
    def request_index(self) -> int: ...
    @property
    def lablet(self) -> Any: ...
    @property
    def worker_index(self) -> int: ...
    @property
    def worker(self) -> Any: ...
    @property
    def ports(self) -> List[int]: ...
    def to_dict(self) -> Dict[str, Any]: ...

class Unplaced:
    """A lablet no worker could take, and why."""

    @property
    def request_index(self) -> int: ...
    @property
    def lablet(self) -> Any: ...
    @property
    def reasons(self) -> Dict[str, int]: ...
    @property
    def dominant_reason(self) -> Optional[str]: ...
    @property
    def rejections(self) -> List[Tuple[Any, str]]: ...
    def to_dict(self) -> Dict[str, Any]: ...

class ScaleUpLine:
    """New workers of one instance type."""

    @property
    def instance_type(self) -> str: ...
    @property
    def workers(self) -> int: ...
    @property
    def lablets(self) -> int: ...
    @property
    def hourly_usd(self) -> float: ...
    def to_dict(self) -> Dict[str, Any]: ...

class ScaleUp:
    """What to launch for the lablets that did not fit."""

    @property
    def lines(self) -> List[ScaleUpLine]: ...
    @property
    def total_hourly_usd(self) -> float: ...
    @property
    def unfittable(self) -> List[Any]: ...
    @property
    def workers(self) -> int: ...
    def to_dict(self) -> Dict[str, Any]: ...

class Plan:
    """The outcome of :func:`place`."""

    @property
    def policy(self) -> str: ...
    @property
    def assignments(self) -> List[Assignment]: ...
    @property
    def unplaced(self) -> List[Unplaced]: ...
    @property
    def scale_up(self) -> ScaleUp: ...
    @property
    def workers_used(self) -> int: ...
    def is_complete(self) -> bool: ...
    def to_dict(self) -> Dict[str, Any]: ...

class Engine:
    """The native engine; use :class:`ccm.Engine`."""

    @staticmethod
    def open(
        database_url: str,
        cloud: str = "sim",
        settings: Optional[Dict[str, Any]] = None,
        start: Optional[str] = None,
    ) -> "Engine": ...
    @property
    def simulated(self) -> bool: ...
    def call(self, request: Dict[str, Any]) -> Any: ...

def place(
    workers: _Records,
    requests: _Records,
    policy: str = "pack",
    price_table: Optional[_Records] = None,
) -> Plan:
    """Places lablet ``requests`` on ``workers`` (see :mod:`ccm`)."""

def native_place_seconds(
    workers: _Records,
    requests: _Records,
    policy: str = "pack",
    repeat: int = 1,
) -> float:
    """Seconds the Rust side of :func:`place` takes on these inputs (best of ``repeat``)."""

def simulate_week(
    policy: str = "autoscaler", seed: int = 7, days: int = 7, short_notice: bool = False
) -> Dict[str, Any]:
    """Runs the simulated week under ``policy`` ("autoscaler",
    "autoscaler-fixed-lead", "autoscaler-lifetime", "autoscaler-warm-pool",
    "always-on" or "reactive") and returns its report (worker-hours, cost,
    lateness, peak workers, lower bound and boot-aware lower bound, workers over
    time). ``short_notice=True`` adds bookings made 0-30 minutes ahead,
    on-demand lablets and cancellations; the report's ``short_notice`` counts
    those ready on time."""
