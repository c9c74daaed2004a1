"""ccm.place: the placement engine on plain Python objects."""

import random
import threading
import time
from types import SimpleNamespace

import pytest

import ccm
from ccm import LabletRequest, WorkerCapacity


def small(i, **kw):
    return LabletRequest(id=f"l{i}", cpus=4, memory_gib=8, storage_gib=10, nodes=4, ports=2, **kw)


def test_pack_fills_the_fullest_worker_and_reserves_the_lowest_ports():
    workers = [
        WorkerCapacity(id="big", cpus=48, memory_gib=192, storage_gib=1000, nodes=100),
        WorkerCapacity(id="half", cpus=24, memory_gib=96, storage_gib=500, nodes=50),
    ]
    plan = ccm.place(workers, [small(1), small(2)], policy="pack")
    assert plan.is_complete()
    assert [a.worker for a in plan.assignments] == ["half", "half"]
    assert sorted(a.lablet for a in plan.assignments) == ["l1", "l2"]
    assert sorted(p for a in plan.assignments for p in a.ports) == [2000, 2001, 2002, 2003]
    assert plan.workers_used == 1
    assert plan.policy == "pack"


def test_spread_prefers_headroom():
    workers = [
        WorkerCapacity(id="big", cpus=48, memory_gib=192, storage_gib=1000),
        WorkerCapacity(id="half", cpus=24, memory_gib=96, storage_gib=500),
    ]
    plan = ccm.place(workers, [small(1)], policy="spread")
    assert plan.assignments[0].worker == "big"
    assert plan.assignments[0].worker_index == 0


def test_dicts_objects_and_any_ids_are_accepted_and_returned_as_given():
    key = ("rack", 7)
    workers = [
        {"id": key, "cpus": 8, "memory_gib": 32, "storage_gib": 100},
        SimpleNamespace(id=42, cpus=1.5, memory_gib=2, storage_gib=0, nodes=None),
    ]
    requests = [
        {"id": "a", "cpus": 8, "memory_gib": 16},
        SimpleNamespace(id=0, cpus=0.5, memory_gib=0.5),
    ]
    plan = ccm.place(workers, requests)
    placed = {a.request_index: a.worker for a in plan.assignments}
    assert placed == {0: key, 1: 42}
    assert {a.lablet for a in plan.assignments} == {"a", 0}
    with pytest.raises(ccm.InvalidInput, match=r"requests\[0\].id: is required"):
        ccm.place(workers, [{"id": None, "cpus": 1, "memory_gib": 1}])


def test_unplaced_lablets_say_why_each_worker_refused():
    workers = [
        WorkerCapacity(id="off", cpus=48, memory_gib=192, storage_gib=1000, running=False),
        WorkerCapacity(id="draining", cpus=48, memory_gib=192, storage_gib=1000, draining=True),
        WorkerCapacity(id="tiny", cpus=2, memory_gib=192, storage_gib=1000),
        WorkerCapacity(id="personal", cpus=48, memory_gib=192, storage_gib=1000,
                       licence="personal", cml_version="2.9.0"),
        WorkerCapacity(id="old", cpus=48, memory_gib=192, storage_gib=1000,
                       licence="enterprise", cml_version="2.7.0"),
    ]
    request = small(1, licence="enterprise", min_cml_version="2.8.0")
    plan = ccm.place(workers, [request])
    assert not plan.is_complete()
    (unplaced,) = plan.unplaced
    assert unplaced.lablet == "l1"
    assert dict(unplaced.rejections) == {
        "off": "not-running",
        "draining": "draining",
        "tiny": "licence-affinity",
        "personal": "licence-affinity",
        "old": "cml-version",
    }
    assert unplaced.reasons == {"not-running": 1, "draining": 1, "licence-affinity": 2,
                                "cml-version": 1}
    assert unplaced.dominant_reason == "licence-affinity"


def test_capacity_reasons_and_ports():
    workers = [
        WorkerCapacity(id="cpu", cpus=2, memory_gib=64, storage_gib=100),
        WorkerCapacity(id="ports", cpus=64, memory_gib=64, storage_gib=100,
                       free_ports=[(3000, 3000)]),
        WorkerCapacity(id="nodes", cpus=64, memory_gib=64, storage_gib=100, nodes=3),
    ]
    plan = ccm.place(workers, [small(1)])
    assert dict(plan.unplaced[0].rejections) == {"cpu": "cpu", "ports": "ports",
                                                 "nodes": "node-cap"}


