"""The records :class:`ccm.Engine` returns: the REST API's wire types, one class
per schema of its OpenAPI document (``GET /api/v1/openapi.json``).

Generated from the document by ``ccm-http/tests/it/python_models.rs``; do not
edit (the test rewrites this file when the document changes). Records are
read-only views over the JSON the engine answers: timestamps read as aware
:class:`datetime.datetime`, enumerations as :class:`str` enums, nested objects
as records, and ``to_dict()`` gives the JSON back. An event or a tagged answer
is read as the class its tag names (``Event(...)`` of a ``worker.created.v1``
is a :class:`WorkerCreatedEvent`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

from ._record import Record, WireEnum, _list, _map, parse_time


class AccessProtocol(WireEnum):
    """How a lablet's port is reached."""

    TELNET = "telnet"


class AlertMetric(WireEnum):
    """A utilisation dimension that can raise an alert."""

    CPU = "cpu"
    MEMORY = "memory"
    DISK = "disk"
    CML_CERTIFICATE = "cml_certificate"


class CmlServiceState(WireEnum):
    """Whether CML answers on the worker."""

    UNAVAILABLE = "unavailable"
    STARTING = "starting"
    AVAILABLE = "available"
    ERROR = "error"


class DesiredStatus(WireEnum):
    """What the operator wants the instance to be."""

    RUNNING = "running"
    STOPPED = "stopped"
    TERMINATED = "terminated"


class InstanceState(WireEnum):
    """An EC2 instance state as last seen."""

    PENDING = "pending"
    RUNNING = "running"
    SHUTTING_DOWN = "shutting-down"
    TERMINATED = "terminated"
    STOPPING = "stopping"
    STOPPED = "stopped"
    UNKNOWN = "unknown"


class LabState(WireEnum):
    """Lab state as CML reports it; any other text reads as `UNKNOWN`."""

    DEFINED_ON_CORE = "DEFINED_ON_CORE"
    STOPPED = "STOPPED"
    STARTED = "STARTED"
    UNKNOWN = "UNKNOWN"


class LabletPhase(WireEnum):
    """Where a lablet is in its life."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    INSTANTIATING = "instantiating"
    READY = "ready"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    TERMINATED = "terminated"
    FAILED = "failed"
    EXPIRED = "expired"


class LicenceKind(WireEnum):
    """The licence product a worker runs on; lablet definitions may require one."""

    PERSONAL = "personal"
    ENTERPRISE = "enterprise"
    EVALUATION = "evaluation"


class LicenceState(WireEnum):
    """Registration state of the CML licence."""

    UNREGISTERED = "unregistered"
    REGISTRATION_PENDING = "registration-pending"
    REGISTERED = "registered"
    EVALUATION = "evaluation"
    EXPIRED = "expired"
    INVALID = "invalid"


class LifecycleState(WireEnum):
    """Where a worker's EC2 instance is in its life."""

    PENDING = "pending"
    PROVISIONING = "provisioning"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    SHUTTING_DOWN = "shutting-down"
    TERMINATED = "terminated"
    FAILED = "failed"
    UNKNOWN = "unknown"


class PauseReason(WireEnum):
    """Why a worker was stopped."""

    IDLE_TIMEOUT = "idle_timeout"
    MANUAL = "manual"
    EXTERNAL = "external"
    SCALE_DOWN = "scale_down"


class PlacementPolicy(WireEnum):
    """How placement chooses among the workers that can take a lablet."""

    PACK = "pack"
    SPREAD = "spread"
    LIFETIME = "lifetime"


class RejectReason(WireEnum):
    """The first check a worker failed for a lablet (checks run in this order)."""

    NOT_RUNNING = "not-running"
    CML_UNAVAILABLE = "cml-unavailable"
    DRAINING = "draining"
    LICENCE_AFFINITY = "licence-affinity"
    CML_VERSION = "cml-version"
    MISSING_DEFINITIONS = "missing-definitions"
    NODE_CAP = "node-cap"
    CPU = "cpu"
    MEMORY = "memory"
    STORAGE = "storage"
    PORTS = "ports"


class ResourceKind(WireEnum):
    """The kinds of resources events are about."""

    WORKER = "worker"
    LAB = "lab"
    DEFINITION = "definition"
    LABLET = "lablet"
    JOB = "job"
    FLEET = "fleet"


class ResumeReason(WireEnum):
    """Why a worker was started."""

    MANUAL = "manual"
    EXTERNAL = "external"
    SCALE_UP = "scale_up"


class ScalingAction(WireEnum):
    """What the autoscaler did."""

    START = "start"
    LAUNCH = "launch"
    DRAIN = "drain"
    STOP = "stop"
    BLOCKED = "blocked"


class Activity(Record):
    """Activity and pause bookkeeping of a worker."""

    #: Most recent activity seen.
    last_activity_at: Optional[datetime]
    last_pause_reason: Optional[PauseReason]
    #: When it was last stopped.
    last_paused_at: Optional[datetime]
    last_resume_reason: Optional[ResumeReason]
    #: When it was last started.
    last_resumed_at: Optional[datetime]
    #: Times the worker was stopped, by any reason.
    pause_count: int
    #: Newest events first, at most 20.
    recent: Optional[List[ActivityEvent]]
    #: Times the worker was started again.
    resume_count: int
    #: Idle detection holds off until this instant (set after a resume).
    snooze_until: Optional[datetime]
    #: Newest CML telemetry event already read (the per-worker high-water mark).
    telemetry_high_water: Optional[datetime]


class ActivityEvent(Record):
    """One piece of evidence that a person is using the worker."""

    #: When it happened.
    at: datetime
    #: Short human text.
    detail: str
    #: Where it came from (`telemetry:start_lab`, `lablet`, `lab_state`).
    source: str


class Allocation(Record):
    """Resources, nodes and ports held by one lablet on a worker."""

    #: CML node slots held.
    nodes: int
    #: Ports given to the lablet.
    ports: List[int]
    #: CPU, memory and storage held.
    resources: Resources


class AmiInfo(Record):
    """The machine image a worker runs."""

    #: When the AMI was created.
    created_at: Optional[datetime]
    #: AMI description.
    description: Optional[str]
    #: AMI id (`ami-0abc…`).
    id: str
    #: AMI name.
    name: Optional[str]


class Capacity(Record):
    """A worker's capacity and its current allocations."""

    #: Holdings by lablet id.
    allocations: Optional[Dict[str, Allocation]]
    #: What the instance offers to labs (after the host's own reserve).
    declared: Resources
    #: Node slots the worker accepts (before the licence limit).
    node_slots: int
    #: Ports lablets may be given.
    port_range: PortRange
    #: What labs ccm did not make (built by hand on the worker's CML) take, as
    #: the lab sync last read it; placement counts it as taken.
    unmanaged: Optional[UnmanagedUsage]


class CapacityForecast(Record):
    """The capacity forecast."""

    #: When it was computed: the first step.
    generated_at: datetime
    #: The lead it assumes.
    lead: LeadTime
    #: More lablets fall in the window than one forecast reads (20,000), or a
    #: past week the learned warm pool reads held more than that: only the
    #: first by start were counted.
    partial: bool
    #: Seconds between steps.
    step_seconds: int
    #: The steps.
    steps: List[ForecastStep]
    #: Workers running or coming now (booting, or asked to start), not draining.
    workers_now: int


class CatalogNeeds(Record):
    """The node and image definitions a topology uses."""

    #: Image definition ids its nodes pin (`image_definition:`); nodes without
    #: one take their node definition's default image.
    image_definitions: Optional[List[str]]
    #: Node definition ids its nodes use.
    node_definitions: Optional[List[str]]


class CloudWatchMetrics(Record):
    """CloudWatch utilisation figures in percent."""

    #: `AWS/EC2 CPUUtilization`.
    cpu_percent: Optional[float]
    #: `CWAgent disk_used_percent`.
    disk_percent: Optional[float]
    #: `CWAgent mem_used_percent`.
    memory_percent: Optional[float]


class CmlCertificate(Record):
    """The worker's CML certificate as ccm trusts it (trust on first use).
    Fingerprints are the lower-case hex SHA-256 of the leaf certificate's DER.
    """

    #: A different fingerprint the worker presented, refused until an admin
    #: accepts it.
    pending_sha256: Optional[str]
    #: The trusted fingerprint; `null` before the first contact.
    pinned_sha256: Optional[str]


class CmlService(Record):
    """Everything known about the CML service of a worker."""

    #: The TLS certificate trusted on first use, and a changed one waiting for an
    #: admin.
    certificate: Optional[CmlCertificate]
    #: Overall `valid` flag of `system_health`, when known.
    healthy: Optional[bool]
    #: Last error text, cleared by a successful observation.
    last_error: Optional[str]
    #: `ready` from `system_information`.
    ready: bool
    #: Service state.
    state: CmlServiceState
    #: Version string as reported (`2.9.1+build.7`).
    version: Optional[str]


class CmlStats(Record):
    """CML's own telemetry (`system_stats`, `system_information`, labs)."""

    #: vCPUs allocated to nodes (summed over computes).
    allocated_cpus: Optional[int]
    #: Memory allocated to nodes, as reported (KiB).
    allocated_memory_kib: Optional[int]
    #: CPU in percent.
    cpu_percent: Optional[float]
    #: Disk used in percent.
    disk_percent: Optional[float]
    #: Labs on the server.
    labs_count: Optional[int]
    #: Memory used in percent.
    memory_percent: Optional[float]
    #: `ready` from `system_information`.
    ready: Optional[bool]
    #: Nodes running.
    running_nodes: Optional[int]
    #: Nodes defined.
    total_nodes: Optional[int]
    #: CML version.
    version: Optional[str]


class CostGroup(Record):
    """The cost of the workers of one region and instance type."""

    #: Workers billing now.
    billing_workers: int
    #: Cost per hour now, USD.
    burn_rate_usd_per_hour: float
    #: Its on-demand price, USD per hour; `null` when the price table does not
    #: list it (its cost is then counted as 0).
    hourly_usd: Optional[float]
    #: The instance type.
    instance_type: str
    #: The region.
    region: str
    #: Today.
    today: CostWindow
    #: This week.
    week: CostWindow


class CostReport(Record):
    """The fleet's cost."""

    #: Workers billing now.
    billing_workers: int
    #: Cost per hour now, USD.
    burn_rate_usd_per_hour: float
    #: When it was computed.
    generated_at: datetime
    #: By region and instance type.
    groups: List[CostGroup]
    #: Today, all groups.
    today: CostWindow
    #: This week, all groups.
    week: CostWindow


