"""DTLS 1.3 (RFC 9147): associations built by the independent construction in _dtls13_build.py
(no Debian peer speaks DTLS 1.3) decrypted by the tracker from an NSS key log with the TLS 1.3
labels: unified headers with 8- and 16-bit encrypted sequence numbers, AES-GCM and ChaCha20
record-number masks, epochs 2 (handshake), 3 (application) and 4 (after KeyUpdate), sequence
numbers past the 8-bit wrap, Finished over the TLS-form transcript; tampering is a typed verdict.
Also the crypto module's sealing is opened by the independent construction's rules."""

from __future__ import annotations

import os

import pytest

from netsec_layers.crypto.dtls import DTLS13RecordProtection, reconstruct_seq
from netsec_layers.crypto.tls_suites import suite_info
from netsec_layers.session.dtls import DTLSFailure, DTLSTracker
from netsec_layers.session.netstack import IPPacket
from netsec_layers.session.tls_keys import TLSKeyMaterial
from netsec_layers.session.trackers import Datagram
from tests.session.dtls import _dtls13_build as b

C, S = ("10.1.0.1", 50123), ("10.1.0.2", 4444)


def _dgram(n: int, from_client: bool, payload: bytes) -> Datagram:
    src, dst = (C, S) if from_client else (S, C)
    ip = IPPacket(4, src[0], dst[0], 17, b"", b"", b"", n, n * 1000)
    return Datagram(ip, src[1], dst[1], payload)


def _association(suite: int) -> tuple[list[Datagram], str, dict[str, bytes]]:
    """A whole DTLS 1.3 association; returns datagrams, key log text, app data sent."""
    rnd = os.urandom
    cr, sr = rnd(32), rnd(32)
    secrets = {lbl: rnd(32) for lbl in ("CHS", "SHS", "CAP", "SAP")}
    keylog = "".join(
        f"{name} {cr.hex()} {secrets[k].hex()}\n"
        for name, k in (("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CHS"),
                        ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "SHS"),
                        ("CLIENT_TRAFFIC_SECRET_0", "CAP"), ("SERVER_TRAFFIC_SECRET_0", "SAP"))
    )  # fmt: skip
    ch_w, ch_t = b.handshake(1, 0, b.hello(True, cr, suite))
    sh_w, sh_t = b.handshake(2, 0, b.hello(False, sr, suite))
    ee_w, ee_t = b.handshake(8, 1, b"\x00\x00")
    transcript = ch_t + sh_t + ee_t
    sfin_w, sfin_t = b.handshake(20, 2, b.finished(secrets["SHS"], transcript))
    transcript += sfin_t
    cfin_w, _ = b.handshake(20, 1, b.finished(secrets["CHS"], transcript))
    chs, shs = b.Epoch(suite, secrets["CHS"], 2), b.Epoch(suite, secrets["SHS"], 2)
    cap, sap = b.Epoch(suite, secrets["CAP"], 3), b.Epoch(suite, secrets["SAP"], 3)
    sent = {"c2s": b"", "s2c": b""}
    grams = [
        _dgram(1, True, b.plaintext_record(22, 0, ch_w)),
        # ServerHello in clear, then EE and Finished in epoch 2 in the same datagram
        _dgram(
            2,
            False,
            b.plaintext_record(22, 0, sh_w)
            + shs.record(22, ee_w)
            + shs.record(22, sfin_w, short_seq=True),
        ),  # fmt: skip
        _dgram(3, True, chs.record(22, cfin_w)),
        _dgram(4, False, sap.record(26, b"\x00\x10" + (2).to_bytes(8, "big") + bytes(8))),  # ACK
    ]
    n = 5
    for i in range(300):  # 8-bit sequence numbers wrap past 255
        msg = f"client record {i}\n".encode()
        sent["c2s"] += msg
        grams.append(_dgram(n, True, cap.record(23, msg, short_seq=True)))
        n += 1
    reply = b"server says hi"
    sent["s2c"] += reply
    grams.append(_dgram(n, False, sap.record(23, reply)))
    # KeyUpdate (RFC 9147 §8): the client moves to epoch 4 ("dtls13" "traffic upd")
    ku_w, _ = b.handshake(24, 2, b"\x00")
    grams.append(_dgram(n + 1, True, cap.record(22, ku_w)))
    upd = b.Epoch(suite, b.expand_label(secrets["CAP"], b"traffic upd", 32), 4)
    sent["c2s"] += b"after key update"
    grams.append(_dgram(n + 2, True, upd.record(23, b"after key update")))
    return grams, keylog, sent


