#!/usr/bin/env python3
"""Benchmark ``netsec`` against tshark and Scapy on the same synthetic captures.

One run generates (or reuses, under ``--workdir``) ESP-GCM/ESP-CBC/TLS 1.2/TLS 1.3 captures
with their keys (:mod:`synth`), then times — alternating the tools inside every repetition —
whole processes (wall time, and peak RSS from ``os.wait4``'s rusage of that very child):

* decryption: ``netsec decrypt`` vs tshark with the same keys printing fields that exist only
  once a packet is decrypted (``esp.pad_len``/inner ``udp.length``; ``data.len`` of the TLS
  plaintext, with the HTTP dissector and the RDP multi-transport heuristic — which claims ~1 % of
  these random plaintexts — disabled so that every plaintext lands in ``data``) vs Scapy
  (``scapy.layers.ipsec.SecurityAssociation.decrypt`` per packet, Scapy TLS with
  ``conf.tls_session_enable`` + NSS key log);
* dissection without keys: ``netsec dissect --json`` vs ``tshark -T fields`` vs Scapy;
* ``netsec encrypt`` vs Scapy ``SecurityAssociation.encrypt`` (tshark cannot encrypt);
* the interactive API (µs per packet, in-process ``timeit``): netsec layers / SA database vs
  Scapy's built-in layers / SA;
* start-up time of ``netsec --help``; peak RSS of ``netsec decrypt`` at 10k vs 1M packets.

Scapy is slow, so it processes the first ``--scapy-sample`` frames of each file and its rate is
that sample's loop rate (imports excluded); the table marks these rates with ``*``.

``--quick`` (CI): tiny files, one run, no memory check; asserts only that every command ran and
that netsec, tshark (and Scapy where it decrypts) agree on counts — never on timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))

import bench_esp  # noqa: E402  (issue 22's ESP tunnel shape)
import synth  # noqa: E402

TSHARK = shutil.which("tshark") or "tshark"
#: Environment of every child; ``--source DIR`` puts a snapshot of the package first on the path.
CHILD_ENV: dict[str, str] | None = None
SOURCE: Path | None = None


# -- processes -------------------------------------------------------------------------------
@dataclass
class Proc:
    wall: float
    cpu: float  # user + system seconds of the child (robust when the machine is shared)
    rss_mb: float
    rc: int
    stdout_path: Path | None
    stderr: str


def run(cmd: list[str], *, stdout: Path | None = None, env: dict[str, str] | None = None) -> Proc:
    """Run ``cmd``; wall time and the peak RSS of exactly that child (``wait4`` rusage)."""
    with open(stdout or os.devnull, "wb") as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        # In SOURCE (--source): ``python -m`` puts the working directory first on sys.path,
        # ahead of PYTHONPATH, so run from the repository the checkout would be timed instead.
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env or CHILD_ENV, cwd=SOURCE)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    # ru_maxrss is in KiB on Linux.
    return Proc(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, p.returncode, stdout, text)


def netsec_cmd() -> list[str]:
    exe = shutil.which("netsec")
    return [exe] if exe and SOURCE is None else [sys.executable, "-m", "netsec_layers"]


def worker_cmd(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--worker", *args]


# -- files -----------------------------------------------------------------------------------
@dataclass
class Files:
    root: Path
    esp_packets: int
    tls_conns: int
    tls_records: int
    paths: dict[str, Path] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    esp_tunnel_packets: int = 300_000  # issue 22's gateway tunnel (tools/bench_esp.py)
    tls_pair_records: int = 150_000  # issue 22's one-host-pair TLS shapes (PAIR_SHAPES)

    def make(self, big: int | None = None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        n, c, r = self.esp_packets, self.tls_conns, self.tls_records
        for cipher in ("gcm", "cbc"):
            self._esp(f"esp-{cipher}", n, cipher)
        self._get(f"plain-{n}.pcap", "plain", lambda p: synth.write_plain(p, n))
        gw, gw_sa = self.esp_tunnel_packets, self.root / "esp-gw.esp_sa"
        self.paths["esp-gw-sa"] = gw_sa
        self._get(f"esp-gw-{gw}.pcap", "esp-gw",
                  lambda p: bench_esp.write_esp_gateways(p, gw_sa, gw))  # fmt: skip
        for v in (12, 13):
            keys = self.root / f"tls{v}-{c}x{r}.keys"
            self.paths[f"tls{v}-keys"] = keys
            self._get(f"tls{v}-{c}x{r}.pcap", f"tls{v}", lambda p, v=v, keys=keys: synth.write_tls(
                p, keys, version=v, connections=c, records=r))  # fmt: skip
        for name, sizes in PAIR_SHAPES.items():
            pr = self.tls_pair_records
            keys = self.root / f"{name}-{pr}.keys"
            self.paths[f"{name}-keys"] = keys
            self._get(f"{name}-{pr}.pcap", name, lambda p, keys=keys, sizes=sizes, pr=pr: (
                write_tls_one_pair(p, keys, records=pr, sizes=sizes)))  # fmt: skip
        if big:
            self._esp("esp-gcm-10k", 10_000, "gcm")
            self._esp("esp-gcm-big", big, "gcm")

    def _esp(self, key: str, n: int, cipher: str) -> None:
        sa = self.root / f"esp-{cipher}.esp_sa"
        self.paths[f"{key}-sa"] = sa
        self._get(f"esp-{cipher}-{n}.pcap", key, lambda p: synth.write_esp(p, sa, n, cipher))

    def _get(self, name: str, key: str, make: Any) -> None:
        path = self.root / name
        meta = path.with_suffix(".json")
        if not (path.exists() and meta.exists()):
            t0 = time.perf_counter()
            info = make(path)
            info["generated_s"] = round(time.perf_counter() - t0, 1)
            meta.write_text(json.dumps(info))
            print(f"bench: generated {path} in {info['generated_s']} s", file=sys.stderr)
        self.paths[key] = path
        self.info[key] = json.loads(meta.read_text())
        self.info[key]["frames"] = self.info[key].get("frames", self.info[key].get("packets"))


def write_tls_one_pair(path: Path, keylog_path: Path, *, connections: int = 4,
                       records: int = 150_000, sizes: tuple[int, int] = (100, 1400),
                       seed: int = 22) -> dict[str, Any]:  # fmt: skip
    """Issue #22's shape: TLS 1.2 AES-128-GCM, ``connections`` connections between ONE host pair
    (one client address, ports 40000+i, one server), ``records`` application-data records in all
    of ``sizes`` bytes (uniform; 100-1400 mixed, or small), one record per TCP segment, the connections interleaved at
    random and about one record in eight from the client.  Not a :mod:`synth` shape: one host
    pair gets no worker processes, and small records cost per record, not per byte.

    The handshake is :class:`CraftedTLSConnection`'s (valid Finished, tshark checks them)."""
    import random

    from netsec_layers.io.pcap import CaptureWriter
    from netsec_layers.session.tcpflow import TCPFlow
    from netsec_layers.session.tls_craft import CraftedTLSConnection

    rng = random.Random(seed)
    server, client = ("10.0.0.2", 443), "10.0.0.1"
    conns, flows, keylog = [], [], []
    ts, step, frames = 1_700_000_000 * 10**9, 20_000, 0
    with CaptureWriter(path, linktype=1, nanosecond=True) as w:

        def put(packets: list[bytes]) -> None:
            nonlocal ts, frames
            for pkt in packets:
                w.write(pkt, ts_ns=ts)
                ts += step
                frames += 1

        for i in range(connections):
            conn = CraftedTLSConnection(version=0x0303, suite=0xC02F, rng=rng)
            flow = TCPFlow((client, 40000 + i), server)
            put(flow.open())
            for from_client, data in conn.handshake():
                put(flow.data(from_client, data, mss=1460))
            conns.append(conn)
            flows.append(flow)
            keylog.append(conn.keylog())
        payload = rng.randbytes(sizes[1])
        for _ in range(records):
            i = rng.randrange(connections)
            from_client = rng.random() < 0.125
            data = payload[: rng.randint(*sizes)]
            put([flows[i].segment(from_client, conns[i].application_data(
                data, from_client=from_client), 0x18)])  # fmt: skip
        for flow in flows:
            put(flow.close())
    keylog_path.write_text("".join(keylog))
    return {"frames": frames, "connections": connections, "app_records": records,
            "sizes": list(sizes)}  # fmt: skip


