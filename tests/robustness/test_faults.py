"""Fault injection: bit flips, wrong keys, broken TCP, bad key-file lines.

The verdict must be clear (IntegrityError / a record error), no unauthenticated plaintext may
come out, and the rest of the capture must still be processed.  TLS records come from the
sample captures under pcaps/tls (real OpenSSL/GnuTLS traffic) with their key logs; ESP packets
are built with SADatabase.encrypt for several algorithms.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from netsec_layers.errors import (
    IntegrityError,
    NetsecError,
    ReplayError,
    TruncatedError,
    UnknownSPIError,
)
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session.ipsec import SADatabase
from netsec_layers.session.tls import TLSTracker
from netsec_layers.session.tls_keys import TLSKeyMaterial
from tests.robustness._util import TLS, feed_records, record_events

# -- ESP ---------------------------------------------------------------------------------------
ESP_SAS = [
    ("AES-GCM-16", 20, "NONE", 0),
    ("AES-GCM-8", 36, "NONE", 0),
    ("AES-CCM-16", 19, "NONE", 0),
    ("CHACHA20-POLY1305", 36, "NONE", 0),
    ("AES-GMAC", 20, "NONE", 0),
    ("AES-GCM-16-IIV", 20, "NONE", 0),
    ("AES-CBC", 16, "HMAC-SHA2-256-128", 32),
    ("AES-CTR", 20, "HMAC-SHA1-96", 20),
    ("3DES-CBC", 24, "HMAC-SHA2-512-256", 64),
    ("NULL", 0, "AES-XCBC-MAC-96", 16),
]


@pytest.mark.parametrize("enc,klen,integ,alen", ESP_SAS, ids=[s[0] + "/" + s[2] for s in ESP_SAS])
@pytest.mark.parametrize("esn", [False, True], ids=["seq32", "esn"])
def test_every_esp_bit_flip_is_rejected(
    enc: str, klen: int, integ: str, alen: int, esn: bool
) -> None:
    sa = SecurityAssociation(
        0x01020304,
        enc,
        bytes(range(7, 7 + klen)),
        integ,
        bytes(range(100, 100 + alen)),
        mode="transport",
        esn=esn,
        esn_high=1 if esn else 0,
    )
    tx, rx = SADatabase([sa]), SADatabase([sa])
    payload = bytes(range(37))
    pkt = tx.encrypt(payload, sa=sa, next_header=17, seq=5)
    for bit in range(len(pkt) * 8):
        bad = bytearray(pkt)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        with pytest.raises((IntegrityError, UnknownSPIError, ReplayError, TruncatedError)) as ei:
            rx.decrypt(bytes(bad))
        if bit < 32:
            assert isinstance(ei.value, UnknownSPIError)  # SPI bits
        elif esn:
            # RFC 4303 App. A: the high half is inferred, the low half authenticated
            assert isinstance(ei.value, (IntegrityError, ReplayError))
        else:
            assert isinstance(ei.value, IntegrityError), (bit, ei.value)
    # failures left no trace: the genuine packet still opens, then is a replay
    opened = rx.decrypt(pkt)
    assert opened.payload == payload and opened.seq & 0xFFFFFFFF == 5
    with pytest.raises(ReplayError):
        rx.decrypt(pkt)


def test_esp_wrong_but_plausible_key_and_truncation() -> None:
    sa = SecurityAssociation(0x99, "AES-CBC", bytes(16), "HMAC-SHA2-256-128", bytes(32))
    wrong = SecurityAssociation(
        0x99, "AES-CBC", bytes(15) + b"\1", "HMAC-SHA2-256-128", bytes(31) + b"\1"
    )
    pkt = SADatabase([sa]).encrypt(b"inner" * 10, sa=sa, next_header=4)
    with pytest.raises(IntegrityError):
        SADatabase([wrong]).decrypt(pkt)
    rx = SADatabase([sa])
    for cut in range(0, len(pkt)):
        with pytest.raises(NetsecError):
            rx.decrypt(pkt[:cut])
    assert rx.decrypt(pkt).payload == b"inner" * 10


# -- TLS records from the samples ----------------------------------------------------------------
TLS_SAMPLES = [
    "tls12-ecdhe-rsa-aes128gcm",
    "tls12-ecdhe-rsa-chacha20",
    "tls12-ecdhe-rsa-aes128-sha-etm",
    "tls12-ecdhe-rsa-aes128-sha-noetm",
    "tls10-aes128-sha",
    "tls13-aes128gcm",
    "tls13-aes128ccm",
]


def _keys(name: str) -> TLSKeyMaterial:
    km = TLSKeyMaterial()
    km.add_keylog_text((TLS / f"{name}.keys").read_bytes())
    return km


def _bits(n: int) -> list[int]:
    """Every bit of short fragments; of long ones the first 24 and last 48 bytes (explicit IV /
    nonce, MAC / tag / padding) and 96 random bits in between."""
    if n <= 96:
        return list(range(n * 8))
    head, tail = list(range(24 * 8)), list(range((n - 48) * 8, n * 8))
    rng = random.Random(n)
    return head + tail + rng.sample(range(24 * 8, (n - 48) * 8), 96)


@pytest.mark.parametrize("name", TLS_SAMPLES)
def test_every_tls_record_bit_flip_is_rejected(name: str) -> None:
    events = record_events(TLS / f"{name}.pcap")
    base = feed_records(TLSTracker(_keys(name)), events)
    assert len(base) == len(events)
    targets = [i for i, r in enumerate(base) if r.decrypted]
    assert targets, "sample does not decrypt"
    # the first protected record of each direction and the last one
    picks = sorted(
        {
            next(i for i in targets if base[i].from_client),
            next(i for i in targets if not base[i].from_client),
            targets[-1],
        }
    )
    for k in picks:
        tr = TLSTracker(_keys(name))
        feed_records(tr, events[:k])
        c, rec = events[k]
        # fragment bits, plus the low bit of each version byte (part of the AAD / MAC input)
        for pos in [40 + b for b in _bits(len(rec) - 5)] + [15, 23]:
            bad = bytearray(rec)
            bad[pos // 8] ^= 0x80 >> (pos % 8)
            (out,) = feed_records(tr, [(c, bytes(bad))], k)
            assert not out.decrypted and out.plaintext is None, (name, k, pos)
            assert (out.error or "").startswith("decryption failed"), out.error
        # the genuine record still decrypts: failures did not advance sequence numbers or CBC
        # chaining state
        (out,) = feed_records(tr, [events[k]], k)
        assert out.decrypted and out.plaintext == base[k].plaintext
        rest = feed_records(tr, events[k + 1 :], k + 1)
        assert [r.plaintext for r in rest] == [r.plaintext for r in base[k + 1 :]]


def _other_sample(name: str) -> str:
    return "tls13-aes256gcm" if "tls13" in name else "tls12-rsa-aes128gcm"


@pytest.mark.parametrize(
    "name", ["tls12-ecdhe-rsa-aes128gcm", "tls13-aes128gcm", "tls10-aes128-sha"]
)
def test_keys_of_another_connection_decrypt_nothing(name: str) -> None:
    events = record_events(TLS / f"{name}.pcap")
    recs = feed_records(TLSTracker(_keys(_other_sample(name))), events)
    assert not any(r.decrypted for r in recs)
    assert all(r.plaintext is None for r in recs if r.content_type == 23)
    assert any(r.error == "no key for this connection" for r in recs)
    assert any(r.handshake_types for r in recs)  # the plaintext handshake is still followed


def _corrupt_keylog(text: bytes) -> bytes:
    """Every secret changed in its last hex digit: well-formed lines, wrong keys."""
    out = []
    for line in text.decode().splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and not line.startswith("#"):
            last = parts[2][-1]
            parts[2] = parts[2][:-1] + ("0" if last != "0" else "1")
        out.append(" ".join(parts))
    return "\n".join(out).encode()


@pytest.mark.parametrize(
    "name",
    [
        "tls12-ecdhe-rsa-aes128gcm",
        "tls12-ecdhe-rsa-aes128-sha-etm",
        "tls13-aes128gcm",
        "tls13-chacha20",
    ],
)
def test_wrong_but_plausible_keys_give_clear_errors(name: str) -> None:
    km = TLSKeyMaterial()
    km.add_keylog_text(_corrupt_keylog((TLS / f"{name}.keys").read_bytes()))
    recs = feed_records(TLSTracker(km), record_events(TLS / f"{name}.pcap"))
    assert not any(r.decrypted for r in recs)
    assert all(r.plaintext is None for r in recs if r.content_type == 23)
    assert any((r.error or "").startswith("decryption failed") for r in recs)


def test_bad_key_log_lines_do_not_spoil_the_good_ones() -> None:
    from netsec_layers.keys.keylog import parse_keylog

    name = "tls12-ecdhe-rsa-aes128gcm"
    good = (TLS / f"{name}.keys").read_bytes().decode().splitlines()
    junk = [
        "garbage",
        "CLIENT_RANDOM zz yy",
        "CLIENT_RANDOM " + "00" * 31 + " " + "11" * 48,
        "\x00\xff",
        "RSA 00 11",
        "   ",
        "CLIENT_RANDOM\t" + "00" * 32 + "\t" + "11" * 48,
    ]
    mixed = [x for pair in zip(junk, good + [""] * len(junk), strict=False) for x in pair]
    text = "\r\n".join(mixed).encode("utf-8", "surrogatepass")
    kl = parse_keylog(text)
    assert len(kl.errors) >= 5
    assert all(e.line >= 1 for e in kl.errors)
    km = TLSKeyMaterial()
    km.add_keylog_text(text)
    events = record_events(TLS / f"{name}.pcap")
    base = feed_records(TLSTracker(_keys(name)), events)
    recs = feed_records(TLSTracker(km), events)
    assert [r.plaintext for r in recs] == [r.plaintext for r in base]


def test_bad_esp_sa_line_is_reported_with_its_number() -> None:
    from netsec_layers.errors import KeyFileError
    from netsec_layers.keys.sa_files import parse_esp_sa

    good = (TLS.parent / "strongswan" / "strongswan_natt.esp_sa").read_text().splitlines()
    for bad in (
        '"IPv4","*","*","0xzz","AES-CBC [RFC3602]","0x00","NULL",""',
        '"IPv4","*","*","0x1","AES-CBC [RFC3602]","0xabc","NULL",""',
        '"IPv4","*"',
    ):
        lines = [*good[:2], bad, *good[2:]]
        with pytest.raises(KeyFileError, match=r"line 3\b"):
            parse_esp_sa("\n".join(lines))


# -- TCP-level faults (sample pcap rewritten with Scapy) ----------------------------------------
def _rewrite(src: Path, dst: Path, how: str) -> None:
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap, wrpcap

    pkts = list(rdpcap(str(src)))
    data = [i for i, p in enumerate(pkts) if TCP in p and len(p[TCP].payload) > 0]
    if how == "duplicate":
        pkts = [q for p in pkts for q in ((p, p) if TCP in p and len(p[TCP].payload) else (p,))]
    elif how == "reorder":  # swap consecutive data segments of the same direction
        j = 0
        while j + 1 < len(data):
            a, b = data[j], data[j + 1]
            if pkts[a][TCP].sport == pkts[b][TCP].sport:
                pkts[a], pkts[b] = pkts[b], pkts[a]
                j += 2
            else:
                j += 1
    elif how == "drop":
        del pkts[data[len(data) // 2]]
    elif how == "truncate":
        i = data[len(data) // 2]
        p = pkts[i]
        pl = bytes(p[TCP].payload)
        p[TCP].remove_payload()
        p[TCP].add_payload(pl[: len(pl) // 2])
        del p[TCP].chksum
        if hasattr(p.payload, "len"):
            del p.payload.len
            del p.payload.chksum
    wrpcap(str(dst), pkts)


def _run_engine(path: Path, name: str) -> list:
    from netsec_layers.session.engine import CaptureEngine, iter_capture

    eng = CaptureEngine(tls_keys=_keys(name))
    recs = [u for fr in iter_capture(str(path), eng) for u in fr.units]
    return recs + eng.flush()


@pytest.mark.parametrize("how", ["duplicate", "reorder", "drop", "truncate"])
def test_tcp_faults(tmp_path: Path, how: str) -> None:
    name = "tls12-ecdhe-rsa-aes128gcm"
    src = TLS / f"{name}.pcap"
    base = _run_engine(src, name)
    out = tmp_path / f"{how}.pcap"
    _rewrite(src, out, how)
    recs = _run_engine(out, name)
    for r in recs:  # never unauthenticated plaintext
        assert r.decrypted or r.content_type != 23 or r.plaintext is None

    def plain(rs: list, c: bool) -> list[bytes]:
        return [r.plaintext for r in rs if r.decrypted and r.from_client == c]

    if how in ("duplicate", "reorder"):  # same records per direction (order across may differ)
        for c in (True, False):
            assert [r.raw for r in recs if r.from_client == c] == [
                r.raw for r in base if r.from_client == c
            ]
            assert plain(recs, c) == plain(base, c)
    else:
        # one direction lost bytes; the other is untouched and the capture goes on
        assert plain(recs, True) == plain(base, True) or plain(recs, False) == plain(base, False)
        assert sum(r.decrypted for r in recs) >= sum(r.decrypted for r in base) // 2