@pytest.mark.parametrize("suite", [0x1301, 0x1303])
def test_dtls13_association_decrypts(suite: int) -> None:
    grams, keylog, sent = _association(suite)
    keys = TLSKeyMaterial()
    keys.add_keylog_text(keylog)
    tracker = DTLSTracker(keys)
    events = []
    for d in grams:
        assert tracker.claims(d)
        events.extend(tracker.feed(d))
    assert [e.error for e in events if e.error] == []
    assoc = tracker.associations()[0]
    assert assoc.version == 0xFEFC and assoc.suite == suite
    assert assoc.finished_ok == {"server": True, "client": True}
    c2s = b"".join(
        e.plaintext or b"" for e in events if e.inner_content_type == 23 and e.from_client
    )
    s2c = b"".join(
        e.plaintext or b"" for e in events if e.inner_content_type == 23 and not e.from_client
    )
    assert (c2s, s2c) == (sent["c2s"], sent["s2c"])
    app = [e for e in events if e.inner_content_type == 23 and e.from_client]
    assert [e.seq for e in app[:300]] == list(range(300))  # reconstructed across the wrap
    assert {e.epoch for e in app} == {3, 4}
    assert any(e.inner_content_type == 26 for e in events)  # the ACK
    js = app[-1].to_json()
    assert js["version"] == 0xFEFC and js["epoch"] == 4 and js["decrypted"]


def test_dtls13_tampering_and_missing_keys() -> None:
    grams, keylog, _ = _association(0x1301)
    keys = TLSKeyMaterial()
    keys.add_keylog_text(keylog)
    tracker = DTLSTracker(keys)
    bad = bytearray(grams[6].payload)
    bad[-1] ^= 1
    grams[6] = _dgram(7, True, bytes(bad))
    events = [e for d in grams if tracker.claims(d) for e in tracker.feed(d)]
    by_frame = {e.frame: e for e in events}
    assert by_frame[7].failure is DTLSFailure.DECRYPTION_FAILED and not by_frame[7].decrypted
    assert by_frame[7].plaintext is None and by_frame[8].decrypted  # the next still decrypts
    nokeys = DTLSTracker()
    evs = [e for d in grams if nokeys.claims(d) for e in nokeys.feed(d)]
    assert all(e.failure is DTLSFailure.NO_KEY for e in evs if e.content_type >= 0x20)


@pytest.mark.parametrize("suite", [0x1301, 0x1303, 0x1302])
def test_crypto_seal_follows_rfc9147(suite: int) -> None:
    """Records sealed by crypto.dtls open with the independent construction's rules."""
    si = suite_info(suite)
    assert si is not None
    secret = os.urandom(48 if suite == 0x1302 else 32)
    prot = DTLS13RecordProtection(si, traffic_secret=secret)
    rec = prot.seal(epoch=3, seq=0x1234, content_type=23, plaintext=b"hello", seq_len=2)
    if suite in b.SUITES:  # the construction knows the SHA-256 suites
        ep = b.Epoch(suite, secret, 3)
        ep.seq = 0x1234
        assert ep.record(23, b"hello") == rec
    seq, ct, pt = prot.open(header=rec[:5], seq_offset=1, seq_len=2, encrypted_record=rec[5:],
                            expected_seq=0x1200)  # fmt: skip
    assert (seq, ct, pt) == (0x1234, 23, b"hello")


def test_sequence_reconstruction() -> None:
    assert reconstruct_seq(0x02, 8, 0xFF) == 0x102
    assert reconstruct_seq(0xFE, 8, 0x101) == 0xFE
    assert reconstruct_seq(0x10, 16, 0) == 0x10


def test_dtls13_hello_retry_request_transcript() -> None:
    """After a HelloRetryRequest the Finished transcript starts with message_hash(ClientHello1)
    (RFC 8446 §4.4.1 over TLS-form messages, RFC 9147 §5.2) -- computed here independently."""
    import hashlib

    cr, chs_s, shs_s = os.urandom(32), os.urandom(32), os.urandom(32)
    keylog = (f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {cr.hex()} {chs_s.hex()}\n"
              f"SERVER_HANDSHAKE_TRAFFIC_SECRET {cr.hex()} {shs_s.hex()}\n")  # fmt: skip
    hrr_random = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
    ch1_w, ch1_t = b.handshake(1, 0, b.hello(True, cr, 0x1301))
    hrr_w, hrr_t = b.handshake(2, 0, b.hello(False, hrr_random, 0x1301))
    ch2_w, ch2_t = b.handshake(1, 1, b.hello(True, cr, 0x1301))
    sh_w, sh_t = b.handshake(2, 1, b.hello(False, os.urandom(32), 0x1301))
    ee_w, ee_t = b.handshake(8, 2, b"\x00\x00")
    digest = hashlib.sha256(ch1_t).digest()
    transcript = bytes([254, 0, 0, 32]) + digest + hrr_t + ch2_t + sh_t + ee_t
    sfin_w, _ = b.handshake(20, 3, b.finished(shs_s, transcript))
    shs = b.Epoch(0x1301, shs_s, 2)
    grams = [
        _dgram(1, True, b.plaintext_record(22, 0, ch1_w)),
        _dgram(2, False, b.plaintext_record(22, 0, hrr_w)),
        _dgram(3, True, b.plaintext_record(22, 1, ch2_w)),
        _dgram(
            4,
            False,
            b.plaintext_record(22, 1, sh_w) + shs.record(22, ee_w) + shs.record(22, sfin_w),
        ),  # fmt: skip
    ]
    keys = TLSKeyMaterial()
    keys.add_keylog_text(keylog)
    tracker = DTLSTracker(keys)
    events = [e for d in grams if tracker.claims(d) for e in tracker.feed(d)]
    assert [e.error for e in events if e.error] == []
    assert tracker.associations()[0].finished_ok == {"server": True}
