"""RFC 8448 §4 (Resumed 0-RTT) and §5 (HelloRetryRequest) traces driven through the TLS tracker.

Source of every expected value: the RFC 8448 text (tests/vectors/tls/rfc8448_s4.json and
rfc8448_s5.json; each value carries the RFC label it was copied from, octet counts included).
Nothing here was produced by netsec_layers. The key log is built from the RFC's traffic secrets,
keyed by the ClientHello random, and the RFC's "complete record" bytes are fed to
:class:`~netsec_layers.session.tls.TLSTracker` in the order of the trace. AEAD authentication
under the RFC's secrets plus the tracker's Finished check prove the records and transcript right.

§5 is the only public trace of a HelloRetryRequest: ``finished_ok`` there proves the tracker's
RFC 8446 §4.4.1 rule (ClientHello1 replaced by ``message_hash``), and the crypto-level tests check
:class:`~netsec_layers.crypto.tls13.Transcript13` against the transcript hash the RFC prints.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from netsec_layers.crypto import tls13
from netsec_layers.crypto.tls_record import RecordProtection
from netsec_layers.crypto.tls_suites import suite_info
from netsec_layers.keys.keylog import parse_keylog
from netsec_layers.session.tcp import StreamChunk, TCPConn
from netsec_layers.session.tls import TLSRecordInfo, TLSTracker
from netsec_layers.session.tls_keys import TLSKeyMaterial
from tests.tls_vectors import rfc8448, rfc8448_value

SECTIONS = ("s4", "s5")
CT_ALERT, CT_HANDSHAKE, CT_APPDATA = 21, 22, 23
load_trace = rfc8448
v = rfc8448_value


# The records of each trace in wire order: (sender, vector name). RFC 8448 §4 / §5.
ORDER: dict[str, list[tuple[str, str]]] = {
    "s4": [
        ("client", "client_hello_record"),
        ("client", "early_data_record"),  # 0-RTT, right behind the ClientHello
        ("server", "server_hello_record"),
        ("server", "server_handshake_record"),  # EncryptedExtensions + Finished
        ("client", "end_of_early_data_record"),
        ("client", "client_finished_record"),
        ("client", "client_application_record"),
        ("server", "server_application_record"),
        ("client", "client_alert_record"),
        ("server", "server_alert_record"),
    ],
    "s5": [
        ("client", "client_hello1_record"),
        ("server", "hello_retry_request_record"),
        ("client", "client_hello2_record"),
        ("server", "server_hello_record"),
        ("server", "server_handshake_record"),  # EE + Certificate + CertificateVerify + Finished
        ("client", "client_finished_record"),
        ("client", "client_alert_record"),
        ("server", "server_alert_record"),
    ],
}
PLAINTEXT_RECORDS = {
    "client_hello_record", "server_hello_record", "client_hello1_record",
    "hello_retry_request_record", "client_hello2_record",
}  # fmt: skip


def _client_random(section: str) -> bytes:
    first = v(section, ORDER[section][0][1])
    return first[5 + 4 + 2 : 5 + 4 + 2 + 32]  # record header, handshake header, legacy_version


def keylog_text(section: str) -> str:
    """An NSS key log (RFC 9850 labels) holding the RFC's secrets for this trace."""
    rnd = _client_random(section).hex()
    labels = {
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET": "client_handshake_traffic_secret",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET": "server_handshake_traffic_secret",
        "CLIENT_TRAFFIC_SECRET_0": "client_application_traffic_secret_0",
        "SERVER_TRAFFIC_SECRET_0": "server_application_traffic_secret_0",
        "CLIENT_EARLY_TRAFFIC_SECRET": "client_early_traffic_secret",
    }
    trace = load_trace(section)
    lines = [f"{lab} {rnd} {v(section, key).hex()}" for lab, key in labels.items() if key in trace]
    return "\n".join(lines) + "\n"


def _conn() -> TCPConn:
    return TCPConn(
        0, client=("192.0.2.1", 49152), server=("192.0.2.2", 443), ip_version=4, saw_syn=True
    )


@cache
def run_trace(section: str, coalesce: bool = False) -> tuple[TLSTracker, dict[str, TLSRecordInfo]]:
    """Feed the trace; one chunk per record, or (coalesce) one chunk per flight of a sender."""
    kl = parse_keylog(keylog_text(section))
    assert not kl.errors
    keys = TLSKeyMaterial()
    keys.add_keylog(kl)
    tracker = TLSTracker(keys)
    conn = _conn()
    flights: list[tuple[str, list[str]]] = []
    for sender, name in ORDER[section]:
        if coalesce and flights and flights[-1][0] == sender:
            flights[-1][1].append(name)
        else:
            flights.append((sender, [name]))
    out: dict[str, TLSRecordInfo] = {}
    for frame, (sender, names) in enumerate(flights, start=1):
        data = b"".join(v(section, n) for n in names)
        infos = tracker.feed(StreamChunk(conn, sender == "client", data, frame, frame * 1000))
        assert len(infos) == len(names)
        out.update(zip(names, infos, strict=True))
    return tracker, out


