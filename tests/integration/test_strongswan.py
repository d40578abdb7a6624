"""Live interoperability with strongSwan: two charon peers in private network namespaces
(tools/strongswan_peer.py; kernel-libipsec, forced NAT-T encapsulation).

(a) traffic charon encrypts is decrypted by netsec with the keys from charon's log (and the
    payloads sent through the tunnel come out; tshark agrees on the same capture);
(b) ESP that netsec encrypts with those SAs and injects on the veth is accepted by charon
    (the inner packet appears on the peer's TUN device), while a replayed copy and a copy with
    a flipped ICV byte are dropped (charon logs why).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.utils import rdpcap

from netsec_layers.keys.sa_files import parse_esp_sa
from netsec_layers.layers.ipsec import ESP, ESPPlaintext, bind_ipsec, unbind_ipsec
from netsec_layers.session.ipsec import SADatabase
from netsec_layers.session.ipsec_scapy import decrypt_packet, dissect_ip, encrypt_packet
from tests.tshark_util import tshark_fields

pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.slow]

_TOOL = Path(__file__).resolve().parents[2] / "tools" / "strongswan_peer.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("strongswan_peer", _TOOL)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["strongswan_peer"] = mod
    spec.loader.exec_module(mod)
    return mod


ss = _load_tool()


@pytest.fixture(scope="module")
def peers(tmp_path_factory):
    assert os.geteuid() == 0, "these tests need root (network namespaces)"
    assert shutil.which("tcpdump"), "tcpdump is required"
    with ss.Peers(tmp_path_factory.mktemp("strongswan"), timeout=20) as p:
        p.initiate()
        yield p


def _db(peers) -> SADatabase:
    return SADatabase(parse_esp_sa(peers.esp_sa_text()))


def _read(path: Path) -> list:
    bind_ipsec()
    try:
        return list(rdpcap(str(path)))
    finally:
        unbind_ipsec()


def _wait_until(done: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``done`` (reading a capture tcpdump is still writing) until it holds or ``timeout``
    seconds pass; the test's assertions, on the complete capture, then say what is missing.

    charon's kernel-libipsec works in user space: it encrypts, decrypts and answers after the
    sender in the namespace has returned, and on a loaded machine later than the capture's
    fixed settle time (0.3 s / 0.5 s).  Waiting for what the test expects replaces guessing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if done():
                return
        except Exception:  # a frame tcpdump has only half written: read again
            pass
        time.sleep(0.1)


def _tunnel_payloads(peers, cap: Path) -> set[bytes]:
    """UDP (to port 9999) and ICMP echo payloads of the ESP packets in ``cap`` (fresh SAs each
    time: a second decryption of the same packet would be a replay)."""
    db = _db(peers)
    payloads = set()
    for frame in _read(cap):
        if ESP in frame:
            inner = decrypt_packet(frame, db)[ESPPlaintext].payload
            if UDP in inner and inner[UDP].dport == 9999:
                payloads.add(bytes(inner[UDP].payload))
            if ICMP in inner and inner[ICMP].type in (0, 8):
                payloads.add(bytes(inner[ICMP].payload))
    return payloads


def test_all_children_established(peers):
    children = {s.child for s in peers.sas}
    assert children == set(ss.CHILDREN)
    gcm = peers.sa("gcm")
    assert gcm.encryption.startswith("AES-GCM") and len(gcm.enc_key) == 20  # key + salt
    cbc = peers.sa("cbc")
    assert cbc.integrity.startswith("HMAC-SHA-256-128") and len(cbc.auth_key) == 32


def test_we_decrypt_charon_traffic(peers, tmp_path):
    cap = tmp_path / "veth.pcap"
    sent = {}
    with peers.capture("a", ss.VETH["a"], cap):
        for child in ("gcm", "cbc"):
            n = ss.CHILDREN[child][0]
            sent[(child, "udp")] = f"udp a->b via {child}".encode()
            sent[(child, "udp-back")] = f"udp b->a via {child}".encode()
            sent[(child, "ping")] = f"ping a->b via {child}".encode()
            peers.send_udp("a", n, sent[(child, "udp")])
            peers.send_udp("b", n, sent[(child, "udp-back")])
            peers.send_ping("a", n, sent[(child, "ping")])
        _wait_until(lambda: set(sent.values()) <= _tunnel_payloads(peers, cap))
    db = _db(peers)
    decrypted = []
    for frame in _read(cap):
        if ESP in frame:
            decrypted.append(decrypt_packet(frame, db))
    assert len(decrypted) >= 8
    payloads = set()
    for pkt in decrypted:
        plain = pkt[ESPPlaintext]
        assert plain.pad_ok and plain.next_header == 4
        inner = plain.payload
        assert isinstance(inner, IP) and inner.src.startswith("10.98.")
        if UDP in inner and inner[UDP].dport == 9999:
            payloads.add(bytes(inner[UDP].payload))
        if ICMP in inner and inner[ICMP].type in (0, 8):
            payloads.add(bytes(inner[ICMP].payload))
    assert set(sent.values()) <= payloads

    # tshark, with the same keys, decrypts the same inner packets
    args = [
        "-Y",
        "esp",
        "-o",
        "esp.enable_encryption_decode:TRUE",
        "-o",
        "esp.enable_authentication_check:TRUE",
    ]
    for line in peers.esp_sa_text().splitlines():
        args += ["-o", f"uat:esp_sa:{line}"]
    rows = tshark_fields(cap, ["esp.icv_good", "esp.contained_data"], options=args)
    theirs = [bytes.fromhex(r["esp.contained_data"].replace(":", "")) for r in rows]
    assert all(r["esp.icv_good"] in ("1", "True") for r in rows)
    assert theirs == [
        bytes(p[ESPPlaintext].payload) + p[ESPPlaintext].tfc_padding for p in decrypted
    ]


def _echo_requests(path: Path, ident: int) -> list[int]:
    out = []
    for pkt in rdpcap(str(path)):
        ip = pkt if isinstance(pkt, IP) else pkt.getlayer(IP)
        if ip is not None and ICMP in ip and ip[ICMP].type == 8 and ip[ICMP].id == ident:
            out.append(ip[ICMP].seq)
    return out


@pytest.mark.parametrize("child", ["gcminj", "cbcinj"])
def test_charon_accepts_our_esp_and_drops_replay_and_bad_icv(peers, tmp_path, child):
    n = ss.CHILDREN[child][0]
    a2b = peers.sa(child, "a->b")
    sa = next(s for s in parse_esp_sa(peers.esp_sa_text()) if s.spi == a2b.spi)
    sa = dataclasses.replace(sa, udp_encap=(4500, 4500))
    db = SADatabase([sa])
    ident = 0x6E00 + n

    def inner(icmp_seq: int) -> IP:
        return (
            IP(src=ss.inner_addr("a", n), dst=ss.inner_addr("b", n))
            / ICMP(id=ident, seq=icmp_seq)
            / f"netsec-crafted {child} #{icmp_seq}".encode()
        )

    good = bytes(encrypt_packet(inner(1), sa, db, seq=1000))
    bad_icv = bytes(encrypt_packet(inner(2), sa, db, seq=1001, fault="bad-icv"))
    later = bytes(encrypt_packet(inner(3), sa, db, seq=1002))
    assert dissect_ip(good)[UDP].dport == 4500 and dissect_ip(good)[ESP].spi == a2b.spi

    log_before = len(peers.log("b"))
    tun = tmp_path / "tun.pcap"
    drops = ("sequence number verification failed", "ICV verification failed")

    def handled() -> bool:  # the last packet delivered and both drops logged by charon B
        log = peers.log("b")[log_before:]
        return 3 in _echo_requests(tun, ident) and all(d in log for d in drops)

    with peers.capture("b", "ipsec0", tun, settle=0.5):
        peers.inject("a", [good, good, bad_icv, later])
        # until charon B has handled all four; the 0.5 s settle after that gives a copy it
        # wrongly accepted the time to reach the TUN device too
        _wait_until(handled)
    seen = _echo_requests(tun, ident)
    assert seen.count(1) == 1, f"accepted once, replay dropped: {seen}"
    assert 2 not in seen, "a packet with a flipped ICV byte must be dropped"
    assert seen.count(3) == 1
    log = peers.log("b")[log_before:]
    assert "sequence number verification failed" in log
    assert "ICV verification failed" in log


def test_teardown_on_failure_and_idempotent(tmp_path):
    assert os.geteuid() == 0, "this test needs root (network namespaces)"
    with pytest.raises(RuntimeError, match="boom"):
        with ss.Peers(tmp_path / "w", timeout=20) as p:
            assert all(Path("/run/netns", ns).exists() for ns in ss.NS.values())
            pid_files = [tmp_path / "w" / side / "run" / "charon.pid" for side in "ab"]
            pids = [int(f.read_text()) for f in pid_files]
            raise RuntimeError("boom")
    assert not any(Path("/run/netns", ns).exists() for ns in ss.NS.values())
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    p.stop()  # a second stop is harmless
    ss.cleanup(tmp_path / "w")