#: Issue #22's one-host-pair TLS shapes: name -> record sizes
PAIR_SHAPES = {"tls12-pair": (100, 1400), "tls12-pair-small": (100, 200)}


def uat(sa_file: Path) -> str:
    """tshark 4.0's esp_sa UAT has 8 columns (no SN / ESN high bits)."""
    line = sa_file.read_text().strip().splitlines()[0]
    return "uat:esp_sa:" + ",".join(line.split(",")[:8])


def esp_prefs(sa_file: Path) -> list[str]:
    return ["-o", "esp.enable_encryption_decode:TRUE", "-o",
            "esp.enable_authentication_check:TRUE", "-o", uat(sa_file)]  # fmt: skip


# -- counting (agreement checks) ---------------------------------------------------------------
def count_field_values(path: Path, col: int) -> int:
    """Number of values (comma-separated lists count each item) in column ``col``."""
    n = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) > col and cols[col]:
                n += cols[col].count(",") + 1
    return n


def count_json(path: Path, proto: str) -> int:
    needle = f'"proto": "{proto}"'
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if needle in line)


def stderr_int(pattern: str, text: str) -> int | None:
    m = re.search(pattern, text)
    return int(m.group(1)) if m else None


# -- the tasks -------------------------------------------------------------------------------
@dataclass
class Variant:
    tool: str  # netsec | tshark | scapy
    cmd: list[str]
    stdout: Path | None = None
    count: Any = None  # (Proc) -> int | None : the agreement count


@dataclass
class Task:
    name: str
    frames: int
    variants: list[Variant]
    target: str = ""


