"""Recovery after one bad record (issue #20), on the real OpenSSL/GnuTLS/Python samples.

One byte flipped in the middle of a protected record makes that record — and only that
record — fail; every later record of the connection decrypts to the same plaintext as in the
untouched capture (sequence number + 1, TLS 1.0 chained CBC IV, RC4 keystream moved on). A
record injected by a third party fails and the genuine ones around it still decrypt (old
sequence number). The plaintext expected is the untouched capture's, which
tests/integration/test_tls_samples.py shows equal to the peers' bytes and tshark's.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from netsec_layers.keys.keylog import load_keylog
from netsec_layers.session.tcp import StreamChunk, TCPConn
from netsec_layers.session.tls import TLSRecordInfo, TLSTracker
from netsec_layers.session.tls_craft import CraftedTLSConnection
from netsec_layers.session.tls_keys import TLSKeyMaterial
from netsec_layers.session.verdicts import TLSFailure
from tests.session.test_tls_tracker import _directions

ROOT = Path(__file__).resolve().parents[2]
# One connection per capture, keys for every record: each suite family and each peer.
SAMPLES = [
    "tls10-aes128-sha",  # OpenSSL TLS 1.0 AES-CBC: chained IV
    "tls11-aes128-sha",  # explicit IV
    "tls12-ecdhe-rsa-aes128-sha-noetm",  # MAC-then-encrypt CBC
    "tls12-ecdhe-rsa-aes128-sha-etm",  # encrypt-then-MAC (RFC 7366)
    "tls12-ecdhe-rsa-aes256-sha384",
    "tls12-rsa-aes128-sha256",
    "tls12-ecdhe-rsa-aes128gcm",
    "tls12-ecdhe-ecdsa-aes256gcm",
    "tls12-ecdhe-rsa-chacha20",  # RFC 7905 XOR nonce
    "tls13-aes128gcm",
    "tls13-aes256gcm",
    "tls13-aes128ccm",
    "tls13-chacha20",
    "tls13-keyupdate",
    "gnutls-tls12",
    "gnutls-tls13",
    "python-openssl-tls12",
    "python-tls13-port50443",
]

Stream = list[tuple[bool, bytes]]


def _keys(name: str) -> TLSKeyMaterial:
    k = TLSKeyMaterial()
    k.add_keylog(load_keylog(ROOT / "pcaps" / "tls" / f"{name}.keys"))
    return k


def _run(pieces: Stream, keys: TLSKeyMaterial) -> list[TLSRecordInfo]:
    tracker = TLSTracker(keys)
    conn = TCPConn(0, ("10.0.0.1", 40000), ("10.0.0.2", 443), 4, True)
    out: list[TLSRecordInfo] = []
    for i, (c, data) in enumerate(pieces):
        out += tracker.feed(StreamChunk(conn, c, data, i + 1, i))
    return out


def _records(pieces: Stream) -> list[tuple[bool, int, bytes]]:
    """(from_client, offset in that direction's byte stream, record bytes), in stream order."""
    out = []
    for c in (True, False):
        stream = b"".join(d for fc, d in pieces if fc == c)
        pos = 0
        while pos + 5 <= len(stream):
            end = pos + 5 + int.from_bytes(stream[pos + 3 : pos + 5], "big")
            out.append((c, pos, stream[pos:end]))
            pos = end
    return out


def _edit(pieces: Stream, from_client: bool, offset: int, new: bytes, old_len: int) -> Stream:
    """The stream with ``old_len`` bytes at ``offset`` of one direction replaced by ``new``."""
    stream = bytearray(b"".join(d for fc, d in pieces if fc == from_client))
    stream[offset : offset + old_len] = new
    out: Stream = []
    pos = 0
    for c, d in pieces:
        if c != from_client:
            out.append((c, d))
            continue
        n = len(d) + (len(new) - old_len if pos <= offset < pos + len(d) else 0)
        out.append((c, bytes(stream[pos : pos + n])))
        pos += n
    return out


def _targets(clean: list[TLSRecordInfo], from_client: bool) -> TLSRecordInfo:
    """The last decrypted record of a direction that has another decrypted record after it."""
    mine = [r for r in clean if r.from_client == from_client and r.decrypted]
    assert len(mine) >= 2
    return mine[-2]


def _check_one_failure(
    dirty: list[TLSRecordInfo],
    clean: list[TLSRecordInfo],
    bad: bytes,
    lost: bytes | None,
    also: bytes | None = None,
) -> None:
    """Exactly ``bad`` (and ``also``) failed; every other record equals the clean run's (without
    ``lost``, the record ``bad`` replaced), plaintext included."""
    failed = [r for r in dirty if r.failure is TLSFailure.DECRYPTION_FAILED]
    assert [r.raw for r in failed] == [bad] + ([also] if also else [])
    good = [(r.from_client, r.decrypted, r.plaintext) for r in dirty if r.raw not in (bad, also)]
    assert good == [
        (r.from_client, r.decrypted, r.plaintext) for r in clean if r.raw not in (lost, also)
    ]


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("from_client", [True, False], ids=["c2s", "s2c"])
def test_one_flipped_byte_fails_one_record_and_the_next_decrypt(
    name: str, from_client: bool
) -> None:
    chunks, dirs = _directions(name)
    pieces = list(zip(dirs, chunks, strict=True))
    keys = _keys(name)
    clean = _run(pieces, _keys(name))
    target = _targets(clean, from_client)
    recs = _records(pieces)
    c, off, raw = next(r for r in recs if r[0] == from_client and r[2] == target.raw)
    flipped = bytearray(raw)
    flipped[5 + (len(raw) - 5) // 3] ^= 0x01  # inside the ciphertext, not its last CBC block
    dirty = _run(_edit(pieces, c, off, bytes(flipped), len(raw)), keys)
    assert len(dirty) == len(clean)
    also = None
    if name == "tls10-aes128-sha":
        # TLS 1.0 with encrypt-then-MAC (this sample): the next record's IV is the damaged
        # record's last block, which no MAC covers (RFC 7366 §3), so it is not shown either.
        mine = [r for r in clean if r.from_client == from_client and r.decrypted]
        also = mine[-1].raw
    _check_one_failure(dirty, clean, bytes(flipped), raw, also)


@pytest.mark.parametrize("name", SAMPLES)
def test_an_injected_record_fails_and_the_genuine_ones_decrypt(name: str) -> None:
    chunks, dirs = _directions(name)
    pieces = list(zip(dirs, chunks, strict=True))
    clean = _run(pieces, _keys(name))
    target = _targets(clean, True)
    recs = _records(pieces)
    c, off, raw = next(r for r in recs if r[0] and r[2] == target.raw)
    rng = random.Random(name)
    fake = raw[:5] + rng.randbytes(len(raw) - 5)  # same header, a third party's bytes
    dirty = _run(_edit(pieces, c, off, fake + raw, len(raw)), _keys(name))
    assert len(dirty) == len(clean) + 1
    _check_one_failure(dirty, clean, fake, None)


@pytest.mark.parametrize("suite", [0x0005, 0x002F], ids=["RC4-SHA", "AES128-SHA"])
def test_crafted_rc4_and_tls10_cbc_recover(suite: int) -> None:
    """RC4 (no peer here offers it) and TLS 1.0 CBC on a crafted connection: the keystream and
    the chained IV move past the damaged record."""
    version = 0x0301
    conn = CraftedTLSConnection(version=version, suite=suite, rng=random.Random(7))
    pieces: Stream = conn.handshake()
    for i in range(4):
        pieces.append((True, conn.application_data(bytes([65 + i]) * (100 + i), from_client=True)))
    keys = TLSKeyMaterial()
    keys.add_keylog_text(conn.keylog())
    clean = _run(pieces, keys)
    assert sum(r.decrypted for r in clean) == 4 + 2  # and both Finished
    recs = [r for r in _records(pieces) if r[0] and r[2][0] == 23]
    c, off, raw = recs[1]
    flipped = bytearray(raw)
    flipped[20] ^= 0x80
    keys2 = TLSKeyMaterial()
    keys2.add_keylog_text(conn.keylog())
    dirty = _run(_edit(pieces, c, off, bytes(flipped), len(raw)), keys2)
    _check_one_failure(dirty, clean, bytes(flipped), raw)


@pytest.mark.integration
def test_decrypt_w_leaves_a_tcp_hole_for_the_failed_record(tmp_path: Path) -> None:
    """``netsec decrypt -w`` on the TLS 1.3 KeyUpdate sample with its first client
    application-data record damaged: tshark sees "previous segment not captured" in the plaintext connection, and the
    client's later application data (recovered) as in the undamaged capture's output."""
    import subprocess
    import sys

    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap, wrpcap

    from netsec_layers.session.engine import CaptureEngine, iter_capture
    from tests.tshark_util import tshark_fields, tshark_follow_tcp

    name = "tls13-keyupdate"
    src = ROOT / "pcaps" / "tls" / f"{name}.pcap"
    keylog = src.with_suffix(".keys")
    engine = CaptureEngine(tls_keys=_keys(name))
    app = [
        u
        for res in iter_capture(src, engine)
        for u in res.units
        if isinstance(u, TLSRecordInfo) and u.from_client and u.inner_content_type == 23
    ]
    target = app[0]
    assert len(app) >= 2 and target.plaintext
    pkts = rdpcap(str(src))
    pkt = pkts[target.frame - 1]
    payload = bytearray(bytes(pkt[TCP].payload))
    at = payload.find(target.raw[-20:])  # inside the record (AES-GCM)
    assert at >= 0
    payload[at] ^= 0x04
    pkt[TCP].remove_payload()
    pkt[TCP].add_payload(bytes(payload))
    del pkt[TCP].chksum
    damaged = tmp_path / "damaged.pcap"
    wrpcap(str(damaged), pkts)

    outs = {}
    for label, pcap in (("clean", src), ("damaged", damaged)):
        out = tmp_path / f"{label}-plain.pcap"
        subprocess.run(
            [sys.executable, "-m", "netsec_layers", "decrypt", str(pcap), "-w", str(out)]
            + ["--keylog", str(keylog), "-q", "--jobs", "1"],
            check=True,
            capture_output=True,
            timeout=300,
        )
        outs[label] = out
    lost = tshark_fields(
        outs["damaged"], ["frame.number"], options=["-Y", "tcp.analysis.lost_segment"]
    )
    assert len(lost) == 1
    assert (
        tshark_fields(outs["clean"], ["frame.number"], options=["-Y", "tcp.analysis.lost_segment"])
        == []
    )
    clean_c2s, clean_s2c = tshark_follow_tcp(outs["clean"], 0)
    c2s, s2c = tshark_follow_tcp(outs["damaged"], 0)
    assert target.plaintext and clean_c2s.startswith(target.plaintext)
    # tshark's own account of the hole (the failed record's length on the wire), then the
    # later records, recovered, as in the undamaged capture
    assert (
        c2s
        == b"[%d bytes missing in capture file]\0" % target.length
        + clean_c2s[len(target.plaintext) :]
    )
    assert s2c == clean_s2c


@pytest.mark.integration
@pytest.mark.parametrize("suite", [0x0005, 0x002F], ids=["RC4-SHA", "AES128-SHA"])
def test_the_crafted_connections_are_what_tshark_decrypts(suite: int, tmp_path: Path) -> None:
    """The crafted RC4 / TLS 1.0 CBC connections of the test above are real TLS: tshark 4.0
    decrypts their application data with the key log to the bytes sent."""
    from tests.session.test_tls_warnings import _run as write_and_dissect
    from tests.tshark_util import tshark_follow_tls

    conn = CraftedTLSConnection(version=0x0301, suite=suite, rng=random.Random(7))
    pieces: Stream = conn.handshake()
    sent = b""
    for i in range(4):
        data = bytes([65 + i]) * (100 + i)
        sent += data
        pieces.append((True, conn.application_data(data, from_client=True)))
    write_and_dissect(tmp_path, pieces)  # writes tmp_path / "case.pcap" (server port 443)
    keylog = tmp_path / "case.keys"
    keylog.write_text(conn.keylog())
    c2s, _ = tshark_follow_tls(tmp_path / "case.pcap", 0, keylog=keylog)
    assert c2s == sent