# ------------------------------------------------------------------------- the vectors themselves
_COUNTED = [
    (s, k) for s in SECTIONS for k, label in load_trace(s)["_labels"].items() if "octets)" in label
]


@pytest.mark.parametrize(("section", "name"), _COUNTED, ids=[f"{s}-{k}" for s, k in _COUNTED])
def test_vector_octet_count_matches_rfc(section: str, name: str) -> None:
    """Each value has the octet count the RFC prints next to it (guards copy errors)."""
    label = load_trace(section)["_labels"][name]
    count = int(re.findall(r"\((\d+) octets\)", label)[-1])
    assert len(v(section, name)) == count


_RECORDS = [(s, k) for s in SECTIONS for _, k in ORDER[s]]


@pytest.mark.parametrize(("section", "name"), _RECORDS, ids=[f"{s}-{k}" for s, k in _RECORDS])
def test_record_header_length_consistent(section: str, name: str) -> None:
    rec = v(section, name)
    assert int.from_bytes(rec[3:5], "big") == len(rec) - 5


# ------------------------------------------------------------------------- tracker: every record
@pytest.mark.parametrize("coalesce", [False, True], ids=["per-record", "per-flight"])
@pytest.mark.parametrize(("section", "name"), _RECORDS, ids=[f"{s}-{k}" for s, k in _RECORDS])
def test_tracker_record(section: str, name: str, coalesce: bool) -> None:
    """Protected records decrypt under the RFC's secrets; plaintext records pass through."""
    info = run_trace(section, coalesce)[1][name]
    assert info.error is None
    assert info.raw == v(section, name)
    if name in PLAINTEXT_RECORDS:
        assert not info.decrypted
        assert info.plaintext == v(section, name)[5:]
    else:
        assert info.decrypted