def build_tasks(f: Files, work: Path, sample: int) -> list[Task]:
    ns = netsec_cmd()
    out = work / "out"
    out.mkdir(exist_ok=True)
    tasks: list[Task] = []

    def scapy_count(p: Proc) -> int | None:
        try:
            return int(json.loads(p.stderr.strip().splitlines()[-1])["ok"])
        except (ValueError, KeyError, IndexError):
            return None

    for cipher, target in (("gcm", "netsec/tshark >= 1.5"), ("cbc", "netsec/tshark >= 1.0")):
        key = f"esp-{cipher}"
        cap, sa = f.paths[key], f.paths[f"{key}-sa"]
        tasks.append(Task(f"decrypt ESP {cipher.upper()}", f.info[key]["frames"], [
            Variant("netsec", [*ns, "decrypt", str(cap), "-w", str(out / f"{key}.pcap"),
                               "--esp-sa", str(sa)],
                    count=lambda p: stderr_int(r"ESP: (\d+) decrypted", p.stderr)),
            Variant("tshark", [TSHARK, "-r", str(cap), *esp_prefs(sa), "-T", "fields", "-e",
                               "frame.number", "-e", "esp.pad_len", "-e", "udp.length"],
                    stdout=out / f"{key}.tshark", count=lambda p: count_field_values(p.stdout_path, 1)),
            Variant("scapy", worker_cmd("esp-decrypt", str(cap), cipher, str(sample)),
                    count=scapy_count),
        ], target))  # fmt: skip
    for v in (12, 13):
        key = f"tls{v}"
        cap, keys = f.paths[key], f.paths[f"{key}-keys"]
        tasks.append(Task(f"decrypt TLS 1.{v - 10}", f.info[key]["frames"], [
            Variant("netsec", [*ns, "decrypt", str(cap), "-w", str(out / f"{key}.pcap"),
                               "--keylog", str(keys)],
                    count=lambda p: stderr_int(r"(\d+) application-data records written",
                                               p.stderr)),
            Variant("netsec-1p", [*ns, "decrypt", str(cap), "-w", str(out / f"{key}-1p.pcap"),
                                  "--keylog", str(keys), "--jobs", "1"],
                    count=lambda p: stderr_int(r"(\d+) application-data records written",
                                               p.stderr)),
            Variant("tshark", [TSHARK, "-r", str(cap), "-o", f"tls.keylog_file:{keys}",
                               "--disable-protocol", "http", "--disable-protocol", "rdpmt",
                               "-T", "fields", "-e",
                               "frame.number", "-e", "data.len"],
                    stdout=out / f"{key}.tshark", count=lambda p: count_field_values(p.stdout_path, 1)),
            Variant("scapy", worker_cmd("tls-decrypt", str(cap), str(keys), str(sample)),
                    count=scapy_count),
        ], "netsec/tshark >= 1.0"))  # fmt: skip
    for name, (lo, hi) in PAIR_SHAPES.items():
        # Issue #22: one host pair (no worker split by host pair), small/mixed records; tshark
        # as the issue times it (io,stat: every packet dissected and decrypted, nothing printed).
        cap, keys = f.paths[name], f.paths[f"{name}-keys"]
        tasks.append(Task(f"decrypt TLS 1.2 one pair {lo}-{hi} B", f.info[name]["frames"], [
            Variant("netsec", [*ns, "decrypt", str(cap), "-w", str(out / f"{name}.pcap"),
                               "--keylog", str(keys)],
                    count=lambda p: stderr_int(r"(\d+) application-data records written",
                                               p.stderr)),
            Variant("netsec-1p", [*ns, "decrypt", str(cap), "-w", str(out / f"{name}-1p.pcap"),
                                  "--keylog", str(keys), "--jobs", "1"],
                    count=lambda p: stderr_int(r"(\d+) application-data records written",
                                               p.stderr)),
            Variant("tshark", [TSHARK, "-r", str(cap), "-o", f"tls.keylog_file:{keys}", "-q",
                               "-z", "io,stat,0"]),
        ], "netsec/tshark >= 1.2"))  # fmt: skip
    cap = f.paths["esp-gcm"]
    tasks.append(Task("dissect ESP (no keys)", f.info["esp-gcm"]["frames"], [
        Variant("netsec", [*ns, "dissect", str(cap), "--json", "-q"], stdout=out / "esp.jsonl",
                count=lambda p: count_json(p.stdout_path, "esp")),
        Variant("tshark", [TSHARK, "-r", str(cap), "-T", "fields", "-e", "esp.spi", "-e",
                           "esp.sequence"],
                stdout=out / "esp-dissect.tshark", count=lambda p: count_field_values(p.stdout_path, 0)),
        Variant("scapy", worker_cmd("esp-dissect", str(cap), str(sample)), count=scapy_count),
    ], "netsec/tshark >= 0.5"))  # fmt: skip
    cap = f.paths["tls12"]
    tasks.append(Task("dissect TLS (no keys)", f.info["tls12"]["frames"], [
        Variant("netsec", [*ns, "dissect", str(cap), "--json", "-q"], stdout=out / "tls.jsonl",
                count=lambda p: count_json(p.stdout_path, "tls")),
        Variant("tshark", [TSHARK, "-r", str(cap), "-o", "tls.keylog_file:", "-T", "fields",
                           "-e", "tls.record.content_type"],
                stdout=out / "tls-dissect.tshark", count=lambda p: count_field_values(p.stdout_path, 0)),
        Variant("scapy", worker_cmd("tls-dissect", str(cap), str(sample)), count=scapy_count),
    ], "netsec/tshark >= 0.5"))  # fmt: skip
    cap = f.paths["plain"]
    tasks.append(Task("encrypt ESP GCM", f.info["plain"]["frames"], [
        Variant("netsec", [*ns, "encrypt", str(cap), "-w", str(out / "encrypted.pcap"),
                           "--esp-sa", str(f.paths["esp-gcm-sa"])],
                count=lambda p: stderr_int(r"(\d+) packets encrypted", p.stderr)),
        Variant("scapy", worker_cmd("encrypt", str(cap), str(sample)), count=scapy_count),
    ], "netsec >= 50k pkts/s"))  # fmt: skip
    tasks += bench_esp.tasks(f, out, ns, Task, Variant)
    return tasks


