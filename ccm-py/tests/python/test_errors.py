"""ccm-core's errors arrive as the ccm exception hierarchy, with code and details."""

import uuid
from datetime import timedelta

import pytest

import ccm
from conftest import topology


def test_hierarchy():
    for cls in (ccm.NotFound, ccm.Conflict, ccm.CapacityExceeded, ccm.InvalidTransition,
                ccm.InvalidInput, ccm.CloudError, ccm.CmlError, ccm.StoreError,
                ccm.CorruptEventLog, ccm.Unsupported):
        assert issubclass(cls, ccm.CcmError)
    assert issubclass(ccm.CapacityExceeded, ccm.Conflict)
    assert issubclass(ccm.NotFound, LookupError)
    assert issubclass(ccm.InvalidInput, ValueError)


def test_not_found_carries_kind_and_id(engine):
    missing = str(uuid.uuid4())
    with pytest.raises(ccm.NotFound) as raised:
        engine.get_worker(missing)
    error = raised.value
    assert error.code == "not_found"
    assert error.details == {"kind": "worker", "id": missing}
    assert missing in error.message and missing in str(error)
    with pytest.raises(ccm.NotFound):
        engine.get_lablet(str(uuid.uuid4()))
    with pytest.raises(ccm.NotFound):
        engine.trigger_job("no-such-job")


def test_malformed_arguments_are_invalid_input(engine):
    with pytest.raises(ccm.InvalidInput) as raised:
        engine.get_worker("not-a-uuid")
    assert raised.value.details["field"] == "arguments"
    with pytest.raises(ccm.InvalidInput, match="region"):
        engine.create_worker("w", region="mars-north-1")
    with pytest.raises(ccm.InvalidInput, match="list_lablets: unknown variant `dancing`"):
        engine.list_lablets(phase=["dancing"])
    with pytest.raises(ccm.InvalidInput):
        engine.advance(-5)


def test_validation_errors_name_the_field(engine):
    with pytest.raises(ccm.InvalidInput) as raised:
        engine.create_definition("x", version="1.0.0", topology_yaml="nodes: [", cpus=1,
                                 memory_gib=1)
    assert raised.value.code == "validation_failed"
    assert "topology" in raised.value.details["field"]


def test_invalid_transition_carries_the_states(engine):
    w = engine.create_worker("doomed")
    engine.terminate_worker(w.id)
    with pytest.raises(ccm.InvalidTransition) as raised:
        engine.start_worker(w.id)
    assert raised.value.code == "invalid_transition"
    assert raised.value.details["machine"] == "worker"
    assert raised.value.details["to"] == "a new desired status"


def test_cancelling_a_finished_lablet_is_an_invalid_transition(engine):
    d = engine.create_definition("d", version="1.0.0", topology_yaml=topology(1), cpus=1,
                                 memory_gib=1, max_duration_minutes=60)
    now = engine.now()
    lablet = engine.create_lablet(d.id, start=now + timedelta(minutes=1),
                                  end=now + timedelta(minutes=30))
    engine.advance(3600)
    finished = engine.get_lablet(lablet.id)
    assert finished.phase in ("terminated", "expired", "failed")
    with pytest.raises(ccm.InvalidTransition) as raised:
        engine.cancel_lablet(lablet.id)
    assert raised.value.details["machine"] == "lablet"
    assert raised.value.details["from"] == finished.phase


def test_conflicting_definition_versions(engine):
    args = dict(version="1.0.0", topology_yaml=topology(1), cpus=1, memory_gib=1)
    engine.create_definition("same", **args)
    with pytest.raises(ccm.CcmError) as raised:
        engine.create_definition("same", **args)
    assert isinstance(raised.value, (ccm.Conflict, ccm.InvalidInput))


def test_open_refuses_bad_settings():
    with pytest.raises(ccm.InvalidInput, match="not a setting"):
        ccm.Engine.open("memory", "sim", colour="blue")
    with pytest.raises(ccm.InvalidInput):
        ccm.Engine.open("memory", "moon")
    with pytest.raises(ccm.InvalidInput):
        ccm.Engine.open("memory", "sim", regions="us-east-1")
    with pytest.raises(ccm.InvalidInput):
        ccm.Engine.open("memory", "sim", **{"engine.no_such_key": 1})
    # The server's own checks run too (field paths in details).
    with pytest.raises(ccm.InvalidInput) as raised:
        ccm.Engine.open("memory", "sim", regions=[])
    assert raised.value.code == "invalid_config"
    assert raised.value.details["problems"][0]["path"].startswith("cloud.regions")


def test_settings_reach_the_engine():
    engine = ccm.Engine.open("memory", "sim", regions=["eu-west-1", "us-east-1"],
                             idle_detection=False)
    w = engine.create_worker("w")
    assert w.region == "eu-west-1"  # the first configured region is the default
    assert w.spec.idle.enabled is False
    assert "regions" in ccm.SETTINGS and ccm.SETTINGS["regions"] == "cloud.regions"


