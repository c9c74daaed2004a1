"""ccm.place's inputs: columns as well as rows, unknown keys refused, __version__."""

import array
import collections
import dataclasses
import random
import re
from pathlib import Path
from types import MappingProxyType, SimpleNamespace

import pytest

import ccm
from ccm import LabletRequest, WorkerCapacity

REPO = Path(__file__).resolve().parents[3]


def rows_and_columns(rng, lablets, workers):
    ws = [
        WorkerCapacity(id=f"w{i}", cpus=rng.choice([8, 16, 48]),
                       memory_gib=rng.choice([32, 64, 192]), storage_gib=500,
                       nodes=rng.choice([10, 40, None]), draining=rng.random() < 0.1,
                       licence=rng.choice([None, "enterprise", "personal"]),
                       cml_version=rng.choice([None, "2.8.0", "2.9.1"]),
                       free_ports=rng.choice([None, [(2000, 2000 + rng.randint(0, 20))]]))
        for i in range(workers)
    ]
    rs = [
        LabletRequest(id=i, cpus=rng.choice([1, 2.5, 4, 8]), memory_gib=rng.choice([2, 8, 24]),
                      storage_gib=rng.choice([0, 20]), nodes=rng.randint(0, 8),
                      ports=rng.randint(0, 3), licence=rng.choice([None, "enterprise"]),
                      min_cml_version=rng.choice([None, "2.9.0"]))
        for i in range(lablets)
    ]
    return ws, rs


def columns(rows):
    return {f.name: [getattr(r, f.name) for r in rows] for f in dataclasses.fields(rows[0])}


@pytest.mark.parametrize("seed", range(8))
def test_columns_give_the_same_plan_as_rows(seed):
    rng = random.Random(seed)
    ws, rs = rows_and_columns(rng, rng.randint(1, 200), rng.randint(1, 15))
    for policy in ("pack", "spread"):
        by_rows = ccm.place(ws, rs, policy=policy)
        assert ccm.place(columns(ws), columns(rs), policy=policy) == by_rows
        assert ccm.place(ws, columns(rs), policy=policy) == by_rows
        dicts = [dataclasses.asdict(r) for r in rs]
        assert ccm.place(columns(ws), dicts, policy=policy) == by_rows


def test_columns_may_be_tuples_ranges_arrays_and_mappings():
    workers = {"id": ("a", "b"), "cpus": array.array("d", [4, 10]),
               "memory_gib": (16, 32), "nodes": [None, 10]}
    requests = MappingProxyType({"id": range(3), "cpus": array.array("l", [8, 4, 2]),
                                 "memory_gib": (x for x in (1, 1, 1))})
    plan = ccm.place(workers, requests)
    placed = {a.lablet: a.worker for a in plan.assignments}
    assert placed == {0: "b", 1: "a", 2: "b"}
    assert ccm.place({}, {}).assignments == []


def test_numpy_columns():
    numpy = pytest.importorskip("numpy")
    ws, rs = rows_and_columns(random.Random(3), 300, 10)
    wc, rc = columns(ws), columns(rs)
    numeric = {"id", "cpus", "memory_gib", "storage_gib", "nodes", "ports"}
    rc_np = {k: numpy.asarray(v) if k in numeric else v for k, v in rc.items()}
    wc_np = dict(wc, cpus=numpy.asarray(wc["cpus"], dtype=numpy.float32),
                 draining=numpy.asarray(wc["draining"]))
    assert ccm.place(wc_np, rc_np) == ccm.place(ws, rs)
    # numpy scalars in a plain list are numbers too.
    plan = ccm.place(wc, dict(rc, cpus=list(numpy.asarray(rc["cpus"]))))
    assert plan == ccm.place(ws, rs)
    with pytest.raises(ccm.InvalidInput) as raised:
        ccm.place([], {"id": numpy.arange(3), "cpus": numpy.ones(2), "memory_gib": [1] * 3})
    assert raised.value.details["field"] == "requests.cpus"
    with pytest.raises(ccm.InvalidInput, match=r"requests\.cpus: must be a list"):
        ccm.place([], {"id": [1], "cpus": numpy.float64(2.0), "memory_gib": [1]})