class CostWindow(Record):
    """Cost over one window."""

    #: What the same workers would have cost always on over the window, USD.
    always_on_usd: float
    #: Where the window begins: today's or this Monday's midnight, UTC.
    from_: datetime
    #: `always_on_usd` less `usd`.
    saving_usd: float
    #: Their cost at the price table's on-demand prices, USD.
    usd: float
    #: Billed worker-hours (an instance bills while pending, running or stopping).
    worker_hours: float
    _names = {"from_": "from"}


class DefinitionActivationChanged(Record):
    """A definition was activated or deactivated.

    The `data` of `definition.activation.changed.v1`.
    """

    #: Active now.
    active: bool


class DefinitionCreated(Record):
    """A definition version was created.

    The `data` of `definition.created.v1`.
    """

    #: The definition version.
    definition: LabletDefinition


class Ec2StatusChecks(Record):
    """EC2 instance and system status checks."""

    #: Instance status check (`ok`, `impaired`, `initializing`, `insufficient-data`, …).
    instance_status: str
    #: System status check.
    system_status: str


class EmptyEventData(Record):
    """The `data` of an event type that carries nothing: `{}`."""


class Event(Record):
    """One event of the log: `{"sequence", "id", "occurred_at", "subject", "type", "data"}`. `type` is the versioned type name (`worker.status.updated.v1`) and says what `data` holds."""

    #: What happened; its class depends on the type.
    data: Any
    #: Unique id of the event (distinct from its position).
    id: str
    #: When the change happened.
    occurred_at: datetime
    #: Position in the log, starting at 1 and increasing by 1 (the SSE `id`).
    sequence: int
    #: What it is about.
    subject: EventSubject
    #: Which member of the family this is.
    type: str
    _shown = ("sequence", "type", "subject",)
    _tag = "type"


class EventSubject(Record):
    """What an event is about."""

    #: Resource id as text (a UUID for workers, labs, definitions and lablets; the
    #: job name for jobs).
    id: str
    #: Resource kind.
    kind: ResourceKind


class FieldChange(Record):
    """One field that changed."""

    #: Field name.
    field: str
    #: Old value as text.
    from_: str
    #: New value as text.
    to: str
    _names = {"from_": "from"}


class FleetScalingDecided(Record):
    """The autoscaler changed the fleet, and why.

    The `data` of `fleet.scaling.decided.v1`.
    """

    #: What it did.
    action: ScalingAction
    #: Why.
    reason: str
    #: The workers concerned.
    workers: List[str]


class FleetScalingDecidedEvent(Event):
    """An event of type `fleet.scaling.decided.v1`; `data` is `FleetScalingDecided`."""

    data: FleetScalingDecided
    #: The versioned event type.
    type: str


class ForecastStep(Record):
    """One step of the forecast."""

    #: The instant.
    at: datetime
    #: Short-notice lablets the learned warm pool expects then, not booked yet
    #: (0 when `autoscaler.learn_warm_pool` is off).
    expected_lablets: Optional[int]
    #: Hourly price of those workers, USD.
    hourly_usd: float
    #: Lablets holding capacity then (from their start minus the lead to their end).
    lablets: int
    #: Workers to start or launch by this step.
    starts: int
    #: Workers that may stop after this step (after the drain grace).
    stops: int
    #: Lablets no instance type of the price table can take.
    unfittable: int
    #: Workers the lablets and the expected ones need, sized as a scale-up
    #: sizes them (cheapest types of the price table).
    workers_needed: int


class IdleSettings(Record):
    """Idle-detection settings of one worker."""

    #: Whether idle workers are paused automatically.
    enabled: bool
    #: Minutes after a resume during which the worker is never paused.
    snooze_minutes: int
    #: Minutes without activity before pausing.
    timeout_minutes: int


class IdleStatus(Record):
    """The idle verdict of a worker and the facts behind it."""

    #: Idle detection on.
    enabled: bool
    #: The instant idleness is counted from.
    idle_since: Optional[datetime]
    #: Last activity seen.
    last_activity_at: Optional[datetime]
    #: When it would be paused if nothing happens.
    pause_at: Optional[datetime]
    #: Times paused so far.
    pause_count: int
    #: Minutes without activity before pausing.
    timeout_minutes: int
    #: The verdict.
    verdict: IdleVerdict


class IdleVerdict(Record):
    """Why a worker is or is not to be paused now."""

    #: Which member of the family this is.
    verdict: str
    _tag = "verdict"


class IdleVerdictActive(IdleVerdict):
    """Active recently; paused at `pause_at` unless activity comes first."""

    #: When it would be paused.
    pause_at: datetime
    verdict: str


class IdleVerdictDisabled(IdleVerdict):
    """Idle detection is off for this worker."""

    verdict: str


class IdleVerdictInUse(IdleVerdict):
    """Lablets are running on it."""

    #: How many.
    lablets: int
    verdict: str


class IdleVerdictNotRunning(IdleVerdict):
    """Only running workers are paused."""

    verdict: str


class IdleVerdictPauseNow(IdleVerdict):
    """Idle past its timeout: pause now."""

    #: When it became due.
    since: datetime
    verdict: str


class IdleVerdictSnoozed(IdleVerdict):
    """Recently resumed: never paused before `until`."""

    #: End of the snooze window.
    until: datetime
    verdict: str


class ImportReport(Record):
    """What a bulk import did."""

    #: Instances that matched.
    found: int
    #: Workers created.
    imported: List[Worker]
    #: Instances skipped, with reasons.
    skipped: List[ImportSkip]


class ImportSkip(Record):
    """One instance not imported, and why."""

    #: The instance.
    instance_id: str
    #: Why it was skipped.
    reason: str


class ImportedInstance(Record):
    """The instance an import adopted: the `instance` of `worker.imported.v2`."""

    ami: Optional[AmiInfo]
    #: Its EC2 state when adopted.
    ec2_state: InstanceState
    #: EC2 instance id (`i-0abc…`).
    instance_id: str
    #: When it was launched, when known.
    launched_at: Optional[datetime]
    #: Its addresses.
    network: WorkerNetwork


class JobOutcome(Record):
    """How a run ended."""

    #: Which member of the family this is.
    result: str
    _tag = "result"


class JobOutcomeFailed(JobOutcome):
    """Failed; the schedule is kept."""

    #: Error text (hidden from users: they see that it failed).
    error: str
    result: str


class JobOutcomeSucceeded(JobOutcome):
    """Finished without error."""

    result: str


class JobRecord(Record):
    """A job and its run history summary."""

    #: Duration of the last run in milliseconds.
    last_duration_ms: Optional[int]
    last_outcome: Optional[JobOutcome]
    #: Start of the last run.
    last_run_at: Optional[datetime]
    #: Unique name (`metrics-sweep`, `labs-sync`, `refresh:<worker>`).
    name: str
    #: Next planned run; `null` for a finished one-shot job.
    next_run_at: Optional[datetime]
    #: Paused jobs keep their schedule but do not run.
    paused: bool
    #: Schedule.
    schedule: JobSchedule
    #: Store version (optimistic concurrency).
    version: Optional[int]
    _shown = ("name", "next_run_at", "paused",)


class JobSchedule(Record):
    """When a job runs."""

    #: Which member of the family this is.
    kind: str
    _tag = "kind"


class JobScheduleEvery(JobSchedule):
    """Every `seconds`, from the last planned run."""

    kind: str
    #: Interval in seconds.
    seconds: int


class JobScheduleOnce(JobSchedule):
    """Once, at `at`."""

    #: When.
    at: datetime
    kind: str


class LabDiscovered(Record):
    """The whole lab record as first seen: written before `.v2`.

    The `data` of `lab.discovered.v1`.
    """

    #: The lab record.
    lab: LabRecord


class LabDiscoveredEvent(Event):
    """An event of type `lab.discovered.v1`; `data` is `LabDiscovered`."""

    data: LabDiscovered
    #: The versioned event type.
    type: str


class LabDiscoveredV2(Record):
    """A lab was seen for the first time: what CML reported of it. Read the
    lab record with `GET /api/v1/workers/{id}/labs`.

    The `data` of `lab.discovered.v2`.
    """

    #: The lab id on the worker's CML.
    cml_lab_id: str
    #: Description.
    description: str
    #: Links in the lab.
    link_count: int
    #: Nodes in the lab.
    node_count: int
    #: CML user owning the lab.
    owner: Optional[str]
    #: State.
    state: LabState
    #: Title.
    title: str
    #: The worker.
    worker_id: str


class LabDiscoveredV2Event(Event):
    """An event of type `lab.discovered.v2`; `data` is `LabDiscoveredV2`."""

    data: LabDiscoveredV2
    #: The versioned event type.
    type: str


class LabGone(Record):
    """A lab disappeared from CML.

    The `data` of `lab.gone.v1`.
    """

    #: The lab id on the worker's CML.
    cml_lab_id: str
    #: The worker.
    worker_id: str


class LabGoneEvent(Event):
    """An event of type `lab.gone.v1`; `data` is `LabGone`."""

    data: LabGone
    #: The versioned event type.
    type: str


class LabOperation(Record):
    """One entry of a lab's operation history."""

    #: What happened (`started`, `state STOPPED → STARTED`, `imported`…).
    action: str
    #: Who did it, when known (`sync` for observed changes).
    actor: Optional[str]
    #: When it happened or was observed.
    at: datetime


class LabOperationRecorded(Record):
    """An operation was run on a lab through ccm.

    The `data` of `lab.operation.recorded.v1`.
    """

    #: The lab id on the worker's CML.
    cml_lab_id: str
    #: What was done, by whom.
    operation: LabOperation
    #: The worker.
    worker_id: str


class LabOperationRecordedEvent(Event):
    """An event of type `lab.operation.recorded.v1`; `data` is `LabOperationRecorded`."""

    data: LabOperationRecorded
    #: The versioned event type.
    type: str


class LabRecord(Record):
    """A lab on a worker, as last synchronised from its CML."""

    #: CML's lab id (kept verbatim).
    cml_lab_id: str
    #: Description.
    description: str
    #: First time a sync saw it.
    first_seen_at: datetime
    #: True once the lab disappeared from CML.
    gone: bool
    #: Operations, newest first, at most 50.
    history: Optional[List[LabOperation]]
    #: ccm's id for the record.
    id: str
    #: Last successful sync.
    last_synced_at: datetime
    #: Link count.
    link_count: int
    #: Node count.
    node_count: int
    #: Owner user name.
    owner: Optional[str]
    #: Last known state.
    state: LabState
    #: Title.
    title: str
    usage: Optional[LabUsage]
    #: Store version (optimistic concurrency).
    version: Optional[int]
    #: The worker hosting the lab.
    worker_id: str
    _shown = ("cml_lab_id", "title", "state",)


