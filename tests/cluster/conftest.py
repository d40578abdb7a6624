"""Shared pieces of the multi-file / distributed tests (issue 21): captures cut by Wireshark's
``editcap``, glued back by ``mergecap -a`` (the independent reference), a synthetic capture with
several host pairs, and a separate ``dask scheduler`` + two ``dask worker`` processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
_SCHED, _WORKER = "distributed.cli.dask_scheduler", "distributed.cli.dask_worker"


def tool(name: str) -> str:
    exe = shutil.which(name)
    assert exe, f"{name} is needed (Debian wireshark-common, installed with tshark)"
    return exe


def editcap_split(capture: Path, out: Path, every: int) -> list[Path]:
    """``editcap -F pcap -c every``: the parts, in time order (editcap numbers them)."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [tool("editcap"), "-F", "pcap", "-c", str(every), str(capture), str(out / "r.pcap")],
        check=True,
        capture_output=True,
    )
    parts = sorted(out.glob("r_*.pcap"))
    assert len(parts) >= 2
    return parts


def mergecap(parts: list[Path], out: Path) -> Path:
    """``mergecap -a -F pcap``: the parts concatenated in the order given."""
    subprocess.run(
        [tool("mergecap"), "-a", "-F", "pcap", "-w", str(out), *map(str, parts)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="session")
def synth_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A TLS 1.2 capture of 6 interleaved connections from 6 client addresses (6 host pairs),
    300 frames, and its key log (tools/synth.py)."""
    d = tmp_path_factory.mktemp("synth")
    cap, keys = d / "s.pcap", d / "s.keys"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "synth.py"), "tls12", str(cap), "--keys", str(keys),
         "--connections", "6", "--records", "40"],
        check=True, capture_output=True, cwd=ROOT,
    )  # fmt: skip
    return cap, keys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def dask_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` processes (no nanny: one process each, so
    killing the PID we started ends it) on 127.0.0.1, ports chosen free now."""
    pytest.importorskip("distributed")
    # the `dask` command (dask[distributed], the test extra); where the environment's scripts
    # are not on PATH, the same commands through this interpreter
    dask = shutil.which("dask")
    command = {
        "scheduler": [dask, "scheduler"] if dask else [sys.executable, "-m", _SCHED],
        "worker": [dask, "worker"] if dask else [sys.executable, "-m", _WORKER],
    }
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # workers import this tree's netsec_layers
    logs = tmp_path_factory.mktemp("dask")
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, kind: str, *args: str) -> None:
        log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        argv = [*command[kind], *args]
        procs.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log))

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port),
              "--no-dashboard")  # fmt: skip
        for i in range(2):
            start(f"worker{i}", "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                  "--no-nanny", "--no-dashboard", "--name", f"w{i}")  # fmt: skip
        from distributed import Client

        deadline = time.monotonic() + 60
        with Client(address, timeout=60) as client:
            while len(client.scheduler_info()["workers"]) < 2:
                assert time.monotonic() < deadline, "dask workers did not register"
                assert all(p.poll() is None for p in procs), "a dask process died"
                time.sleep(0.2)
        yield address
    finally:
        # by PID: the workers first, each waited for while the scheduler still answers (a
        # worker closing while the scheduler goes away can hang in its shutdown), then the
        # scheduler; SIGKILL after 10 s
        for p in [*procs[1:], *procs[:1]]:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