def test_sqlite_file_survives_reopening(tmp_path):
    url = f"sqlite://{tmp_path}/ccm.db"
    first = ccm.Engine.open(url, "sim", regions=["us-east-1"])
    w = first.create_worker("kept")
    del first
    again = ccm.Engine.open(url, "sim", regions=["us-east-1"])
    assert again.get_worker(w.id).name == "kept"


def test_reading_a_compacted_position_raises_events_gone():
    engine = ccm.Engine.open("memory", "sim", regions=["us-east-1"],
                             **{"engine.event_retention_max": 2})
    for n in range(4):
        engine.create_worker(f"w{n}")
    engine.trigger_job("log-retention")
    engine.advance(1)
    with pytest.raises(ccm.EventsGone) as raised:
        engine.read_events(0)
    error = raised.value
    assert isinstance(error, ccm.StoreError)
    assert error.code == "gone"
    assert error.details["after"] == 0
    resume = error.details["resume_after"]
    assert error.details["first_sequence"] == resume + 1
    events = engine.read_events(resume)
    assert events and int(events[0].sequence) == resume + 1
    assert issubclass(ccm.EventsGone, ccm.StoreError)


def test_a_worker_holding_a_lablet_is_stopped_only_with_force(engine):
    w = engine.create_worker("host")
    engine.advance(timedelta(minutes=10))
    assert engine.get_worker(w.id).lifecycle == "running"
    d = engine.create_definition("guarded", version="1.0.0", topology_yaml=topology(1), cpus=1,
                                 memory_gib=1, max_duration_minutes=60)
    now = engine.now()
    lablet = engine.create_lablet(d.id, start=now + timedelta(minutes=20),
                                  end=now + timedelta(minutes=50))
    engine.advance(timedelta(minutes=5))
    assert engine.get_lablet(lablet.id).worker_id == w.id
    with pytest.raises(ccm.Conflict) as raised:
        engine.stop_worker(w.id)
    assert raised.value.code == "worker_in_use"
    assert raised.value.details == {"worker": w.id, "lablets": [lablet.id]}
    with pytest.raises(ccm.Conflict, match="force"):
        engine.delete_worker(w.id, terminate_instance=True)
    assert engine.get_worker(w.id).spec.desired_status == "running"
    assert engine.stop_worker(w.id, force=True).spec.desired_status == "stopped"
    engine.advance(timedelta(minutes=5))
    again = engine.get_lablet(lablet.id)
    assert again.phase == "pending" and again.worker_id is None


def test_a_lablets_lab_is_deleted_only_with_force(engine):
    w = engine.create_worker("host")
    engine.advance(timedelta(minutes=10))
    d = engine.create_definition("owned", version="1.0.0", topology_yaml=topology(1), cpus=1,
                                 memory_gib=1, max_duration_minutes=60)
    now = engine.now()
    lablet = engine.create_lablet(d.id, start=now + timedelta(minutes=20),
                                  end=now + timedelta(minutes=50))
    engine.advance(timedelta(minutes=5))
    lab = engine.get_lablet(lablet.id).status.cml_lab_id
    assert lab
    with pytest.raises(ccm.Conflict) as raised:
        engine.lab_action(w.id, lab, "delete")
    assert raised.value.code == "lab_in_use"
    assert raised.value.details["lablet"] == lablet.id
    engine.lab_action(w.id, lab, "delete", force=True)
    assert engine.get_lablet(lablet.id).spec.cancel_requested


def test_a_per_worker_monitoring_interval_is_bounded(engine):
    w = engine.create_worker("watched")
    assert engine.set_monitoring_interval(w.id, 120).spec.monitoring_interval_seconds == 120
    with pytest.raises(ccm.InvalidInput) as raised:
        engine.set_monitoring_interval(w.id, 5)
    assert raised.value.details["field"] == "seconds"
    assert engine.set_monitoring_interval(w.id, None).spec.monitoring_interval_seconds is None


def test_a_worker_is_created_from_a_configured_image_by_name():
    engine = ccm.Engine.open("memory", "sim", regions=["us-east-1"],
                             **{"cloud.launch.images": {"cml-2.8": "cml-2.8*"}})
    w = engine.create_worker("old", image="cml-2.8")
    assert w.spec.image == "cml-2.8"
    with pytest.raises(ccm.InvalidInput) as raised:
        engine.create_worker("nope", image="cml-3.0")
    assert raised.value.details["field"] == "image"
    assert "cml-2.8" in raised.value.details["reason"]


def test_wait_events_returns_at_a_commit_or_at_its_timeout(engine):
    import threading
    import time

    head = max([0] + [int(e.sequence) for e in engine.read_events(0, 10_000)])
    started = time.monotonic()
    assert engine.wait_events(head, timeout=0.2) == head
    assert time.monotonic() - started >= 0.15

    woken = []
    waiter = threading.Thread(target=lambda: woken.append(engine.wait_events(head, timeout=30)))
    waiter.start()
    time.sleep(0.2)
    engine.create_worker("w-wake", region="us-east-1")
    waiter.join(timeout=20)
    assert woken and woken[0] > head
    with pytest.raises(ccm.InvalidInput, match="timeout_seconds"):
        engine.wait_events(head, timeout=61)