# -- Scapy and interactive workers (run as child processes) ------------------------------------
def scapy_sa(cipher: str) -> Any:
    from scapy.layers.inet import IP
    from scapy.layers.ipsec import ESP, SecurityAssociation

    sa = synth.ESP_SAS[cipher]
    hdr = IP(src=sa.src, dst=sa.dst)
    if cipher == "gcm":
        return SecurityAssociation(ESP, spi=sa.spi, crypt_algo="AES-GCM", crypt_key=sa.enc_key,
                                   auth_algo="NULL", tunnel_header=hdr)  # fmt: skip
    return SecurityAssociation(ESP, spi=sa.spi, crypt_algo="AES-CBC", crypt_key=sa.enc_key,
                               auth_algo="SHA2-256-128", auth_key=sa.auth_key,
                               tunnel_header=hdr)  # fmt: skip


def _tls_records(pkt: Any, tls_cls: Any) -> list[Any]:
    out = []
    layer = pkt.getlayer(tls_cls)
    while layer is not None and hasattr(layer, "msg"):
        out.append(layer)
        nxt = layer.payload
        layer = nxt if nxt and hasattr(nxt, "msg") else None
    return out


def worker(kind: str, args: list[str]) -> dict[str, Any]:
    """Runs inside a child process; returns {"n": frames, "ok": count, "seconds": loop time}."""
    from scapy.all import IP, PcapReader, conf, load_layer, raw  # noqa: F401

    n = ok = 0
    if kind in ("esp-decrypt", "esp-dissect", "encrypt", "tls-decrypt", "tls-dissect"):
        cap, limit = args[0], int(args[-1])
        if kind.startswith("tls"):
            load_layer("tls")
            from scapy.layers.tls.all import TLS, TLSApplicationData

            if kind == "tls-decrypt":
                conf.tls_session_enable = True
                conf.tls_nss_filename = args[1]
        if kind == "esp-decrypt":
            sa = scapy_sa(args[1])
        elif kind == "encrypt":
            sa = scapy_sa("gcm")
        from scapy.layers.ipsec import ESP

        reader = PcapReader(cap)
        t0, c0 = time.perf_counter(), time.process_time()
        for pkt in reader:
            if n >= limit:
                break
            n += 1
            if kind == "esp-decrypt":
                try:
                    inner = sa.decrypt(pkt[IP])
                except Exception:  # noqa: BLE001 - Scapy raises several types; count failures
                    continue
                ok += inner.haslayer("UDP")
            elif kind == "esp-dissect":
                ok += pkt.haslayer(ESP) and pkt[ESP].spi > 0
            elif kind == "encrypt":
                ok += len(raw(sa.encrypt(pkt[IP]))) > 0
            elif kind == "tls-decrypt":
                for rec in _tls_records(pkt, TLS):
                    for m in rec.msg:
                        ok += isinstance(m, TLSApplicationData) and len(m.data) in synth.SIZES
            else:
                ok += len(_tls_records(pkt, TLS))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        reader.close()
        return {"n": n, "ok": ok, "seconds": seconds, "cpu": cpu}
    if kind in ("interactive-netsec", "interactive-scapy"):
        return interactive(kind == "interactive-netsec", args)
    raise SystemExit(f"unknown worker {kind}")


def _frame(path: str, index: int) -> bytes:
    from netsec_layers.io.pcap import open_capture

    with open_capture(path) as r:
        for i, fr in enumerate(r):
            if i == index:
                return fr.data
    raise SystemExit(f"{path} has no frame {index}")


def _us(fn: Any, budget: float) -> float:
    """Median µs per call over 5 timeit rounds sized to ~budget/5 seconds each."""
    import timeit

    t = timeit.Timer(fn)
    number, _ = t.autorange()
    number = max(1, int(number * budget / 5 / 0.2))
    return statistics.median(t.repeat(5, number)) / number * 1e6


def interactive(ours: bool, args: list[str]) -> dict[str, Any]:
    esp_cap, tls_cap, conns, budget = args[0], args[1], int(args[2]), float(args[3])
    from scapy.all import IP, Ether, load_layer

    raw_esp = _frame(esp_cap, 1)  # 512-byte inner packet
    # Frames of tls12: 3 TCP handshake + 4 TLS handshake frames per connection, interleaved;
    # the first app-data frames follow (record 1 = 512-byte plaintext, from the server).
    raw_ch = _frame(tls_cap, 3 * conns)
    raw_app = _frame(tls_cap, 7 * conns + conns)
    res: dict[str, Any] = {}
    if ours:
        from netsec_layers.layers.all import bind_netsec_layers
        from netsec_layers.session.ipsec import SADatabase
        from netsec_layers.session.ipsec_scapy import decrypt_packet

        bind_netsec_layers()
        db = SADatabase([synth.GCM_SA])
        esp_bytes = raw_esp[34:]
        pkt = Ether(raw_esp)
        assert decrypt_packet(pkt, db, check_replay=False).haslayer("UDP")
        res["decrypt ESP: bytes API"] = _us(
            lambda: db.decrypt(esp_bytes, src="10.0.0.1", dst="10.0.0.2", check_replay=False),
            budget,
        )
        res["decrypt ESP: Scapy packet API"] = _us(
            lambda: decrypt_packet(pkt, db, check_replay=False), budget
        )
    else:
        load_layer("tls")
        sa = scapy_sa("gcm")
        pkt = Ether(raw_esp)
        assert sa.decrypt(pkt[IP].copy()).haslayer("UDP")
        ip_raw = raw_esp[14:]
        res["decrypt ESP: bytes API"] = _us(lambda: sa.decrypt(IP(ip_raw)), budget)
        # Scapy's tunnel-mode decrypt modifies its argument: give it a copy (netsec's
        # decrypt_packet copies internally too).
        res["decrypt ESP: Scapy packet API"] = _us(lambda: sa.decrypt(pkt[IP].copy()), budget)
    frames = {
        "dissect ESP frame": raw_esp,
        "dissect TLS ClientHello frame": raw_ch,
        "dissect TLS app-data frame": raw_app,
    }
    if ours:
        # netsec's Scapy objects come from its fast builder (layers/fast/), which builds
        # what Scapy's own constructors build: checked here on the very frames timed
        from netsec_layers.layers.fast import dissect as fast_dissect
        from netsec_layers.layers.fast import scapy_only

        for k, raw in frames.items():
            with scapy_only():
                ref = Ether(raw)
            got = fast_dissect(raw)
            assert bytes(got) == bytes(ref) and got.show2(dump=True) == ref.show2(dump=True), k
            res[k] = _us(lambda raw=raw: fast_dissect(raw), budget)
            with scapy_only():
                res.setdefault("scapy-constructor", {})[k] = _us(lambda raw=raw: Ether(raw), budget)
        res["object-floor"] = _us(_object_floor(raw_esp), budget)
    else:
        for k, raw in frames.items():
            res[k] = _us(lambda raw=raw: Ether(raw), budget)
    if not ours:
        # The floor of any result made of Scapy objects: Scapy's own Ether/IP(/TCP) layers of
        # the same frame, the rest left as one Raw layer (stop_dissection_after).
        from scapy.layers.inet import TCP

        res["floor"] = {
            "dissect ESP frame": _us(lambda: Ether(raw_esp, stop_dissection_after=IP), budget),
            "dissect TLS ClientHello frame": _us(
                lambda: Ether(raw_ch, stop_dissection_after=TCP), budget
            ),
            "dissect TLS app-data frame": _us(
                lambda: Ether(raw_app, stop_dissection_after=TCP), budget
            ),
        }
        # decrypting through a Scapy packet: the inner IP/UDP packet has to be dissected too
        inner = sa.decrypt(pkt[IP].copy())
        inner_raw = bytes(inner)
        res["floor"]["decrypt ESP: Scapy packet API"] = _us(lambda: IP(inner_raw), budget)
    res["layers"] = {
        "esp": Ether(raw_esp).summary(),
        "ch": Ether(raw_ch).summary(),
        "app": Ether(raw_app).summary(),
    }
    return res


