"""The official Python CML client (PyPI `virl2-client`) against the `cml-sim` binary.

If the official client is happy, the simulator speaks real CML. The simulator runs
over HTTPS with its self-signed certificate (so `ssl_verify=False`, as against a fresh
CML), nodes boot in a second and licence registration completes in a second.

Run (from the repository root):

    scripts/setup-python
    cargo build -p ccm-sim --bin cml-sim
    CML_SIM_BIN="${CARGO_TARGET_DIR:-target}/debug/cml-sim" .venv/bin/python -m pytest -q ccm-cml/tests/python
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import pytest
from virl2_client import ClientLibrary
from virl2_client.exceptions import APIError, LabNotFound

USER = "admin"
PASSWORD = "official-client-pw"
REPO = Path(__file__).resolve().parents[3]

TOPOLOGY = """\
lab:
  description: two nodes, one link
  notes: ''
  title: from the file
  version: 0.2.2
links:
  - id: l0
    n1: n0
    n2: n1
    i1: i0
    i2: i0
    label: r1-eth0<->s1-eth0
nodes:
  - id: n0
    label: r1
    node_definition: iosv
    x: 0
    y: 0
    interfaces:
      - id: i0
        label: GigabitEthernet0/0
        slot: 0
        type: physical
  - id: n1
    label: s1
    node_definition: alpine
    x: 200
    y: 0
    interfaces:
      - id: i0
        label: eth0
        slot: 0
        type: physical
"""


def _binary() -> str:
    configured = os.environ.get("CML_SIM_BIN")
    candidates = [configured] if configured else []
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        candidates.append(str(Path(target) / "debug" / "cml-sim"))
    candidates.append(str(REPO / "target" / "debug" / "cml-sim"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail(
        "cml-sim not found: build it with `cargo build -p ccm-sim --bin cml-sim` "
        f"and set CML_SIM_BIN (tried {candidates})"
    )


class Simulator:
    """One `cml-sim` process; its URL is the first line it prints."""

    def __init__(self, *extra: str) -> None:
        args = [
            _binary(),
            "--tls",
            "--listen",
            "127.0.0.1:0",
            "--username",
            USER,
            "--password",
            PASSWORD,
            "--node-boot-secs",
            "1",
            "--registration-secs",
            "1",
            *extra,
        ]
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        assert self.url.startswith("https://127.0.0.1:"), self.url

    def client(self) -> ClientLibrary:
        return ClientLibrary(
            self.url,
            USER,
            PASSWORD,
            ssl_verify=False,
            raise_for_auth_failure=True,
            convergence_wait_time=0.2,
            convergence_wait_max_iter=100,
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def sim():
    simulator = Simulator()
    yield simulator
    simulator.stop()


@pytest.fixture(autouse=True)
def quiet_warnings(caplog):
    # The official client warns about disabled TLS verification and port 443.
    caplog.set_level(logging.ERROR)


def test_lab_lifecycle(sim: Simulator) -> None:
    client = sim.client()
    lab = client.import_lab(TOPOLOGY, title="official client")
    lab_id = lab.id
    assert lab.title == "official client"
    assert lab.description == "two nodes, one link"
    assert {n.label for n in lab.nodes()} == {"r1", "s1"}
    assert len(lab.links()) == 1
    assert lab.state() == "DEFINED_ON_CORE"
    assert lab.id in client.get_lab_list(show_all=True)

    lab.start()  # waits until the lab converged
    assert lab.is_active()
    assert lab.has_converged()
    lab.sync_states()
    assert {n.state for n in lab.nodes()} == {"BOOTED"}
    details = lab.details()
    assert details["node_count"] == 2 and details["state"] == "STARTED"

    stats = client.get_system_stats()
    dominfo = next(iter(stats["computes"].values()))["stats"]["dominfo"]
    assert dominfo["running_nodes"] == 2
    assert dominfo["allocated_cpus"] == 2

    lab.stop()
    assert lab.state() == "STOPPED"
    lab.wipe()
    assert lab.state() == "DEFINED_ON_CORE"
    topology_text = lab.download()
    assert "node_definition: iosv" in topology_text
    lab.remove()
    assert lab_id not in client.get_lab_list(show_all=True)
    with pytest.raises(LabNotFound):
        client.join_existing_lab(lab_id)


def test_system_stats_health_and_information(sim: Simulator) -> None:
    client = sim.client()
    assert client.system_info()["version"].startswith("2.9.")
    assert client.is_system_ready()
    stats = client.get_system_stats()
    assert stats["all"]["cpu"]["count"] > 0
    assert stats["all"]["memory"]["total"] >= stats["all"]["memory"]["used"] > 0
    compute = next(iter(stats["computes"].values()))
    assert compute["is_controller"] is True
    health = client.get_system_health()
    assert health["valid"] is True
    definitions = client.definitions.node_definitions()
    assert any(d["id"] == "alpine" for d in definitions)
    assert any(i["node_definition_id"] == "alpine" for i in client.definitions.image_definitions())


def test_licensing(sim: Simulator) -> None:
    client = sim.client()
    status = client.licensing.status()
    assert status["registration"]["status"] == "NOT_REGISTERED"
    assert status["product_license"]["is_enterprise"] is False
    assert client.licensing.register("a-valid-token") is True
    client.licensing.wait_for_status("registration", "COMPLETED")
    status = client.licensing.status()
    assert status["authorization"]["status"] == "IN_COMPLIANCE"
    assert status["registration"]["expires"]  # "2026-08-20 17:25:30" style
    assert client.get_system_health()["is_licensed"] is True
    assert client.licensing.deregister() == 204
    assert client.licensing.status()["registration"]["status"] == "NOT_REGISTERED"


def test_errors_carry_cmls_descriptions(sim: Simulator) -> None:
    client = sim.client()
    big = client.import_lab(TOPOLOGY.replace("title: from the file", "title: big"))
    small = client.import_lab(TOPOLOGY)
    # 2 + 2 nodes fit the unlicensed 5; a third lab does not.
    big.start()
    small.start()
    third = client.import_lab(TOPOLOGY)
    with pytest.raises(APIError, match="Cannot start lab"):
        third.start(wait=False)
    with pytest.raises(APIError, match="stop it before wiping"):
        small.wipe(wait=False)
    with pytest.raises(APIError, match="Import failed"):
        client.import_lab("lab:\n  title: no nodes\n")
    for lab in (big, small, third):
        lab.stop()
        lab.wipe()
        lab.remove()
    assert client.get_lab_list(show_all=True) == []


def test_expired_tokens_are_renewed_by_the_official_client() -> None:
    short = Simulator("--token-lifetime-secs", "1")
    try:
        client = short.client()
        assert client.get_lab_list() == []
        time.sleep(1.5)
        # The stored token is now refused with a 401; the client logs in again.
        assert client.get_lab_list() == []
        assert client.licensing.status()["registration"]["status"] == "NOT_REGISTERED"
    finally:
        short.stop()