class LabStateChanged(Record):
    """A lab's state changed.

    The `data` of `lab.state.changed.v1`.
    """

    #: The lab id on the worker's CML.
    cml_lab_id: str
    #: State left.
    from_: LabState
    #: What was done, by whom.
    operation: LabOperation
    #: State entered.
    to: LabState
    #: The worker.
    worker_id: str
    _names = {"from_": "from"}


class LabStateChangedEvent(Event):
    """An event of type `lab.state.changed.v1`; `data` is `LabStateChanged`."""

    data: LabStateChanged
    #: The versioned event type.
    type: str


class LabUpdated(Record):
    """A lab's title, description, owner or counts changed.

    The `data` of `lab.updated.v1`.
    """

    #: What changed.
    changes: List[FieldChange]
    #: The lab id on the worker's CML.
    cml_lab_id: str
    #: The worker.
    worker_id: str


class LabUpdatedEvent(Event):
    """An event of type `lab.updated.v1`; `data` is `LabUpdated`."""

    data: LabUpdated
    #: The versioned event type.
    type: str


class LabUsage(Record):
    """What one lab's nodes take on their worker: CPUs and memory of the nodes that
    run, disk of every node.
    """

    #: vCPUs allocated to running nodes.
    cpus: int
    #: Disk of all nodes, GiB.
    disk_gib: int
    #: Memory of running nodes, MiB.
    memory_mib: int
    #: Nodes that run.
    running_nodes: int


class Lablet(Record):
    """A timed lab session."""

    #: Identifier.
    id: str
    #: Metadata.
    meta: ObjectMeta
    #: What was asked for.
    spec: LabletSpec
    #: What was observed.
    status: LabletStatus
    _shown = ("id", "phase", "worker_id",)

    @property
    def phase(self) -> LabletPhase:
        """The lablet's phase (``status.phase``): ``pending``, ``ready``, ``terminated``…"""
        return self._path("status", "phase")

    @property
    def worker_id(self) -> Optional[str]:
        """The worker it is bound to (``status.worker_id``), if any."""
        return self._path("status", "worker_id")

    @property
    def access(self) -> List[LabletAccess]:
        """How students reach its nodes' consoles (``status.access``): one entry per node given a port when its lab was imported, empty before and after."""
        return self._path("status", "access")


class LabletAccess(Record):
    """One way into a lablet's lab: a node's console on its worker, as a student
    dials it (`telnet <host> <port>`).
    """

    #: The worker's address students reach.
    host: str
    #: The node's label (its id when it has none).
    label: str
    #: The node's topology-local id (`n0`).
    node: str
    #: The port on that host.
    port: int
    #: How the port is reached.
    protocol: AccessProtocol


class LabletAccessAssigned(Record):
    """How students reach the lablet's lab, recorded with the import.

    The `data` of `lablet.access.assigned.v1`.
    """

    #: Each console node's port on the worker.
    access: List[LabletAccess]


class LabletAccessAssignedEvent(Event):
    """An event of type `lablet.access.assigned.v1`; `data` is `LabletAccessAssigned`."""

    data: LabletAccessAssigned
    #: The versioned event type.
    type: str


class LabletAttemptFailed(Record):
    """An attempt failed and will be retried.

    The `data` of `lablet.attempt.failed.v1`.
    """

    #: Attempt number.
    attempt: int
    #: What went wrong.
    error: str


class LabletAttemptFailedEvent(Event):
    """An event of type `lablet.attempt.failed.v1`; `data` is `LabletAttemptFailed`."""

    data: LabletAttemptFailed
    #: The versioned event type.
    type: str


class LabletBooking(Record):
    """A booking as it was asked for: the `request` of `lablet.created.v2`."""

    #: Booked for as soon as possible (the timeslot starts at the estimate).
    on_demand: Optional[bool]
    #: Who the session is for.
    owner: str
    #: External reservation id, if the booking system has one.
    reservation_id: Optional[str]
    #: When it runs.
    timeslot: Timeslot


class LabletBound(Record):
    """The lablet was bound to a worker with ports.

    The `data` of `lablet.bound.v1`.
    """

    #: Ports reserved.
    ports: List[int]
    #: The worker.
    worker_id: str


class LabletBoundEvent(Event):
    """An event of type `lablet.bound.v1`; `data` is `LabletBound`."""

    data: LabletBound
    #: The versioned event type.
    type: str


class LabletCancelRequested(Record):
    """Cancellation was requested.

    The `data` of `lablet.cancel.requested.v1`.
    """

    #: Who asked.
    by: Optional[str]


class LabletCancelRequestedEvent(Event):
    """An event of type `lablet.cancel.requested.v1`; `data` is `LabletCancelRequested`."""

    data: LabletCancelRequested
    #: The versioned event type.
    type: str


class LabletCreated(Record):
    """The whole lablet: the booking before `.v2`, and the snapshot log compaction
    writes for a compacted history.

    The `data` of `lablet.created.v1`.
    """

    #: The new lablet.
    lablet: Lablet


class LabletCreatedEvent(Event):
    """An event of type `lablet.created.v1`; `data` is `LabletCreated`."""

    data: LabletCreated
    #: The versioned event type.
    type: str


class LabletCreatedV2(Record):
    """A lablet was booked: its name, its definition and the booking. Read the
    lablet itself with `GET /api/v1/lablets/{id}`.

    The `data` of `lablet.created.v2`.
    """

    #: Definition version it is made from.
    definition_id: str
    #: The lablet's name (`<definition>-<owner>`).
    name: str
    #: The booking.
    request: LabletBooking


class LabletCreatedV2Event(Event):
    """An event of type `lablet.created.v2`; `data` is `LabletCreatedV2`."""

    data: LabletCreatedV2
    #: The versioned event type.
    type: str


class LabletDefinition(Record):
    """A versioned lab template: what lablets are made from."""

    #: Inactive definitions accept no new lablets.
    active: bool
    #: Identifier of this version.
    id: str
    licence_affinity: Optional[LicenceKind]
    #: Longest timeslot a lablet may book, in minutes.
    max_duration_minutes: int
    #: Metadata; `meta.name` is the definition name shared by all versions.
    meta: ObjectMeta
    #: Oldest CML version (`major.minor.patch`) able to run the topology; `null`
    #: for any.
    min_cml_version: Optional[str]
    #: Resources each lablet holds.
    needs: ResourceNeeds
    #: Node and image definitions the topology uses, read from it at creation; a
    #: worker whose CML lacks one is not offered the lablet.
    requires: Optional[CatalogNeeds]
    #: Topology in CML YAML.
    topology_yaml: str
    #: Semantic version (`major.minor.patch`); a new version is a new record.
    version: str
    #: Idle workers to keep ready for this definition.
    warm_pool_depth: int
    _shown = ("id", "name", "version", "active",)

    @property
    def name(self) -> str:
        """The definition's name (``meta.name``)."""
        return self._path("meta", "name")


class LabletDeletionRequested(Record):
    """Deletion of the lablet record was requested (it goes once terminated).

    The `data` of `lablet.deletion.requested.v1`.
    """

    #: Who asked.
    by: Optional[str]


class LabletDeletionRequestedEvent(Event):
    """An event of type `lablet.deletion.requested.v1`; `data` is `LabletDeletionRequested`."""

    data: LabletDeletionRequested
    #: The versioned event type.
    type: str


class LabletExtended(Record):
    """The timeslot's end moved later.

    The `data` of `lablet.extended.v1`.
    """

    #: Who asked.
    by: Optional[str]
    #: The end before.
    from_: datetime
    #: The end now.
    to: datetime
    _names = {"from_": "from"}


class LabletExtendedEvent(Event):
    """An event of type `lablet.extended.v1`; `data` is `LabletExtended`."""

    data: LabletExtended
    #: The versioned event type.
    type: str


class LabletLabAssigned(Record):
    """The lablet's lab exists on CML.

    The `data` of `lablet.lab.assigned.v1`.
    """

    #: The lab id on the worker's CML.
    cml_lab_id: str


class LabletLabAssignedEvent(Event):
    """An event of type `lablet.lab.assigned.v1`; `data` is `LabletLabAssigned`."""

    data: LabletLabAssigned
    #: The versioned event type.
    type: str


class LabletLabReleasedEvent(Event):
    """An event of type `lablet.lab.released.v1`; `data` is `EmptyEventData`."""

    data: EmptyEventData
    #: The versioned event type.
    type: str


class LabletPhaseChanged(Record):
    """The lablet's phase moved.

    The `data` of `lablet.phase.changed.v1`.
    """

    #: Phase left.
    from_: LabletPhase
    #: Why.
    reason: Optional[str]
    #: Phase entered.
    to: LabletPhase
    _names = {"from_": "from"}


class LabletPhaseChangedEvent(Event):
    """An event of type `lablet.phase.changed.v1`; `data` is `LabletPhaseChanged`."""

    data: LabletPhaseChanged
    #: The versioned event type.
    type: str


class LabletRescheduled(Record):
    """An on-demand lablet's estimated ready time moved: its timeslot, same
    length, now starts at `to.start`.

    The `data` of `lablet.rescheduled.v1`.
    """

    #: The timeslot before.
    from_: Timeslot
    #: Why: `the lab is ready ahead of the estimate`, `the lab is ready after
    #: the estimate` or `not ready by the estimate`.
    reason: str
    #: The timeslot now.
    to: Timeslot
    _names = {"from_": "from"}


class LabletRescheduledEvent(Event):
    """An event of type `lablet.rescheduled.v1`; `data` is `LabletRescheduled`."""

    data: LabletRescheduled
    #: The versioned event type.
    type: str


class LabletSpec(Record):
    """What was asked for."""

    #: Set when cancellation was requested.
    cancel_requested: bool
    #: Definition version instantiated.
    definition_id: str
    #: Booked for as soon as possible: the timeslot starts at the estimated
    #: ready time, which the engine moves (`lablet.rescheduled.v1`, keeping the
    #: length) until the lab is ready, when the session starts.
    on_demand: bool
    #: Who the session is for.
    owner: str
    #: External reservation id, if the booking system has one.
    reservation_id: Optional[str]
    #: When it runs.
    timeslot: Timeslot


