"""Placement of 100k lablets from Python against the same placement timed inside
Rust, in one run: how much the Python boundary (reading the objects, building the
plan's objects) costs over ccm-core's own work.

    python ccm-py/benches/place_bench.py            # 100,000 lablets, 5,000 workers
    python ccm-py/benches/place_bench.py --quick    # 10,000 lablets, 500 workers

Prints one line per measurement and a JSON summary last.
"""

import argparse
import json
import random
import time

import ccm
from ccm import LabletRequest, WorkerCapacity

#: (cpus, memory GiB, storage GiB, nodes, ports): the shapes of a few definitions.
SHAPES = [(4, 8, 20, 4, 2), (8, 24, 40, 8, 4), (2, 4, 10, 2, 1), (16, 48, 80, 12, 6)]


def inputs(lablets, workers, as_dicts):
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
        rs.append(r.__dict__.copy() if as_dicts else r)
    return ws, rs


def best(runs, function):
    times = []
    result = None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k lablets, 500 workers")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lablets, workers = (10_000, 500) if args.quick else (100_000, 5_000)
    summary = {"lablets": lablets, "workers": workers}
    for label, as_dicts in (("dataclasses", False), ("dicts", True)):
        ws, rs = inputs(lablets, workers, as_dicts)
        python_s, plan = best(args.runs, lambda: ccm.place(ws, rs))
        rust_s = ccm.native_place_seconds(ws, rs, repeat=args.runs)
        placed = len(plan.assignments)
        assert placed + len(plan.unplaced) == lablets
        assert placed > 0, "the bench must place something to mean anything"
        ratio = python_s / rust_s
        print(f"{label:12} python {python_s * 1e3:8.1f} ms   rust {rust_s * 1e3:8.1f} ms   "
              f"ratio {ratio:5.2f}x   placed {placed}/{lablets}   "
              f"{lablets / python_s / 1e6:.2f} M lablets/s from Python")
        summary[label] = {"python_s": python_s, "rust_s": rust_s, "ratio": ratio,
                          "placed": placed}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
