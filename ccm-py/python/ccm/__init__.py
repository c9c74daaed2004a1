"""ccm for Python: lablet placement and the embedded fleet engine for Cisco
Modeling Labs workers on AWS EC2.

* :func:`place` — ccm's placement engine on plain Python objects (the GIL is
  released while it works), returning a :class:`Plan`.
* :class:`Engine` / :class:`AsyncEngine` — the fleet engine embedded in this
  process, assembled as the ``ccm`` server assembles it, on the simulator with a
  virtual clock (``cloud="sim"``) or on AWS (``cloud="aws"``).
* Records (:class:`Worker`, :class:`Lablet`, :class:`Event`, …): the REST API's
  wire types, generated from its OpenAPI document (:mod:`ccm.models`), with
  timestamps as :class:`datetime.datetime` and enumerations as :class:`str`
  enums; and the exception hierarchy rooted at :class:`CcmError`.
"""

from . import _native

__version__: str = _native.__version__
from ._native import (
    Assignment,
    Plan,
    ScaleUp,
    ScaleUpLine,
    Unplaced,
    native_place_seconds,
    place,
    simulate_week,
)
from .aio import AsyncEngine
from .engine import Engine, TimeLike
from .errors import (
    CapacityExceeded,
    CcmError,
    CloudError,
    CmlError,
    Conflict,
    CorruptEventLog,
    EventsGone,
    InvalidInput,
    InvalidTransition,
    NotFound,
    StoreError,
    Unsupported,
)
from . import models
from .models import (
    Event,
    IdleStatus,
    ImportReport,
    Job,
    JobRecord,
    Lab,
    LabRecord,
    Lablet,
    LabletAccess,
    LabletDefinition,
    LabletPhase,
    LabletSpec,
    LabletStatus,
    LifecycleState,
    Meta,
    MetricPoint,
    ObjectMeta,
    PlacementPreview,
    CapacityForecast,
    CostReport,
    CostGroup,
    CostWindow,
    ForecastStep,
    LeadTime,
    LeadEstimate,
    Record,
    RefreshOutcome,
    TriggerOutcome,
    WireEnum,
    Worker,
    WorkerDeletion,
    WorkerSpec,
    WorkerStatus,
    parse_time,
)
from .placement import LabletRequest, PriceRow, WorkerCapacity

#: Short setting names of :meth:`Engine.open` and the config paths they set.
SETTINGS = dict(_native.SETTING_ALIASES)

__all__ = [
    "__version__",
    "place",
    "native_place_seconds",
    "simulate_week",
    "Plan",
    "Assignment",
    "Unplaced",
    "ScaleUp",
    "ScaleUpLine",
    "WorkerCapacity",
    "LabletRequest",
    "PriceRow",
    "Engine",
    "AsyncEngine",
    "TimeLike",
    "SETTINGS",
    "models",
    "Record",
    "WireEnum",
    "ObjectMeta",
    "Meta",
    "Worker",
    "WorkerSpec",
    "WorkerStatus",
    "LifecycleState",
    "WorkerDeletion",
    "ImportReport",
    "RefreshOutcome",
    "IdleStatus",
    "MetricPoint",
    "LabletDefinition",
    "Lablet",
    "LabletSpec",
    "LabletStatus",
    "LabletPhase",
    "LabletAccess",
    "PlacementPreview",
    "CapacityForecast",
    "CostReport",
    "CostGroup",
    "CostWindow",
    "ForecastStep",
    "LeadTime",
    "LeadEstimate",
    "LabRecord",
    "Lab",
    "JobRecord",
    "Job",
    "TriggerOutcome",
    "Event",
    "parse_time",
    "CcmError",
    "NotFound",
    "Conflict",
    "CapacityExceeded",
    "InvalidTransition",
    "InvalidInput",
    "CloudError",
    "CmlError",
    "StoreError",
    "CorruptEventLog",
    "EventsGone",
    "Unsupported",
]
