"""The embedded engine, blocking API: :class:`Engine`.

Every method runs one use case of the fleet engine (the same ones the REST API
offers) and releases the GIL while it works, so other Python threads keep running.
:class:`ccm.AsyncEngine` offers the same methods as coroutines.
"""

from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from . import _native
from .models import (
    CapacityForecast,
    CostReport,
    Event,
    IdleStatus,
    ImportReport,
    JobRecord,
    LabRecord,
    Lablet,
    LabletDefinition,
    MetricPoint,
    PlacementPreview,
    RefreshOutcome,
    TriggerOutcome,
    Worker,
    WorkerDeletion,
    parse_time,
)

#: How long ``events(follow=True)`` waits for a notification before it checks
#: for Ctrl-C and waits again (the log is not read in between).
FOLLOW_WAIT_SECONDS = 1.0

__all__ = ["Engine", "TimeLike"]

#: A point in time: an aware datetime or an RFC 3339 string.
TimeLike = Union[datetime, str]


def _time(value: TimeLike) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            from .errors import InvalidInput

            raise InvalidInput(
                "timestamps must be timezone-aware", "validation_failed", {"field": "time"}
            )
        return value.astimezone(timezone.utc).isoformat()
    return str(value)


def _drop_none(args: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in args.items() if v is not None}