def test_scale_up_suggests_workers_from_the_price_table():
    requests = [small(i) for i in range(30)]
    table = [ccm.PriceRow("m.small", vcpus=16, memory_gib=64, storage_gib=500, node_slots=40,
                          hourly_usd=1.0)]
    plan = ccm.place([], requests, price_table=table)
    assert len(plan.unplaced) == 30
    # 4 vCPU lablets, 16 vCPU workers: 4 per worker (and ports/nodes allow it).
    assert plan.scale_up.workers == 8
    line = plan.scale_up.lines[0]
    assert (line.instance_type, line.workers, line.lablets) == ("m.small", 8, 30)
    assert plan.scale_up.total_hourly_usd == pytest.approx(8.0)
    huge = LabletRequest(id="huge", cpus=1000, memory_gib=8)
    assert ccm.place([], [huge], price_table=table).scale_up.unfittable == ["huge"]


def test_plans_compare_print_and_convert():
    workers = [WorkerCapacity(id="w", cpus=8, memory_gib=32, storage_gib=100)]
    one = ccm.place(workers, [small(1), small(2), small(3)])
    two = ccm.place(workers, [small(1), small(2), small(3)])
    assert one == two
    assert one != ccm.place(workers, [small(1)])
    assert "Plan(policy=\"pack\", assignments=2, unplaced=1" in repr(one)
    assert "Assignment(lablet='l" in repr(one.assignments[0])
    d = one.to_dict()
    assert d["assignments"][0]["worker"] == "w"
    assert d["unplaced"][0]["dominant_reason"] == "cpu"
    assert d["unplaced"][0]["rejections"] == [("w", "cpu")]
    assert isinstance(d["scale_up"]["lines"], list)


@pytest.mark.parametrize(
    "request_, field",
    [
        ({"id": 1, "cpus": -1, "memory_gib": 1}, "requests[0].cpus"),
        ({"id": 1, "cpus": "four", "memory_gib": 1}, "requests[0].cpus"),
        ({"id": 1, "cpus": float("nan"), "memory_gib": 1}, "requests[0].cpus"),
        ({"cpus": 1, "memory_gib": 1}, "requests[0].id"),
        ({"id": 1, "cpus": 1, "memory_gib": 1, "nodes": 2**40}, "requests[0].nodes"),
        ({"id": 1, "cpus": 1, "memory_gib": 1, "licence": "gold"}, "requests[0].licence"),
        ({"id": 1, "cpus": 1, "memory_gib": 1, "min_cml_version": "x"},
         "requests[0].min_cml_version"),
    ],
)
def test_bad_input_is_an_invalid_input_error_naming_the_field(request_, field):
    with pytest.raises(ccm.InvalidInput) as raised:
        ccm.place([], [request_])
    assert raised.value.details["field"] == field
    assert raised.value.code == "validation_failed"
    assert isinstance(raised.value, ValueError)


def test_misspelt_keys_are_refused_naming_the_key_and_the_accepted_ones():
    # `cpu` and `memory_gb` for `cpus` and `memory_gib`: placed silently on a
    # worker of default size before; now the caller hears about it.
    with pytest.raises(ccm.InvalidInput) as raised:
        ccm.place([], [{"id": 1, "cpu": 48, "memory_gb": 192}])
    assert raised.value.details["field"] in ("requests[0].cpu", "requests[0].memory_gb")
    assert "accepted: id, cpus" in str(raised.value)
    with pytest.raises(ccm.InvalidInput, match=r"workers\[1\]\.vcpus: is not a known key"):
        ccm.place(
            [{"id": 1, "cpus": 4, "memory_gib": 8}, {"id": 2, "vcpus": 4, "memory_gib": 8}],
            [],
        )
    with pytest.raises(ccm.InvalidInput, match=r"price_table\[0\]\.hourly: is not a known key"):
        ccm.place(
            [],
            [{"id": 1, "cpus": 1, "memory_gib": 1}],
            price_table=[{"name": "m", "vcpus": 4, "memory_gib": 8, "hourly_usd": 1.0,
                          "hourly": 1.0}],
        )
    # Every accepted key at once, None values included, is fine.
    plan = ccm.place(
        [{"id": 1, "cpus": 8, "cpu_millis": None, "memory_gib": 16, "memory_mib": None,
          "storage_gib": 10, "nodes": 5, "running": True, "cml_available": True,
          "draining": False, "licence": None, "cml_version": "2.9.0", "free_ports": None}],
        [{"id": "r", "cpus": 1, "cpu_millis": None, "memory_gib": 1, "memory_mib": None,
          "storage_gib": 1, "nodes": 1, "ports": 0, "licence": None, "min_cml_version": None}],
    )
    assert len(plan.assignments) == 1


def test_bad_policy_and_bad_collections():
    with pytest.raises(ccm.InvalidInput, match="policy"):
        ccm.place([], [], policy="best")
    with pytest.raises(TypeError):
        ccm.place(5, [])
    with pytest.raises(ccm.InvalidInput, match=r"workers\[0\].free_ports"):
        ccm.place([{"id": 1, "cpus": 1, "memory_gib": 1, "free_ports": [(9, 1)]}], [])