def test_columns_of_unequal_length_name_the_column():
    with pytest.raises(ccm.InvalidInput) as raised:
        ccm.place([], {"id": [1, 2, 3], "cpus": [1, 2, 3], "memory_gib": [1, 2]})
    assert raised.value.details["field"] == "requests.memory_gib"
    assert "has 2 values where requests.id has 3" in str(raised.value)
    # Without an id column the first column is the yardstick.
    with pytest.raises(ccm.InvalidInput) as raised:
        ccm.place({"cpus": [1], "memory_gib": [1, 2]}, [])
    assert raised.value.details["field"] == "workers.memory_gib"


def test_columnar_errors_name_the_column_and_row():
    with pytest.raises(ccm.InvalidInput) as raised:
        ccm.place([], {"id": [1, 2], "cpus": [1, "two"], "memory_gib": [1, 1]})
    assert raised.value.details["field"] == "requests.cpus[1]"
    with pytest.raises(ccm.InvalidInput, match=r"requests\.id\[0\]: is required"):
        ccm.place([], {"cpus": [1], "memory_gib": [1]})
    for not_a_column in ("abc", 4, {"a": 1}, None):
        with pytest.raises(ccm.InvalidInput, match=r"requests\.cpus: must be a list"):
            ccm.place([], {"id": [1], "cpus": not_a_column})


def test_unknown_columns_are_refused_naming_them_and_the_accepted_ones():
    with pytest.raises(ccm.InvalidInput) as raised:
        ccm.place([], {"id": [1], "cpu": [48], "memory_gib": [192]})
    assert raised.value.details["field"] == "requests.cpu"
    assert raised.value.details["reason"] == (
        "is not a known column; accepted: id, cpus, cpu_millis, memory_gib, memory_mib, "
        "storage_gib, nodes, ports, licence, min_cml_version, ends_at")
    with pytest.raises(ccm.InvalidInput, match=r"workers\.ports: is not a known column"):
        ccm.place({"id": [1], "cpus": [4], "memory_gib": [8], "ports": [2]}, [])
    with pytest.raises(ccm.InvalidInput, match=r"is not a known column"):
        ccm.place([], {1: [1]})


def test_unknown_dict_keys_list_every_accepted_key():
    with pytest.raises(ccm.InvalidInput) as raised:
        ccm.place([], [{"id": 1, "cpu": 48, "memory_gb": 192}])
    assert raised.value.details["field"] in ("requests[0].cpu", "requests[0].memory_gb")
    assert raised.value.details["reason"].endswith(
        "accepted: id, cpus, cpu_millis, memory_gib, memory_mib, storage_gib, nodes, ports, "
        "licence, min_cml_version, ends_at")
    with pytest.raises(ccm.InvalidInput, match=r"requests\[0\]\.1: is not a known key"):
        ccm.place([], [{"id": 1, "cpus": 1, "memory_gib": 1, 1: 1}])
    # A dict subclass is a dict.
    with pytest.raises(ccm.InvalidInput, match=r"requests\[0\]\.cpu: is not a known key"):
        ccm.place([], [collections.OrderedDict(id=1, cpu=1, memory_gib=1)])


def test_dict_keys_are_matched_by_text_as_well_as_by_identity():
    # Keys built at run time are not the interned names: they still count, and
    # give the same plan as literal keys.
    def built(name):
        return "".join(list(name))

    worker = {built("id"): "w0", built("cpus"): 8, built("memory_gib"): 32,
              built("storage_gib"): 100}
    request = {built("id"): 1, built("cpus"): 2, built("memory_gib"): 4}
    name = "cpus"
    assert built(name) is not name and built(name) == name
    plan = ccm.place([worker], [request])
    literal = ccm.place([{"id": "w0", "cpus": 8, "memory_gib": 32, "storage_gib": 100}],
                        [{"id": 1, "cpus": 2, "memory_gib": 4}])
    assert plan.to_dict() == literal.to_dict()
    assert plan.assignments[0].worker == "w0"
    # A field of another kind (a worker's `running`) is no request key.
    with pytest.raises(ccm.InvalidInput, match=r"requests\[0\]\.running: is not a known key"):
        ccm.place([worker], [{"id": 1, "cpus": 1, "memory_gib": 1, built("running"): True}])


@dataclasses.dataclass
class Misspelt:
    id: int
    cpu: float
    memory_gib: float


class Slotted:
    __slots__ = ("id", "cpus", "memory_gb")

    def __init__(self):
        self.id, self.cpus, self.memory_gb = 1, 1, 1


Row = collections.namedtuple("Row", ["id", "cpus", "memory_gib", "color"])
GoodRow = collections.namedtuple("GoodRow", ["id", "cpus", "memory_gib"])


