"""IKEv1 on strongSwan traffic (pcaps/ike/strongswan_ikev1.pcap: Main Mode AES-128/SHA2-256 and
Aggressive Mode 3DES/SHA-1, both with MODP2048 and Quick Mode, NAT-T).

* RFC 2409 key derivation against every SKEYID*, Ka and IV charon logged (the 3DES/SHA-1
  SA needs the Appendix B key expansion: SKEYID_e is 20 bytes, Ka 24);
* the tracker decrypts every encrypted message with the ``ikev1_decryption_table`` keys, and
  the plaintext equals tshark 4.0's ("Decrypted IKE") byte for byte (integration)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from netsec_layers.crypto.ike import ikev1_keys, ikev1_phase1_iv
from netsec_layers.keys.ike_keys import parse_ike_keys
from netsec_layers.layers.ike import dissect_ikev1_payloads
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.ike import IKEMessage, IKETracker
from netsec_layers.session.ike_wire import parse_header, parse_payloads

DIR = Path(__file__).resolve().parents[2] / "pcaps" / "ike"
PCAP = DIR / "strongswan_ikev1.pcap"
TABLE = DIR / "strongswan_ikev1.ikev1_decryption_table"
PSK = b"netsec-layers-strongswan-test-psk"  # tools/strongswan_peer.py


def _secrets() -> list[list[tuple[str, bytes]]]:
    """Charon's logged secrets, one list per IKE SA (each starts at its DH secret)."""
    out: list[list[tuple[str, bytes]]] = []
    for s in json.loads((DIR / "strongswan_ikev1.secrets.json").read_text()):
        if s["label"] == "shared Diffie Hellman secret":
            out.append([])
        if out:
            out[-1].append((s["label"], bytes.fromhex(s["hex"])))
    return out


def _run() -> tuple[list[IKEMessage], IKETracker]:
    tr = IKETracker(parse_ike_keys(TABLE.read_text()))
    eng = CaptureEngine(trackers=[tr])
    msgs = [u for r in iter_capture(str(PCAP), eng) for u in r.units if isinstance(u, IKEMessage)]
    return msgs, tr


def _phase1_clear() -> dict[bytes, dict[str, bytes]]:
    """Cookies, nonces and KE data of each IKE SA from its cleartext messages."""
    from scapy.layers.inet import UDP
    from scapy.utils import rdpcap

    out: dict[bytes, dict[str, bytes]] = {}
    for p in rdpcap(str(PCAP)):
        if UDP not in p or p[UDP].sport != 500:
            continue
        msg = bytes(p[UDP].payload)
        hdr = parse_header(msg)
        if hdr.flags & 1:
            continue
        d = out.setdefault(
            hdr.spi_i, {"src": p["IP"].src.encode()} if hdr.spi_r == bytes(8) else {}
        )
        if hdr.spi_r != bytes(8):
            d["cky_r"] = hdr.spi_r
        mine = d.get("src") == p["IP"].src.encode()
        for pl in parse_payloads(msg, hdr.next_payload, 28, hdr.length):
            if pl.ptype == 10:
                d["ni" if mine else "nr"] = pl.body(msg)
            if pl.ptype == 4:
                d["g_xi" if mine else "g_xr"] = pl.body(msg)
    return out


def test_rfc2409_keys_and_ivs_equal_charon() -> None:
    clear = _phase1_clear()
    secrets = _secrets()
    assert len(secrets) == 2
    for (cky_i, d), sec in zip(clear.items(), secrets, strict=True):
        logged = dict(sec)
        hash_id = 4 if len(logged["SKEYID"]) == 32 else 2
        key_len = len(logged["encryption key Ka"])
        skeyid, sk_d, sk_a, ka = ikev1_keys(
            hash_id,
            psk=PSK,
            nonce_i=d["ni"],
            nonce_r=d["nr"],
            g_xy=logged["shared Diffie Hellman secret"],
            cky_i=cky_i,
            cky_r=d["cky_r"],
            key_len=key_len,
        )
        assert (skeyid, sk_d, sk_a) == (logged["SKEYID"], logged["SKEYID_d"], logged["SKEYID_a"])
        assert ka == logged["encryption key Ka"]
        block = len(logged["initial IV"])
        iv = ikev1_phase1_iv(hash_id, g_xi=d["g_xi"], g_xr=d["g_xr"], block=block)
        assert iv == logged["initial IV"]
    aggressive = dict(secrets[1])  # 3DES/SHA-1: Ka (24) longer than SKEYID_e (20)
    assert len(aggressive["SKEYID_e"]) == 20 and len(aggressive["encryption key Ka"]) == 24


