"""A simulated day driven from Python: workers come up, lablets are booked, the
virtual clock moves, lablets become ready on time, and idle workers are paused."""

from datetime import timedelta

import ccm
from conftest import topology


def test_a_day_of_lablets_on_the_simulator():
    engine = ccm.Engine.open("memory", "sim", regions=["us-east-1"], idle_timeout_minutes=20)
    assert engine.simulated
    start_of_day = engine.now()
    workers = [engine.create_worker(f"w{n}") for n in range(3)]
    assert all(w.lifecycle in ("pending", "provisioning") for w in workers)
    engine.advance(timedelta(minutes=10))
    running = engine.list_workers(status=["running"])
    assert {w.id for w in running} == {w.id for w in workers}
    assert engine.now() >= start_of_day + timedelta(minutes=10)

    ccna = engine.create_definition(
        "ccna", version="1.0.0", topology_yaml=topology(4), cpus=4, memory_gib=8,
        storage_gib=20, nodes=4, ports=2, max_duration_minutes=180,
    )
    assert ccna.name == "ccna" and ccna.active
    slot_start = engine.now() + timedelta(minutes=30)
    slot_end = slot_start + timedelta(hours=1)
    booked = [
        engine.create_lablet(ccna.id, start=slot_start, end=slot_end, owner=f"student{i}")
        for i in range(8)
    ]
    assert all(l.phase in ("pending", "scheduled") for l in booked)

    engine.advance(timedelta(minutes=31))
    lablets = engine.list_lablets(definition_id=ccna.id)
    assert len(lablets) == 8
    assert {l.phase for l in lablets} <= {"ready", "running"}, [l.status for l in lablets]
    # Every lablet holds ports on a real worker, and no port is given twice there.
    by_worker = {}
    for l in lablets:
        assert l.worker_id in {w.id for w in workers}
        assert len(l.status.ports) == 2
        taken = by_worker.setdefault(l.worker_id, set())
        assert taken.isdisjoint(l.status.ports)
        taken.update(l.status.ports)
    assert len(engine.list_labs(lablets[0].worker_id)) >= 1
    # Each lablet lists how its students reach the nodes' consoles: the first
    # two routers (two ports for four nodes) on its ports, on its worker's address.
    for l in lablets:
        host = engine.get_worker(l.worker_id).to_dict()["network"]["public_ip"]
        assert [(a.node, a.label, a.port) for a in l.access] == [
            ("n0", "r0", l.status.ports[0]),
            ("n1", "r1", l.status.ports[1]),
        ]
        assert all(a.protocol == "telnet" and a.host == host for a in l.access)
        assert isinstance(l.status.access[0], ccm.LabletAccess)
        assert l.to_dict()["status"]["access"][1]["port"] == l.status.ports[1]

    # After the timeslot and the idle timeout, the lablets are gone and the
    # workers are paused (stopped by idle detection, not terminated).
    engine.advance(timedelta(hours=2))
    assert {l.phase for l in engine.list_lablets()} <= {"terminated", "expired", "stopped"}
    assert all(not l.access for l in engine.list_lablets()), "the access went with the labs"
    paused = engine.list_workers()
    assert [w.lifecycle for w in paused] == ["stopped"] * 3
    assert all(w.spec.desired_status == "stopped" for w in paused)

    # The event log tells the story, in order, and resumes from a cursor.
    events = list(engine.events())
    sequences = [e.sequence for e in events]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    types = {e.type for e in events}
    assert any(t.startswith("lablet.") for t in types)
    assert any(t.startswith("worker.") for t in types)
    middle = sequences[len(sequences) // 2]
    assert [e.sequence for e in engine.events(after=middle)] == [s for s in sequences if s > middle]

    # Jobs ran on the virtual clock.
    jobs = {j.name: j for j in engine.list_jobs()}
    assert jobs["lablet-scheduler"].last_run_at is not None


def test_the_same_seed_gives_the_same_day():
    def run():
        engine = ccm.Engine.open("memory", "sim", regions=["us-east-1"], seed=7)
        w = engine.create_worker("w")
        engine.advance(600)
        return [(e.type, e.occurred_at) for e in engine.events()], engine.get_worker(w.id)

    (first, w1), (second, w2) = run(), run()
    assert [t for t, _ in first] == [t for t, _ in second]
    assert [at for _, at in first] == [at for _, at in second]
    assert w1.status.lifecycle == w2.status.lifecycle == "running"


def test_records_are_typed_comparable_and_convertible(engine):
    w = engine.create_worker("w1", labels={"team": "a"})
    again = engine.get_worker(w.id)
    assert again == engine.get_worker(w.id)
    assert again.id == w.id and again != w.to_dict()
    assert isinstance(again, ccm.Worker) and isinstance(again.meta, ccm.Meta)
    assert again.meta.labels == {"team": "a"}
    assert again.name == "w1" and again.region == "us-east-1"
    assert "Worker(id=" in repr(again) and "name='w1'" in repr(again)
    d = again.to_dict()
    assert d["meta"]["name"] == "w1" and d["id"] == w.id
    d["meta"]["name"] = "changed"
    assert again.name == "w1"  # to_dict is a copy
    tagged = engine.set_tags(w.id, {"cost-centre": "42"})
    assert tagged != w and tagged.tags["cost-centre"] == "42"
    assert tagged.meta.version > w.meta.version
    try:
        again.region = "elsewhere"
    except AttributeError:
        pass
    else:
        raise AssertionError("records must be read-only")
