"""The records are the REST API's wire types, typed as the OpenAPI document
types them: timestamps are datetimes, enumerations str enums, events and tagged
answers the class their tag names, and no field the engine answers is missing
from its class."""

from datetime import datetime, timedelta

import pytest

import ccm
from ccm import models
from conftest import topology


def _undeclared(record, path=None, found=None):
    """Fields of ``record``'s JSON that its class (or a nested one) does not declare."""
    found = [] if found is None else found
    path = path or type(record).__name__
    declared = set(type(record)._fields())
    aliases = {}
    for klass in reversed(type(record).__mro__):
        aliases.update({json: attr for attr, json in vars(klass).get("_names", {}).items()})
    for key in record.to_dict():
        attribute = aliases.get(key, key)
        if attribute not in declared:
            found.append(f"{path}.{key}")
            continue
        value = getattr(record, attribute)
        items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
        for item in items:
            if isinstance(item, ccm.Record):
                _undeclared(item, f"{path}.{key}", found)
    return found


@pytest.fixture
def day():
    engine = ccm.Engine.open("memory", "sim", regions=["us-east-1"])
    worker = engine.create_worker("w1", labels={"pool": "a"})
    definition = engine.create_definition(
        "ccna", version="1.0.0", topology_yaml=topology(2), cpus=2, memory_gib=4,
        nodes=2, ports=1, max_duration_minutes=120,
    )
    start = engine.now() + timedelta(minutes=40)
    lablet = engine.create_lablet(definition.id, start=start, end=start + timedelta(hours=1))
    engine.advance(timedelta(minutes=45))
    return engine, worker, definition, lablet


def test_timestamps_are_aware_datetimes(day):
    engine, worker, definition, lablet = day
    assert isinstance(worker.meta.created_at, datetime)
    assert worker.meta.created_at.tzinfo is not None
    assert worker.meta.deletion_timestamp is None
    slot = engine.get_lablet(lablet.id).spec.timeslot
    assert isinstance(slot.start, datetime) and slot.end - slot.start == timedelta(hours=1)
    assert isinstance(definition.meta.updated_at, datetime)


def test_enumerations_are_str_enums_that_read_as_their_strings(day):
    engine, worker, _, lablet = day
    running = engine.get_worker(worker.id)
    assert running.lifecycle is ccm.LifecycleState.RUNNING
    assert running.lifecycle == "running" and f"{running.lifecycle}" == "running"
    assert str(running.status.lifecycle) == "running"
    phase = engine.get_lablet(lablet.id).phase
    assert isinstance(phase, ccm.LabletPhase) and phase in ("ready", "running")
    # A value a newer engine added stays readable as its string.
    newer = ccm.Worker({**running.to_dict(), "status": {**running.to_dict()["status"], "lifecycle": "hibernating"}})
    assert newer.lifecycle == "hibernating" and not isinstance(newer.lifecycle, ccm.LifecycleState)


def test_every_field_the_engine_answers_is_declared(day):
    engine, worker, definition, lablet = day
    records = [
        engine.get_worker(worker.id),
        engine.get_definition(definition.id),
        engine.get_lablet(lablet.id),
        *engine.list_labs(worker.id),
        *engine.list_jobs(),
        engine.idle_status(worker.id),
        *list(engine.events())[:200],
    ]
    undeclared = [name for record in records for name in _undeclared(record)]
    assert not undeclared, undeclared
    # The check sees a field no class declares.
    extra = ccm.Worker({**records[0].to_dict(), "meta": {**records[0].to_dict()["meta"], "shard": 3}})
    assert _undeclared(extra) == ["Worker.meta.shard"]


def test_events_are_read_as_the_class_of_their_type(day):
    engine, worker, _, lablet = day
    events = list(engine.events())
    created = next(e for e in events if e.type == "worker.created.v2")
    assert isinstance(created, models.WorkerCreatedV2Event) and isinstance(created, ccm.Event)
    assert isinstance(created.data, models.WorkerCreatedV2)
    # The event carries the request; the worker is read by its id.
    assert created.subject.id == worker.id and created.data.request.name == "w1"
    assert created.data.request.labels == {"pool": "a"}
    assert isinstance(created.occurred_at, datetime)
    booked = next(e for e in events if e.type == "lablet.created.v2")
    assert booked.subject.id == lablet.id and booked.data.request.owner == lablet.spec.owner
    assert isinstance(booked.data.request.timeslot.start, datetime)
    moved = next(e for e in events if e.type == "lablet.phase.changed.v1")
    assert isinstance(moved.data.from_, ccm.LabletPhase)
    assert moved.to_dict()["data"]["from"] == moved.data.from_.value
    # A type this release does not know is still an event.
    unknown = ccm.Event({**created.to_dict(), "type": "worker.teleported.v1", "data": {"to": "mars"}})
    assert type(unknown) is ccm.Event and unknown.data == {"to": "mars"}