class Engine:
    """The fleet engine embedded in this process.

    Open it with :meth:`open`. With ``cloud="sim"`` it runs on the simulator and a
    virtual clock that only :meth:`advance` moves, so a simulated day takes
    seconds; with ``cloud="aws"`` it works on EC2 and real CML servers and
    :meth:`step` runs whatever is due now.
    """

    def __init__(self, native: "_native.Engine") -> None:
        """Wraps an opened native engine; use :meth:`open` instead."""
        self._native = native

    @classmethod
    def open(
        cls,
        database_url: str = "memory",
        cloud: str = "sim",
        *,
        start: Optional[TimeLike] = None,
        **settings: Any,
    ) -> "Engine":
        """Opens the engine on ``database_url`` (``memory``, ``sqlite::memory:``,
        ``sqlite://path/ccm.db`` or ``postgres://…``) and ``cloud`` (``"sim"`` or
        ``"aws"``).

        ``settings`` are the server's configuration keys: short names such as
        ``regions``, ``endpoint_url``, ``access_key_id``, ``secret_access_key``,
        ``cml_password``, ``seed``, ``idle_timeout_minutes``, ``autoscaler`` (see
        :data:`SETTINGS`), or dotted config paths passed as
        ``**{"engine.idle_check_interval_seconds": 30}``. ``start`` sets a
        simulated engine's clock (the simulator's fixed start by default).
        Raises :class:`ccm.InvalidInput` for unknown or invalid settings.
        """
        native = _native.Engine.open(
            database_url, cloud, settings, None if start is None else _time(start)
        )
        return cls(native)

    def _call(self, op: str, **args: Any) -> Any:
        return self._native.call({"op": op, **_drop_none(args)})

    def __repr__(self) -> str:
        return f"ccm.{self._native!r}"

    # Time -----------------------------------------------------------------

    @property
    def simulated(self) -> bool:
        """True on the simulator's virtual clock."""
        return bool(self._native.simulated)

    def now(self) -> datetime:
        """The engine's current time."""
        return parse_time(self._call("now"))

    def advance(self, seconds: Union[float, timedelta]) -> datetime:
        """Moves the virtual clock on by ``seconds``, running every job and
        controller that comes due on the way; returns the new time. Simulated
        engines only (:class:`ccm.Unsupported` otherwise). Like :meth:`step`, it
        drives only while this engine holds the engine lease."""
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        return parse_time(self._call("advance", seconds=float(seconds)))

    def step(self) -> Optional[datetime]:
        """Runs what is due now once; returns when something is next due.

        Driving takes part in the leader election first, under the lease
        ``ccm serve`` uses: on a database another engine or server shares, only
        the holder drives (every write carries its fencing token). Otherwise this
        raises :class:`ccm.Conflict` with ``code == "not_leading"`` and the
        ``holder`` in ``details``; use cases (creating, listing, cancelling…) run
        on any engine. A dropped engine gives the lease up."""
        due = self._call("step")
        return None if due is None else parse_time(due)

    # Workers --------------------------------------------------------------

    def list_workers(
        self,
        *,
        region: Optional[str] = None,
        status: Optional[Sequence[str]] = None,
        labels: Optional[Mapping[str, str]] = None,
        include_terminated: bool = False,
    ) -> List[Worker]:
        """Workers, optionally of one region, in some lifecycle states
        (``running``, ``stopped``…), carrying all ``labels``."""
        items = self._call(
            "list_workers",
            region=region,
            status=None if status is None else list(status),
            labels=None if labels is None else dict(labels),
            include_terminated=include_terminated,
        )
        return [Worker(item) for item in items]

    def get_worker(self, worker_id: str) -> Worker:
        """One worker (:class:`ccm.NotFound` when there is none)."""
        return Worker(self._call("get_worker", id=str(worker_id)))

    def create_worker(
        self,
        name: str,
        *,
        region: Optional[str] = None,
        instance_type: Optional[str] = None,
        labels: Optional[Mapping[str, str]] = None,
        tags: Optional[Mapping[str, str]] = None,
        idle_detection_disabled: bool = False,
        image: Optional[str] = None,
    ) -> Worker:
        """Creates a worker; its instance is launched by the controller (run
        :meth:`advance` or :meth:`step`). The region defaults to the first configured;
        ``image`` names a configured image (``cloud.launch.images``), else the default."""
        return Worker(
            self._call(
                "create_worker",
                name=name,
                region=region,
                instance_type=instance_type,
                labels=None if labels is None else dict(labels),
                tags=None if tags is None else dict(tags),
                idle_detection_disabled=idle_detection_disabled,
                image=image,
            )
        )

    def import_worker(
        self, instance_id: str, *, region: Optional[str] = None, name: Optional[str] = None
    ) -> Worker:
        """Adopts one existing instance as a worker."""
        return Worker(
            self._call("import_worker", instance_id=instance_id, region=region, name=name)
        )

    def import_matching(
        self,
        *,
        region: Optional[str] = None,
        image_id: Optional[str] = None,
        image_name_pattern: Optional[str] = None,
        tags: Optional[Mapping[str, str]] = None,
    ) -> ImportReport:
        """Adopts every instance launched from an AMI (by id or name pattern)."""
        return ImportReport(
            self._call(
                "import_matching",
                region=region,
                image_id=image_id,
                image_name_pattern=image_name_pattern,
                tags=None if tags is None else dict(tags),
            )
        )

    def start_worker(self, worker_id: str) -> Worker:
        """Asks for the worker to run."""
        return Worker(self._call("start_worker", id=str(worker_id)))

    def stop_worker(self, worker_id: str, *, force: bool = False) -> Worker:
        """Asks for the worker to stop.

        A worker with lablets bound to it raises :class:`ccm.errors.Conflict`
        (code ``worker_in_use``, ``details["lablets"]`` names them) unless
        ``force``: then lablets not started yet are placed again and started
        ones end, each with the reason.
        """
        return Worker(self._call("stop_worker", id=str(worker_id), force=force))

    def terminate_worker(self, worker_id: str, *, force: bool = False) -> Worker:
        """Asks for the worker's instance to be terminated (lablets: as :meth:`stop_worker`)."""
        return Worker(self._call("terminate_worker", id=str(worker_id), force=force))

    def delete_worker(
        self, worker_id: str, *, terminate_instance: bool = False, force: bool = False
    ) -> WorkerDeletion:
        """Removes a worker; with ``terminate_instance`` its instance is terminated first
        (lablets: as :meth:`stop_worker`)."""
        return WorkerDeletion(
            self._call(
                "delete_worker",
                id=str(worker_id),
                terminate_instance=terminate_instance,
                force=force,
            )
        )

    def set_monitoring_interval(self, worker_id: str, seconds: Optional[int]) -> Worker:
        """Sets how often the worker is observed: 60 to 86,400 seconds, or ``None``
        for the engine's ``monitoring_interval_seconds``."""
        return Worker(
            self._call("set_monitoring_interval", id=str(worker_id), seconds=seconds)
        )

    def refresh_worker(self, worker_id: str) -> RefreshOutcome:
        """Observes the worker now (or says when the coming sweep will): a
        :class:`~ccm.models.RefreshOutcomeRefreshed` or
        :class:`~ccm.models.RefreshOutcomeCoalesced`."""
        return RefreshOutcome(self._call("refresh_worker", id=str(worker_id)))

    def set_tags(self, worker_id: str, tags: Mapping[str, str]) -> Worker:
        """Adds or overwrites tags."""
        return Worker(self._call("set_tags", id=str(worker_id), tags=dict(tags)))

    def remove_tags(self, worker_id: str, keys: Sequence[str]) -> Worker:
        """Removes tags."""
        return Worker(self._call("remove_tags", id=str(worker_id), keys=list(keys)))

    def enable_monitoring(self, worker_id: str) -> Worker:
        """Turns on detailed CloudWatch monitoring."""
        return Worker(self._call("enable_monitoring", id=str(worker_id)))

    def register_licence(self, worker_id: str, token: Optional[str] = None) -> Worker:
        """Registers the CML licence (the configured token when none is given)."""
        return Worker(self._call("register_licence", id=str(worker_id), token=token))

    def deregister_licence(self, worker_id: str) -> Worker:
        """Deregisters the CML licence."""
        return Worker(self._call("deregister_licence", id=str(worker_id)))

    def idle_status(self, worker_id: str) -> IdleStatus:
        """Whether the worker is eligible for an idle pause, and when."""
        return IdleStatus(self._call("idle_status", id=str(worker_id)))

    def set_idle_detection(self, worker_id: str, enabled: bool) -> Worker:
        """Turns idle detection on or off."""
        return Worker(self._call("set_idle_detection", id=str(worker_id), enabled=enabled))

    def set_draining(self, worker_id: str, draining: bool) -> Worker:
        """Stops (or resumes) placing new lablets on the worker."""
        return Worker(self._call("set_draining", id=str(worker_id), draining=draining))

    def metrics_series(
        self, worker_id: str, *, since: Optional[TimeLike] = None, step: Optional[int] = None
    ) -> List[MetricPoint]:
        """The worker's CPU, memory, disk and node series averaged per ``step`` seconds."""
        items = self._call(
            "metrics_series",
            id=str(worker_id),
            since=None if since is None else _time(since),
            step=step,
        )
        return [MetricPoint(item) for item in items]

    # Labs -----------------------------------------------------------------

    def list_labs(self, worker_id: str, *, include_gone: bool = False) -> List[LabRecord]:
        """The labs mirrored from a worker."""
        items = self._call("list_labs", worker_id=str(worker_id), include_gone=include_gone)
        return [LabRecord(item) for item in items]

    def refresh_labs(self, worker_id: str) -> List[LabRecord]:
        """Mirrors the worker's labs from CML now."""
        return [LabRecord(item) for item in self._call("refresh_labs", worker_id=str(worker_id))]

    def lab_action(
        self, worker_id: str, lab_id: str, action: str, *, force: bool = False
    ) -> List[LabRecord]:
        """``start``, ``stop``, ``wipe`` or ``delete`` a lab; returns the worker's labs.

        Wiping or deleting the lab of a lablet raises :class:`ccm.errors.Conflict`
        (code ``lab_in_use``, ``details["lablet"]`` names it) unless ``force``:
        then the lablet is cancelled.
        """
        items = self._call(
            "lab_action", worker_id=str(worker_id), lab_id=lab_id, action=action, force=force
        )
        return [LabRecord(item) for item in items]

    def import_lab(self, worker_id: str, topology_yaml: str, *, title: Optional[str] = None) -> LabRecord:
        """Imports a lab from a CML YAML topology."""
        return LabRecord(
            self._call(
                "import_lab", worker_id=str(worker_id), topology_yaml=topology_yaml, title=title
            )
        )

    def download_lab(self, worker_id: str, lab_id: str) -> str:
        """A lab's topology as YAML."""
        return str(self._call("download_lab", worker_id=str(worker_id), lab_id=lab_id))

    # Lablet definitions ---------------------------------------------------

    def list_definitions(
        self, *, name: Optional[str] = None, active_only: bool = False
    ) -> List[LabletDefinition]:
        """Lablet definitions, optionally the versions of one name or active ones."""
        items = self._call("list_definitions", name=name, active_only=active_only)
        return [LabletDefinition(item) for item in items]

    def create_definition(
        self,
        name: str,
        *,
        version: str,
        topology_yaml: str,
        cpus: int,
        memory_gib: int,
        storage_gib: int = 0,
        nodes: int = 0,
        ports: int = 0,
        max_duration_minutes: int = 240,
        licence_affinity: Optional[str] = None,
        min_cml_version: Optional[str] = None,
        warm_pool_depth: int = 0,
    ) -> LabletDefinition:
        """Creates a lablet definition (or a new version of one)."""
        definition = _drop_none(
            {
                "name": name,
                "version": version,
                "topology_yaml": topology_yaml,
                "needs": {
                    "resources": {
                        "cpu_millis": int(cpus * 1000),
                        "memory_mib": int(memory_gib * 1024),
                        "storage_gib": int(storage_gib),
                    },
                    "nodes": nodes,
                    "ports": ports,
                },
                "licence_affinity": licence_affinity,
                "min_cml_version": min_cml_version,
                "max_duration_minutes": max_duration_minutes,
                "warm_pool_depth": warm_pool_depth,
            }
        )
        return LabletDefinition(self._call("create_definition", **definition))

    def get_definition(self, definition_id: str) -> LabletDefinition:
        """One lablet definition."""
        return LabletDefinition(self._call("get_definition", id=str(definition_id)))

    def set_definition_active(self, definition_id: str, active: bool) -> LabletDefinition:
        """Activates or deactivates a definition."""
        return LabletDefinition(
            self._call("set_definition_active", id=str(definition_id), active=active)
        )

    # Lablets --------------------------------------------------------------

    def list_lablets(
        self,
        *,
        phase: Optional[Sequence[str]] = None,
        worker_id: Optional[str] = None,
        owner: Optional[str] = None,
        definition_id: Optional[str] = None,
    ) -> List[Lablet]:
        """Lablets, optionally in some phases, on a worker, of an owner or definition."""
        items = self._call(
            "list_lablets",
            phase=None if phase is None else list(phase),
            worker_id=None if worker_id is None else str(worker_id),
            owner=owner,
            definition_id=None if definition_id is None else str(definition_id),
        )
        return [Lablet(item) for item in items]

    def create_lablet(
        self,
        definition_id: str,
        *,
        start: TimeLike,
        end: TimeLike,
        owner: Optional[str] = None,
        reservation_id: Optional[str] = None,
    ) -> Lablet:
        """Books a lablet of a definition for ``[start, end)``."""
        return Lablet(
            self._call(
                "create_lablet",
                definition_id=str(definition_id),
                timeslot={"start": _time(start), "end": _time(end)},
                owner=owner,
                reservation_id=reservation_id,
            )
        )

    def create_on_demand_lablet(
        self,
        definition_id: str,
        *,
        duration_minutes: int,
        owner: Optional[str] = None,
        reservation_id: Optional[str] = None,
    ) -> Lablet:
        """Books a lablet for as soon as possible, for ``duration_minutes`` once
        its lab is ready. ``spec.timeslot.start`` is the estimated ready time;
        the engine moves it (``lablet.rescheduled.v1``) until the lab is ready."""
        return Lablet(
            self._call(
                "create_on_demand_lablet",
                definition_id=str(definition_id),
                duration_minutes=duration_minutes,
                owner=owner,
                reservation_id=reservation_id,
            )
        )

    def preview_placement(
        self, definition_id: str, count: int = 1, *, policy: Optional[str] = None
    ) -> PlacementPreview:
        """Where ``count`` (1 to 1,000) new lablets of a definition would go now,
        with each refusal's reason and the scale-up for the rest: placed as the
        scheduler places (a booting worker counts as it will be). Binds nothing."""
        return PlacementPreview(
            self._call(
                "preview_placement",
                definition_id=str(definition_id),
                count=count,
                policy=policy,
            )
        )

    def capacity_forecast(self, hours: int = 48, step_minutes: int = 15) -> CapacityForecast:
        """The workers the bookings need over the next ``hours`` (1 to 168) in
        steps of ``step_minutes`` (5 to 60), the starts and stops that follow, and
        the lead time in force (learned from the fleet's boots and lab imports,
        or the configured one). Reads only."""
        return CapacityForecast(
            self._call("capacity_forecast", hours=hours, step_minutes=step_minutes)
        )

    def cost(self) -> CostReport:
        """What the fleet costs: the burn rate now, the cost of today and this
        week (UTC) by region and instance type, and the saving against keeping
        the same workers always on. Reads only."""
        return CostReport(self._call("cost"))

    def get_lablet(self, lablet_id: str) -> Lablet:
        """One lablet."""
        return Lablet(self._call("get_lablet", id=str(lablet_id)))

    def cancel_lablet(self, lablet_id: str) -> Lablet:
        """Ends a lablet early."""
        return Lablet(self._call("cancel_lablet", id=str(lablet_id)))

    def extend_lablet(self, lablet_id: str, until: TimeLike) -> Lablet:
        """Moves a lablet's end later, to ``until``: within its definition's
        longest session, refused (``InvalidTransition``) once it ended or was
        cancelled and (``CapacityExceeded``) while its worker is being taken down."""
        return Lablet(self._call("extend_lablet", id=str(lablet_id), until=_time(until)))

    def delete_lablet(self, lablet_id: str) -> Lablet:
        """Cancels and removes a lablet."""
        return Lablet(self._call("delete_lablet", id=str(lablet_id)))

    # Jobs -----------------------------------------------------------------

    def list_jobs(self) -> List[JobRecord]:
        """The recurrent jobs with their next and last run."""
        return [JobRecord(item) for item in self._call("list_jobs")]

    def trigger_job(self, name: str) -> TriggerOutcome:
        """Runs a job at the next step."""
        return TriggerOutcome(self._call("trigger_job", name=name))

    def pause_job(self, name: str) -> JobRecord:
        """Pauses a job."""
        return JobRecord(self._call("pause_job", name=name))

    def resume_job(self, name: str) -> JobRecord:
        """Resumes a job."""
        return JobRecord(self._call("resume_job", name=name))

    # Events ---------------------------------------------------------------

    def read_events(self, after: int = 0, limit: int = 500) -> List[Event]:
        """Up to ``limit`` events with a sequence above ``after``, in order.

        Raises :class:`ccm.EventsGone` when retention compacted the log past
        ``after``: read the resources again and resume from
        ``error.details["resume_after"]``."""
        return [Event(item) for item in self._call("read_events", after=after, limit=limit)]

    def events(
        self, after: int = 0, *, batch: int = 500, follow: bool = False
    ) -> Iterator[Event]:
        """Every event after the cursor ``after``, in order, up to the newest one
        at the time each batch is read. Resume later from the last ``sequence``.

        With ``follow=True`` the iterator does not end: at the head of the log it
        waits for the store's notification of the next commit (from any process
        on a shared PostgreSQL database), without polling the log."""
        cursor = after
        while True:
            page = self.read_events(cursor, batch)
            if page:
                yield from page
                cursor = int(page[-1].sequence)
            elif not follow:
                return
            else:
                self.wait_events(cursor)

    def wait_events(self, after: int, timeout: float = FOLLOW_WAIT_SECONDS) -> int:
        """Waits until the log holds an event after ``after`` or ``timeout`` seconds
        (at most 60) pass, woken by the store's notifications; returns the newest
        sequence known. The wait releases the GIL; a short timeout keeps Ctrl-C
        responsive."""
        return int(self._call("wait_events", after=after, timeout_seconds=float(timeout)))
