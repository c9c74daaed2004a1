"""Placement of 100k lablets from Python against the same placement timed inside
Rust, in one run: how much the Python boundary (reading the objects, building the
plan's objects) costs over ccm-core's own work, for each input form — rows of
dataclasses, rows of dicts, columns (a dict of lists) and, when numpy is
installed, columns of numpy arrays.

    python ccm-py/benches/place_bench.py            # 100,000 lablets, 5,000 workers
    python ccm-py/benches/place_bench.py --quick    # 10,000 lablets, 500 workers

Prints one line per measurement and a JSON summary last. The Python time is
`ccm.place` alone; `plan.unplaced` is built on first access and its cost is
printed next to it.
"""

import argparse
import json
import random
import time

import ccm
from ccm import LabletRequest, WorkerCapacity

#: (cpus, memory GiB, storage GiB, nodes, ports): the shapes of a few definitions.
SHAPES = [(4, 8, 20, 4, 2), (8, 24, 40, 8, 4), (2, 4, 10, 2, 1), (16, 48, 80, 12, 6)]


def inputs(lablets, workers, form):
    """Workers and requests as `form`: dataclasses, dicts, columns or numpy."""
    rng = random.Random(42)
    ws = [
        WorkerCapacity(id=f"w{i}", cpus=rng.choice([48, 96]), memory_gib=rng.choice([192, 384]),
                       storage_gib=1000, nodes=rng.choice([100, 200]),
                       licence=rng.choice([None, "enterprise"]), cml_version="2.9.0")
        for i in range(workers)
    ]
    rs = []
    for i in range(lablets):
        cpus, mem, disk, nodes, ports = rng.choice(SHAPES)
        r = LabletRequest(id=i, cpus=cpus, memory_gib=mem, storage_gib=disk, nodes=nodes,
                          ports=ports)
        rs.append(r)
    if form == "dataclasses":
        return ws, rs
    if form == "dicts":
        return [w.__dict__.copy() for w in ws], [r.__dict__.copy() for r in rs]
    return columns(ws, form), columns(rs, form)


def columns(rows, form):
    """The rows as a dict of columns (numpy arrays for numeric columns with `numpy`)."""
    names = [n for n in rows[0].__dict__ if any(getattr(r, n) is not None for r in rows)]
    table = {n: [getattr(r, n) for r in rows] for n in names}
    if form == "numpy":
        import numpy

        table = {n: numpy.asarray(c) if isinstance(c[0], (int, float)) else c
                 for n, c in table.items()}
    return table


def forms():
    try:
        import numpy  # noqa: F401
    except ImportError:
        return ["dataclasses", "dicts", "columns"]
    return ["dataclasses", "dicts", "columns", "numpy"]


def best(runs, function):
    times = []
    result = None
    for _ in range(runs):
        # Freeing the previous plan (100k objects) is not part of the call timed.
        result = None
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k lablets, 500 workers")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    lablets, workers = (10_000, 500) if args.quick else (100_000, 5_000)
    summary = {"lablets": lablets, "workers": workers}
    for label in forms():
        ws, rs = inputs(lablets, workers, label)
        python_s, plan = best(args.runs, lambda: ccm.place(ws, rs))
        rust_s = ccm.native_place_seconds(ws, rs, repeat=args.runs)
        # `plan.unplaced` is built on first access: timed apart, and shown added.
        started = time.perf_counter()
        unplaced = len(plan.unplaced)
        unplaced_s = time.perf_counter() - started
        placed = len(plan.assignments)
        assert placed + unplaced == lablets
        assert placed > 0, "the bench must place something to mean anything"
        ratio = python_s / rust_s
        with_unplaced = (python_s + unplaced_s) / rust_s
        print(f"{label:12} python {python_s * 1e3:8.1f} ms   rust {rust_s * 1e3:8.1f} ms   "
              f"ratio {ratio:5.2f}x   placed {placed}/{lablets}   "
              f"{lablets / python_s / 1e6:.2f} M lablets/s from Python   "
              f"(+ plan.unplaced {unplaced_s * 1e3:.1f} ms: {with_unplaced:.2f}x)")
        summary[label] = {"python_s": python_s, "rust_s": rust_s, "ratio": ratio,
                          "unplaced_s": unplaced_s, "ratio_with_unplaced": with_unplaced,
                          "placed": placed}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