class LabletStatus(Record):
    """What was observed."""

    #: How students reach the lab's nodes: one entry per console node, once the
    #: lab is imported; empty before and once the lab is gone.
    access: Optional[List[LabletAccess]]
    #: Failed attempts in the current phase.
    attempts: int
    #: Lab on the worker's CML (CML's lab id, verbatim).
    cml_lab_id: Optional[str]
    #: Phase history, newest first (at most 50 entries).
    history: Optional[List[PhaseChange]]
    #: Last error.
    last_error: Optional[str]
    #: Current phase.
    phase: LabletPhase
    #: Ports reserved on the worker.
    ports: Optional[List[int]]
    #: Worker the lablet is bound to.
    worker_id: Optional[str]


class LabletUnbound(Record):
    """The lablet lost its worker binding.

    The `data` of `lablet.unbound.v1`.
    """

    #: Why.
    reason: str


class LabletUnboundEvent(Event):
    """An event of type `lablet.unbound.v1`; `data` is `LabletUnbound`."""

    data: LabletUnbound
    #: The versioned event type.
    type: str


class LeadEstimate(Record):
    """The lead of one region and instance type and what it rests on."""

    #: Boots observed (the last 50 are kept).
    boot_samples: int
    #: The configured percentile of the observed boots (launch or start to CML
    #: available), seconds.
    boot_seconds: Optional[int]
    #: The boots are those of the instance type in every region (too few were
    #: observed in this one).
    from_other_regions: bool
    #: Lab imports observed (the last 50 are kept).
    import_samples: int
    #: The configured percentile of the observed lab imports, seconds.
    import_seconds: Optional[int]
    #: The instance type.
    instance_type: str
    #: Learned from observed boots and lab imports (false: the configured lead,
    #: until enough were observed or with learning off).
    learned: bool
    #: The region.
    region: str
    #: Seconds before a lablet's start the engine acts.
    seconds: int


class LeadTime(Record):
    """The lead the scheduler and the autoscaler use."""

    #: One estimate per region the autoscaler launches in (empty when it
    #: launches nowhere: `seconds` is then the configured lead).
    estimates: List[LeadEstimate]
    #: Seconds before a lablet's start it is placed and its worker started: the
    #: longest estimate.
    seconds: int


class LicenceFeature(Record):
    """One licensed feature as CML lists it."""

    #: Feature id.
    id: str
    #: Count in use.
    in_use: int
    #: Feature name.
    name: str
    #: Status string as reported (kept verbatim: the value set is not documented).
    status: str


class LicenceStatus(Record):
    """Licence status of a worker."""

    #: When the registration or authorisation expires.
    expires_at: Optional[datetime]
    #: Licensed features.
    features: Optional[List[LicenceFeature]]
    kind: Optional[LicenceKind]
    #: Why the last registration failed.
    last_error: Optional[str]
    #: How many nodes the licence lets this worker run at once.
    node_limit: Optional[int]
    #: When the pending registration was requested.
    registration_requested_at: Optional[datetime]
    #: Registration state.
    state: LicenceState


class MetricPoint(Record):
    """One observation of a worker's utilisation (or the average of a bucket)."""

    #: When it was observed (the bucket's start for averaged points).
    at: datetime
    #: CPU percent.
    cpu_percent: Optional[float]
    #: Disk percent.
    disk_percent: Optional[float]
    #: Memory percent.
    memory_percent: Optional[float]
    #: CML nodes running.
    running_nodes: Optional[int]
    #: The worker.
    worker_id: str


class NodeCatalog(Record):
    """The node and image definitions one worker's CML offers."""

    #: CML version the catalog was read from; a new version means a new sync.
    cml_version: Optional[str]
    #: Image definition id → the node definition it belongs to.
    image_definitions: Dict[str, str]
    #: Node definition ids (`iosv`, `alpine`).
    node_definitions: List[str]
    #: When it was read.
    synced_at: Optional[datetime]
    #: CML offered more than the bounds keep, or names ccm does not keep.
    truncated: Optional[bool]


class ObjectMeta(Record):
    """Bookkeeping shared by workers, lab records, definitions and lablets."""

    #: When the resource was created.
    created_at: datetime
    #: Set when deletion was requested; the record goes once finalizers are empty.
    deletion_timestamp: Optional[datetime]
    #: Names of cleanups that must finish before the record may be removed.
    finalizers: Optional[List[str]]
    #: Bumped whenever the spec (what the operator wants) changes.
    generation: int
    #: Free-form labels used for filtering and selection.
    labels: Optional[Dict[str, str]]
    #: Human-readable name (not necessarily unique).
    name: str
    #: The generation the controller last acted on; `observed_generation <
    #: generation` means work is due.
    observed_generation: int
    #: When the resource last changed.
    updated_at: datetime
    #: Store version: bumped by every committed write.
    version: int
    _shown = ("name", "version", "generation",)


class PhaseChange(Record):
    """One phase change, kept for the timeline."""

    #: When.
    at: datetime
    #: Phase left.
    from_: LabletPhase
    #: Why, when known.
    reason: Optional[str]
    #: Phase entered.
    to: LabletPhase
    _names = {"from_": "from"}


class PlacementPreview(Record):
    """What placement would do now: the answer of `POST /api/v1/placement/preview`."""

    #: Lablets placed.
    placed: List[PreviewPlaced]
    #: Policy used.
    policy: PlacementPolicy
    #: Workers a scale-up would add for the left-over lablets.
    scale_up: List[PreviewScaleUpLine]
    #: Hourly cost of that scale-up, USD.
    scale_up_hourly_usd: float
    #: Lablets no worker could take.
    unplaced: List[PreviewUnplaced]
    #: Workers considered (every worker not terminated).
    workers_considered: int


class PortRange(Record):
    """An inclusive range of TCP ports that lablets may be given (console/telnet access)."""

    #: First port (inclusive).
    first: int
    #: Last port (inclusive).
    last: int


class PreviewPlaced(Record):
    """One lablet of the preview placed on a worker."""

    #: Position of the lablet in the request (0-based).
    index: int
    #: Ports that would be reserved, ascending.
    ports: List[int]
    #: The worker.
    worker_id: str
    #: The worker's name.
    worker_name: str


class PreviewRefusal(Record):
    """One worker's refusal of a lablet."""

    #: For `missing-definitions`: the node definitions (and `image <id>`s) the
    #: worker's CML lacks. Absent when empty.
    missing: Optional[List[str]]
    #: The first check it failed.
    reason: RejectReason
    #: The worker.
    worker_id: str
    #: The worker's name.
    worker_name: str


class PreviewScaleUpLine(Record):
    """One line of a scale-up suggestion."""

    #: Their combined hourly cost, USD.
    hourly_usd: float
    #: Instance type (from the price table).
    instance_type: str
    #: Lablets they would take.
    lablets: int
    #: Workers to launch.
    workers: int


class PreviewUnplaced(Record):
    """One lablet of the preview no worker could take, and why."""

    dominant_reason: Optional[RejectReason]
    #: Position of the lablet in the request (0-based).
    index: int
    #: Workers per reason (keys are reason names; reasons no worker gave are absent).
    reasons: Dict[str, int]
    #: Each worker's refusal, in the order workers were considered.
    workers: List[PreviewRefusal]


class RefreshOutcome(Record):
    """What a refresh-now request did."""

    #: Which member of the family this is.
    result: str
    _tag = "result"


class RefreshOutcomeCoalesced(RefreshOutcome):
    """The next sweep is due within the coalescing window; it will cover this worker."""

    #: When the sweep runs.
    next_at: datetime
    result: str


class RefreshOutcomeRefreshed(RefreshOutcome):
    """The worker was observed now."""

    #: When.
    at: datetime
    result: str


class ResourceNeeds(Record):
    """What one lablet of a definition holds on a worker."""

    #: CML nodes the topology starts (on creation, counted from the topology).
    nodes: int
    #: Ports to allocate (console and service access).
    ports: int
    #: CPU, memory and storage.
    resources: Resources


class Resources(Record):
    """CPU, memory and storage."""

    #: Thousandths of a vCPU.
    cpu_millis: int
    #: Memory in MiB.
    memory_mib: int
    #: Storage in GiB.
    storage_gib: int


class SourcedCloudWatchMetrics(Record):
    """CloudWatch utilisation with when and how the last attempt went."""

    #: Error of the last attempt, if it failed (the previous value is kept).
    error: Optional[str]
    #: When `value` was observed.
    observed_at: Optional[datetime]
    value: Optional[CloudWatchMetrics]


class SourcedCmlStats(Record):
    """CML telemetry with when and how the last attempt went."""

    #: Error of the last attempt, if it failed (the previous value is kept).
    error: Optional[str]
    #: When `value` was observed.
    observed_at: Optional[datetime]
    value: Optional[CmlStats]


class SourcedEc2StatusChecks(Record):
    """EC2 status checks with when and how the last attempt went."""

    #: Error of the last attempt, if it failed (the previous value is kept).
    error: Optional[str]
    #: When `value` was observed.
    observed_at: Optional[datetime]
    value: Optional[Ec2StatusChecks]


class Timeslot(Record):
    """A booked interval."""

    #: End (exclusive).
    end: datetime
    #: Start (inclusive).
    start: datetime


class TriggerOutcome(Record):
    """What a trigger did: `{"result": "scheduled" | "coalesced", "at": …}`."""

    #: Which member of the family this is.
    result: str
    _tag = "result"


class TriggerOutcomeCoalesced(TriggerOutcome):
    """A run was already due within the coalescing window; nothing was added."""

    #: A run was already due within the coalescing window; nothing was added.
    at: datetime
    result: str


class TriggerOutcomeScheduled(TriggerOutcome):
    """The job will run at this time (now)."""

    #: The job will run at this time (now).
    at: datetime
    result: str


class UnmanagedUsage(Record):
    """Capacity taken on a worker by labs that no lablet owns."""

    #: How many such labs.
    labs: int
    #: Their running nodes (they count against node slots and the licence).
    nodes: int
    #: CPUs and memory of their running nodes, disk of all their nodes.
    resources: Resources


class Worker(Record):
    """An EC2 instance hosting Cisco Modeling Labs."""

    ami: Optional[AmiInfo]
    #: Audit trail.
    audit: WorkerAudit
    #: Identifier.
    id: str
    #: EC2 instance, once launched or imported.
    instance_id: Optional[str]
    #: EC2 instance type (`m5zn.metal`).
    instance_type: str
    #: Metadata (`meta.name` is the worker name, `meta.labels` its labels).
    meta: ObjectMeta
    #: Endpoint and addresses.
    network: WorkerNetwork
    #: AWS region.
    region: str
    #: Desired state.
    spec: WorkerSpec
    #: Observed state.
    status: WorkerStatus
    #: EC2 tags.
    tags: Optional[Dict[str, str]]
    _shown = ("id", "name", "region", "lifecycle",)

    @property
    def name(self) -> str:
        """The worker's name (``meta.name``)."""
        return self._path("meta", "name")

    @property
    def lifecycle(self) -> LifecycleState:
        """The observed lifecycle state (``status.lifecycle``): ``running``, ``stopped``…"""
        return self._path("status", "lifecycle")


