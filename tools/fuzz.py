#!/usr/bin/env python3
"""Coverage-guided fuzzing of every netsec_layers parser that takes outside bytes.

Usage::

    python tools/fuzz.py TARGET --seconds N      # one target (atheris/libFuzzer)
    python tools/fuzz.py all --seconds N         # every target in turn, N seconds each
    python tools/fuzz.py TARGET --replay FILE... # run inputs once (regression check)
    python tools/fuzz.py --list

Invariant (h11's fuzz rule): a target parses its input or raises the project's own error
(:class:`netsec_layers.errors.NetsecError` subclasses); anything else is a crash.  The Scapy TLS
dissector never raises by contract, so there a ``dissector error`` undecoded layer or a rebuild
that differs from the input is a crash too.  A per-input time limit catches hangs.

Crashing inputs are written to ``tests/robustness/crashes/<target>-<sha1>.bin`` (one per distinct
exception site), replayed by ``tests/robustness/test_crash_replay.py``.  Seeds come from the
sample captures under ``pcaps/``.  Without atheris a plain random-mutation loop is used.

Multi-part inputs (stream chunks, packets, argv) use one framing, :func:`split_parts`:
``[flags:1][len:2 big-endian][bytes:len]`` repeated; a short tail is one last part.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PCAPS = ROOT / "pcaps"
CRASH_DIR = ROOT / "tests" / "robustness" / "crashes"
TIME_LIMIT = 10  # seconds per input

# --------------------------------------------------------------------------------------------
# framing


def split_parts(data: bytes, limit: int = 64) -> Iterator[tuple[int, bytes]]:
    """``(flags, bytes)`` parts of a multi-part input (see module docstring)."""
    pos, n, count = 0, len(data), 0
    while pos < n and count < limit:
        flags = data[pos]
        if n - pos < 3:
            yield flags, data[pos + 1 :]
            return
        size = (data[pos + 1] << 8) | data[pos + 2]
        yield flags, data[pos + 3 : pos + 3 + size]
        pos += 3 + size
        count += 1


def join_parts(parts: list[tuple[int, bytes]]) -> bytes:
    """Inverse of :func:`split_parts` (parts longer than 65535 bytes are cut)."""
    return b"".join(
        bytes((f & 0xFF,)) + struct.pack("!H", len(b[:65535])) + b[:65535] for f, b in parts
    )


# --------------------------------------------------------------------------------------------
# shared fixtures (built once per process)

_cache: dict[str, Any] = {}


def _sample_keys_text() -> bytes:
    if "keys" not in _cache:
        _cache["keys"] = b"".join(p.read_bytes() for p in sorted((PCAPS / "tls").glob("*.keys")))
    return _cache["keys"]  # type: ignore[no-any-return]


def tls_key_material() -> Any:
    from netsec_layers.session.tls_keys import TLSKeyMaterial

    km = TLSKeyMaterial()
    km.add_keylog_text(_sample_keys_text())
    return km


def fuzz_sas() -> list[Any]:
    """A GCM SA, a CBC+HMAC SA (ESP, one UDP-encapsulated), an AH SA and a wildcard."""
    from netsec_layers.keys.sa import SecurityAssociation

    return [
        SecurityAssociation(0x1001, "AES-GCM-16", bytes(range(20)), src="10.0.0.1", dst="10.0.0.2"),
        SecurityAssociation(
            0x1002,
            "AES-CBC",
            bytes(range(16, 32)),
            "HMAC-SHA2-256-128",
            bytes(range(32, 64)),
            mode="transport",
            esn=True,
        ),
        SecurityAssociation(
            0x1003,
            "CHACHA20-POLY1305",
            bytes(range(36)),
            udp_encap=(4500, 4500),
        ),
        SecurityAssociation(
            0x2001, "NULL", b"", "HMAC-SHA1-96", bytes(range(20)), protocol="ah", mode="transport"
        ),
    ]


def _ipv4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    from netsec_layers.session.ipbuild import ipv4_header

    return ipv4_header(src=src, dst=dst, proto=proto, payload_len=len(payload)) + payload


def esp_seed_packets() -> list[bytes]:
    """Raw IPv4 packets: ESP (GCM tunnel, CBC transport ESN), UDP-4500 ESP, AH, keepalive."""
    from netsec_layers.session.ipsec import SADatabase

    sas = fuzz_sas()
    db = SADatabase(sas)
    inner = _ipv4(
        "192.168.1.1",
        "192.168.2.2",
        6,
        struct.pack("!HHIIHHHH", 1234, 443, 1, 0, 0x5018, 512, 0, 0) + b"\x16\x03\x01\x00\x01\x01",
    )
    out = [
        _ipv4("10.0.0.1", "10.0.0.2", 50, db.encrypt(inner, sa=sas[0], next_header=4)),
        _ipv4("10.0.0.1", "10.0.0.2", 50, db.encrypt(b"x" * 40, sa=sas[1], next_header=17)),
        _ipv4(
            "10.0.0.1", "10.0.0.2", 50, db.encrypt(inner, sa=sas[0], next_header=4, fault="bad-icv")
        ),
    ]
    esp = db.encrypt(inner, sa=sas[2], next_header=4)
    udp = struct.pack("!HHHH", 4500, 4500, 8 + len(esp), 0) + esp
    out.append(_ipv4("10.0.0.3", "10.0.0.4", 17, udp))
    out.append(_ipv4("10.0.0.3", "10.0.0.4", 17, struct.pack("!HHHH", 4500, 4500, 9, 0) + b"\xff"))
    with contextlib.suppress(Exception):
        out.append(
            db.build_ah(_ipv4("10.0.0.1", "10.0.0.2", 17, b"\0\1\0\2\0\x0c\0\0abcd"), sa=sas[3])
        )
    return out


def tcp_streams(pcap: Path) -> list[tuple[bool, bytes]]:
    """In-order TCP payload chunks (from_client, data) of a sample capture, for seeds."""
    from netsec_layers.io.pcap import CaptureReader
    from netsec_layers.session.netstack import IPDecoder
    from netsec_layers.session.tcp import TCPReassembler

    dec, tcp, out = IPDecoder(), TCPReassembler(), []
    with CaptureReader(str(pcap)) as r:
        for fr in r:
            ip = dec.feed(fr)
            if ip is not None and ip.proto == 6:
                out.extend((c.from_client, c.data) for c in tcp.feed(ip) if c.data)
    return out


def tcp_segments(pcap: Path) -> list[bytes]:
    from netsec_layers.io.pcap import CaptureReader
    from netsec_layers.session.netstack import IPDecoder

    dec, out = IPDecoder(), []
    with CaptureReader(str(pcap)) as r:
        for fr in r:
            ip = dec.feed(fr)
            if ip is not None and ip.proto == 6:
                out.append((ip.src, ip.payload))
    first = out[0][0] if out else ""
    return [bytes((0 if s == first else 1,)) + p for s, p in out]


# --------------------------------------------------------------------------------------------
# targets: each takes bytes and returns normally or raises NetsecError


class InvariantError(AssertionError):
    """A target's own invariant failed (not an exception from the library)."""


