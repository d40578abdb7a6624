"""Every ``-w`` output is all or nothing: a failed or interrupted run leaves no file (and an
existing file of that name untouched); files with secrets or plaintext are 0600."""

from __future__ import annotations

import os
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from netsec_layers.errors import UsageError
from netsec_layers.io.atomic import atomic_output

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "pcaps" / "tls"
GCM_SA = (
    '"IPv4","10.0.0.1","10.0.0.2","0x00001234","AES-GCM with 16 octet ICV [RFC4106]",'
    '"0x0102030405060708090a0b0c0d0e0f1011121314","NULL",""\n'
)


def netsec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netsec_layers", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def _plain_pcap(path: Path, n: int = 12) -> Path:
    from scapy.all import IP, UDP, Ether, Raw, wrpcap

    wrpcap(
        str(path),
        [
            Ether() / IP(src="192.168.1.1", dst="192.168.2.2", id=i) / UDP() / Raw(b"x" * i)
            for i in range(n)
        ],
    )
    return path


def _pcapng_two_linktypes(path: Path) -> Path:
    """A pcapng whose frames 1-3 are Ethernet and frame 4 raw IP (interface 1)."""
    from scapy.all import IP, UDP, Ether, raw

    from netsec_layers.io.pcap import CaptureWriter

    with CaptureWriter(str(path), format="pcapng", linktype=1) as w:
        for i in range(3):
            w.write(raw(Ether() / IP(id=i) / UDP()), ts_ns=i, linktype=1)
        w.write(raw(IP(id=9) / UDP()), ts_ns=9, linktype=101)
    return path


def _files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_encrypt_failing_at_packet_7_leaves_no_file(tmp_path: Path) -> None:
    plain = _plain_pcap(tmp_path / "plain.pcap")
    (tmp_path / "sa").write_text(GCM_SA)
    out = tmp_path / "out"
    out.mkdir()
    proc = netsec(
        "encrypt", str(plain), "-w", str(out / "enc2.pcap"), "--esp-sa", str(tmp_path / "sa"),
        "--seq", "4294967290",
    )  # fmt: skip
    # seq 4294967290..4294967295 are packets 1-6; packet 7 would need seq 2^32 (no ESN)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert _files(out) == []


def test_failed_encrypt_does_not_clobber_an_existing_file(tmp_path: Path) -> None:
    plain = _plain_pcap(tmp_path / "plain.pcap")
    (tmp_path / "sa").write_text(GCM_SA)
    old = tmp_path / "enc.pcap"
    old.write_bytes(b"the previous output")
    proc = netsec(
        "encrypt", str(plain), "-w", str(old), "--esp-sa", str(tmp_path / "sa"),
        "--seq", "4294967290",
    )  # fmt: skip
    assert proc.returncode == 2
    assert old.read_bytes() == b"the previous output"
    assert _files(tmp_path) == ["enc.pcap", "plain.pcap", "sa"]


def test_decrypt_failing_mid_capture_leaves_no_file(tmp_path: Path) -> None:
    # pcap output holds one link type: frame 4 (raw IP) fails after 3 frames were written.
    src = _pcapng_two_linktypes(tmp_path / "two.pcapng")
    out = tmp_path / "out"
    out.mkdir()
    proc = netsec("decrypt", str(src), "-w", str(out / "x.pcap"), "--format", "pcap", "-j", "1")
    assert proc.returncode == 2 and "link type" in proc.stderr
    assert _files(out) == []


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"]
)
def test_decrypt_interrupted_leaves_no_file(tmp_path: Path, signum: int, status: int) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "netsec_layers", "decrypt", "/dev/stdin", "-w",
         str(out / "plain.pcap"), "-j", "1", "-q"],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
        # a shell without job control starts background jobs with SIGINT ignored, and Python
        # then installs no KeyboardInterrupt handler: give the child the default disposition
        preexec_fn=_default_sigint,
    )  # fmt: skip
    assert proc.stdin is not None
    # A pcap header and 2 MiB of frames (more than the reader's chunk); the input stays open,
    # so decrypt has written some output and waits for more.
    proc.stdin.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
    frame = bytes.fromhex("4500001e0001000040110000c0a80101c0a80202003500350008" + "00000000")
    proc.stdin.write((struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame) * 50_000)
    proc.stdin.flush()
    for _ in range(600):  # the output (temporary) file appears once the header is read
        if _files(out) or proc.poll() is not None:
            break
        time.sleep(0.1)
    assert _files(out), "decrypt never started writing"
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert _files(out) == []