class WorkerActivityRecorded(Record):
    """A person used the worker.

    The `data` of `worker.activity.recorded.v1`.
    """

    #: What was seen.
    activity: ActivityEvent


class WorkerActivityRecordedEvent(Event):
    """An event of type `worker.activity.recorded.v1`; `data` is `WorkerActivityRecorded`."""

    data: WorkerActivityRecorded
    #: The versioned event type.
    type: str


class WorkerAlertCleared(Record):
    """The `data` of `worker.alert.cleared.v1`."""

    #: Which utilisation.
    metric: AlertMetric
    #: Its value, percent.
    value: float


class WorkerAlertClearedEvent(Event):
    """An event of type `worker.alert.cleared.v1`; `data` is `WorkerAlertCleared`."""

    data: WorkerAlertCleared
    #: The versioned event type.
    type: str


class WorkerAlertRaised(Record):
    """The `data` of `worker.alert.raised.v1`."""

    #: Which utilisation.
    metric: AlertMetric
    #: The threshold, percent.
    threshold: float
    #: Its value, percent.
    value: float


class WorkerAlertRaisedEvent(Event):
    """An event of type `worker.alert.raised.v1`; `data` is `WorkerAlertRaised`."""

    data: WorkerAlertRaised
    #: The versioned event type.
    type: str


class WorkerAudit(Record):
    """Who did what to a worker."""

    #: Who created or imported it.
    created_by: Optional[str]
    #: Who terminated it.
    terminated_by: Optional[str]


class WorkerBilling(Record):
    """A worker's billed compute time: an instance bills while pending, running or
    stopping.
    """

    #: Since when the instance bills, while it does.
    billing_since: Optional[datetime]
    #: Seconds of closed billed stretches per UTC day (`YYYY-MM-DD`), the last
    #: eight days.
    days: Dict[str, int]


class WorkerCapacityAllocated(Record):
    """A lablet took capacity on the worker.

    The `data` of `worker.capacity.allocated.v1`.
    """

    #: What it holds.
    allocation: Allocation
    #: The lablet.
    lablet: str


class WorkerCapacityAllocatedEvent(Event):
    """An event of type `worker.capacity.allocated.v1`; `data` is `WorkerCapacityAllocated`."""

    data: WorkerCapacityAllocated
    #: The versioned event type.
    type: str


class WorkerCapacityReleased(Record):
    """A lablet gave its capacity back.

    The `data` of `worker.capacity.released.v1`.
    """

    #: The lablet.
    lablet: str


class WorkerCapacityReleasedEvent(Event):
    """An event of type `worker.capacity.released.v1`; `data` is `WorkerCapacityReleased`."""

    data: WorkerCapacityReleased
    #: The versioned event type.
    type: str


class WorkerCatalogSynced(Record):
    """The node and image definitions the worker's CML offers changed (or were
    read for the first time, or from a new CML version).

    The `data` of `worker.catalog.synced.v1`.
    """

    #: The catalog read.
    catalog: NodeCatalog


class WorkerCatalogSyncedEvent(Event):
    """An event of type `worker.catalog.synced.v1`; `data` is `WorkerCatalogSynced`."""

    data: WorkerCatalogSynced
    #: The versioned event type.
    type: str


class WorkerCmlCertificateAccepted(Record):
    """An admin accepted the worker's new CML certificate: it is pinned now.

    The `data` of `worker.cml.certificate_accepted.v1`.
    """

    #: Who accepted it.
    by: Optional[str]
    #: SHA-256 fingerprint now pinned.
    sha256: str


class WorkerCmlCertificateAcceptedEvent(Event):
    """An event of type `worker.cml.certificate_accepted.v1`; `data` is `WorkerCmlCertificateAccepted`."""

    data: WorkerCmlCertificateAccepted
    #: The versioned event type.
    type: str


class WorkerCmlCertificateChanged(Record):
    """The worker's CML presented a certificate other than the pinned one; calls
    to it are refused until an admin accepts `presented`.

    The `data` of `worker.cml.certificate_changed.v1`.
    """

    #: SHA-256 fingerprint pinned.
    expected: str
    #: SHA-256 fingerprint presented.
    presented: str


class WorkerCmlCertificateChangedEvent(Event):
    """An event of type `worker.cml.certificate_changed.v1`; `data` is `WorkerCmlCertificateChanged`."""

    data: WorkerCmlCertificateChanged
    #: The versioned event type.
    type: str


class WorkerCmlUpdated(Record):
    """The CML service changed.

    The `data` of `worker.cml.updated.v1`.
    """

    #: The CML service as observed.
    cml: CmlService


class WorkerCmlUpdatedEvent(Event):
    """An event of type `worker.cml.updated.v1`; `data` is `WorkerCmlUpdated`."""

    data: WorkerCmlUpdated
    #: The versioned event type.
    type: str


class WorkerCreated(Record):
    """The whole worker: the creation before `.v2`, and the snapshot log compaction
    writes for a compacted history.

    The `data` of `worker.created.v1`.
    """

    #: The new worker.
    worker: Worker


class WorkerCreatedEvent(Event):
    """An event of type `worker.created.v1`; `data` is `WorkerCreated`."""

    data: WorkerCreated
    #: The versioned event type.
    type: str


class WorkerCreatedV2(Record):
    """A worker record was created (a launch follows): what was asked for. Read
    the worker itself with `GET /api/v1/workers/{id}`.

    The `data` of `worker.created.v2`.
    """

    #: The request.
    request: WorkerRequest


class WorkerCreatedV2Event(Event):
    """An event of type `worker.created.v2`; `data` is `WorkerCreatedV2`."""

    data: WorkerCreatedV2
    #: The versioned event type.
    type: str


class WorkerDeletion(Record):
    """What deleting a worker did."""

    #: True when the instance was terminated first.
    instance_terminated: bool
    #: Such labs that could not be torn down (CML not answering), left on the
    #: instance.
    labs_left: Optional[List[str]]
    #: Labs of lablets bound to the worker that were torn down first (a forced
    #: deletion that keeps the instance). Their lablets are placed again or end.
    labs_torn_down: Optional[List[str]]
    #: The worker removed.
    worker_id: str


class WorkerDeletionRequested(Record):
    """Deletion was requested.

    The `data` of `worker.deletion.requested.v1`.
    """

    #: Who asked.
    by: Optional[str]


class WorkerDeletionRequestedEvent(Event):
    """An event of type `worker.deletion.requested.v1`; `data` is `WorkerDeletionRequested`."""

    data: WorkerDeletionRequested
    #: The versioned event type.
    type: str


class WorkerImported(Record):
    """The whole imported worker: as `worker.created.v1`, for an import.

    The `data` of `worker.imported.v1`.
    """

    #: The new worker.
    worker: Worker


class WorkerImportedEvent(Event):
    """An event of type `worker.imported.v1`; `data` is `WorkerImported`."""

    data: WorkerImported
    #: The versioned event type.
    type: str


class WorkerImportedV2(Record):
    """An existing instance was adopted as a worker: what was asked for and the
    instance found.

    The `data` of `worker.imported.v2`.
    """

    #: The instance adopted.
    instance: ImportedInstance
    #: The request.
    request: WorkerRequest


class WorkerImportedV2Event(Event):
    """An event of type `worker.imported.v2`; `data` is `WorkerImportedV2`."""

    data: WorkerImportedV2
    #: The versioned event type.
    type: str


class WorkerInstanceAssigned(Record):
    """An instance was bound to the worker.

    The `data` of `worker.instance.assigned.v1`.
    """

    ami: Optional[AmiInfo]
    #: EC2 instance id (`i-0abc…`).
    instance_id: str
    #: When it was launched, when known.
    launched_at: Optional[datetime]
    #: Its addresses.
    network: WorkerNetwork


class WorkerInstanceAssignedEvent(Event):
    """An event of type `worker.instance.assigned.v1`; `data` is `WorkerInstanceAssigned`."""

    data: WorkerInstanceAssigned
    #: The versioned event type.
    type: str


class WorkerLicenceDeregisteredEvent(Event):
    """An event of type `worker.licence.deregistered.v1`; `data` is `EmptyEventData`."""

    data: EmptyEventData
    #: The versioned event type.
    type: str


class WorkerLicenceRegistrationCompleted(Record):
    """The registration completed.

    The `data` of `worker.licence.registration.completed.v1`.
    """

    #: The licence now.
    licence: LicenceStatus


class WorkerLicenceRegistrationCompletedEvent(Event):
    """An event of type `worker.licence.registration.completed.v1`; `data` is `WorkerLicenceRegistrationCompleted`."""

    data: WorkerLicenceRegistrationCompleted
    #: The versioned event type.
    type: str


class WorkerLicenceRegistrationFailed(Record):
    """The registration failed.

    The `data` of `worker.licence.registration.failed.v1`.
    """

    #: What went wrong.
    error: str


class WorkerLicenceRegistrationFailedEvent(Event):
    """An event of type `worker.licence.registration.failed.v1`; `data` is `WorkerLicenceRegistrationFailed`."""

    data: WorkerLicenceRegistrationFailed
    #: The versioned event type.
    type: str


class WorkerLicenceRegistrationStartedEvent(Event):
    """An event of type `worker.licence.registration.started.v1`; `data` is `EmptyEventData`."""

    data: EmptyEventData
    #: The versioned event type.
    type: str


class WorkerLicenceUpdated(Record):
    """The licence changed.

    The `data` of `worker.licence.updated.v1`.
    """

    #: The licence as observed.
    licence: LicenceStatus


class WorkerLicenceUpdatedEvent(Event):
    """An event of type `worker.licence.updated.v1`; `data` is `WorkerLicenceUpdated`."""

    data: WorkerLicenceUpdated
    #: The versioned event type.
    type: str


class WorkerMetrics(Record):
    """All metrics of a worker, one slot per source."""

    #: CloudWatch utilisation.
    cloudwatch: SourcedCloudWatchMetrics
    #: CML telemetry.
    cml: SourcedCmlStats
    #: EC2 status checks.
    ec2: SourcedEc2StatusChecks