def t_tls(data: bytes) -> None:
    """Scapy TLS dissection without context: never raises, rebuilds byte-exact."""
    from netsec_layers.layers.tls import TLSUndecoded, dissect_tls

    _check_tls(dissect_tls(data), data, TLSUndecoded)


_VERSIONS = (None, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304)
_KEX = (None, "RSA", "DHE_RSA", "ECDHE_RSA", "ECDHE_ECDSA", "PSK", "TLS13", "DH_anon")


def t_tls_ctx(data: bytes) -> None:
    """Scapy TLS dissection with a version/kex/encrypted context chosen by the first byte;
    also dissect_handshake on the rest."""
    from netsec_layers.layers.tls import TLSUndecoded, dissect_handshake, dissect_tls

    if not data:
        return
    b, body = data[0], data[1:]
    kw = {"version": _VERSIONS[b % 6], "kex": _KEX[(b >> 3) % 8]}
    _check_tls(dissect_tls(body, encrypted=bool(b & 0x40), **kw), body, TLSUndecoded)
    _check_tls(dissect_handshake(body, **kw), body, TLSUndecoded)


def _check_tls(p: Any, data: bytes, undecoded: type) -> None:
    for layer in _iter_layers(p):
        if isinstance(layer, undecoded) and str(layer.reason).startswith("dissector error"):
            raise InvariantError(f"TLS {layer.reason}")
    try:
        rebuilt = bytes(p)
    except Exception as exc:  # noqa: BLE001 - the invariant is "bytes(dissect(x)) == x"
        raise InvariantError(f"bytes() of a dissected packet raised {exc!r}") from exc
    if rebuilt != data:
        raise InvariantError(f"rebuild differs: {len(rebuilt)} bytes vs {len(data)} in")


def _iter_layers(p: Any) -> Iterator[Any]:
    seen = 0
    while p is not None and type(p).__name__ != "NoPayload" and seen < 10000:
        yield p
        p = p.payload
        seen += 1


def _fake_conn() -> Any:
    from netsec_layers.session.tcp import TCPConn

    return TCPConn(0, ("10.0.0.1", 40000), ("10.0.0.2", 443), 4, True)


def t_tracker(data: bytes) -> None:
    """TLSTracker fed chunks: flags bit0 direction, bit1 gap, bit2 fin, bit3 rst.
    Keys: all sample key logs merged, so the decryption paths run."""
    from netsec_layers.session.tcp import StreamChunk
    from netsec_layers.session.tls import TLSTracker

    tr = TLSTracker(tls_key_material())
    conn = _fake_conn()
    for i, (flags, part) in enumerate(split_parts(data, 256)):
        for rec in tr.feed(
            StreamChunk(
                conn,
                bool(flags & 1),
                part,
                i + 1,
                i,
                (flags >> 4) + 1 if flags & 2 else 0,
                bool(flags & 4),
                bool(flags & 8),
            )
        ):
            if rec.plaintext is not None and not rec.decrypted and rec.inner_content_type is None:
                raise InvariantError("plaintext without decryption or content type")


def t_tcp(data: bytes) -> None:
    """TCPReassembler (then TLSTracker) fed IPv4 TCP segments: flags bit0 swaps src/dst,
    bit1 uses a second client port, bit2 IPv6."""
    from netsec_layers.session.netstack import IPPacket
    from netsec_layers.session.tcp import TCPReassembler
    from netsec_layers.session.tls import TLSTracker

    tcp = TCPReassembler(max_buffer=1 << 16, max_total_buffer=1 << 17, max_connections=8)
    tr = TLSTracker()
    for i, (flags, part) in enumerate(split_parts(data, 256)):
        v6 = bool(flags & 4)
        a, b = ("::1", "::2") if v6 else ("10.0.0.1", "10.0.0.2")
        if flags & 1:
            a, b = b, a
        ip = IPPacket(6 if v6 else 4, a, b, 6, part, b"", b"", i + 1, i, False)
        for chunk in tcp.feed(ip):
            tr.feed(chunk)
    for chunk in tcp.flush():
        tr.feed(chunk)


def t_esp(data: bytes) -> None:
    """CaptureEngine with an SADatabase (GCM tunnel, CBC+HMAC transport ESN, ChaCha20 NAT-T,
    AH) fed raw IP packets; flag bit0 also runs the Scapy layers (dissect_ip + decrypt_packet)."""
    from netsec_layers.errors import NetsecError
    from netsec_layers.io.pcap import Frame
    from netsec_layers.session.engine import CaptureEngine
    from netsec_layers.session.ipsec import SADatabase

    eng = CaptureEngine(sadb=SADatabase(fuzz_sas()))
    for i, (flags, part) in enumerate(split_parts(data, 64)):
        res = eng.process(Frame(i + 1, i, 101, part, len(part)))
        for u in res.units:
            if getattr(u, "proto", "") == "esp" and u.inner is not None and not u.decrypted:
                raise InvariantError("ESP inner bytes exposed without decryption")
        if flags & 1 and part:
            from netsec_layers.session.ipsec_scapy import decrypt_packet, dissect_ip

            pkt = dissect_ip(part)
            bytes(pkt)
            pkt.summary()
            with contextlib.suppress(NetsecError):
                decrypt_packet(pkt, SADatabase(fuzz_sas())).summary()
    eng.flush()


def t_pcap(data: bytes) -> None:
    """CaptureReader over BytesIO (pcap/pcapng incl. DSBs) through the whole CaptureEngine."""
    from netsec_layers.io.pcap import CaptureReader
    from netsec_layers.session.engine import CaptureEngine

    eng = CaptureEngine()
    with CaptureReader(io.BytesIO(data), chunk_size=4096) as r:
        r.on_secrets = eng.on_secrets
        for n, fr in enumerate(r):
            eng.process(fr)
            if n > 5000:
                break
    eng.flush()


def t_keylog(data: bytes) -> None:
    """NSS key log parser (bytes and str input)."""
    from netsec_layers.keys.keylog import parse_keylog

    kl = parse_keylog(data)
    len(kl)
    kl.lines()
    parse_keylog(data.decode("utf-8", "replace"))