def _object_floor(raw: bytes) -> Any:
    """A function making the Scapy objects of ``raw`` with nothing else: each layer's
    attributes stored the cheapest way CPython allows (the fast builder's blank objects), its
    fields dict filled from values parsed beforehand, the layers linked.  Any dissection
    that returns these objects costs at least this."""
    from netsec_layers.layers.fast import builder as fast

    layers, p = [], fast.dissect(raw)
    while p.__class__.__name__ != "NoPayload":
        layers.append(p)
        p = p.payload
    parts = [
        (fast._plan(type(x)), dict(x.fields), dict(x.raw_packet_cache_fields or {}),
         x.raw_packet_cache)
        for x in layers
    ]  # fmt: skip
    osa = object.__setattr__

    def build() -> Any:
        first = prev = None
        for plan, fields, rpcf, cache in parts:
            q = fast._new(plan, raw, prev, None)
            q.fields.update(fields)
            osa(q, "raw_packet_cache_fields", dict(rpcf))
            osa(q, "raw_packet_cache", cache)
            osa(q, "explicit", 1)
            osa(q, "post_transforms", [])
            if prev is None:
                first = q
            else:
                osa(prev, "payload", q)
            prev = q
        return first

    assert bytes(build()) == raw
    return build


def run_worker(argv: list[str]) -> int:
    if argv[0] == "batch":  # --quick: every Scapy job in one process (one Scapy import)
        res: Any = [worker(job[0], job[1:]) for job in json.loads(argv[1])]
    else:
        res = worker(argv[0], argv[1:])
    print(json.dumps(res), file=sys.stderr)
    return 0


# -- measurement loop --------------------------------------------------------------------------
@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    rate: float  # frames per wall-clock second
    cpu_rate: float  # frames per CPU second
    count: int | None


def rate_of(v: Variant, task: Task, p: Proc) -> tuple[float, float]:
    """(frames per wall second, frames per CPU second)."""
    if v.tool == "scapy":
        try:
            res = json.loads(p.stderr.strip().splitlines()[-1])
            return res["n"] / res["seconds"], res["n"] / res["cpu"]
        except (ValueError, KeyError, IndexError, ZeroDivisionError):
            return 0.0, 0.0
    return task.frames / p.wall, task.frames / max(p.cpu, 1e-9)


def _scapy_batch(tasks: list[Task]) -> dict[int, Proc]:
    """--quick: run every Scapy job in one child; a Proc per variant (loop time as wall)."""
    jobs = [v for t in tasks for v in t.variants if v.tool == "scapy"]
    p = run(worker_cmd("batch", json.dumps([v.cmd[3:] for v in jobs])))
    if p.rc != 0:
        raise SystemExit(f"bench: Scapy batch failed:\n{p.stderr[-2000:]}")
    res = json.loads(p.stderr.strip().splitlines()[-1])
    return {
        id(v): Proc(r["seconds"], r["cpu"], p.rss_mb, 0, None, json.dumps(r))
        for v, r in zip(jobs, res, strict=True)
    }


