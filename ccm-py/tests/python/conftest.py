"""Shared fixtures: a simulated engine, and moto (AWS emulator) on a free port."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

import ccm

REPO = Path(__file__).resolve().parents[3]
MOTO_SUPPORT = REPO / "ccm-aws" / "tests" / "support"

#: A CML topology with `nodes` routers, accepted by the engine's validation.
def topology(nodes: int) -> str:
    lines = ["lab:", "  title: t", "nodes:"]
    for n in range(nodes):
        lines += [f"  - id: n{n}", f"    label: r{n}", "    node_definition: iosv"]
    lines.append("links: []")
    return "\n".join(lines) + "\n"


@pytest.fixture
def engine() -> ccm.Engine:
    """A simulated engine in memory, one region."""
    return ccm.Engine.open("memory", "sim", regions=["us-east-1"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, process: "subprocess.Popen[bytes]", timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's server (with ccm-aws's test patches and CML AMIs) on a free port."""
    if shutil.which("moto_server", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("moto_server is not installed (run ./scripts/setup-python)")
    workdir = Path(tempfile.mkdtemp(prefix="ccm-py-moto-"))
    amis = workdir / "amis.json"
    shutil.copy(MOTO_SUPPORT / "amis.json", amis)
    env = dict(os.environ, MOTO_AMIS_PATH=str(amis), MOTO_ENABLE_AMI_VALIDATION="true")
    for _ in range(3):
        port = _free_port()
        log = open(workdir / f"moto-{port}.log", "wb")
        process = subprocess.Popen(
            [sys.executable, str(MOTO_SUPPORT / "moto_server.py"), "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )
        if _wait_listening(port, process, 60):
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                process.terminate()
                process.wait(timeout=10)
                log.close()
                shutil.rmtree(workdir, ignore_errors=True)
            return
        process.kill()
        process.wait()
        log.close()
    raise RuntimeError(f"moto did not start; see {workdir}")