_EXPECTED_PLAINTEXT: list[tuple[str, str, int, tuple[str, ...]]] = [
    # (section, record, inner content type, RFC plaintext pieces in order)
    ("s4", "early_data_record", CT_APPDATA, ("early_data_plaintext",)),
    ("s4", "server_handshake_record", CT_HANDSHAKE, ("encrypted_extensions", "server_finished")),
    ("s4", "end_of_early_data_record", CT_HANDSHAKE, ("end_of_early_data",)),
    ("s4", "client_application_record", CT_APPDATA, ("application_data_plaintext",)),
    ("s4", "server_application_record", CT_APPDATA, ("application_data_plaintext",)),
    ("s4", "client_alert_record", CT_ALERT, ("alert_plaintext",)),
    ("s4", "server_alert_record", CT_ALERT, ("alert_plaintext",)),
    ("s5", "server_handshake_record", CT_HANDSHAKE,
     ("encrypted_extensions", "certificate", "certificate_verify", "server_finished")),
    ("s5", "client_alert_record", CT_ALERT, ("alert_plaintext",)),
    ("s5", "server_alert_record", CT_ALERT, ("alert_plaintext",)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("section", "name", "inner", "pieces"),
    _EXPECTED_PLAINTEXT,
    ids=[f"{s}-{n}" for s, n, _, _ in _EXPECTED_PLAINTEXT],
)
def test_tracker_plaintext_equals_rfc(
    section: str, name: str, inner: int, pieces: tuple[str, ...]
) -> None:
    info = run_trace(section)[1][name]
    assert info.decrypted
    assert info.inner_content_type == inner
    assert info.plaintext == b"".join(v(section, p) for p in pieces)


@pytest.mark.parametrize("section", SECTIONS)
def test_tracker_client_finished_record(section: str) -> None:
    """The client Finished decrypts (handshake keys) to one Finished message of 32-byte verify_data.

    Its verify_data is checked against the transcript by the tracker (finished_ok below).
    """
    info = run_trace(section)[1]["client_finished_record"]
    assert info.inner_content_type == CT_HANDSHAKE
    assert info.handshake_types == [20]
    assert info.plaintext is not None and info.plaintext[:4] == bytes.fromhex("14000020")
    assert len(info.plaintext) == 36


@pytest.mark.parametrize("coalesce", [False, True], ids=["per-record", "per-flight"])
@pytest.mark.parametrize("section", SECTIONS)
def test_tracker_finished_ok(section: str, coalesce: bool) -> None:
    """Both Finished messages verify; for §5 this needs the §4.4.1 message_hash rule."""
    tracker, _ = run_trace(section, coalesce)
    conn = tracker.connections[0]
    assert conn.finished_ok == {"client": True, "server": True}
    assert conn.version == 0x0304
    assert conn.suite == 0x1301
    assert conn.key_source == "keylog"
    assert conn.failed == 0


def test_s4_early_data_uses_early_traffic_secret() -> None:
    """§4: the 0-RTT record decrypts only under client_early_traffic_secret (suite found by trial)."""
    info = run_trace("s4")[1]["early_data_record"]
    assert info.decrypted and info.plaintext == v("s4", "early_data_plaintext")
    si = suite_info(0x1301)
    assert si is not None
    early = RecordProtection.tls13(si, traffic_secret=v("s4", "client_early_traffic_secret"))
    rec = v("s4", "early_data_record")
    assert early.decrypt(rec[0], 0x0303, rec[5:]) == (CT_APPDATA, v("s4", "early_data_plaintext"))


def test_s4_without_early_secret_0rtt_keys_are_missing() -> None:
    """Without CLIENT_EARLY_TRAFFIC_SECRET the 0-RTT keys are unknown: the early data and the
    EndOfEarlyData (protected by the early keys, RFC 8446 §4.5) stay opaque, the rest decrypts.
    The client Finished cannot be proven then (EndOfEarlyData is missing from its transcript).
    """
    text = "".join(
        line + "\n"
        for line in keylog_text("s4").splitlines()
        if not line.startswith("CLIENT_EARLY_TRAFFIC_SECRET")
    )
    keys = TLSKeyMaterial()
    keys.add_keylog(parse_keylog(text))
    tracker = TLSTracker(keys)
    conn = _conn()
    got = {}
    for frame, (sender, name) in enumerate(ORDER["s4"], start=1):
        (got[name],) = tracker.feed(StreamChunk(conn, sender == "client", v("s4", name), frame, 0))
    assert not got["early_data_record"].decrypted
    assert not got["end_of_early_data_record"].decrypted
    assert got["client_finished_record"].decrypted
    assert got["client_application_record"].plaintext == v("s4", "application_data_plaintext")
    assert got["server_application_record"].plaintext == v("s4", "application_data_plaintext")
    assert tracker.connections[0].finished_ok["server"] is True
    assert tracker.connections[0].finished_ok.get("client") is not True


def test_s5_tracker_saw_hello_retry_request() -> None:
    tracker, recs = run_trace("s5")
    conn = tracker.connections[0]
    assert conn.hrr
    assert recs["hello_retry_request_record"].handshake_types == [2]
    assert conn.client_hello is not None
    assert conn.client_hello.random == _client_random("s5")


# ------------------------------------------------------------------------- §5 at the crypto level
def _s5_messages() -> dict[str, bytes]:
    return {
        "ch1": v("s5", "client_hello1_record")[5:],
        "hrr": v("s5", "hello_retry_request_record")[5:],
        "ch2": v("s5", "client_hello2_record")[5:],
        "sh": v("s5", "server_hello_record")[5:],
    }


def _s5_shared_secret() -> bytes:
    """P-256 ECDHE from the RFC's private keys, computed by pyca (both sides must agree)."""
    c = ec.derive_private_key(int.from_bytes(v("s5", "client_p256_private"), "big"), ec.SECP256R1())
    s = ec.derive_private_key(int.from_bytes(v("s5", "server_p256_private"), "big"), ec.SECP256R1())
    c_pub = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), v("s5", "client_p256_public")
    )
    s_pub = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), v("s5", "server_p256_public")
    )
    z = c.exchange(ec.ECDH(), s_pub)
    assert z == s.exchange(ec.ECDH(), c_pub)
    return z


def test_s5_key_pairs_match_rfc() -> None:
    x = X25519PrivateKey.from_private_bytes(v("s5", "client_x25519_private"))
    assert x.public_key().public_bytes_raw() == v("s5", "client_x25519_public")
    for side in ("client", "server"):
        k = ec.derive_private_key(
            int.from_bytes(v("s5", f"{side}_p256_private"), "big"), ec.SECP256R1()
        )
        pub = k.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        assert pub == v("s5", f"{side}_p256_public")