class WithProperty:
    """Properties and class attributes are read but cannot be listed."""

    storage_gib = 0

    def __init__(self):
        self.id = "p"
        self._cache = {}  # private: not a field, not refused

    @property
    def cpus(self):
        return 2

    @property
    def memory_gib(self):
        return 4

    @property
    def cpu(self):  # misspelt, but a property: not detectable
        return 99


class Dynamic:
    """Attributes answered by `__getattr__` are read as well."""

    def __getattr__(self, name):
        if name in ("id", "cpus", "memory_gib"):
            return 1
        raise AttributeError(name)


@pytest.mark.parametrize(
    "obj, field",
    [
        (SimpleNamespace(id=1, cpu=48, memory_gib=192), "requests[0].cpu"),
        (Misspelt(id=1, cpu=48, memory_gib=192), "requests[0].cpu"),
        (Slotted(), "requests[0].memory_gb"),
        (Row(1, 4, 8, "red"), "requests[0].color"),
    ],
)
def test_unknown_attributes_of_listable_objects_are_refused(obj, field):
    with pytest.raises(ccm.InvalidInput) as raised:
        ccm.place([], [obj])
    assert raised.value.details["field"] == field
    assert raised.value.details["reason"].startswith("is not a known attribute; accepted: id, cpus")


def _slotted(name, fields):
    """A dataclass with ``__slots__`` and no ``__dict__``, on every Python the wheel
    supports (``dataclass(slots=True)`` is 3.10+; ``__slots__`` in the body is older)."""
    return dataclasses.dataclass(
        type(name, (), {"__slots__": tuple(fields), "__annotations__": {f: int for f in fields}})
    )


def test_slotted_dataclasses_are_checked_too():
    Slots = _slotted("Slots", ["id", "cpus", "memory_gb"])
    assert not hasattr(Slots(1, 1, 1), "__dict__")
    with pytest.raises(ccm.InvalidInput, match=r"requests\[0\]\.memory_gb: is not a known"):
        ccm.place([], [Slots(1, 1, 1)])
    Good = _slotted("Good", ["id", "cpus", "memory_gib"])
    assert len(ccm.place([WorkerCapacity("w", 4, 8)], [Good(1, 1, 1)]).assignments) == 1


def test_objects_read_through_properties_getattr_and_named_tuples():
    workers = [WorkerCapacity("w", cpus=8, memory_gib=16)]
    requests = [WithProperty(), Dynamic(), GoodRow(3, 1, 1)]
    plan = ccm.place(workers, requests)
    assert sorted(map(str, (a.lablet for a in plan.assignments))) == ["1", "3", "p"]
    by_lablet = {a.lablet: a for a in plan.assignments}
    assert by_lablet["p"].request_index == 0


def test_version_follows_the_crate_version():
    cargo = (REPO / "ccm-py" / "Cargo.toml").read_text()
    if re.search(r"^version\.workspace\s*=\s*true", cargo, re.M):
        workspace = (REPO / "Cargo.toml").read_text()
        package = workspace.split("[workspace.package]", 1)[1].split("\n[", 1)[0]
        cargo = package
    expected = re.search(r'^version\s*=\s*"([^"]+)"', cargo, re.M).group(1)
    assert ccm.__version__ == expected
    assert ccm._native.__version__ == expected
    assert "__version__" in ccm.__all__


def big_columns(n):
    rng = random.Random(11)
    workers = [WorkerCapacity(id=f"w{i}", cpus=rng.choice([48, 96]), memory_gib=384,
                              storage_gib=2000, nodes=rng.choice([100, 200]))
               for i in range(60)]
    requests = [LabletRequest(id=i, cpus=rng.choice([2, 4, 8]), memory_gib=rng.choice([4, 8]),
                              storage_gib=rng.choice([10, 20]), nodes=rng.randint(1, 8),
                              ports=rng.randint(0, 3))
                for i in range(n)]
    return workers, requests