def test_keys_inject_failing_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = netsec(
        "keys", "inject", "/nonexistent.pcap", "-w", str(out / "x.pcapng"),
        "--keylog", str(SAMPLES / "tls13-aes128gcm.keys"),
    )  # fmt: skip
    assert proc.returncode == 2
    assert _files(out) == []


def test_outputs_with_secrets_are_0600_also_over_an_existing_file(tmp_path: Path) -> None:
    name = "tls13-aes128gcm"
    pcap, keys = str(SAMPLES / f"{name}.pcap"), str(SAMPLES / f"{name}.keys")
    runs = {
        "plain.pcap": ["decrypt", pcap, "--keylog", keys, "-w"],
        "inj.pcapng": ["keys", "inject", pcap, "--keylog", keys, "-w"],
        "exp.keys": ["keys", "export", pcap, "--keylog", keys, "-w"],
        "sa.json": ["keys", "convert", str(REPO / "pcaps/esp/esp-natt-tfc.esp_sa"), "--to",
                    "json", "-w"],
    }  # fmt: skip
    for name_, argv in runs.items():
        target = tmp_path / name_
        target.write_text("old")
        target.chmod(0o644)
        proc = netsec(*argv, str(target), "-q")
        assert proc.returncode == 0, (name_, proc.stderr)
        assert stat.S_IMODE(target.stat().st_mode) == 0o600, name_
        assert target.read_bytes() != b"old", name_
    assert sorted(_files(tmp_path)) == sorted(runs)


def test_atomic_output_removes_the_temporary_file_on_interrupt(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_output(tmp_path / "x", secret=True) as fh:
        fh.write(b"partial")
        assert len(_files(tmp_path)) == 1
        assert stat.S_IMODE(os.fstat(fh.fileno()).st_mode) == 0o600  # secret from the start
        raise KeyboardInterrupt
    assert _files(tmp_path) == []


def test_atomic_output_modes_for_outputs_without_secrets(tmp_path: Path) -> None:
    old_mask = os.umask(0o027)
    try:
        with atomic_output(tmp_path / "new", secret=False) as fh:
            fh.write(b"a")
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o640
    (tmp_path / "old").write_bytes(b"")
    (tmp_path / "old").chmod(0o604)
    with atomic_output(tmp_path / "old", secret=False) as fh:
        fh.write(b"b")
    assert stat.S_IMODE((tmp_path / "old").stat().st_mode) == 0o604
    assert (tmp_path / "old").read_bytes() == b"b"


def test_atomic_output_writes_through_a_symlink_and_into_a_fifo(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with atomic_output(tmp_path / "link", secret=True) as fh:
        fh.write(b"via link")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "real").read_bytes() == b"via link"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    with atomic_output(fifo, secret=True) as fh:
        fh.write(b"through the fifo")
    reader.join(timeout=30)
    assert got == [b"through the fifo"] and stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("/nonexistent/dir/out.pcap", "directory /nonexistent/dir does not exist"),
        ("README.md/out.pcap", "README.md is not a directory"),
        ("pcaps", "is a directory"),
    ],
)
def test_atomic_output_names_what_is_wrong_with_the_path(path: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle), atomic_output(REPO / path, secret=True):
        pass