def test_s5_transcript13_hello_retry_request() -> None:
    """Transcript13 with the HRR rule gives the RFC's hash for "tls13 c hs traffic"."""
    m = _s5_messages()
    t = tls13.Transcript13("SHA256")
    t.update(m["ch1"])
    t.hello_retry_request(m["hrr"])
    t.update(m["ch2"])
    t.update(m["sh"])
    assert t.digest() == v("s5", "hello_hash")
    # The rule matters: hashing ClientHello1 verbatim gives another value.
    plain = tls13.Transcript13("SHA256")
    for msg in (m["ch1"], m["hrr"], m["ch2"], m["sh"]):
        plain.update(msg)
    assert plain.digest() != v("s5", "hello_hash")


def _s5_schedule() -> dict[str, bytes]:
    m = _s5_messages()
    t = tls13.Transcript13("SHA256")
    t.update(m["ch1"])
    t.hello_retry_request(m["hrr"])
    t.update(m["ch2"])
    t.update(m["sh"])
    ks = tls13.KeySchedule13("SHA256")
    out = {"early_secret": ks.early_secret, "handshake_secret": ks.handshake(_s5_shared_secret())}
    hh = t.digest()
    out["client_handshake_traffic_secret"] = ks.client_handshake_traffic_secret(hh)
    out["server_handshake_traffic_secret"] = ks.server_handshake_traffic_secret(hh)
    out["master_secret"] = ks.master()
    for name in ("encrypted_extensions", "certificate", "certificate_verify", "server_finished"):
        t.update(v("s5", name))
    sf_hash = t.digest()
    out["client_application_traffic_secret_0"] = ks.client_application_traffic_secret_0(sf_hash)
    out["server_application_traffic_secret_0"] = ks.server_application_traffic_secret_0(sf_hash)
    # The client Finished is read out of the RFC's record, authenticated under the RFC's secret.
    si = suite_info(0x1301)
    assert si is not None
    rec = v("s5", "client_finished_record")
    prot = RecordProtection.tls13(si, traffic_secret=v("s5", "client_handshake_traffic_secret"))
    _, client_finished = prot.decrypt(rec[0], 0x0303, rec[5:])
    t.update(client_finished)
    out["resumption_master_secret"] = ks.resumption_master_secret(t.digest())
    return out


_S5_SCHEDULE = [
    "early_secret", "handshake_secret", "client_handshake_traffic_secret",
    "server_handshake_traffic_secret", "master_secret", "client_application_traffic_secret_0",
    "server_application_traffic_secret_0", "resumption_master_secret",
]  # fmt: skip


@pytest.mark.parametrize("name", _S5_SCHEDULE)
def test_s5_key_schedule_from_ecdhe(name: str) -> None:
    """KeySchedule13 from the P-256 shared secret and the HRR transcript gives the RFC's secrets."""
    assert _s5_schedule()[name].hex() == v("s5", name).hex()


_TRAFFIC_KEYS = [
    ("s4", "client_early_traffic_secret", "early"),
    ("s4", "server_handshake_traffic_secret", "server_handshake"),
    ("s4", "server_application_traffic_secret_0", "server_application"),
    ("s5", "server_handshake_traffic_secret", "server_handshake"),
    ("s5", "client_handshake_traffic_secret", "client_handshake"),
    ("s5", "server_application_traffic_secret_0", "server_application"),
    ("s5", "client_application_traffic_secret_0", "client_application"),
]


@pytest.mark.parametrize(
    ("section", "secret", "prefix"), _TRAFFIC_KEYS, ids=[f"{s}-{p}" for s, _, p in _TRAFFIC_KEYS]
)
def test_traffic_key_iv(section: str, secret: str, prefix: str) -> None:
    key, iv = tls13.traffic_key_iv("SHA256", traffic_secret=v(section, secret), key_len=16)
    assert (key, iv) == (v(section, f"{prefix}_key"), v(section, f"{prefix}_iv"))


# ------------------------------------------------------------------------- consistency
def _consistency() -> dict[str, tuple[bytes, bytes]]:
    """§4 key-schedule inputs agree with the §4 messages they come from (copy errors)."""
    ch = v("s4", "client_hello_record")[5:]
    return {
        # RFC 8448 §4 prints Hash(ClientHello) as the context of "tls13 c e traffic".
        "client_hello_hash": (hashlib.sha256(ch).digest(), v("s4", "client_hello_hash")),
        # The PSK binder closes the ClientHello (RFC 8446 §4.2.11).
        "binder": (ch[-32:], v("s4", "binder")),
        # One server certificate in every section of RFC 8448.
        "certificate": (v("s3", "certificate"), v("s5", "certificate")),
    }


@pytest.mark.parametrize("name", sorted(_consistency()))
def test_trace_values_consistent(name: str) -> None:
    ours, theirs = _consistency()[name]
    assert ours.hex() == theirs.hex()