def t_safile(data: bytes) -> None:
    """SA file parsers: esp_sa, xfrm state, project JSON, auto-detect and load_sa_file."""
    from netsec_layers.errors import NetsecError
    from netsec_layers.keys import sa_files

    text = data.decode("utf-8", "replace")
    for fn in (
        sa_files.parse_esp_sa,
        sa_files.parse_xfrm_state,
        sa_files.parse_project,
        sa_files.parse_sa_text,
    ):
        with contextlib.suppress(NetsecError):
            for sa in fn(text):
                with contextlib.suppress(NetsecError):
                    sa_files.format_esp_sa([sa])
                    sa_files.format_project([sa])
                    sa_files.format_xfrm_add(sa)
    fd, path = tempfile.mkstemp(prefix="netsec-fuzz-", suffix=".sa", dir=_tmpdir())
    try:
        os.write(fd, data)
        os.close(fd)
        sa_files.load_sa_file(path)
    finally:
        os.unlink(path)


def _tmpdir() -> str:
    if "tmp" not in _cache:
        d = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
        _cache["tmp"] = tempfile.mkdtemp(prefix="netsec-fuzz-", dir=d)
        import atexit
        import shutil

        atexit.register(shutil.rmtree, _cache["tmp"], True)  # libFuzzer's _exit skips this
    return _cache["tmp"]  # type: ignore[no-any-return]


def _cli_vocab() -> list[str]:
    tls = PCAPS / "tls"
    tmp = _tmpdir()
    return [
        "dissect",
        "decrypt",
        "stats",
        "keys",
        "encrypt",
        "convert",
        "check",
        "inject",
        "export",
        "--json",
        "-V",
        "-q",
        "-w",
        "--keylog",
        "--rsa-key",
        "--esp-sa",
        "--no-replay-check",
        "--max-connections",
        "--max-tcp-buffer",
        "--show-keys",
        "1",
        "0",
        "--format",
        "pcap",
        "pcapng",
        "--to",
        "esp_sa",
        "json",
        "xfrm",
        "--spi",
        "--seq",
        "--mode",
        "tunnel",
        "transport",
        "--udp-encap",
        "--help",
        "--version",
        "-",
        "",
        str(tls / "tls12-handshake-failure.pcap"),
        str(tls / "tls12-rsa-aes128gcm.pcap"),
        str(tls / "tls12-rsa-aes128gcm.keys"),
        str(tls / "test-rsa-key.pem"),
        str(PCAPS / "strongswan" / "strongswan_natt.esp_sa"),
        str(tls / "tls12-rsa-aes128gcm.json"),
        f"{tmp}/out.pcap",
        f"{tmp}/out.pcapng",
        f"{tmp}/out.keys",
        "/nonexistent/x",
        "/dev/null",
        "0x1",
        "-1",
        "99999999999999999999",
        f"{tls / 'test-rsa-key.pem'}:wrong",
    ]


def t_cli(data: bytes) -> None:
    """``netsec`` in-process with random argv: part flag < 0x80 picks a vocabulary word,
    else the part's bytes are the argument.  Only a return code or SystemExit is allowed."""
    from netsec_layers.cli.main import main

    vocab = _cli_vocab()
    argv = [
        vocab[f % len(vocab)]
        if f < 0x80
        else p.decode("utf-8", "surrogateescape").replace("\0", "")
        for f, p in split_parts(data, 12)
    ]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="replace")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="replace")
    old_in = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(argv)
    except SystemExit:
        pass
    finally:
        sys.stdin = old_in


_FAST_CLASSES: list[Any] = []


def _fast_setup() -> list[Any]:
    if not _FAST_CLASSES:
        from scapy.layers.inet import IP, TCP, UDP
        from scapy.layers.inet6 import IPv6
        from scapy.layers.l2 import Ether

        from netsec_layers.layers.all import AH, ESP, TLSRecord, bind_netsec_layers

        bind_netsec_layers()
        _FAST_CLASSES.extend([Ether, IP, IPv6, TCP, UDP, ESP, AH, TLSRecord])
    return _FAST_CLASSES


def _fast_shape(p: Any) -> list[tuple[str, str, Any, Any]]:
    out = []
    while p.__class__.__name__ != "NoPayload":
        out.append((type(p).__name__, repr(p.fields), p.raw_packet_cache, p.overloaded_fields))
        p = p.payload
    return out


def t_fast(data: bytes) -> None:
    """Differential: layers.fast builds what Scapy's constructors build (first byte: the
    class), or raises the same exception type."""
    from netsec_layers.layers import fast

    if not data:
        return
    cls, body = _fast_setup()[data[0] % 8], data[1:]
    res = []
    for ref in (True, False):
        try:
            if ref:
                with fast.scapy_only():
                    res.append(cls(body))
            else:
                res.append(fast.dissect(body, cls))
        except Exception as e:  # noqa: BLE001 - the type is compared
            res.append(type(e))
    a, b = res
    if isinstance(a, type) or isinstance(b, type):
        if a is not b:
            raise InvariantError(f"{cls.__name__}: {a!r} vs {b!r}")
        return
    if _fast_shape(a) != _fast_shape(b) or bytes(a) != bytes(b) or a.summary() != b.summary():
        raise InvariantError(f"{cls.__name__}: fast and Scapy dissections differ")


def t_dtls(data: bytes) -> None:
    """DTLS layers (first byte: CID length hint or none): never raise, rebuild byte-exact."""
    from netsec_layers.layers.dtls import dissect_dtls
    from netsec_layers.layers.tls import TLSUndecoded

    if not data:
        return
    cid = None if data[0] & 0x80 else data[0] & 0x1F
    _check_tls(dissect_dtls(data[1:], cid_length=cid), data[1:], TLSUndecoded)


def t_dtls_tracker(data: bytes) -> None:
    """DTLSTracker fed datagrams (flags bit0: from the server) with the DTLS sample keys."""
    from netsec_layers.keys.keylog import parse_keylog
    from netsec_layers.session.dtls import DTLSTracker
    from netsec_layers.session.netstack import IPPacket
    from netsec_layers.session.tls_keys import TLSKeyMaterial
    from netsec_layers.session.trackers import Datagram

    if "dtls_keys" not in _cache:
        keys = b"".join(p.read_bytes() for p in sorted((PCAPS / "dtls").glob("*.keys")))
        _cache["dtls_keys"] = parse_keylog(keys)
    km = TLSKeyMaterial()
    km.add_keylog(_cache["dtls_keys"])
    tr = DTLSTracker(km)
    for i, (flags, part) in enumerate(split_parts(data, 64)):
        a, b = ("10.0.0.1", 40000), ("10.0.0.2", 4433)
        src, dst = (b, a) if flags & 1 else (a, b)
        ip = IPPacket(4, src[0], dst[0], 17, b"", b"", b"", i + 1, i)
        d = Datagram(ip, src[1], dst[1], part)
        if tr.claims(d):
            for ev in tr.feed(d):
                if ev.plaintext is not None and ev.epoch and not ev.decrypted:
                    raise InvariantError("DTLS plaintext of a protected record not authenticated")
                ev.to_json()