class WorkerMetricsUpdated(Record):
    """New metrics were observed (no longer written; kept so old logs read).

    The `data` of `worker.metrics.updated.v1`.
    """

    #: The metrics.
    metrics: WorkerMetrics


class WorkerMetricsUpdatedEvent(Event):
    """An event of type `worker.metrics.updated.v1`; `data` is `WorkerMetricsUpdated`."""

    data: WorkerMetricsUpdated
    #: The versioned event type.
    type: str


class WorkerMonitoringEnabledEvent(Event):
    """An event of type `worker.monitoring.enabled.v1`; `data` is `EmptyEventData`."""

    data: EmptyEventData
    #: The versioned event type.
    type: str


class WorkerNetwork(Record):
    """How to reach the worker."""

    #: CML base URL (from the admin's setting, the `ccm:cml-endpoint` tag, or
    #: derived from an IP).
    endpoint: Optional[str]
    #: Private IPv4.
    private_ip: Optional[str]
    #: Public IPv4.
    public_ip: Optional[str]


class WorkerNetworkUpdated(Record):
    """The instance's addresses or CML endpoint changed.

    The `data` of `worker.network.updated.v1`.
    """

    #: The new addresses.
    network: WorkerNetwork


class WorkerNetworkUpdatedEvent(Event):
    """An event of type `worker.network.updated.v1`; `data` is `WorkerNetworkUpdated`."""

    data: WorkerNetworkUpdated
    #: The versioned event type.
    type: str


class WorkerPaused(Record):
    """The worker stopped running.

    The `data` of `worker.paused.v1`.
    """

    #: Why.
    reason: PauseReason


class WorkerPausedEvent(Event):
    """An event of type `worker.paused.v1`; `data` is `WorkerPaused`."""

    data: WorkerPaused
    #: The versioned event type.
    type: str


class WorkerRequest(Record):
    """What was asked for when a worker was created or imported: the `request` of
    `worker.created.v2` and `worker.imported.v2`.
    """

    #: Declared capacity.
    capacity: Capacity
    #: Who asked.
    created_by: Optional[str]
    #: Idle-detection settings.
    idle: IdleSettings
    #: The configured image to launch from, by name (`null`: the default).
    image: Optional[str]
    #: EC2 instance type.
    instance_type: str
    #: Labels.
    labels: Dict[str, str]
    #: Worker name.
    name: str
    #: AWS region.
    region: str
    #: EC2 tags to apply.
    tags: Dict[str, str]


class WorkerResumed(Record):
    """The worker runs again; idle detection snoozes until `snooze_until`.

    The `data` of `worker.resumed.v1`.
    """

    #: Why.
    reason: ResumeReason
    #: Idle detection is off until then.
    snooze_until: datetime


class WorkerResumedEvent(Event):
    """An event of type `worker.resumed.v1`; `data` is `WorkerResumed`."""

    data: WorkerResumed
    #: The versioned event type.
    type: str


class WorkerSpec(Record):
    """What the operator wants of a worker."""

    #: CML base URL set by an admin (checked against `cml.endpoint_allow`);
    #: `null` uses the instance's `ccm:cml-endpoint` tag or its address.
    cml_endpoint: Optional[str]
    #: Desired instance state.
    desired_status: DesiredStatus
    #: A draining worker takes no new lablets.
    draining: bool
    #: Idle detection.
    idle: IdleSettings
    #: The configured image (by its name in the launch template's `images`) the
    #: instance is launched from; `null`: the launch template's own image.
    image: Optional[str]
    #: Per-worker metrics interval in seconds; `null` follows the fleet setting.
    monitoring_interval_seconds: Optional[int]
    start_reason: Optional[ResumeReason]
    stop_reason: Optional[PauseReason]


class WorkerSpecUpdated(Record):
    """The operator changed what they want.

    The `data` of `worker.spec.updated.v1`.
    """

    #: The new spec.
    spec: WorkerSpec


class WorkerSpecUpdatedEvent(Event):
    """An event of type `worker.spec.updated.v1`; `data` is `WorkerSpecUpdated`."""

    data: WorkerSpecUpdated
    #: The versioned event type.
    type: str


class WorkerStatus(Record):
    """What was observed of a worker."""

    #: Activity and pauses.
    activity: Activity
    #: Utilisation alerts currently raised.
    alerts: Optional[List[AlertMetric]]
    #: Billed compute time (what `GET /api/v1/cost` adds up).
    billing: Optional[WorkerBilling]
    #: Capacity and allocations.
    capacity: Capacity
    catalog: Optional[NodeCatalog]
    #: CML service.
    cml: CmlService
    #: Detailed (1-minute) CloudWatch monitoring is on.
    detailed_monitoring: Optional[bool]
    ec2_state: Optional[InstanceState]
    #: When the instance was launched.
    launched_at: Optional[datetime]
    #: CML licence.
    licence: LicenceStatus
    #: Instance lifecycle.
    lifecycle: LifecycleState
    #: Metrics by source.
    metrics: WorkerMetrics
    #: Next scheduled metrics refresh (from the job runner).
    next_refresh_at: Optional[datetime]
    #: Why the lifecycle last changed.
    reason: Optional[str]
    #: When it was terminated.
    terminated_at: Optional[datetime]
    #: When the lifecycle last changed.
    transitioned_at: Optional[datetime]


class WorkerStatusUpdated(Record):
    """The instance lifecycle moved.

    The `data` of `worker.status.updated.v1`.
    """

    ec2_state: Optional[InstanceState]
    #: State left.
    from_: LifecycleState
    #: Why.
    reason: Optional[str]
    #: State entered.
    to: LifecycleState
    _names = {"from_": "from"}


class WorkerStatusUpdatedEvent(Event):
    """An event of type `worker.status.updated.v1`; `data` is `WorkerStatusUpdated`."""

    data: WorkerStatusUpdated
    #: The versioned event type.
    type: str


class WorkerTagsUpdated(Record):
    """Tags were replaced.

    The `data` of `worker.tags.updated.v1`.
    """

    #: Every tag now.
    tags: Dict[str, str]


class WorkerTagsUpdatedEvent(Event):
    """An event of type `worker.tags.updated.v1`; `data` is `WorkerTagsUpdated`."""

    data: WorkerTagsUpdated
    #: The versioned event type.
    type: str


class WorkerTelemetryRead(Record):
    """CML telemetry was read up to `high_water`; `activity` holds what meant a
    person.

    The `data` of `worker.telemetry.read.v1`.
    """

    #: Activity found.
    activity: List[ActivityEvent]
    #: Telemetry read up to this time.
    high_water: datetime


class WorkerTelemetryReadEvent(Event):
    """An event of type `worker.telemetry.read.v1`; `data` is `WorkerTelemetryRead`."""

    data: WorkerTelemetryRead
    #: The versioned event type.
    type: str


class WorkerTerminationRequested(Record):
    """Termination was requested.

    The `data` of `worker.termination.requested.v1`.
    """

    #: Who asked.
    by: Optional[str]


class WorkerTerminationRequestedEvent(Event):
    """An event of type `worker.termination.requested.v1`; `data` is `WorkerTerminationRequested`."""

    data: WorkerTerminationRequested
    #: The versioned event type.
    type: str


class WorkerUnmanagedUsageObserved(Record):
    """What labs no lablet owns take on the worker changed.

    The `data` of `worker.capacity.unmanaged.v1`.
    """

    #: What they take now.
    usage: UnmanagedUsage


class WorkerUnmanagedUsageObservedEvent(Event):
    """An event of type `worker.capacity.unmanaged.v1`; `data` is `WorkerUnmanagedUsageObserved`."""

    data: WorkerUnmanagedUsageObserved
    #: The versioned event type.
    type: str


class DefinitionActivationChangedEvent(Event):
    """An event of type `definition.activation.changed.v1`; `data` is `DefinitionActivationChanged`."""

    data: DefinitionActivationChanged
    #: The versioned event type.
    type: str


class DefinitionCreatedEvent(Event):
    """An event of type `definition.created.v1`; `data` is `DefinitionCreated`."""

    data: DefinitionCreated
    #: The versioned event type.
    type: str


# Aliases kept from earlier releases.
Meta = ObjectMeta
Lab = LabRecord
Job = JobRecord