def test_tagged_answers_are_read_as_their_member(day):
    engine, worker, _, _ = day
    jobs = engine.list_jobs()
    assert any(isinstance(job.schedule, models.JobScheduleEvery) for job in jobs)
    every = next(job.schedule for job in jobs if isinstance(job.schedule, models.JobScheduleEvery))
    assert every.kind == "every" and every.seconds > 0
    outcome = engine.refresh_worker(worker.id)
    assert isinstance(outcome, ccm.RefreshOutcome)
    assert type(outcome) in (models.RefreshOutcomeRefreshed, models.RefreshOutcomeCoalesced)
    deletion = engine.delete_worker(engine.create_worker("w2").id, terminate_instance=True)
    assert isinstance(deletion, ccm.WorkerDeletion)


def test_records_stay_read_only_and_compare_by_content(day):
    engine, worker, _, _ = day
    again = engine.get_worker(worker.id)
    with pytest.raises(AttributeError):
        again.region = "eu-west-1"
    assert again == engine.get_worker(worker.id)
    assert repr(again).startswith("Worker(id=")
    # The aliases of earlier releases name the same classes.
    assert ccm.Meta is ccm.ObjectMeta and ccm.Lab is ccm.LabRecord and ccm.Job is ccm.JobRecord


def test_cost_and_forecast_are_typed_records(day):
    engine, worker, definition, lablet = day
    cost = engine.cost()
    assert isinstance(cost, ccm.CostReport)
    assert cost.billing_workers == 1
    assert cost.burn_rate_usd_per_hour > 0
    assert cost.today.worker_hours > 0.5 and cost.today.usd > 0
    assert isinstance(cost.week.from_, datetime) and cost.week.from_.weekday() == 0
    [group] = cost.groups
    assert group.region == "us-east-1" and group.instance_type == engine.get_worker(worker.id).instance_type
    forecast = engine.capacity_forecast(hours=3, step_minutes=30)
    assert isinstance(forecast, ccm.CapacityForecast)
    assert len(forecast.steps) == 6 and forecast.step_seconds == 1800
    assert isinstance(forecast.steps[0].at, datetime)
    # The booked lablet holds capacity now (it runs), and needs a worker.
    assert forecast.steps[0].lablets == 1 and forecast.steps[0].workers_needed == 1
    assert forecast.lead.seconds == 35 * 60 and not any(e.learned for e in forecast.lead.estimates)
    with pytest.raises(ccm.InvalidInput, match="hours"):
        engine.capacity_forecast(hours=0)
    with pytest.raises(ccm.InvalidInput, match="step_minutes"):
        engine.capacity_forecast(step_minutes=90)


def test_a_running_lablet_is_extended_within_its_definition(day):
    engine, _, _, lablet = day
    slot = engine.get_lablet(lablet.id).spec.timeslot
    extended = engine.extend_lablet(lablet.id, slot.end + timedelta(minutes=30))
    assert extended.spec.timeslot.end == slot.end + timedelta(minutes=30)
    with pytest.raises(ccm.InvalidInput, match="until"):
        engine.extend_lablet(lablet.id, slot.start + timedelta(minutes=121))
    assert engine.get_lablet(lablet.id).spec.timeslot.end == extended.spec.timeslot.end


def test_the_preview_places_as_the_scheduler_would(day):
    engine, worker, definition, _ = day
    preview = engine.preview_placement(definition.id, 3, policy="pack")
    assert isinstance(preview, ccm.PlacementPreview)
    assert preview.policy == "pack" and preview.workers_considered == 1
    assert [p.worker_id for p in preview.placed] == [worker.id] * 3
    with pytest.raises(ccm.InvalidInput, match="count"):
        engine.preview_placement(definition.id, 0)
    with pytest.raises(ccm.InvalidInput, match="scatter"):
        engine.preview_placement(definition.id, 1, policy="scatter")


def test_an_on_demand_lablet_answers_an_estimate_and_starts_when_ready(day):
    engine, worker, definition, _ = day
    now = engine.now()
    lablet = engine.create_on_demand_lablet(definition.id, duration_minutes=45)
    assert lablet.spec.on_demand
    # A running worker can take it: the next scheduler pass and an import.
    estimate = lablet.spec.timeslot.start
    assert now < estimate <= now + timedelta(minutes=10)
    assert lablet.spec.timeslot.end - estimate == timedelta(minutes=45)
    engine.advance(timedelta(minutes=15))
    ran = engine.get_lablet(lablet.id)
    assert ran.status.phase == "running"
    assert ran.spec.timeslot.end - ran.spec.timeslot.start == timedelta(minutes=45)
    moved = [e for e in engine.read_events(0, 10_000)
             if e.type == "lablet.rescheduled.v1" and e.subject.id == lablet.id]
    assert [e.data.to.start for e in moved][-1:] == [ran.spec.timeslot.start]
    with pytest.raises(ccm.InvalidInput, match="duration_minutes"):
        engine.create_on_demand_lablet(definition.id, duration_minutes=0)
