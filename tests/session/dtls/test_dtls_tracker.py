"""DTLS tracker on real OpenSSL 3.0 / GnuTLS 3.7 associations (pcaps/dtls, made by
tools/make_dtls_captures.py): the decrypted application data is what the peers sent (the
sidecar), both Finished messages verify, and every record agrees with tshark 4.0's DTLS
dissector and decryptor (recorded in tests/vectors/dtls/tshark_records.json) except where
tshark is known wrong (ChaCha20-Poly1305: its nonce leaves the epoch out, RFC 7905 §2)."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.session.dtls import DTLSFailure, DTLSRecordEvent, DTLSTracker
from netsec_layers.session.tls_keys import TLSKeyMaterial
from tests.session.dtls._dtls_feed import SAMPLES, datagrams, run, sample_keys

REPO = Path(__file__).resolve().parents[3]
VECTORS = json.loads((REPO / "tests" / "vectors" / "dtls" / "tshark_records.json").read_text())
NAMES = sorted(VECTORS)
RSA_NAMES = sorted(p.name.removesuffix(".rsa.pem") for p in SAMPLES.glob("*.rsa.pem"))
CHACHA = {n for n in NAMES if "chacha" in n}
# samples where the peers exchanged data (the handshake-failure one has none)
EXCHANGES = [n for n in NAMES if json.loads((SAMPLES / f"{n}.json").read_text())["connections"]]


def _meta(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((SAMPLES / f"{name}.json").read_text())  # type: ignore[no-any-return]


def _check_against_peers(name: str, tracker: DTLSTracker, events: list[DTLSRecordEvent]) -> None:
    meta = _meta(name)
    assert all(e.error is None for e in events), [e.error for e in events if e.error]
    assocs = tracker.associations()
    assert len(assocs) == len(meta["connections"])
    for assoc, conn in zip(assocs, meta["connections"], strict=True):
        assert assoc.finished_ok == {"client": True, "server": True}
        assert assoc.suite == meta["suite"] and assoc.version == meta["version"]
        app: dict[bool, bytes] = defaultdict(bytes)
        for e in events:
            if e.stream == assoc.stream and e.inner_content_type == 23:
                assert e.decrypted
                app[e.from_client] += e.plaintext or b""
        assert app[True] == bytes.fromhex(conn["c2s"])
        assert app[False] == bytes.fromhex(conn["s2c"])
        assert assoc.failed == 0


@pytest.mark.parametrize("name", EXCHANGES)
def test_decrypts_what_the_peers_sent(name: str) -> None:
    tracker = DTLSTracker(sample_keys(name))
    events = run(tracker, datagrams(SAMPLES / f"{name}.pcap"))
    _check_against_peers(name, tracker, events)
    # the client's close_notify (s_client/gnutls-cli on end of input) is decrypted too
    alerts = [(e.from_client, e.alert) for e in events if e.alert]
    assert (True, (1, 0)) in alerts and all(a == (1, 0) for _, a in alerts)


@pytest.mark.parametrize("name", RSA_NAMES)
def test_static_rsa_with_the_server_key(name: str) -> None:
    tracker = DTLSTracker(sample_keys(name, rsa=True))
    events = run(tracker, datagrams(SAMPLES / f"{name}.pcap"))
    _check_against_peers(name, tracker, events)
    assert tracker.associations()[0].key_source == "rsa-key"


@pytest.mark.parametrize("name", NAMES)
def test_every_record_agrees_with_tshark(name: str) -> None:
    want = VECTORS[name]["decrypted"]
    events = run(DTLSTracker(sample_keys(name)), datagrams(SAMPLES / f"{name}.pcap"))
    frames: dict[int, list[DTLSRecordEvent]] = defaultdict(list)
    for e in events:
        frames[e.frame].append(e)
    assert sorted(frames) == sorted(int(k) for k in want)
    compared = 0
    for frame, evs in frames.items():
        t = want[str(frame)]
        assert [e.content_type for e in evs] == t["dtls.record.content_type"]
        assert [e.version for e in evs] == t["dtls.record.version"]
        assert [e.epoch for e in evs] == t["dtls.record.epoch"]
        assert [e.seq for e in evs] == t["dtls.record.sequence_number"]
        assert [e.length for e in evs] == t["dtls.record.length"]
        ours_hs = [f for e in evs for f in e.fragments]
        theirs_hs = list(
            zip(
                t["dtls.handshake.type"],
                t["dtls.handshake.length"],
                t["dtls.handshake.message_seq"],
                t["dtls.handshake.fragment_offset"],
                t["dtls.handshake.fragment_length"],
                strict=True,
            )
        )
        if name in CHACHA:
            # tshark 4.0 cannot decrypt DTLS ChaCha20 (nonce without the epoch): it sees only
            # the plaintext epoch-0 fragments; we decrypt the Finished messages as well
            plain = [f for e in evs if e.epoch == 0 for f in e.fragments]
            assert theirs_hs == plain
            assert t["dtls.alert_message.desc"] == []
        else:
            assert ours_hs == theirs_hs
            assert [e.alert[1] for e in evs if e.alert] == t["dtls.alert_message.desc"]
        compared += len(evs)
    assert compared >= (4 if "failure" in name else 13)


def test_tshark_chacha20_failure_is_real_and_ours_is_not() -> None:
    # the sidecar proves the peers exchanged data; tshark recorded no decrypted alert/Finished
    for name in CHACHA:
        t = VECTORS[name]["decrypted"]
        assert not any(20 in row["dtls.handshake.type"] for row in t.values())
        events = run(DTLSTracker(sample_keys(name)), datagrams(SAMPLES / f"{name}.pcap"))
        assert sum(20 in e.handshake_types for e in events) == 2


def test_out_of_order_and_duplicated_datagrams() -> None:
    name = "ossl-dtls12-aes128gcm"
    grams = datagrams(SAMPLES / f"{name}.pcap")
    # the server's flight (frames 4-10) shuffled, with two fragments delivered twice
    flight = grams[3:10]
    rnd = random.Random(16)
    shuffled = flight[:] + [flight[2], flight[5]]
    rnd.shuffle(shuffled)
    tracker = DTLSTracker(sample_keys(name))
    events = run(tracker, [*grams[:3], *shuffled, *grams[10:]])
    assoc = tracker.associations()[0]
    assert assoc.finished_ok == {"client": True, "server": True}
    assert sum(e.retransmission for e in events) >= 2
    app = [e.plaintext for e in events if e.inner_content_type == 23]
    meta = _meta(name)["connections"][0]
    assert app == [bytes.fromhex(meta["c2s"]), bytes.fromhex(meta["s2c"])]


def test_replayed_record_is_a_verdict_and_later_records_still_decrypt() -> None:
    name = "gnutls-dtls12-gcm"
    grams = datagrams(SAMPLES / f"{name}.pcap")
    app_idx = next(i for i, g in enumerate(grams) if g.payload[0] == 23)
    again = [*grams[: app_idx + 1], grams[app_idx], *grams[app_idx + 1 :]]
    events = run(DTLSTracker(sample_keys(name)), again)
    verdicts = [e.failure for e in events if e.content_type == 23]
    assert verdicts[:2] == [None, DTLSFailure.REPLAYED]
    assert all(v is None for v in verdicts[2:]) and len(verdicts) >= 3
    assert events[-1].alert == (1, 0)


def test_wrong_key_fails_every_protected_record_without_hiding_them() -> None:
    name = "ossl-dtls12-cbc-etm"
    keys = TLSKeyMaterial()
    text = (SAMPLES / f"{name}.keys").read_text().split()
    keys.add_keylog_text(f"CLIENT_RANDOM {text[-2]} {'00' * 48}\n")
    tracker = DTLSTracker(keys)
    events = run(tracker, datagrams(SAMPLES / f"{name}.pcap"))
    protected = [e for e in events if e.epoch > 0]
    assert protected and all(e.failure is DTLSFailure.DECRYPTION_FAILED for e in protected)
    assert all(not e.decrypted and e.plaintext is None for e in protected)
    assert tracker.associations()[0].failed == len(protected)


def test_no_keys_reports_no_key() -> None:
    events = run(DTLSTracker(), datagrams(SAMPLES / "ossl-dtls1-cbc.pcap"))
    enc = [e for e in events if e.epoch]
    assert enc and all(e.failure is DTLSFailure.NO_KEY for e in enc)
    j = enc[-1].to_json()
    assert j["decrypted"] is False and j["inner_content_type"] is None and j["app_data"] is None
    assert j["error"] == "no key for this association"


def test_json_contract() -> None:
    name = "ossl-dtls12-hvr-mtu"
    events = run(DTLSTracker(sample_keys(name)), datagrams(SAMPLES / f"{name}.pcap"))
    j = [e.to_json() for e in events]
    assert j[0] == {
        "proto": "dtls", "frame": 1, "stream": 0, "dir": "c2s", "content_type": 22,
        "version": 0xFEFF, "epoch": 0, "seq": 0, "length": 140, "decrypted": False,
        "inner_content_type": 22, "handshake_types": [1], "alert": None, "app_data": None,
        "error": None, "cid": None, "fragments": [[1, 128, 0, 0, 128]], "retransmission": False,
    }  # fmt: skip
    assert j[1]["dir"] == "s2c" and j[1]["handshake_types"] == [3]
    app = [x for x in j if x["app_data"]]
    assert [x["dir"] for x in app] == ["c2s", "s2c"] and all(x["decrypted"] for x in app)
    assert app[0]["inner_content_type"] == 23 and app[0]["epoch"] == 1
    assert bytes.fromhex(app[0]["app_data"]) == bytes.fromhex(_meta(name)["connections"][0]["c2s"])


def _hs_record(seq: int, frags: list[tuple[int, int, int, int, bytes]]) -> bytes:
    body = b"".join(
        bytes([mt]) + ln.to_bytes(3, "big") + ms.to_bytes(2, "big") + off.to_bytes(3, "big")
        + len(b).to_bytes(3, "big") + b
        for mt, ln, ms, off, b in frags
    )  # fmt: skip
    return (
        bytes([22, 0xFE, 0xFD, 0, 0]) + seq.to_bytes(6, "big") + len(body).to_bytes(2, "big") + body
    )


def test_hostile_fragments_stay_bounded() -> None:
    grams = datagrams(SAMPLES / "ossl-dtls12-aes128gcm.pcap")
    tracker = DTLSTracker()
    run(tracker, grams[:1])
    template = grams[0]
    hostile = [
        _hs_record(50, [(11, 10, 1, 8, b"abcdef")]),  # past the length
        _hs_record(51, [(11, 10, 1, 0, b"abcd"), (11, 10, 1, 2, b"XXXX")]),  # conflicting overlap
        _hs_record(52, [(11, 10, 1, 0, b"ab"), (11, 99, 1, 2, b"cd")]),  # length changes
        _hs_record(53, [(12, (1 << 24) - 1, 2, 0, b"x")]),  # absurd length
        *[_hs_record(60 + i, [(11, 5, 1000 + i, 0, b"y")]) for i in range(200)],  # seq flood
    ]
    # epoch jumps: protected records in epochs nobody keyed
    jumps = [bytes([23, 0xFE, 0xFD]) + e.to_bytes(2, "big") + bytes(6) + b"\x00\x20" + bytes(32)
             for e in (1, 7, 0xFFFF)]  # fmt: skip
    verdicts: list[DTLSFailure | None] = []
    for raw in hostile:
        d = type(template)(template.ip, template.sport, template.dport, raw)
        assert tracker.claims(d)
        verdicts.extend(e.failure for e in tracker.feed(d))
    assert verdicts[:5] == [DTLSFailure.HANDSHAKE_REJECTED] * 5
    assert all(v is DTLSFailure.HANDSHAKE_REJECTED for v in verdicts[5:])
    for raw in jumps:
        d = type(template)(template.ip, template.sport, template.dport, raw)
        assert [e.failure for e in tracker.feed(d)] == [DTLSFailure.NO_KEY]
    assert len(tracker.associations()[0].c.reasm._held) <= 16


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=120), max_size=6))
def test_garbage_datagrams_never_raise(payloads: list[bytes]) -> None:
    grams = datagrams(SAMPLES / "ossl-dtls12-aes128gcm.pcap")
    tracker = DTLSTracker(sample_keys("ossl-dtls12-aes128gcm"))
    run(tracker, grams[:4])
    t = grams[3]
    for p in payloads:
        # every payload as a DTLS record of this association (header + garbage)
        for raw in (p, bytes([22, 0xFE, 0xFD, 0, 1]) + bytes(6) + len(p).to_bytes(2, "big") + p):
            d = type(t)(t.ip, t.sport, t.dport, raw)
            if tracker.claims(d):
                for e in tracker.feed(d):
                    assert isinstance(e.to_json(), dict) and isinstance(e.summary(), str)


def test_real_retransmissions_after_lost_datagrams() -> None:
    # a relay dropped a server certificate fragment and a client datagram: OpenSSL resent
    # whole flights with new record numbers and different fragment boundaries
    name = "ossl-dtls12-lost-flights"
    tracker = DTLSTracker(sample_keys(name))
    events = run(tracker, datagrams(SAMPLES / f"{name}.pcap"))
    _check_against_peers(name, tracker, events)
    assoc = tracker.associations()[0]
    assert assoc.retransmissions >= 3 and assoc.cookie_exchange
    assert sum(e.retransmission for e in events) >= 3
    certs = [(f[3], f[4]) for e in events for f in e.fragments if f[0] == 11]
    lengths_at: dict[int, set[int]] = defaultdict(set)
    for off, flen in certs:
        lengths_at[off].add(flen)
    assert any(len(v) > 1 for v in lengths_at.values())  # refragmented on resend


def test_fatal_handshake_alert_from_a_real_server() -> None:
    # OpenSSL s_server and s_client without a common suite: handshake_failure in epoch 0
    events = run(DTLSTracker(), datagrams(SAMPLES / "ossl-dtls12-handshake-failure.pcap"))
    last = events[-1]
    assert (last.from_client, last.epoch, last.alert, last.error) == (False, 0, (2, 40), None)
    assert last.to_json()["inner_content_type"] == 21
    assert VECTORS["ossl-dtls12-handshake-failure"]["plain"]["4"]["dtls.alert_message.desc"] == [40]


def test_bounded_associations_keep_their_stats() -> None:
    name = "ossl-dtls12-resume"
    tracker = DTLSTracker(sample_keys(name), max_associations=1)
    events = run(tracker, datagrams(SAMPLES / f"{name}.pcap"))
    assocs = tracker.associations()
    assert len(tracker.assocs) == 1 and len(assocs) == 2  # the first was evicted, still listed
    assert all(a.finished_ok == {"client": True, "server": True} for a in assocs)
    assert all(not a.transcript for a in assocs) and not assocs[0].c.keys
    assert sum(e.inner_content_type == 23 and e.decrypted for e in events) == 4