def measure(tasks: list[Task], runs: int, *, batch_scapy: bool = False
            ) -> dict[str, dict[str, list[Sample]]]:  # fmt: skip
    results: dict[str, dict[str, list[Sample]]] = {t.name: {} for t in tasks}
    for r in range(runs):
        batch = _scapy_batch(tasks) if batch_scapy else {}
        for task in tasks:
            for v in task.variants:
                p = batch[id(v)] if id(v) in batch else run(v.cmd, stdout=v.stdout)
                if p.rc != 0:
                    raise SystemExit(
                        f"bench: {task.name} / {v.tool} failed (rc {p.rc}): {' '.join(v.cmd)}\n"
                        + p.stderr[-2000:]
                    )
                count = v.count(p) if v.count else None
                s = Sample(p.wall, p.cpu, p.rss_mb, *rate_of(v, task, p), count)
                results[task.name].setdefault(v.tool, []).append(s)
                print(f"bench: run {r + 1}/{runs} {task.name:<24} {v.tool:<9} "
                      f"{s.wall:7.2f} s {s.rate:10,.0f} frames/s {s.cpu_rate:10,.0f} frames/cpu-s "
                      f"{s.rss_mb:6.0f} MB "
                      f"count={count}", file=sys.stderr)  # fmt: skip
    return results


def help_time(runs: int) -> dict[str, float]:
    ws = []
    for _ in range(max(runs, 5)):
        p = run([*netsec_cmd(), "--help"])
        assert p.rc == 0, p.stderr
        ws.append(p.wall)
    return {"median_s": statistics.median(ws), "min_s": min(ws), "max_s": max(ws)}