def t_ike(data: bytes) -> None:
    """IKE: the Scapy layers on each part (never raise, rebuild byte-exact), then IKETracker
    fed the parts as UDP payloads (flags bit0: port 500, else 4500) with the sample's keys."""
    from netsec_layers.keys.ike_keys import parse_ike_keys
    from netsec_layers.layers.ike import ISAKMP, IKEv2
    from netsec_layers.session.ike import IKETracker
    from netsec_layers.session.netstack import IPPacket
    from netsec_layers.session.trackers import Datagram

    if "ike_keys" not in _cache:
        text = (PCAPS / "ike" / "strongswan_ikev2.ike.json").read_text()
        _cache["ike_keys"] = parse_ike_keys(text)
    tr = IKETracker(_cache["ike_keys"])
    for i, (flags, part) in enumerate(split_parts(data, 64)):
        for cls in (IKEv2, ISAKMP):
            if bytes(cls(part)) != part:
                raise InvariantError(f"{cls.__name__} does not rebuild byte-exact")
        port = 500 if flags & 1 else 4500
        ip = IPPacket(4, "10.0.0.1", "10.0.0.2", 17, b"", b"", b"", i + 1, i)
        d = Datagram(ip, port, port, part)
        if tr.claims(d):
            for ev in tr.feed(d):
                j = ev.to_json()
                if j is not None and j["decrypted"] and j["inner_payloads"] is None:
                    raise InvariantError("IKE message decrypted without inner payloads")


def _ike_seeds() -> list[bytes]:
    """The strongSwan sample's UDP payloads (flag bit0: port 500), whole and one by one."""
    from scapy.layers.inet import UDP
    from scapy.utils import rdpcap

    grams = [
        (int(k[UDP].sport == 500), bytes(k[UDP].payload))
        for k in rdpcap(str(PCAPS / "ike" / "strongswan_ikev2.pcap"))
        if UDP in k
    ]
    return [join_parts(grams[:40]), *(join_parts([g]) for g in grams[:12])]


def t_mime(data: bytes) -> None:
    """RFC 5322/MIME parser: never raises, rebuilds the input byte for byte."""
    from netsec_layers.layers.mail import parse_entity

    ent = parse_entity(data)
    if ent.build() != data:
        raise InvariantError("MIME entity does not rebuild byte-exact")
    ent.to_node()


def t_message(data: bytes) -> None:
    """``netsec mail dissect`` on any bytes (S/MIME, CMS) with the mail sample keys."""
    from netsec_layers.keys.smime_keys import SMIMEKeyring
    from netsec_layers.session.mail_message import dissect_message

    if "smime_ring" not in _cache:
        ring = SMIMEKeyring()
        cms = ROOT / "tests" / "vectors" / "mail" / "cms"
        for n in ("rsa", "ec"):
            ring.add_key_file(str(cms / f"{n}.key"))
            ring.add_cert_file(str(cms / f"{n}.crt"))
        ring.passwords.append(b"correct horse")
        _cache["smime_ring"] = ring
    if data:
        json.dumps(dissect_message(data, _cache["smime_ring"]).to_json())


def t_mail_tracker(data: bytes) -> None:
    """MailTracker fed stream chunks (flags bit0: from the client, bit1: a gap before)."""
    from netsec_layers.session.mail import MailTracker
    from netsec_layers.session.tcp import StreamChunk, TCPConn

    tr = MailTracker()
    conn = TCPConn(0, ("10.0.0.1", 40000), ("10.0.0.2", 25), 4, True)
    claimed = False
    for i, (flags, part) in enumerate(split_parts(data, 64)):
        chunk = StreamChunk(conn, bool(flags & 1), part, i + 1, i, gap=(flags >> 1) & 1)
        claimed = claimed or tr.claims(chunk)
        if claimed:
            for ev in tr.feed(chunk):
                json.dumps(ev.to_json())
                ev.summary()


def t_ssh(data: bytes) -> None:
    """SSHTracker (with the SSH sample's key log) fed chunks: flags bit0 from the client, bit1
    a gap before; every event's JSON and summary are built."""
    from netsec_layers.keys.ssh_keylog import parse_ssh_keylog
    from netsec_layers.session.ssh import SSHTracker
    from netsec_layers.session.tcp import StreamChunk, TCPConn

    if "ssh_keys" not in _cache:
        _cache["ssh_keys"] = (PCAPS / "ssh" / "ssh-sample.keys").read_text()
    tr = SSHTracker(parse_ssh_keylog(_cache["ssh_keys"]))
    conn = TCPConn(0, ("10.0.0.1", 40000), ("10.0.0.2", 22), 4, True)
    for i, (flags, part) in enumerate(split_parts(data, 64)):
        chunk = StreamChunk(conn, bool(flags & 1), part, i + 1, i, gap=(flags >> 1) & 1)
        for ev in tr.feed(chunk):
            json.dumps(ev.to_json())
            ev.summary()


def t_ssh_layers(data: bytes) -> None:
    """SSH layers: message, binary packet, stream; never raise, rebuild byte-exact."""
    from netsec_layers.layers.ssh import SSHBinaryPacket, dissect_ssh_message, dissect_ssh_stream

    for p in (dissect_ssh_message(data), SSHBinaryPacket(data) if data else None):
        if p is not None:
            q = p.copy()
            q.clear_cache()
            if bytes(p) != data or bytes(q) != data:
                raise InvariantError("SSH layer does not rebuild byte-exact")
    if b"".join(bytes(p) for p in dissect_ssh_stream(data)) != data:
        raise InvariantError("SSH stream does not rebuild byte-exact")


def t_openpgp(data: bytes) -> None:
    """OpenPGP: Scapy layers (never raise, rebuild byte for byte), wire parser, armor, message
    analysis with a session key (SEIPD v1/v2 paths run; no passphrase: S2K is slow by design)."""
    from netsec_layers.crypto import openpgp_armor, openpgp_wire
    from netsec_layers.crypto.openpgp_sym import SessionKey
    from netsec_layers.errors import NetsecError
    from netsec_layers.layers.openpgp import dissect_packets
    from netsec_layers.session.openpgp import open_message

    if b"".join(bytes(p) for p in dissect_packets(data)) != data:
        raise InvariantError("OpenPGP layers: rebuild differs from the input")
    with contextlib.suppress(NetsecError):
        openpgp_wire.read_packets(data)
    with contextlib.suppress(NetsecError):
        openpgp_armor.decode(data)
    open_message(
        data, session_keys=[SessionKey(9, bytes(32)), SessionKey(None, bytes(16))]
    ).to_json()