def _many_host_pairs(path: Path, frames: int) -> Path:
    """A raw-IP pcap of UDP datagrams between many host pairs (work for several workers)."""
    recs = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    for i in range(frames):
        ip = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            36,
            i & 0xFFFF,
            0,
            64,
            17,
            0,
            bytes([10, 1, (i >> 8) & 255, i & 255]),
            bytes([10, 2, 0, i % 97]),
        )
        udp = struct.pack("!HHHH", 1000, 2000, 16, 0) + bytes(8)
        recs.append(struct.pack("<IIII", i, 0, 36, 36) + ip + udp)
    path.write_bytes(b"".join(recs))
    return path  # fmt: skip


def _running(pid: str) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_parallel_decrypt_terminated_leaves_no_file_and_no_worker(tmp_path: Path) -> None:
    src = _many_host_pairs(tmp_path / "many.pcap", 400_000)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "netsec_layers", "decrypt", str(src), "-w", str(out / "p.pcap"),
         "--jobs", "2", "-q"],
        stderr=subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    workers: list[str] = []
    for _ in range(600):  # until both forked workers run
        if proc.poll() is not None:
            break
        workers = children.read_text().split() if children.exists() else []
        if len(workers) >= 2:
            break
        time.sleep(0.05)
    assert len(workers) >= 2, "the workers never started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert _files(out) == []
    for _ in range(200):  # the workers are gone too (terminated by the parent as it unwound)
        alive = [w for w in workers if _running(w)]
        if not alive:
            break
        time.sleep(0.05)
    assert not alive


def test_sigterm_between_a_workers_fork_and_its_bookkeeping_leaves_no_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window a run of the suite under load hit: SIGTERM right after ``os.fork`` made a
    worker, before multiprocessing registered it.  Raised there, the parent forgot the worker,
    which kept the capture (and the caller's pipes) for minutes.  The signal is now held while
    the workers start; here it is sent at exactly that point, in-process."""
    from multiprocessing import popen_fork

    from netsec_layers.cli import status
    from netsec_layers.cli.main import main

    src = _many_host_pairs(tmp_path / "many.pcap", 400_000)
    out = tmp_path / "out"
    out.mkdir()
    parent, forked = os.getpid(), []
    launch = popen_fork.Popen._launch

    def launch_then_sigterm(self: popen_fork.Popen, process_obj: object) -> None:
        launch(self, process_obj)  # type: ignore[arg-type]
        if os.getpid() == parent:
            forked.append(self.pid)
            if len(forked) == 2:
                os.kill(parent, signal.SIGTERM)  # before Process.start() registers the child

    monkeypatch.setattr(popen_fork.Popen, "_launch", launch_then_sigterm)
    rc = main(["decrypt", str(src), "-w", str(out / "p.pcap"), "--jobs", "2", "-q"])
    assert rc == status.TERMINATED and len(forked) == 2
    assert _files(out) == []
    for _ in range(200):  # the workers are gone, both
        alive = [pid for pid in forked if _running(str(pid))]
        if not alive:
            break
        time.sleep(0.05)
    assert not alive, alive


def test_workers_of_a_killed_parent_exit(tmp_path: Path) -> None:
    """``decrypt --jobs 2`` killed with SIGKILL (no unwinding): its workers find their pipe
    without a reader (EPIPE) and exit, instead of blocking on it forever (each kept a copy of
    the read ends it inherited at the fork; one such orphan blocked a quarter of an hour)."""
    src = _many_host_pairs(tmp_path / "many.pcap", 400_000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "netsec_layers", "decrypt", str(src), "-w",
         str(tmp_path / "p.pcap"), "--jobs", "2", "-q"],
        stderr=subprocess.DEVNULL, cwd=REPO,
    )  # fmt: skip
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    workers: list[str] = []
    for _ in range(600):
        workers = children.read_text().split() if children.exists() else []
        if len(workers) >= 2 or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert len(workers) >= 2, "the workers never started"
    time.sleep(0.5)  # let them fill their pipes
    proc.kill()
    proc.wait()
    for _ in range(1200):  # 60 s: a loaded machine is slow, a blocked worker never ends
        alive = [w for w in workers if _running(w)]
        if not alive:
            break
        time.sleep(0.05)
    for w in alive:  # do not leave them behind if the test fails
        os.kill(int(w), signal.SIGKILL)
    assert not alive, alive
