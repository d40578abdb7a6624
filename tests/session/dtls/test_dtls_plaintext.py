"""The plaintext-capture rule for DTLS (issue 16): one UDP datagram per decrypted
application-data record, same addresses and ports, other datagrams kept; tshark 4.0 reads the
written capture (checksums validated) and sees exactly the peers' bytes, without keys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from netsec_layers.io.pcap import CaptureWriter
from netsec_layers.session.dtls import DTLSTracker
from netsec_layers.session.dtls_plaintext import plaintext_packets
from tests.session.dtls._dtls_feed import SAMPLES, datagrams, sample_keys
from tests.tshark_util import run_tshark


def _rewrite(name: str, out: Path) -> tuple[int, int]:
    tracker = DTLSTracker(sample_keys(name))
    replaced = kept = 0
    with CaptureWriter(out, linktype=101) as w:
        for d in datagrams(SAMPLES / f"{name}.pcap"):
            events = tracker.feed(d) if tracker.claims(d) else []
            packets = plaintext_packets(d.ip, events)
            if packets is None:
                kept += 1
                udp = d.sport.to_bytes(2, "big") + d.dport.to_bytes(2, "big")
                udp += (8 + len(d.payload)).to_bytes(2, "big") + b"\0\0" + d.payload
                from netsec_layers.session.ipbuild import ipv4_with_proto

                packets = [ipv4_with_proto(d.ip.header, proto=17, payload_len=len(udp)) + udp]
            else:
                replaced += 1
            for p in packets:
                w.write(p, ts_ns=d.ts_ns)
    return replaced, kept


@pytest.mark.integration
@pytest.mark.parametrize(
    "name", ["ossl-dtls12-hvr-mtu", "gnutls-dtls12-chacha20", "ossl-dtls12-resume"]
)
def test_plaintext_capture_read_by_tshark(tmp_path: Path, name: str) -> None:
    assert shutil.which("tshark"), "tshark is missing (apt-get install tshark)"
    out = tmp_path / "plain.pcap"
    replaced, kept = _rewrite(name, out)
    meta = json.loads((SAMPLES / f"{name}.json").read_text())
    assert replaced == 2 * len(meta["connections"]) and kept > 0
    fields = run_tshark(["-n", "-r", str(out), "-o", "udp.check_checksum:TRUE",
         "-o", "ip.check_checksum:TRUE", "-T", "fields", "-e", "udp.srcport", "-e",
         "udp.payload", "-e", "ip.checksum.status", "-e", "udp.checksum.status"]).splitlines()  # fmt: skip
    rows = [line.split("\t") for line in fields]
    sent = {bytes.fromhex(c[d]) for c in meta["connections"] for d in ("c2s", "s2c")}
    plain_rows = [r for r in rows if bytes.fromhex(r[1]) in sent]
    assert len(plain_rows) == replaced
    assert all(r[2] == "1" and r[3] == "1" for r in plain_rows)  # 1 = "Good" in tshark
    port = meta["port"]
    c2s = [bytes.fromhex(r[1]) for r in rows if int(r[0]) != port and r[1]]
    s2c = [bytes.fromhex(r[1]) for r in rows if int(r[0]) == port and r[1]]
    for conn in meta["connections"]:
        assert bytes.fromhex(conn["c2s"]) in c2s and bytes.fromhex(conn["s2c"]) in s2c


def test_undecrypted_datagrams_are_kept() -> None:
    tracker = DTLSTracker()  # no keys
    for d in datagrams(SAMPLES / "ossl-dtls12-aes128gcm.pcap"):
        assert plaintext_packets(d.ip, tracker.feed(d) if tracker.claims(d) else []) is None


def test_ipv6_association_and_plaintext_checksums() -> None:
    """The same association carried over IPv6: decrypted alike; the plaintext packets are IPv6
    with UDP checksums that Scapy's own computation confirms."""
    from scapy.layers.inet import UDP
    from scapy.layers.inet6 import IPv6

    from netsec_layers.session.netstack import IPPacket
    from netsec_layers.session.trackers import Datagram

    name = "gnutls-dtls10-cbc"
    tracker = DTLSTracker(sample_keys(name))
    out: list[bytes] = []
    for d in datagrams(SAMPLES / f"{name}.pcap"):
        v6 = "2001:db8::1" if d.ip.src == "127.0.0.1" and d.sport != 4433 else "2001:db8::2"
        peer = "2001:db8::2" if v6 == "2001:db8::1" else "2001:db8::1"
        ip = IPPacket(6, v6, peer, 17, b"", b"", b"", d.ip.frame, d.ip.ts_ns)
        g = Datagram(ip, d.sport, d.dport, d.payload)
        out += plaintext_packets(ip, tracker.feed(g) if tracker.claims(g) else []) or []
    meta = json.loads((SAMPLES / f"{name}.json").read_text())["connections"][0]
    assert len(out) == 2
    for pkt, want in zip(out, (meta["c2s"], meta["s2c"]), strict=True):
        p = IPv6(pkt)
        assert bytes(p[UDP].payload) == bytes.fromhex(want)
        sent = p[UDP].chksum
        del p[UDP].chksum
        assert IPv6(bytes(p))[UDP].chksum == sent  # Scapy recomputes the same checksum