# How each field reads, once every class exists.
Activity._types = {"last_activity_at": datetime, "last_pause_reason": PauseReason, "last_paused_at": datetime, "last_resume_reason": ResumeReason, "last_resumed_at": datetime, "recent": _list(ActivityEvent), "snooze_until": datetime, "telemetry_high_water": datetime}
ActivityEvent._types = {"at": datetime}
Allocation._types = {"resources": Resources}
AmiInfo._types = {"created_at": datetime}
Capacity._types = {"allocations": _map(Allocation), "declared": Resources, "port_range": PortRange, "unmanaged": UnmanagedUsage}
CapacityForecast._types = {"generated_at": datetime, "lead": LeadTime, "steps": _list(ForecastStep)}
CmlService._types = {"certificate": CmlCertificate, "state": CmlServiceState}
CostGroup._types = {"today": CostWindow, "week": CostWindow}
CostReport._types = {"generated_at": datetime, "groups": _list(CostGroup), "today": CostWindow, "week": CostWindow}
CostWindow._types = {"from": datetime}
DefinitionCreated._types = {"definition": LabletDefinition}
Event._types = {"occurred_at": datetime, "subject": EventSubject}
Event._variants = {"definition.activation.changed.v1": DefinitionActivationChangedEvent, "definition.created.v1": DefinitionCreatedEvent, "fleet.scaling.decided.v1": FleetScalingDecidedEvent, "lab.discovered.v1": LabDiscoveredEvent, "lab.discovered.v2": LabDiscoveredV2Event, "lab.gone.v1": LabGoneEvent, "lab.operation.recorded.v1": LabOperationRecordedEvent, "lab.state.changed.v1": LabStateChangedEvent, "lab.updated.v1": LabUpdatedEvent, "lablet.access.assigned.v1": LabletAccessAssignedEvent, "lablet.attempt.failed.v1": LabletAttemptFailedEvent, "lablet.bound.v1": LabletBoundEvent, "lablet.cancel.requested.v1": LabletCancelRequestedEvent, "lablet.created.v1": LabletCreatedEvent, "lablet.created.v2": LabletCreatedV2Event, "lablet.deletion.requested.v1": LabletDeletionRequestedEvent, "lablet.extended.v1": LabletExtendedEvent, "lablet.lab.assigned.v1": LabletLabAssignedEvent, "lablet.lab.released.v1": LabletLabReleasedEvent, "lablet.phase.changed.v1": LabletPhaseChangedEvent, "lablet.rescheduled.v1": LabletRescheduledEvent, "lablet.unbound.v1": LabletUnboundEvent, "worker.activity.recorded.v1": WorkerActivityRecordedEvent, "worker.alert.cleared.v1": WorkerAlertClearedEvent, "worker.alert.raised.v1": WorkerAlertRaisedEvent, "worker.capacity.allocated.v1": WorkerCapacityAllocatedEvent, "worker.capacity.released.v1": WorkerCapacityReleasedEvent, "worker.capacity.unmanaged.v1": WorkerUnmanagedUsageObservedEvent, "worker.catalog.synced.v1": WorkerCatalogSyncedEvent, "worker.cml.certificate_accepted.v1": WorkerCmlCertificateAcceptedEvent, "worker.cml.certificate_changed.v1": WorkerCmlCertificateChangedEvent, "worker.cml.updated.v1": WorkerCmlUpdatedEvent, "worker.created.v1": WorkerCreatedEvent, "worker.created.v2": WorkerCreatedV2Event, "worker.deletion.requested.v1": WorkerDeletionRequestedEvent, "worker.imported.v1": WorkerImportedEvent, "worker.imported.v2": WorkerImportedV2Event, "worker.instance.assigned.v1": WorkerInstanceAssignedEvent, "worker.licence.deregistered.v1": WorkerLicenceDeregisteredEvent, "worker.licence.registration.completed.v1": WorkerLicenceRegistrationCompletedEvent, "worker.licence.registration.failed.v1": WorkerLicenceRegistrationFailedEvent, "worker.licence.registration.started.v1": WorkerLicenceRegistrationStartedEvent, "worker.licence.updated.v1": WorkerLicenceUpdatedEvent, "worker.metrics.updated.v1": WorkerMetricsUpdatedEvent, "worker.monitoring.enabled.v1": WorkerMonitoringEnabledEvent, "worker.network.updated.v1": WorkerNetworkUpdatedEvent, "worker.paused.v1": WorkerPausedEvent, "worker.resumed.v1": WorkerResumedEvent, "worker.spec.updated.v1": WorkerSpecUpdatedEvent, "worker.status.updated.v1": WorkerStatusUpdatedEvent, "worker.tags.updated.v1": WorkerTagsUpdatedEvent, "worker.telemetry.read.v1": WorkerTelemetryReadEvent, "worker.termination.requested.v1": WorkerTerminationRequestedEvent}
EventSubject._types = {"kind": ResourceKind}
FleetScalingDecided._types = {"action": ScalingAction}
FleetScalingDecidedEvent._types = {"data": FleetScalingDecided}
ForecastStep._types = {"at": datetime}
IdleStatus._types = {"idle_since": datetime, "last_activity_at": datetime, "pause_at": datetime, "verdict": IdleVerdict}
IdleVerdict._variants = {"disabled": IdleVerdictDisabled, "not_running": IdleVerdictNotRunning, "in_use": IdleVerdictInUse, "snoozed": IdleVerdictSnoozed, "active": IdleVerdictActive, "pause_now": IdleVerdictPauseNow}
IdleVerdictActive._types = {"pause_at": datetime}
IdleVerdictPauseNow._types = {"since": datetime}
IdleVerdictSnoozed._types = {"until": datetime}
ImportReport._types = {"imported": _list(Worker), "skipped": _list(ImportSkip)}
ImportedInstance._types = {"ami": AmiInfo, "ec2_state": InstanceState, "launched_at": datetime, "network": WorkerNetwork}
JobOutcome._variants = {"succeeded": JobOutcomeSucceeded, "failed": JobOutcomeFailed}
JobRecord._types = {"last_outcome": JobOutcome, "last_run_at": datetime, "next_run_at": datetime, "schedule": JobSchedule}
JobSchedule._variants = {"every": JobScheduleEvery, "once": JobScheduleOnce}
JobScheduleOnce._types = {"at": datetime}
LabDiscovered._types = {"lab": LabRecord}
LabDiscoveredEvent._types = {"data": LabDiscovered}
LabDiscoveredV2._types = {"state": LabState}
LabDiscoveredV2Event._types = {"data": LabDiscoveredV2}
LabGoneEvent._types = {"data": LabGone}
LabOperation._types = {"at": datetime}
LabOperationRecorded._types = {"operation": LabOperation}
LabOperationRecordedEvent._types = {"data": LabOperationRecorded}
LabRecord._types = {"first_seen_at": datetime, "history": _list(LabOperation), "last_synced_at": datetime, "state": LabState, "usage": LabUsage}
LabStateChanged._types = {"from": LabState, "operation": LabOperation, "to": LabState}
LabStateChangedEvent._types = {"data": LabStateChanged}
LabUpdated._types = {"changes": _list(FieldChange)}
LabUpdatedEvent._types = {"data": LabUpdated}
Lablet._types = {"meta": ObjectMeta, "spec": LabletSpec, "status": LabletStatus}
LabletAccess._types = {"protocol": AccessProtocol}
LabletAccessAssigned._types = {"access": _list(LabletAccess)}
LabletAccessAssignedEvent._types = {"data": LabletAccessAssigned}
LabletAttemptFailedEvent._types = {"data": LabletAttemptFailed}
LabletBooking._types = {"timeslot": Timeslot}
LabletBoundEvent._types = {"data": LabletBound}
LabletCancelRequestedEvent._types = {"data": LabletCancelRequested}
LabletCreated._types = {"lablet": Lablet}
LabletCreatedEvent._types = {"data": LabletCreated}
LabletCreatedV2._types = {"request": LabletBooking}
LabletCreatedV2Event._types = {"data": LabletCreatedV2}
LabletDefinition._types = {"licence_affinity": LicenceKind, "meta": ObjectMeta, "needs": ResourceNeeds, "requires": CatalogNeeds}
LabletDeletionRequestedEvent._types = {"data": LabletDeletionRequested}
LabletExtended._types = {"from": datetime, "to": datetime}
LabletExtendedEvent._types = {"data": LabletExtended}
LabletLabAssignedEvent._types = {"data": LabletLabAssigned}
LabletLabReleasedEvent._types = {"data": EmptyEventData}
LabletPhaseChanged._types = {"from": LabletPhase, "to": LabletPhase}
LabletPhaseChangedEvent._types = {"data": LabletPhaseChanged}
LabletRescheduled._types = {"from": Timeslot, "to": Timeslot}
LabletRescheduledEvent._types = {"data": LabletRescheduled}
LabletSpec._types = {"timeslot": Timeslot}
LabletStatus._types = {"access": _list(LabletAccess), "history": _list(PhaseChange), "phase": LabletPhase}
LabletUnboundEvent._types = {"data": LabletUnbound}
LeadTime._types = {"estimates": _list(LeadEstimate)}
LicenceStatus._types = {"expires_at": datetime, "features": _list(LicenceFeature), "kind": LicenceKind, "registration_requested_at": datetime, "state": LicenceState}
MetricPoint._types = {"at": datetime}
NodeCatalog._types = {"synced_at": datetime}
ObjectMeta._types = {"created_at": datetime, "deletion_timestamp": datetime, "updated_at": datetime}
PhaseChange._types = {"at": datetime, "from": LabletPhase, "to": LabletPhase}
PlacementPreview._types = {"placed": _list(PreviewPlaced), "policy": PlacementPolicy, "scale_up": _list(PreviewScaleUpLine), "unplaced": _list(PreviewUnplaced)}
PreviewRefusal._types = {"reason": RejectReason}
PreviewUnplaced._types = {"dominant_reason": RejectReason, "workers": _list(PreviewRefusal)}
RefreshOutcome._variants = {"refreshed": RefreshOutcomeRefreshed, "coalesced": RefreshOutcomeCoalesced}
RefreshOutcomeCoalesced._types = {"next_at": datetime}
RefreshOutcomeRefreshed._types = {"at": datetime}
ResourceNeeds._types = {"resources": Resources}
SourcedCloudWatchMetrics._types = {"observed_at": datetime, "value": CloudWatchMetrics}
SourcedCmlStats._types = {"observed_at": datetime, "value": CmlStats}
SourcedEc2StatusChecks._types = {"observed_at": datetime, "value": Ec2StatusChecks}
Timeslot._types = {"end": datetime, "start": datetime}
TriggerOutcome._variants = {"scheduled": TriggerOutcomeScheduled, "coalesced": TriggerOutcomeCoalesced}
TriggerOutcomeCoalesced._types = {"at": datetime}
TriggerOutcomeScheduled._types = {"at": datetime}
UnmanagedUsage._types = {"resources": Resources}
Worker._types = {"ami": AmiInfo, "audit": WorkerAudit, "meta": ObjectMeta, "network": WorkerNetwork, "spec": WorkerSpec, "status": WorkerStatus}
WorkerActivityRecorded._types = {"activity": ActivityEvent}
WorkerActivityRecordedEvent._types = {"data": WorkerActivityRecorded}
WorkerAlertCleared._types = {"metric": AlertMetric}
WorkerAlertClearedEvent._types = {"data": WorkerAlertCleared}
WorkerAlertRaised._types = {"metric": AlertMetric}
WorkerAlertRaisedEvent._types = {"data": WorkerAlertRaised}
WorkerBilling._types = {"billing_since": datetime}
WorkerCapacityAllocated._types = {"allocation": Allocation}
WorkerCapacityAllocatedEvent._types = {"data": WorkerCapacityAllocated}
WorkerCapacityReleasedEvent._types = {"data": WorkerCapacityReleased}
WorkerCatalogSynced._types = {"catalog": NodeCatalog}
WorkerCatalogSyncedEvent._types = {"data": WorkerCatalogSynced}
WorkerCmlCertificateAcceptedEvent._types = {"data": WorkerCmlCertificateAccepted}
WorkerCmlCertificateChangedEvent._types = {"data": WorkerCmlCertificateChanged}
WorkerCmlUpdated._types = {"cml": CmlService}
WorkerCmlUpdatedEvent._types = {"data": WorkerCmlUpdated}
WorkerCreated._types = {"worker": Worker}
WorkerCreatedEvent._types = {"data": WorkerCreated}
WorkerCreatedV2._types = {"request": WorkerRequest}
WorkerCreatedV2Event._types = {"data": WorkerCreatedV2}
WorkerDeletionRequestedEvent._types = {"data": WorkerDeletionRequested}
WorkerImported._types = {"worker": Worker}
WorkerImportedEvent._types = {"data": WorkerImported}
WorkerImportedV2._types = {"instance": ImportedInstance, "request": WorkerRequest}
WorkerImportedV2Event._types = {"data": WorkerImportedV2}
WorkerInstanceAssigned._types = {"ami": AmiInfo, "launched_at": datetime, "network": WorkerNetwork}
WorkerInstanceAssignedEvent._types = {"data": WorkerInstanceAssigned}
WorkerLicenceDeregisteredEvent._types = {"data": EmptyEventData}
WorkerLicenceRegistrationCompleted._types = {"licence": LicenceStatus}
WorkerLicenceRegistrationCompletedEvent._types = {"data": WorkerLicenceRegistrationCompleted}
WorkerLicenceRegistrationFailedEvent._types = {"data": WorkerLicenceRegistrationFailed}
WorkerLicenceRegistrationStartedEvent._types = {"data": EmptyEventData}
WorkerLicenceUpdated._types = {"licence": LicenceStatus}
WorkerLicenceUpdatedEvent._types = {"data": WorkerLicenceUpdated}
WorkerMetrics._types = {"cloudwatch": SourcedCloudWatchMetrics, "cml": SourcedCmlStats, "ec2": SourcedEc2StatusChecks}
WorkerMetricsUpdated._types = {"metrics": WorkerMetrics}
WorkerMetricsUpdatedEvent._types = {"data": WorkerMetricsUpdated}
WorkerMonitoringEnabledEvent._types = {"data": EmptyEventData}
WorkerNetworkUpdated._types = {"network": WorkerNetwork}
WorkerNetworkUpdatedEvent._types = {"data": WorkerNetworkUpdated}
WorkerPaused._types = {"reason": PauseReason}
WorkerPausedEvent._types = {"data": WorkerPaused}
WorkerRequest._types = {"capacity": Capacity, "idle": IdleSettings}
WorkerResumed._types = {"reason": ResumeReason, "snooze_until": datetime}
WorkerResumedEvent._types = {"data": WorkerResumed}
WorkerSpec._types = {"desired_status": DesiredStatus, "idle": IdleSettings, "start_reason": ResumeReason, "stop_reason": PauseReason}
WorkerSpecUpdated._types = {"spec": WorkerSpec}
WorkerSpecUpdatedEvent._types = {"data": WorkerSpecUpdated}
WorkerStatus._types = {"activity": Activity, "alerts": _list(AlertMetric), "billing": WorkerBilling, "capacity": Capacity, "catalog": NodeCatalog, "cml": CmlService, "ec2_state": InstanceState, "launched_at": datetime, "licence": LicenceStatus, "lifecycle": LifecycleState, "metrics": WorkerMetrics, "next_refresh_at": datetime, "terminated_at": datetime, "transitioned_at": datetime}
WorkerStatusUpdated._types = {"ec2_state": InstanceState, "from": LifecycleState, "to": LifecycleState}
WorkerStatusUpdatedEvent._types = {"data": WorkerStatusUpdated}
WorkerTagsUpdatedEvent._types = {"data": WorkerTagsUpdated}
WorkerTelemetryRead._types = {"activity": _list(ActivityEvent), "high_water": datetime}
WorkerTelemetryReadEvent._types = {"data": WorkerTelemetryRead}
WorkerTerminationRequestedEvent._types = {"data": WorkerTerminationRequested}
WorkerUnmanagedUsageObserved._types = {"usage": UnmanagedUsage}
WorkerUnmanagedUsageObservedEvent._types = {"data": WorkerUnmanagedUsageObserved}
DefinitionActivationChangedEvent._types = {"data": DefinitionActivationChanged}
DefinitionCreatedEvent._types = {"data": DefinitionCreated}