def test_tracker_decrypts_every_encrypted_ikev1_message() -> None:
    msgs, tr = _run()
    enc = [m for m in msgs if m.flags & 1]  # the ISAKMP Encryption flag
    assert len(enc) == 9 and all(m.decrypted for m in enc), [(m.frame, m.error) for m in enc]
    assert all(m.to_json()["authenticated"] is None for m in enc)  # no SKEYID_a: unchecked
    qm = [m for m in enc if m.exchange_type == 32]
    assert len(qm) == 6 and [m.inner_payloads for m in qm[:3]] == [
        [8, 1, 10, 5, 5],
        [8, 1, 10, 5, 5],
        [8],
    ]
    # the charon-logged "next IV for MID" chain ends where the tracker's does
    logged = [h for sa in _secrets() for (label, h) in sa if label.startswith("next IV for MID")]
    ivs = [iv for st in tr.v1_states.values() for iv in st.ivs.values()]
    assert set(ivs) <= set(logged) | {b""} and len(ivs) >= 4
    # the Scapy layers read the decrypted chains
    m = qm[0]
    assert dissect_ikev1_payloads(m.inner_first, m.plaintext).name == "ISAKMP HASH"


def test_without_keys_no_plaintext() -> None:
    tr = IKETracker()
    eng = CaptureEngine(trackers=[tr])
    msgs = [u for r in iter_capture(str(PCAP), eng) for u in r.units if isinstance(u, IKEMessage)]
    assert msgs and not any(m.decrypted or m.plaintext for m in msgs)


@pytest.mark.integration
def test_ikev1_plaintext_equals_tshark() -> None:
    tshark = shutil.which("tshark")
    assert tshark, "tshark (Debian package tshark) is required"
    args = [tshark, "-n", "-r", str(PCAP), "-x"]
    for line in TABLE.read_text().splitlines():
        args += ["-o", f"uat:ikev1_decryption_table:{line.strip()}"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    theirs: dict[int, bytes] = {}
    for frame, packet in enumerate(out.strip("\n").split("\n\n"), 1):
        if "Decrypted IKE (" in packet:
            hexpart = packet.split("Decrypted IKE (", 1)[1].splitlines()[1:]
            theirs[frame] = bytes.fromhex("".join(ln[6:53].replace(" ", "") for ln in hexpart))
    msgs, _ = _run()
    ours = {m.frame: m.plaintext for m in msgs if m.decrypted}
    assert len(theirs) == 9 and ours == theirs


def test_psk_and_g_xy_derive_ka_and_quick_mode_esp() -> None:
    """netsec JSON with only the PSK and g^xy: Ka (incl. the 3DES expansion) and SKEYID_d come
    from RFC 2409 §5, the Quick Mode KEYMAT (§5.5) of all 4 ESP SAs equals charon's keys, and
    every ESP packet of the capture decrypts."""
    from netsec_layers.keys.sa_files import load_sa_file

    keys = parse_ike_keys((DIR / "strongswan_ikev1.ike.json").read_text())
    assert len(keys.v1) == 2 and all(k.enc_key is None for k in keys.v1.values())
    tr = IKETracker(keys)
    eng = CaptureEngine(trackers=[tr])
    msgs = [u for r in iter_capture(str(PCAP), eng) for u in r.units if isinstance(u, IKEMessage)]
    assert sum(m.decrypted for m in msgs) == 9
    truth = {sa.spi: sa for sa in load_sa_file(str(DIR / "strongswan_ikev1.esp_sa"))}
    derived = {d.sa.spi: d.sa for d in tr.derived}
    assert set(derived) == set(truth) and len(truth) == 4
    for spi, sa in derived.items():
        t = truth[spi]
        assert (sa.encryption, sa.enc_key, sa.integrity, sa.auth_key, sa.src, sa.dst) == (
            t.encryption,
            t.enc_key,
            t.integrity,
            t.auth_key,
            t.src,
            t.dst,
        )
    assert eng.stats.esp_packets == eng.stats.esp_decrypted == 8


def test_hash_payloads_verify_and_a_tampered_message_is_rejected() -> None:
    """With PSK + g^xy every HASH checks out (HASH_I/HASH_R, Quick Mode HASH(1)/(2)/(3), RFC 2409
    §5 and §5.5); one flipped ciphertext byte makes the HASH fail: no plaintext, BAD_ICV."""
    from scapy.layers.inet import UDP
    from scapy.utils import rdpcap

    from netsec_layers.session.netstack import IPPacket
    from netsec_layers.session.trackers import Datagram

    def run(tamper: int | None) -> list[IKEMessage]:
        tr = IKETracker(parse_ike_keys((DIR / "strongswan_ikev1.ike.json").read_text()))
        out = []
        for n, p in enumerate(rdpcap(str(PCAP)), 1):
            if UDP not in p:
                continue
            body = bytes(p[UDP].payload)
            if n == tamper:  # a byte inside the nonce: the payload chain still parses
                body = body[:-100] + bytes([body[-100] ^ 0x40]) + body[-99:]
            d = Datagram(
                IPPacket(4, p["IP"].src, p["IP"].dst, 17, b"", b"", b"", n, 0),
                p[UDP].sport,
                p[UDP].dport,
                body,
            )
            if tr.claims(d):
                out += [e for e in tr.feed(d) if isinstance(e, IKEMessage) and e.flags & 1]
        return out

    good = run(None)
    assert len(good) == 9 and all(m.decrypted and m.authenticated for m in good)
    qm = next(m.frame for m in good if m.exchange_type == 32)
    bad = {m.frame: m for m in run(qm)}[qm]
    assert bad.authenticated is False and not bad.decrypted and bad.plaintext is None
    assert bad.to_json()["inner_payloads"] is None and bad.verdict.name == "BAD_ICV"