def test_random_batches_never_overcommit_and_place_each_request_once():
    rng = random.Random(7)
    for _ in range(20):
        workers = [
            WorkerCapacity(id=f"w{i}", cpus=rng.choice([8, 16, 48]),
                           memory_gib=rng.choice([32, 64, 192]), storage_gib=500,
                           nodes=rng.choice([10, 40, None]),
                           free_ports=[(2000, 2000 + rng.randint(0, 20))])
            for i in range(rng.randint(0, 12))
        ]
        requests = [
            LabletRequest(id=i, cpus=rng.choice([1, 2, 4, 8]), memory_gib=rng.choice([2, 8, 24]),
                          storage_gib=rng.choice([0, 20]), nodes=rng.randint(0, 8),
                          ports=rng.randint(0, 3))
            for i in range(rng.randint(0, 120))
        ]
        plan = ccm.place(workers, requests, policy=rng.choice(["pack", "spread"]))
        seen = sorted([a.request_index for a in plan.assignments]
                      + [u.request_index for u in plan.unplaced])
        assert seen == list(range(len(requests)))
        used = {}
        ports = {}
        for a in plan.assignments:
            r = requests[a.request_index]
            assert a.worker == workers[a.worker_index].id and a.lablet == r.id
            assert len(a.ports) == r.ports
            u = used.setdefault(a.worker_index, [0, 0, 0, 0])
            u[0] += r.cpus
            u[1] += r.memory_gib
            u[2] += r.storage_gib
            u[3] += r.nodes
            for p in a.ports:
                assert p not in ports.setdefault(a.worker_index, set())
                ports[a.worker_index].add(p)
        for index, (cpus, mem, disk, nodes) in used.items():
            w = workers[index]
            assert cpus <= w.cpus and mem <= w.memory_gib and disk <= w.storage_gib
            assert w.nodes is None or nodes <= w.nodes
            first, last = w.free_ports[0]
            assert all(first <= p <= last for p in ports.get(index, ()))


def test_native_timing_releases_the_gil():
    """While Rust places (GIL released), another Python thread keeps running."""
    workers = [WorkerCapacity(id=i, cpus=48, memory_gib=192, storage_gib=1000)
               for i in range(500)]
    requests = [small(i) for i in range(20_000)]
    ticks = []
    result = {}

    def work():
        result["seconds"] = ccm.native_place_seconds(workers, requests, repeat=30)

    thread = threading.Thread(target=work)
    thread.start()
    while thread.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    thread.join()
    assert result["seconds"] > 0
    # Thirty placements ran; if the GIL were held, this thread would have stood still
    # through all of them. It ticked throughout instead.
    assert len(ticks) > 10


def test_lifetime_places_with_the_worker_whose_lablets_end_together():
    from datetime import datetime, timedelta, timezone

    noon = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
    workers = [
        WorkerCapacity(id="empty", cpus=8, memory_gib=32, storage_gib=100),
        WorkerCapacity(id="until-13", cpus=48, memory_gib=192, storage_gib=1000,
                       busy_until=noon + timedelta(hours=1)),
        WorkerCapacity(id="until-16", cpus=48, memory_gib=192, storage_gib=1000,
                       busy_until=(noon + timedelta(hours=4)).timestamp()),
    ]
    ending = lambda i, hours: small(i, ends_at=noon + timedelta(hours=hours))
    assert ccm.place(workers, [ending(1, 0.5)], policy="lifetime").assignments[0].worker == "until-13"
    assert ccm.place(workers, [ending(1, 6)], policy="lifetime").assignments[0].worker == "until-16"
    # No end: packed onto the fullest, as pack does.
    assert ccm.place(workers, [small(1)], policy="lifetime").assignments[0].worker == "empty"
    assert ccm.place(workers, [ending(1, 0.5)], policy="pack").assignments[0].worker == "empty"
    # Columns take Unix seconds.
    columns = {"id": ["a", "b"], "cpus": [48, 48], "memory_gib": [192, 192],
               "busy_until": [noon.timestamp(), (noon + timedelta(hours=3)).timestamp()]}
    request = {"id": ["x"], "cpus": [4], "memory_gib": [8],
               "ends_at": [(noon + timedelta(hours=2)).timestamp()]}
    assert ccm.place(columns, request, policy="lifetime").assignments[0].worker == "b"


def test_lifetime_refuses_naive_and_out_of_range_times():
    from datetime import datetime

    for bad, message in [
        (datetime(2026, 12, 7, 12), "timezone-aware"),
        (-1, "between 1970 and 9999"),
        ("noon", "datetime or seconds"),
        (True, "not a bool"),
    ]:
        with pytest.raises(ccm.InvalidInput, match=rf"requests\[0\].ends_at: .*{message}"):
            ccm.place([{"id": 1, "cpus": 8, "memory_gib": 8}],
                      [{"id": 1, "cpus": 1, "memory_gib": 1, "ends_at": bad}], policy="lifetime")
