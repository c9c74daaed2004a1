"""Engines that share a PostgreSQL database take part in the one leader election
(`ccm serve` uses the same lease): only the holder drives, the other refuses
naming it, and use cases run anywhere."""

import gc
import os
import subprocess
import uuid
from typing import Iterator

import pytest

import ccm

SERVER = os.environ.get("CCM_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


def _psql(sql: str) -> None:
    subprocess.run(["psql", SERVER, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True)


@pytest.fixture
def database() -> Iterator[str]:
    """A database of its own on the test server, dropped afterwards."""
    name = f"ccm_py_{uuid.uuid4().hex[:12]}"
    _psql(f"CREATE DATABASE {name}")
    try:
        yield SERVER.rsplit("/", 1)[0] + "/" + name
    finally:
        gc.collect()
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_only_the_lease_holder_drives_and_a_dropped_engine_hands_the_lease_on(database):
    first = ccm.Engine.open(database, "sim", regions=["us-east-1"])
    second = ccm.Engine.open(database, "sim", regions=["us-east-1"])
    first.step()

    with pytest.raises(ccm.Conflict) as refused:
        second.step()
    assert refused.value.code == "not_leading"
    assert refused.value.details["lease"] == "ccm-controllers"
    assert refused.value.details["holder"].startswith("python-")
    with pytest.raises(ccm.Conflict):
        second.advance(60)

    # Use cases are not the leader's: any engine takes them, the leader acts.
    worker = second.create_worker("w-shared", region="us-east-1")
    assert [w.id for w in first.list_workers()] == [worker.id]
    first.step()

    del first
    gc.collect()
    second.step()  # the lease was given up: no waiting for it to run out
    assert second.get_worker(worker.id).name == "w-shared"


def test_a_follower_is_woken_by_another_engines_commit(database):
    import threading
    import time

    writer = ccm.Engine.open(database, "sim", regions=["us-east-1"])
    reader = ccm.Engine.open(database, "sim", regions=["us-east-1"])
    head = max([0] + [int(e.sequence) for e in reader.read_events(0, 10_000)])
    seen = []

    def follow():
        for event in reader.events(after=head, follow=True):
            seen.append(event)
            if event.type == "worker.created.v2":
                return

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    time.sleep(0.3)  # the follower is waiting at the head of the log
    started = time.monotonic()
    writer.create_worker("w-notified", region="us-east-1")
    follower.join(timeout=20)
    assert not follower.is_alive(), "the commit of another engine woke the follower"
    assert time.monotonic() - started < 10
    assert seen[-1].type == "worker.created.v2"