def t_tls_hello_checks(data: bytes) -> None:
    """JA3/JA3S/JA4, the hello/heartbeat warning checks and the certificate checks (issue #20)
    on any message: a hello that parses always gives a 32-hex JA3(S) and a three-part JA4."""
    from netsec_layers.session.tls_fingerprint import fingerprint_hello
    from netsec_layers.session.tls_hello import parse_hello
    from netsec_layers.session.tls_warnings import heartbeat_overflow, hello_length_mismatch

    msg = bytes((1 + (data[:1] or b"\0")[0] % 2,)) + len(data[1:]).to_bytes(3, "big") + data[1:]
    hello_length_mismatch(msg)
    heartbeat_overflow(data)
    import datetime as dt

    from netsec_layers.crypto.x509_checks import certificate_findings
    from netsec_layers.errors import ParseError
    from netsec_layers.session.tls_hello import parse_certificate_chain

    for tls13 in (False, True):
        try:
            chain = parse_certificate_chain(msg, tls13=tls13)
        except ParseError:
            continue
        at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        certificate_findings(chain[:2], sni="a.example", at=at)
    fp = fingerprint_hello(parse_hello(msg))
    if len(fp.ja3 or fp.ja3s or "") != 32 or (fp.ja4 is not None and fp.ja4.count("_") != 2):
        raise InvariantError(f"bad fingerprint {fp}")


def t_columnar_report(data: bytes) -> None:
    """Any capture through the engine (sample keys and SAs): every unit's columnar row turns
    back into exactly its JSON object, and the HTML report renders (issue 21)."""
    from netsec_layers.io.columnar import batches_from_units, json_from_row
    from netsec_layers.io.pcap import CaptureReader
    from netsec_layers.io.report import ReportModel
    from netsec_layers.session.engine import CaptureEngine
    from netsec_layers.session.ipsec import SADatabase

    eng = CaptureEngine(tls_keys=tls_key_material(), sadb=SADatabase(fuzz_sas()))
    units: list[tuple[dict[str, Any], int | None]] = []
    with CaptureReader(io.BytesIO(data), chunk_size=4096) as r:
        r.on_secrets = eng.on_secrets
        for n, fr in enumerate(r):
            res = eng.process(fr)
            units += [(o, fr.ts_ns) for o in (u.to_json() for u in res.units) if o is not None]
            if n > 2000:
                break
    units += [(o, None) for o in (u.to_json() for u in eng.flush()) if o is not None]
    model = ReportModel("fuzz")
    rows = [row for b in batches_from_units(units, batch_size=64) for row in b.to_pylist()]
    for (obj, ts), row in zip(units, rows, strict=True):
        model.add_unit(obj, ts)
        if json_from_row(row) != obj:
            raise InvariantError(f"columnar row {row} is not {obj}")
    model.render()


_ECH_SECRET = bytes(range(32))


def _ech_config_seed() -> bytes:
    """An RFC 9849 ECHConfig (X25519, HKDF-SHA256 with AES-128-GCM and ChaCha20Poly1305)."""
    contents = (
        b"\x07\x00\x20\x00\x20"
        + bytes(range(1, 33))
        + b"\x00\x08\x00\x01\x00\x01\x00\x01\x00\x03"
        + b"\x00\x0epublic.example\x00\x00"
    )
    return b"\xfe\x0d" + len(contents).to_bytes(2, "big") + contents


def t_ech(data: bytes) -> None:
    """Encrypted Client Hello (RFC 9849): ECHConfig/ECHConfigList/extension parsers, the
    ClientHelloInner decoder and the tracker's ECH step (crypto/ech.py, session/tls_ech.py)
    raise only our errors; the Scapy ECHConfig(List) layers never raise and rebuild exactly."""
    from netsec_layers.crypto import ech
    from netsec_layers.errors import NetsecError
    from netsec_layers.layers.tls import dissect_ech_config, dissect_ech_config_list
    from netsec_layers.session.tls_ech import examine_client_hello
    from netsec_layers.session.tls_hello import parse_hello
    from netsec_layers.session.tls_keys import TLSKeyMaterial

    for fn in (ech.parse_ech_config, ech.parse_ech_config_list, ech.parse_ech_client_hello):
        with contextlib.suppress(NetsecError):
            fn(data)
    for dissect in (dissect_ech_config, dissect_ech_config_list):
        p = dissect(data)
        if bytes(p) != data:
            raise InvariantError(f"{dissect.__name__} does not rebuild its input")
    # data as a ClientHello message body: AAD, opening with a fixed key log entry, and as an
    # EncodedClientHelloInner against itself
    msg = b"\x01" + len(data).to_bytes(3, "big") + data
    with contextlib.suppress(NetsecError):
        ech.client_hello_outer_aad(msg)
    with contextlib.suppress(NetsecError):
        ech.decode_client_hello_inner(data, client_hello_outer=msg)
    try:
        hello = parse_hello(msg)
    except NetsecError:
        return
    keys = TLSKeyMaterial()
    keys.set_secret(hello.random, "ECH_SECRET", _ECH_SECRET)
    keys.set_secret(hello.random, "ECH_CONFIG", _ech_config_seed())
    examine_client_hello(keys, msg, hello)
    # the same hello opened with a server's ECH key (--ech-key: DHKEM Decap of its enc)
    server = TLSKeyMaterial()
    server.add_ech_keys(ech.load_ech_pem(_ech_server_pem(), "fuzz"))
    examine_client_hello(server, msg, hello)