__all__ = [
    "AccessProtocol",
    "Activity",
    "ActivityEvent",
    "AlertMetric",
    "Allocation",
    "AmiInfo",
    "Capacity",
    "CapacityForecast",
    "CatalogNeeds",
    "CloudWatchMetrics",
    "CmlCertificate",
    "CmlService",
    "CmlServiceState",
    "CmlStats",
    "CostGroup",
    "CostReport",
    "CostWindow",
    "DefinitionActivationChanged",
    "DefinitionActivationChangedEvent",
    "DefinitionCreated",
    "DefinitionCreatedEvent",
    "DesiredStatus",
    "Ec2StatusChecks",
    "EmptyEventData",
    "Event",
    "EventSubject",
    "FieldChange",
    "FleetScalingDecided",
    "FleetScalingDecidedEvent",
    "ForecastStep",
    "IdleSettings",
    "IdleStatus",
    "IdleVerdict",
    "IdleVerdictActive",
    "IdleVerdictDisabled",
    "IdleVerdictInUse",
    "IdleVerdictNotRunning",
    "IdleVerdictPauseNow",
    "IdleVerdictSnoozed",
    "ImportReport",
    "ImportSkip",
    "ImportedInstance",
    "InstanceState",
    "Job",
    "JobOutcome",
    "JobOutcomeFailed",
    "JobOutcomeSucceeded",
    "JobRecord",
    "JobSchedule",
    "JobScheduleEvery",
    "JobScheduleOnce",
    "Lab",
    "LabDiscovered",
    "LabDiscoveredEvent",
    "LabDiscoveredV2",
    "LabDiscoveredV2Event",
    "LabGone",
    "LabGoneEvent",
    "LabOperation",
    "LabOperationRecorded",
    "LabOperationRecordedEvent",
    "LabRecord",
    "LabState",
    "LabStateChanged",
    "LabStateChangedEvent",
    "LabUpdated",
    "LabUpdatedEvent",
    "LabUsage",
    "Lablet",
    "LabletAccess",
    "LabletAccessAssigned",
    "LabletAccessAssignedEvent",
    "LabletAttemptFailed",
    "LabletAttemptFailedEvent",
    "LabletBooking",
    "LabletBound",
    "LabletBoundEvent",
    "LabletCancelRequested",
    "LabletCancelRequestedEvent",
    "LabletCreated",
    "LabletCreatedEvent",
    "LabletCreatedV2",
    "LabletCreatedV2Event",
    "LabletDefinition",
    "LabletDeletionRequested",
    "LabletDeletionRequestedEvent",
    "LabletExtended",
    "LabletExtendedEvent",
    "LabletLabAssigned",
    "LabletLabAssignedEvent",
    "LabletLabReleasedEvent",
    "LabletPhase",
    "LabletPhaseChanged",
    "LabletPhaseChangedEvent",
    "LabletRescheduled",
    "LabletRescheduledEvent",
    "LabletSpec",
    "LabletStatus",
    "LabletUnbound",
    "LabletUnboundEvent",
    "LeadEstimate",
    "LeadTime",
    "LicenceFeature",
    "LicenceKind",
    "LicenceState",
    "LicenceStatus",
    "LifecycleState",
    "Meta",
    "MetricPoint",
    "NodeCatalog",
    "ObjectMeta",
    "PauseReason",
    "PhaseChange",
    "PlacementPolicy",
    "PlacementPreview",
    "PortRange",
    "PreviewPlaced",
    "PreviewRefusal",
    "PreviewScaleUpLine",
    "PreviewUnplaced",
    "Record",
    "RefreshOutcome",
    "RefreshOutcomeCoalesced",
    "RefreshOutcomeRefreshed",
    "RejectReason",
    "ResourceKind",
    "ResourceNeeds",
    "Resources",
    "ResumeReason",
    "ScalingAction",
    "SourcedCloudWatchMetrics",
    "SourcedCmlStats",
    "SourcedEc2StatusChecks",
    "Timeslot",
    "TriggerOutcome",
    "TriggerOutcomeCoalesced",
    "TriggerOutcomeScheduled",
    "UnmanagedUsage",
    "WireEnum",
    "Worker",
    "WorkerActivityRecorded",
    "WorkerActivityRecordedEvent",
    "WorkerAlertCleared",
    "WorkerAlertClearedEvent",
    "WorkerAlertRaised",
    "WorkerAlertRaisedEvent",
    "WorkerAudit",
    "WorkerBilling",
    "WorkerCapacityAllocated",
    "WorkerCapacityAllocatedEvent",
    "WorkerCapacityReleased",
    "WorkerCapacityReleasedEvent",
    "WorkerCatalogSynced",
    "WorkerCatalogSyncedEvent",
    "WorkerCmlCertificateAccepted",
    "WorkerCmlCertificateAcceptedEvent",
    "WorkerCmlCertificateChanged",
    "WorkerCmlCertificateChangedEvent",
    "WorkerCmlUpdated",
    "WorkerCmlUpdatedEvent",
    "WorkerCreated",
    "WorkerCreatedEvent",
    "WorkerCreatedV2",
    "WorkerCreatedV2Event",
    "WorkerDeletion",
    "WorkerDeletionRequested",
    "WorkerDeletionRequestedEvent",
    "WorkerImported",
    "WorkerImportedEvent",
    "WorkerImportedV2",
    "WorkerImportedV2Event",
    "WorkerInstanceAssigned",
    "WorkerInstanceAssignedEvent",
    "WorkerLicenceDeregisteredEvent",
    "WorkerLicenceRegistrationCompleted",
    "WorkerLicenceRegistrationCompletedEvent",
    "WorkerLicenceRegistrationFailed",
    "WorkerLicenceRegistrationFailedEvent",
    "WorkerLicenceRegistrationStartedEvent",
    "WorkerLicenceUpdated",
    "WorkerLicenceUpdatedEvent",
    "WorkerMetrics",
    "WorkerMetricsUpdated",
    "WorkerMetricsUpdatedEvent",
    "WorkerMonitoringEnabledEvent",
    "WorkerNetwork",
    "WorkerNetworkUpdated",
    "WorkerNetworkUpdatedEvent",
    "WorkerPaused",
    "WorkerPausedEvent",
    "WorkerRequest",
    "WorkerResumed",
    "WorkerResumedEvent",
    "WorkerSpec",
    "WorkerSpecUpdated",
    "WorkerSpecUpdatedEvent",
    "WorkerStatus",
    "WorkerStatusUpdated",
    "WorkerStatusUpdatedEvent",
    "WorkerTagsUpdated",
    "WorkerTagsUpdatedEvent",
    "WorkerTelemetryRead",
    "WorkerTelemetryReadEvent",
    "WorkerTerminationRequested",
    "WorkerTerminationRequestedEvent",
    "WorkerUnmanagedUsageObserved",
    "WorkerUnmanagedUsageObservedEvent",
    "parse_time",
]