def test_columns_across_chunks_fall_back_per_value_where_needed():
    # 20,000 rows span three chunks of 8,192; a None, a float and a bool in
    # the middle make their chunk read value by value, with the same result.
    workers, requests = big_columns(20_000)
    expected = ccm.place(workers, requests)
    table = columns(requests)
    table["cpus"][15_000] = float(table["cpus"][15_000])
    table["storage_gib"][9_000] = None
    table["ports"][3] = bool(table["ports"][3])
    rows = list(requests)
    rows[9_000] = dataclasses.replace(rows[9_000], storage_gib=0)
    rows[3] = dataclasses.replace(rows[3], ports=bool(rows[3].ports))
    assert ccm.place(columns(workers), table) == ccm.place(workers, rows)
    assert ccm.place(columns(workers), columns(requests)) == expected


def test_bad_values_in_long_columns_name_their_row():
    n = 20_000
    base = {"id": list(range(n)), "cpus": [1] * n, "memory_gib": [1] * n}
    for column, value, reason in [
        ("nodes", -1, "must be a non-negative integer"),
        ("ports", 2.5, "must be a non-negative integer"),
        ("cpus", float("nan"), "must be a finite, non-negative number"),
        ("cpus", -0.5, "must be a finite, non-negative number"),
        ("memory_gib", "8", "must be a number"),
        ("nodes", 2**40, "is too large"),
    ]:
        table = {k: list(v) for k, v in base.items()}
        table.setdefault(column, [0] * n)[12_345] = value
        with pytest.raises(ccm.InvalidInput) as raised:
            ccm.place([], table)
        assert raised.value.details == {"field": f"requests.{column}[12345]", "reason": reason}
    with pytest.raises(ccm.InvalidInput, match=r"requests\.id\[17000\]: is required"):
        ccm.place([], dict(base, id=list(range(17_000)) + [None] * 3_000))


def test_numpy_dtypes_and_byte_orders_read_like_lists():
    numpy = pytest.importorskip("numpy")
    workers, requests = big_columns(10_000)
    table = columns(requests)
    expected = ccm.place(workers, requests)
    numeric = ("cpus", "memory_gib", "storage_gib", "nodes", "ports")
    for dtype in ("<i8", ">i8", "<u2", "<i4", "<f4", ">f8", "<u1"):
        typed = dict(table, **{k: numpy.asarray(table[k], dtype=dtype) for k in numeric})
        if typed["cpus"].dtype.kind == "f":
            # Counts must be integers, as in rows: only amounts may be floats.
            typed.update({k: numpy.asarray(table[k]) for k in numeric[2:]})
        assert ccm.place(workers, typed) == expected, dtype
    flags = dict(columns(workers), draining=numpy.zeros(len(workers), dtype=bool))
    assert ccm.place(flags, requests) == expected
    with pytest.raises(ccm.InvalidInput) as raised:
        ccm.place([], dict(table, storage_gib=numpy.asarray(table["storage_gib"], dtype=float)))
    assert raised.value.details["field"] == "requests.storage_gib[0]"
    negative = numpy.asarray(table["nodes"])
    negative[9_999] = -3
    with pytest.raises(ccm.InvalidInput, match=r"requests\.nodes\[9999\]"):
        ccm.place([], dict(table, nodes=negative))
    # A two-dimensional array is a column of rows: each value is refused.
    with pytest.raises(ccm.InvalidInput, match=r"requests\.cpus\[0\]: must be a number"):
        ccm.place([], dict(table, cpus=numpy.ones((10_000, 2))))


def test_a_price_table_may_be_columns_too():
    table = {"name": ["m.small"], "vcpus": [16], "memory_gib": [64], "storage_gib": [500],
             "node_slots": [40], "hourly_usd": [1.0]}
    rows = [ccm.PriceRow("m.small", 16, 64, 500, 40, 1.0)]
    requests = [LabletRequest(id=i, cpus=4, memory_gib=8) for i in range(30)]
    assert ccm.place([], requests, price_table=table) == ccm.place([], requests, price_table=rows)
    with pytest.raises(ccm.InvalidInput, match=r"price_table\.hourly: is not a known column"):
        ccm.place([], requests, price_table=dict(table, hourly=[1.0]))


def test_the_garbage_collector_is_left_as_it_was():
    import gc

    workers, requests = big_columns(3_000)
    assert gc.isenabled()
    plan = ccm.place(workers, requests)
    assert gc.isenabled()
    gc.disable()
    try:
        ccm.place(workers, requests).unplaced
        assert not gc.isenabled()
    finally:
        gc.enable()
    # Unplaced lablets become objects on first access, once.
    assert plan.unplaced is plan.unplaced
    assert len(plan.assignments) + len(plan.unplaced) == len(requests)
    assert plan.is_complete() == (not plan.unplaced)