def _ech_server_pem(config_list: bytes | None = None) -> str:
    """A server ECH key file (draft-farrell-tls-pemesni) whose X25519 key has config_id 7."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import x25519

    key = x25519.X25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
    if config_list is None:
        pub = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        contents = (
            b"\x07\x00\x20\x00\x20" + pub + b"\x00\x04\x00\x01\x00\x01"
            b"\x00\x0epublic.example\x00\x00"
        )
        cfg = b"\xfe\x0d" + len(contents).to_bytes(2, "big") + contents
        config_list = len(cfg).to_bytes(2, "big") + cfg
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    b64 = base64.b64encode(config_list).decode()
    return f"{pem}-----BEGIN ECHCONFIG-----\n{b64}\n-----END ECHCONFIG-----\n"


def t_ech_key_file(data: bytes) -> None:
    """``--ech-key`` files (crypto/ech.load_ech_pem): any text, and a real private key with any
    bytes as its ECHConfigList, give keys or a ParseError, nothing else."""
    from netsec_layers.crypto.ech import load_ech_pem
    from netsec_layers.errors import ParseError

    for text in (data.decode("latin-1"), _ech_server_pem(data)):
        with contextlib.suppress(ParseError):
            load_ech_pem(text, "fuzz")


def _ech_seeds() -> list[bytes]:
    cfg = _ech_config_seed()
    ext = b"\x00\x00\x01\x00\x01\x07\x00\x20" + bytes(32) + b"\x00\x30" + bytes(48)
    exts = b"\x00\x0a\x00\x04\x00\x02\x00\x1d" + b"\xfe\x0d" + len(ext).to_bytes(2, "big") + ext
    body = (
        b"\x03\x03"
        + bytes(32)
        + b"\x00\x00\x02\x13\x01\x01\x00"
        + len(exts).to_bytes(2, "big")
        + exts
    )
    return [cfg, len(cfg).to_bytes(2, "big") + cfg, ext, body]


_FASTLANE_CAPTURE: list[Any] = []


def _fastlane_capture() -> tuple[list[bytes], str]:
    """One TLS 1.3 AES-128-GCM connection (crafted, made once): handshake, then 12 records."""
    if not _FASTLANE_CAPTURE:
        from netsec_layers.session.tcpflow import TCPFlow
        from netsec_layers.session.tls_craft import CraftedTLSConnection

        rng = random.Random(22)
        conn = CraftedTLSConnection(version=0x0304, suite=0x1301, rng=rng)
        flow = TCPFlow(("10.1.0.1", 40000), ("10.1.0.2", 443))
        packets = flow.open()
        for from_client, data in conn.handshake():
            packets += flow.data(from_client, data, mss=1460)
        for i in range(12):
            wire = conn.application_data(bytes(200 + i), from_client=i % 3 == 0, record_size=150)
            packets += flow.data(i % 3 == 0, wire, mss=300)
        _FASTLANE_CAPTURE.extend((packets, conn.keylog()))
    return _FASTLANE_CAPTURE[0], _FASTLANE_CAPTURE[1]


def t_fastlane(data: bytes) -> None:
    """The native fast lane against the Python path (session/fastlane.py): the fuzz input's
    parts become frames inserted after the handshake and six records of a real connection
    (flags bit0: the part goes after a real frame's Ethernet/IPv4/TCP headers, so it reaches
    the connection the lane holds; bits 1-3 pick which frame's), then the rest of the
    connection; both runs must write the same bytes and count the same."""
    from netsec_layers.frame import Frame
    from netsec_layers.session import fastlane
    from netsec_layers.session.engine import CaptureEngine
    from netsec_layers.session.plaintext import PlaintextRewriter
    from netsec_layers.session.tls_keys import TLSKeyMaterial

    if not fastlane.available():
        return
    packets, keylog = _fastlane_capture()
    cut = len(packets) - 8
    extra = []
    for flags, part in split_parts(data, 16):
        if flags & 1:
            part = packets[cut + ((flags >> 1) & 7)][:54] + part
        extra.append(part)
    frames = [
        Frame(n + 1, 10**18 + n * 1000, 1, p, len(p))
        for n, p in enumerate([*packets[:cut], *extra, *packets[cut:]])
    ]
    results = []
    for lane in (False, True):
        keys = TLSKeyMaterial()
        keys.add_keylog_text(keylog)
        engine = CaptureEngine(tls_keys=keys, inner_packets=False)
        rewriter = PlaintextRewriter(engine)
        fl = fastlane.FastLane(engine, rewriter) if lane else None
        out = [o.data for o in fastlane.rewrite(frames, engine, rewriter, fl)]
        results.append((out, engine.stats, rewriter.stats))
    if results[0] != results[1]:
        raise InvariantError("the fast lane and the Python path differ")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "ech": t_ech,
    "ech_key_file": t_ech_key_file,
    "columnar_report": t_columnar_report,
    "mime": t_mime,
    "message": t_message,
    "mail_tracker": t_mail_tracker,
    "tls": t_tls,
    "tls_ctx": t_tls_ctx,
    "tracker": t_tracker,
    "tls_hello_checks": t_tls_hello_checks,
    "tcp": t_tcp,
    "esp": t_esp,
    "pcap": t_pcap,
    "keylog": t_keylog,
    "safile": t_safile,
    "cli": t_cli,
    "fast": t_fast,
    "ike": t_ike,
    "dtls": t_dtls,
    "dtls_tracker": t_dtls_tracker,
    "ssh": t_ssh,
    "ssh_layers": t_ssh_layers,
    "openpgp": t_openpgp,
    "fastlane": t_fastlane,
}


def allowed(target: str) -> tuple[type[BaseException], ...]:
    """Exceptions a target may raise (the project's own)."""
    from netsec_layers.errors import NetsecError

    return () if target in ("cli", "tls", "tls_ctx", "fast", "dtls") else (NetsecError,)


def run_one(target: str, data: bytes) -> BaseException | None:
    """Run one input; return the disallowed exception (None if the input was handled)."""
    try:
        TARGETS[target](data)
    except allowed(target):
        return None
    except Exception as exc:  # noqa: BLE001 - classifying is the point
        return exc
    except RecursionError as exc:  # pragma: no cover - subclass of Exception, kept explicit
        return exc
    return None


def signature(exc: BaseException) -> str:
    """Exception type + innermost frame inside netsec_layers (or tools/fuzz.py for invariants)."""
    frames = traceback.extract_tb(exc.__traceback__)
    site = next((f for f in reversed(frames) if "netsec_layers" in f.filename), None)
    site = site or (frames[-1] if frames else None)
    where = f"{Path(site.filename).name}:{site.lineno}" if site else "?"
    return f"{type(exc).__name__}@{where}"


# --------------------------------------------------------------------------------------------
# seeds


#: targets whose seeds come from one function (keeps seeds() below the complexity limit)
def _ssh_seeds() -> list[bytes]:
    st = tcp_streams(PCAPS / "ssh" / "ssh-sample.pcap")
    return [join_parts([(1 if c else 0, d) for c, d in st[:40]])]


def _ssh_layer_seeds() -> list[bytes]:
    return [d[:3000] for _c, d in tcp_streams(PCAPS / "ssh" / "ssh-sample.pcap")[:12]]


def _openpgp_seeds() -> list[bytes]:
    from netsec_layers.crypto import openpgp_armor

    out = []
    for f in sorted((ROOT / "tests" / "vectors" / "openpgp").rglob("*.asc"))[:24]:
        text = f.read_bytes()
        out.append(text)
        with contextlib.suppress(Exception):
            out.extend(b.data for b in openpgp_armor.decode(text) if hasattr(b, "data"))
    return out


def _columnar_seeds() -> list[bytes]:
    small = [p for p in sorted((PCAPS / "tls").glob("*.pcap")) if p.stat().st_size < 40_000]
    esp = sorted((PCAPS / "esp").glob("*.pcap"))
    return [p.read_bytes()[:30000] for p in [*small[:3], *esp[:3]]]


_SEED_FUNCS: dict[str, Callable[[], list[bytes]]] = {
    "fastlane": lambda: [
        join_parts([(1, p[54:]) for p in _fastlane_capture()[0][-8:-5]]),
        join_parts([(3, b"\x17\x03\x03\x00\x20" + bytes(32)), (0, b"\x00" * 60)]),
    ],
    "columnar_report": _columnar_seeds,
    "ike": _ike_seeds,
    "ssh": _ssh_seeds,
    "ssh_layers": _ssh_layer_seeds,
    "openpgp": _openpgp_seeds,
    "ech": _ech_seeds,
    "ech_key_file": lambda: [
        _ech_server_pem().encode(),
        bytes.fromhex("0004") + bytes(4),
        len(_ech_config_seed()).to_bytes(2, "big") + _ech_config_seed(),
    ],
}


def seeds(target: str) -> list[bytes]:
    tls = sorted((PCAPS / "tls").glob("*.pcap"))
    small = [p for p in tls if p.stat().st_size < 40_000][:8]
    out: list[bytes] = _SEED_FUNCS[target]() if target in _SEED_FUNCS else []
    if target in ("tls", "tls_ctx", "tracker"):
        for p in small:
            st = tcp_streams(p)
            if target == "tracker":
                out.append(join_parts([(1 if c else 0, d) for c, d in st[:40]]))
            else:
                for c in (True, False):
                    blob = b"".join(d for fc, d in st if fc == c)[:20000]
                    out.append(blob if target == "tls" else bytes((3 | 0x20,)) + blob)
    elif target in ("dtls", "dtls_tracker"):
        from scapy.layers.inet import UDP
        from scapy.utils import rdpcap

        for p in sorted((PCAPS / "dtls").glob("*.pcap"))[:6]:
            grams = [
                (int(k[UDP].sport in (4433, 50000)), bytes(k[UDP].payload)) for k in rdpcap(str(p))
            ]
            if target == "dtls":
                out.extend(b"\x80" + g for _, g in grams[:8])
            else:
                out.append(join_parts(grams[:20]))
    elif target == "tcp":
        for p in small[:4]:
            out.append(join_parts([(s[0], s[1:]) for s in tcp_segments(p)[:40]]))
    elif target == "esp":
        pk = esp_seed_packets()
        out.append(join_parts([(1, p) for p in pk]))
        out.extend(join_parts([(0, p)]) for p in pk)
    elif target == "pcap":
        out.extend(p.read_bytes()[:30000] for p in small[:4])
        out.append((PCAPS / "strongswan" / "strongswan_natt.pcap").read_bytes()[:30000])
        with contextlib.suppress(Exception):
            out.append(_pcapng_with_dsb())
    elif target == "fast":
        from scapy.utils import PcapReader

        for p in [*small[:3], *sorted((PCAPS / "esp").glob("*.pcap"))[:4]]:
            with PcapReader(str(p)) as rd:
                for i, pkt in enumerate(rd):
                    if i >= 12:
                        break
                    out.append(b"\x00" + bytes(pkt))
    elif target == "keylog":
        out.extend(p.read_bytes()[:4000] for p in sorted((PCAPS / "tls").glob("*.keys"))[:6])
    elif target == "safile":
        from netsec_layers.keys import sa_files

        sas = [s for s in fuzz_sas()]
        out.append((PCAPS / "strongswan" / "strongswan_natt.esp_sa").read_bytes())
        out.append(sa_files.format_project(sas).encode())
        out.append("\n".join(sa_files.format_xfrm_add(s) for s in sas if s.src != "*").encode())
        out.append(sa_files.format_esp_sa(sas).encode())
    elif target in ("mime", "message"):
        mail = ROOT / "tests" / "vectors" / "mail"
        files = sorted((mail / "corpus").glob("*.txt"))[:20] + sorted((mail / "cms").glob("*.eml"))
        out.extend(p.read_bytes() for p in files)
        if target == "message":
            out.extend(p.read_bytes() for p in sorted((mail / "cms").glob("*.der")))
    elif target == "mail_tracker":
        from scapy.layers.inet import TCP
        from scapy.utils import rdpcap

        pk = [
            k for k in rdpcap(str(PCAPS / "mail" / "smtp-aiosmtpd.pcap")) if bytes(k[TCP].payload)
        ]
        port = pk[0][TCP].sport
        out.append(
            join_parts([(int(k[TCP].dport == port), bytes(k[TCP].payload)) for k in pk[:60]])
        )
    elif target == "cli":
        v = {w: i for i, w in enumerate(_cli_vocab())}
        pc = str(PCAPS / "tls" / "tls12-handshake-failure.pcap")
        for words in (
            ["dissect", pc, "--json"],
            ["stats", pc],
            ["keys", "check", "/dev/null"],
            ["dissect", pc, "-V", "-q"],
            [
                "keys",
                "convert",
                str(PCAPS / "strongswan" / "strongswan_natt.esp_sa"),
                "--to",
                "xfrm",
            ],
        ):
            out.append(join_parts([(v[w], b"") for w in words]))
    return out


def _pcapng_with_dsb() -> bytes:
    from netsec_layers.io.pcap import CaptureWriter

    bio = io.BytesIO()
    w = CaptureWriter(bio, format="pcapng", linktype=101)
    w.write_secrets(0x544C534B, _sample_keys_text()[:600])
    w.write_secrets(0x45535053, (PCAPS / "strongswan" / "strongswan_natt.esp_sa").read_bytes())
    for p in esp_seed_packets():
        w.write(p, ts_ns=1)
    w.flush()
    return bio.getvalue()


# --------------------------------------------------------------------------------------------
# drivers


def save_crash(target: str, data: bytes) -> Path:
    CRASH_DIR.mkdir(parents=True, exist_ok=True)
    path = CRASH_DIR / f"{target}-{hashlib.sha1(data).hexdigest()}.bin"
    path.write_bytes(data)
    return path


def _report(target: str, data: bytes, exc: BaseException, seen: dict[str, str]) -> None:
    sig = signature(exc)
    if sig in seen:
        return
    path = save_crash(target, data)
    seen[sig] = path.name
    if "workdir" in _cache:  # child process: libFuzzer exits with _exit, so log as we go
        with open(_cache["workdir"] / "crashes.jsonl", "a") as fh:
            fh.write(json.dumps({"sig": sig, "file": path.name}) + "\n")
    print(f"\n=== CRASH {target} {sig} -> {path}", file=sys.stderr)
    traceback.print_exception(exc, file=sys.stderr)


def fuzz_atheris(
    target: str, seconds: int, workdir: Path, seed: int | None = None, runs: int | None = None
) -> None:
    """Child process: libFuzzer loop over ``target`` (instrumenting netsec_layers).

    ``seed`` and ``runs`` make a run repeatable: libFuzzer's mutations then follow one sequence,
    and the time budget can only cut it short (a loaded machine runs a prefix of it), never
    explore elsewhere; CI uses both, so that a red run is the code's doing, not the dice's."""
    import atheris

    with atheris.instrument_imports(include=["netsec_layers"]):
        import importlib
        import pkgutil

        import netsec_layers

        for m in pkgutil.walk_packages(netsec_layers.__path__, "netsec_layers."):
            if m.name.endswith("__main__"):
                continue
            with contextlib.suppress(Exception):
                importlib.import_module(m.name)
    seen: dict[str, str] = {}

    def one(data: bytes) -> None:
        exc = run_one(target, data)
        if exc is not None:
            _report(target, data, exc, seen)

    # NETSEC_FUZZ_CORPUS=<dir>: keep the corpus across runs (<dir>/<target>)
    base = os.environ.get("NETSEC_FUZZ_CORPUS")
    corpus = Path(base) / target if base else workdir / "corpus"
    seed_dir = workdir / "seeds"
    for d in (corpus, seed_dir):
        d.mkdir(parents=True, exist_ok=True)
    for s in seeds(target):
        (seed_dir / hashlib.sha1(s).hexdigest()).write_bytes(s)

    _cache["workdir"] = workdir
    args = [
        sys.argv[0],
        str(corpus),
        str(seed_dir),
        f"-max_total_time={seconds}",
        f"-timeout={TIME_LIMIT}",
        "-rss_limit_mb=3072",
        "-max_len=65536",
        f"-artifact_prefix={workdir}/",
        "-print_final_stats=1",
    ]
    if seed is not None:
        args.append(f"-seed={seed}")
    if runs is not None:
        args.append(f"-runs={runs}")
    atheris.Setup(args, one)
    atheris.Fuzz()


def fuzz_random(target: str, seconds: int) -> dict[str, Any]:
    """Fallback without atheris: random byte mutations of the seeds (no coverage feedback)."""
    rng = random.Random(0)
    pool = seeds(target) or [b""]
    seen: dict[str, str] = {}
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        data = bytearray(rng.choice(pool))
        for _ in range(rng.randint(1, 8)):
            op = rng.randrange(4)
            pos = rng.randrange(len(data) + 1)
            if op == 0 and data:
                data[pos % len(data)] ^= 1 << rng.randrange(8)
            elif op == 1:
                data[pos:pos] = rng.randbytes(rng.randint(1, 8))
            elif op == 2:
                del data[pos : pos + rng.randint(1, 16)]
            else:
                data[pos:pos] = rng.choice((b"\xff\xff", b"\0\0\0\0", b"\x16\x03\x03", b"\x7f\xff"))
        exc = _with_alarm(target, bytes(data))
        n += 1
        if exc is not None:
            _report(target, bytes(data), exc, seen)
    return {"target": target, "inputs": n, "crashes": seen}


class HangError(Exception):
    """The per-input time limit fired."""


def _with_alarm(target: str, data: bytes) -> BaseException | None:
    def fire(*_: object) -> None:
        raise HangError(f"input took longer than {TIME_LIMIT} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(TIME_LIMIT)
    try:
        return run_one(target, data)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run_target(
    target: str, seconds: int, *, engine: str, seed: int | None = None, runs: int | None = None
) -> dict[str, Any]:
    """Fuzz one target for ``seconds`` in a child process; collect stats and artifacts."""
    if engine == "random":
        return fuzz_random(target, seconds)
    workdir = Path(tempfile.mkdtemp(prefix=f"netsec-fuzz-{target}-"))
    cmd = [
        sys.executable,
        __file__,
        "--child",
        target,
        "--seconds",
        str(seconds),
        "--workdir",
        str(workdir),
    ]
    cmd += ["--seed", str(seed)] if seed is not None else []
    cmd += ["--runs", str(runs)] if runs is not None else []
    proc = subprocess.run(cmd, stderr=subprocess.PIPE, text=True, errors="replace")
    (workdir / "fuzz.log").write_text(proc.stderr)
    tail = proc.stderr[-20000:]
    for ln in proc.stderr.splitlines():
        if "=== CRASH" in ln or " DONE " in ln or ln.startswith(("==", "SUMMARY", "Done")):
            print(ln, file=sys.stderr)
    stats: dict[str, Any] = {"target": target, "inputs": None, "crashes": {}}
    with contextlib.suppress(OSError, ValueError):
        for ln in (workdir / "crashes.jsonl").read_text().splitlines():
            c = json.loads(ln)
            stats["crashes"][c["sig"]] = c["file"]
    for line in tail.splitlines():
        if line.startswith("stat::number_of_executed_units:"):
            stats["inputs"] = int(line.split(":")[-1])
    # libFuzzer artifacts (timeouts, OOM, uncaught signals) → crashes/<target>-<sha1>.bin
    for art in workdir.glob("*-*"):
        if art.is_file() and art.name.split("-")[0] in ("crash", "timeout", "oom", "leak", "slow"):
            kind = art.name.split("-")[0]
            dest = save_crash(target, art.read_bytes())
            stats["crashes"][f"{kind}:{art.name}"] = dest.name
    stats["seconds"] = seconds
    stats["log"] = str(workdir / "fuzz.log")
    stats["returncode"] = proc.returncode
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target", nargs="?", help="one of: " + ", ".join(TARGETS) + ", all")
    ap.add_argument("--seconds", type=int, default=60, help="fuzzing time per target")
    ap.add_argument("--engine", choices=("atheris", "random"), default=None)
    ap.add_argument("--replay", nargs="*", metavar="FILE", help="run these inputs once")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--stats", help="append per-target stats (JSON lines) to this file")
    ap.add_argument("--seed", type=int, help="libFuzzer's -seed (a repeatable run)")
    ap.add_argument("--runs", type=int, help="libFuzzer's -runs: stop after this many inputs")
    a = ap.parse_args(argv)
    if a.list or not a.target:
        print("\n".join(f"{k:8s} {(v.__doc__ or '').splitlines()[0]}" for k, v in TARGETS.items()))
        return 0
    if a.child:
        fuzz_atheris(a.target, a.seconds, Path(a.workdir), a.seed, a.runs)
        return 0
    names = list(TARGETS) if a.target == "all" else [a.target]
    if any(n not in TARGETS for n in names):
        ap.error(f"unknown target {a.target!r}")
    if a.replay is not None:
        bad = 0
        for f in a.replay:
            exc = _with_alarm(names[0], Path(f).read_bytes())
            print(f"{f}: {'ok' if exc is None else signature(exc) + ' ' + repr(exc)}")
            bad += exc is not None
        return 1 if bad else 0
    engine = a.engine
    if engine is None:
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "random"
    rc = 0
    for n in names:
        st = run_target(n, a.seconds, engine=engine, seed=a.seed, runs=a.runs)
        print(json.dumps(st))
        if a.stats:
            with open(a.stats, "a") as fh:
                fh.write(json.dumps(st) + "\n")
        rc |= bool(st["crashes"])
    return rc


if __name__ == "__main__":
    sys.exit(main())