def run_interactive(f: Files, budget: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for who in ("netsec", "scapy"):
        p = run(worker_cmd(f"interactive-{who}", str(f.paths["esp-gcm"]), str(f.paths["tls12"]),
                           str(f.tls_conns), str(budget)))  # fmt: skip
        if p.rc != 0:
            raise SystemExit(f"bench: interactive {who} failed:\n{p.stderr[-2000:]}")
        out[who] = json.loads(p.stderr.strip().splitlines()[-1])
    return out


def memory_check(f: Files, work: Path) -> dict[str, Any]:
    res = {}
    for key in ("esp-gcm-10k", "esp-gcm-big"):
        p = run([*netsec_cmd(), "decrypt", str(f.paths[key]), "-w", str(work / "out" / "mem.pcap"),
                 "--esp-sa", str(f.paths[f"{key}-sa"]), "-q"])  # fmt: skip
        if p.rc != 0:
            raise SystemExit(f"bench: memory check failed:\n{p.stderr[-2000:]}")
        res[key] = {"packets": f.info[key]["frames"], "rss_mb": round(p.rss_mb, 1),
                    "wall_s": round(p.wall, 2)}  # fmt: skip
        print(f"bench: memory {key}: {res[key]}", file=sys.stderr)
    return res


# -- report ------------------------------------------------------------------------------------
def summarize(
    tasks: list[Task], results: dict[str, dict[str, list[Sample]]]
) -> list[dict[str, Any]]:
    rows = []
    for t in tasks:
        row: dict[str, Any] = {"task": t.name, "frames": t.frames, "target": t.target}
        for tool, samples in results[t.name].items():
            rates = [s.rate for s in samples]
            cpu_rates = [s.cpu_rate for s in samples]
            row[tool] = {
                "rate_median": statistics.median(rates),
                "rate_min": min(rates),
                "rate_max": max(rates),
                "cpu_rate_median": statistics.median(cpu_rates),
                "cpu_rate_min": min(cpu_rates),
                "cpu_rate_max": max(cpu_rates),
                "wall_median_s": statistics.median(s.wall for s in samples),
                "cpu_median_s": statistics.median(s.cpu for s in samples),
                "rss_mb_max": max(s.rss_mb for s in samples),
                "count": samples[-1].count,
            }
        for kind, suffix in (("rate_median", ""), ("cpu_rate_median", " cpu")):
            for me in ("netsec", "netsec-1p"):
                ns = row.get(me, {}).get(kind)
                for other in ("tshark", "scapy"):
                    o = row.get(other, {}).get(kind)
                    if me in row:
                        row[f"{me}/{other}{suffix}"] = ns / o if ns and o else None
        rows.append(row)
    return rows


def _fmt_rate(d: dict[str, Any] | None, star: bool = False, decrypt: bool = False) -> str:
    """``wall median (min–max) / CPU median`` frames per second."""
    if not d:
        return "—"
    s = "*" if star else ""
    if decrypt and d.get("count") == 0:
        s += " (decrypts 0 records)"
    return (
        f"{d['rate_median']:,.0f}{s} ({d['rate_min']:,.0f}–{d['rate_max']:,.0f}) / "
        f"{d['cpu_rate_median']:,.0f}"
    )


def table(rows: list[dict[str, Any]], extra: dict[str, Any]) -> str:
    lines = [
        "| task | frames | netsec frames/s: wall (range) / CPU | tshark: wall (range) / CPU | "
        "Scapy*: wall (range) / CPU | netsec/tshark wall (CPU) | netsec/Scapy wall (CPU) | "
        "peak RSS netsec / tshark / Scapy (MB) | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]

    def ratio(r: dict[str, Any], k: str) -> str:
        if not r.get(k):
            return "—"
        cpu = r.get(k + " cpu")
        return f"{r[k]:.2f}×" + (f" ({cpu:.2f}×)" if cpu else "")

    for r in rows:
        rss = " / ".join(
            f"{r[t]['rss_mb_max']:.0f}" if t in r else "—" for t in ("netsec", "tshark", "scapy")
        )
        lines.append(
            f"| {r['task']} | {r['frames']:,} | {_fmt_rate(r.get('netsec'))} | "
            f"{_fmt_rate(r.get('tshark'))} | "
            f"{_fmt_rate(r.get('scapy'), True, r['task'].startswith('decrypt'))} | "
            f"{ratio(r, 'netsec/tshark')} | {ratio(r, 'netsec/scapy')} | {rss} | {r['target']} |"
        )
    one = [r for r in rows if "netsec-1p" in r]
    if one:
        lines += ["", "netsec `decrypt` above uses its default worker processes (split by host "
                  "pair; CPU column = all processes). One process (`--jobs 1`):", "",
                  "| task | netsec --jobs 1: wall (range) / CPU | netsec/tshark wall (CPU) |",
                  "|---|---:|---:|"]  # fmt: skip
        for r in one:
            lines.append(f"| {r['task']} | {_fmt_rate(r['netsec-1p'])} | "
                         f"{ratio(r, 'netsec-1p/tshark')} |")  # fmt: skip
    inter = extra.get("interactive")
    if inter:
        lines += ["", "| interactive (µs/packet, median of 5) | netsec | Scapy built-in | "
                  "Scapy/netsec | Scapy's constructors, lower layers only |",
                  "|---|---:|---:|---:|---:|"]  # fmt: skip
        floor = inter["scapy"].get("floor", {})
        for k, v in inter["netsec"].items():
            if k in ("layers", "scapy-constructor", "object-floor"):
                continue
            s = inter["scapy"][k]
            f = floor.get(k)
            fl = f"{f:.1f}" if f else "—"
            lines.append(f"| {k} | {v:.1f} | {s:.1f} | {s / v:.1f}× | {fl} |")
        lines += ["", "netsec builds its Scapy objects with `netsec_layers.layers.fast` "
                  "(`fast_dissect`, `copy_layers`): the same objects as Scapy's constructors, "
                  "checked on these frames.  Last column: Scapy's own constructors building "
                  "only the Ether/IP(/TCP) layers of the same frame (or the inner IP packet "
                  "for decryption), the rest left as one Raw layer."]  # fmt: skip
        floor_us = inter["netsec"].get("object-floor")
        if floor_us:
            esp_scapy = inter["scapy"]["dissect ESP frame"]
            lines += ["", f"Making the Scapy objects of the ESP frame and nothing else (no "
                      f"parsing, no payload guessing; the cheapest attribute stores CPython "
                      f"allows): {floor_us:.1f} µs.  10× Scapy's {esp_scapy:.1f} µs leaves "
                      f"{esp_scapy / 10 - floor_us:.1f} µs for parsing three layers."]  # fmt: skip
        ctor = inter["netsec"].get("scapy-constructor")
        if ctor:
            lines += ["", "The same netsec layers through Scapy's constructors (`Ether(frame)` "
                      "after `bind_netsec_layers()`, `fast.scapy_only()`), µs/packet: "
                      + ", ".join(f"{k} {v:.1f}" for k, v in ctor.items())]  # fmt: skip
    h = extra.get("help")
    if h:
        lines += ["", f"`netsec --help`: median {h['median_s']:.3f} s "
                  f"(range {h['min_s']:.3f}–{h['max_s']:.3f})"]  # fmt: skip
    mem = extra.get("memory")
    if mem:
        lines += [""] + [
            f"peak RSS of `netsec decrypt` ESP-GCM, {m['packets']:,} packets: {m['rss_mb']} MB "
            f"({m['wall_s']} s)"
            for m in mem.values()
        ]
    return "\n".join(lines)


def check_agreement(rows: list[dict[str, Any]], files: Files) -> list[str]:
    """Counts that must agree between netsec, tshark and the generator (Scapy where exact)."""
    problems = []
    expected = {
        "decrypt ESP GCM": files.info["esp-gcm"]["packets"],
        "decrypt ESP CBC": files.info["esp-cbc"]["packets"],
        "decrypt TLS 1.2": files.info["tls12"]["app_records"],
        "decrypt TLS 1.3": files.info["tls13"]["app_records"],
        "dissect ESP (no keys)": files.info["esp-gcm"]["packets"],
        "encrypt ESP GCM": files.info["plain"]["packets"],
    }
    expected.update(bench_esp.expected(files))
    for name, (lo, hi) in PAIR_SHAPES.items():
        expected[f"decrypt TLS 1.2 one pair {lo}-{hi} B"] = files.info[name]["app_records"]
    for r in rows:
        ns = r.get("netsec", {}).get("count")
        ts = r.get("tshark", {}).get("count")
        if "netsec-1p" in r and r["netsec-1p"].get("count") != ns:
            problems.append(
                f"{r['task']}: --jobs 1 counted {r['netsec-1p'].get('count')}, default {ns}"
            )
        if "tshark" in r and ts is not None and ns != ts:  # None: tshark's output not counted
            problems.append(f"{r['task']}: netsec counted {ns}, tshark {ts}")
        exp = expected.get(r["task"])
        if exp is not None and ns != exp:
            problems.append(f"{r['task']}: netsec counted {ns}, generator made {exp}")
    return problems


def versions() -> dict[str, str]:
    import cryptography
    import scapy

    ts = subprocess.run([TSHARK, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return {
        "python": platform.python_version(),
        "scapy": scapy.__version__,
        "cryptography": cryptography.__version__,
        "tshark": ts,
        "fastlane": fastlane_built(),
        "cpus": str(os.cpu_count()),
        "machine": platform.platform(),
    }


def compile_package() -> None:
    """Byte-compile the package under test, as ``pip install`` does, so that no timed run
    compiles it from source: with ``PYTHONDONTWRITEBYTECODE`` set (as on the build machine) or a
    fresh ``git archive`` snapshot, every ``netsec`` process compiled ~100 modules first, 0.15-0.3
    CPU s of start-up that runs I and J measured in every row (docs/benchmarks.md, run K)."""
    import compileall

    if SOURCE is not None:
        root = SOURCE / "netsec_layers"
    else:
        import netsec_layers

        root = Path(netsec_layers.__file__).parent
    if not compileall.compile_dir(str(root), quiet=1, workers=0):
        raise SystemExit(f"bench: {root} does not byte-compile")
    if SOURCE is not None and (SOURCE / "setup.py").exists():
        # the native fast lane of decrypt (issue 22), as `pip install` builds it; a snapshot
        # that cannot build it is timed without it (the report says which: "fastlane")
        subprocess.run(
            [sys.executable, str(Path(__file__).with_name("build_fastlane.py")), str(SOURCE)],
            check=False,
            capture_output=True,
        )


def fastlane_built() -> str:
    """Whether the package under test has its native fast lane ("yes"/"no")."""
    code = "from netsec_layers.session import fastlane; print(fastlane.available())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=CHILD_ENV,
        cwd=SOURCE,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return "yes" if out == "True" else "no"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return run_worker(argv[1:])
    if argv[:1] == ["--columnar"]:  # issue 21: records into a DataFrame (tools/bench_columnar.py)
        import bench_columnar

        return bench_columnar.main(argv[1:])
    if argv[:1] == ["--table"]:  # render the Markdown table of a saved --json report
        rep = json.loads(Path(argv[1]).read_text())
        print(table(rep["rows"], rep))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", default="/tmp/netsec-bench", type=Path)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="CI: tiny files, 1 run, check counts")
    p.add_argument("--json", action="store_true", help="JSON on stdout instead of the table")
    p.add_argument("--esp-packets", type=int, default=100_000)
    p.add_argument("--esp-tunnel-packets", type=int, default=300_000,
                   help="packets of the ESP gateway tunnel (issue 22)")  # fmt: skip
    p.add_argument("--only", help="regular expression: run only the tasks it finds in the name")
    p.add_argument("--tls-connections", type=int, default=100)
    p.add_argument("--tls-records", type=int, default=1000, help="app-data records/connection")
    p.add_argument("--tls-pair-records", type=int, default=150_000,
                   help="app-data records of the one-host-pair TLS captures (issue 22)")  # fmt: skip
    p.add_argument("--scapy-sample", type=int, default=5000, help="frames Scapy processes")
    p.add_argument("--memory-packets", type=int, default=1_000_000,
                   help="big file of the memory check (0: skip it)")  # fmt: skip
    p.add_argument("--skip-interactive", action="store_true")
    p.add_argument(
        "--source",
        type=Path,
        help="run the netsec_layers package found in DIR "
        "(e.g. a `git archive HEAD` snapshot) instead of the installed one",
    )
    a = p.parse_args(argv)
    a.workdir = a.workdir.resolve()  # children run in --source's directory
    if a.source:
        global CHILD_ENV, SOURCE
        SOURCE = a.source.resolve()
        CHILD_ENV = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(
                [str(SOURCE), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        )
    compile_package()
    if a.quick:
        a.runs, a.esp_packets, a.tls_connections, a.tls_records = 1, 300, 4, 30
        a.scapy_sample, a.memory_packets = 60, 0
        a.esp_tunnel_packets = 3000
        a.tls_pair_records = 2000
        a.workdir = a.workdir / "quick"
    files = Files(a.workdir, a.esp_packets, a.tls_connections, a.tls_records,
                  esp_tunnel_packets=a.esp_tunnel_packets,
                  tls_pair_records=a.tls_pair_records)  # fmt: skip
    files.make(big=a.memory_packets or None)
    tasks = build_tasks(files, a.workdir, a.scapy_sample)
    if a.only:
        tasks = [t for t in tasks if re.search(a.only, t.name)]
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    results = measure(tasks, a.runs, batch_scapy=a.quick)
    rows = summarize(tasks, results)
    extra: dict[str, Any] = {"help": help_time(1 if a.quick else a.runs)}
    if not a.skip_interactive:
        extra["interactive"] = run_interactive(files, 0.05 if a.quick else 1.0)
    if a.memory_packets:
        extra["memory"] = memory_check(files, a.workdir)
    problems = check_agreement(rows, files)
    if a.quick and any(t.name == "encrypt ESP GCM" for t in tasks):
        # tshark must also decrypt what netsec encrypt wrote (every packet).
        enc = a.workdir / "out" / "encrypted.pcap"
        pr = run([TSHARK, "-r", str(enc), *esp_prefs(files.paths["esp-gcm-sa"]), "-T", "fields",
                  "-e", "esp.pad_len"], stdout=a.workdir / "out" / "encrypted.tshark")  # fmt: skip
        got = count_field_values(a.workdir / "out" / "encrypted.tshark", 0)
        if pr.rc != 0 or got != files.info["plain"]["packets"]:
            problems.append(f"tshark decrypted {got} of netsec's encrypted packets")
        for r in rows:  # Scapy decrypts every ESP packet of its sample
            if r["task"].startswith("decrypt ESP") and r["scapy"]["count"] != a.scapy_sample:
                problems.append(f"{r['task']}: Scapy decrypted {r['scapy']['count']}")
    report = {"started": started, "runs": a.runs, "quick": a.quick, "versions": versions(),
              "files": {k: str(v) for k, v in files.paths.items()}, "rows": rows, **extra,
              "problems": problems}  # fmt: skip
    if a.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(table(rows, extra))
        print("\n* Scapy: loop rate over the first "
              f"{a.scapy_sample:,} frames (imports excluded).")  # fmt: skip
    for prob in problems:
        print(f"bench: DISAGREEMENT: {prob}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
