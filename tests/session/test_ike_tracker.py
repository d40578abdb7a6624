"""IKE tracker on strongSwan traffic (pcaps/ike): every SK/SKF message decrypted from g^ir
alone, SK_* and every CHILD_SA key equal to what charon logged, and every ESP packet of the
capture decrypted with the derived SAs (payloads as the peers sent them).  Also: the JSON
contract, Wireshark-table and SK_* key files, a forged ICV, hostile fragments and garbage."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsec_layers.keys.ike_keys import (
    IKEKeys,
    IKEv2KeyEntry,
    format_ikev2_decryption_table,
    format_netsec_json,
    parse_ike_keys,
)
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.ike import IKEMessage, IKETracker, IKEVerdict
from netsec_layers.session.netstack import IPPacket
from netsec_layers.session.trackers import Datagram, SADerived

DIR = Path(__file__).resolve().parents[2] / "pcaps" / "ike"
PCAP = DIR / "strongswan_ikev2.pcap"
SECRETS = json.loads((DIR / "strongswan_ikev2.secrets.json").read_text())


def _run(keys: IKEKeys, pcap: Path = PCAP) -> tuple[list, CaptureEngine, IKETracker]:
    tracker = IKETracker(keys)
    eng = CaptureEngine(trackers=[tracker])
    units = [u for res in iter_capture(str(pcap), eng) for u in res.units]
    return units, eng, tracker


def _keys(name: str) -> IKEKeys:
    return parse_ike_keys((DIR / name).read_text(), name)


@pytest.fixture(scope="module")
def from_gir() -> tuple[list, CaptureEngine, IKETracker]:
    return _run(_keys("strongswan_ikev2.ike.json"))


def test_every_encrypted_message_decrypts_from_g_ir(from_gir) -> None:
    units, _, _ = from_gir
    msgs = [u for u in units if isinstance(u, IKEMessage)]
    enc = [m for m in msgs if m.exchange_type != 34]
    assert len(enc) >= 30
    assert all(m.decrypted for m in enc), [(m.frame, m.error) for m in enc if not m.decrypted]
    assert sum(1 for m in enc if m.fragments) >= 2  # RFC 7383 fragments reassembled
    # IKE_SA_INIT is plaintext: decrypted false, inner null
    init = [m.to_json() for m in msgs if m.exchange_type == 34]
    assert len(init) == 8 and all(
        j["decrypted"] is False and j["inner_payloads"] is None for j in init
    )


def test_derived_ike_keys_equal_charon(from_gir) -> None:
    _, _, tracker = from_gir
    by_spi = {sa.spi_i.hex(): sa for sa in tracker.sas.values()}
    for s in SECRETS["ike_sas"]:  # includes the rekeyed IKE SA (RFC 7296 §2.18)
        sa = by_spi[s["spi_i"]]
        assert sa.spi_r.hex() == s["spi_r"]
        assert sa.keys is not None
        for k in ("sk_d", "sk_ei", "sk_er", "sk_ai", "sk_ar", "sk_pi", "sk_pr"):
            assert getattr(sa.keys, k).hex() == s.get(k, ""), (s["name"], k)


def test_child_sas_equal_charon_and_esp_decrypts(from_gir) -> None:
    units, eng, tracker = from_gir
    derived = {d.sa.spi: d.sa for d in tracker.derived}
    # ground truth: charon's CHILD_SA keys (initiator keys protect A -> B = spi_out)
    assert len(SECRETS["child_sas"]) == 10  # 3 of them rekeys started by the responder
    for c in SECRETS["child_sas"]:
        out_sa = derived[int(c["spi_out"], 16)]
        in_sa = derived[int(c["spi_in"], 16)]
        assert out_sa.enc_key.hex() == c["enc_i"] and in_sa.enc_key.hex() == c["enc_r"]
        assert out_sa.auth_key.hex() == c.get("int_i", "")
        assert in_sa.auth_key.hex() == c.get("int_r", "")
        assert out_sa.src == "10.99.0.1" and out_sa.dst == "10.99.0.2"
    esp = [u for u in units if u.to_json() and u.to_json().get("proto") == "esp"]
    assert len(esp) == eng.stats.esp_packets == 30
    assert eng.stats.esp_decrypted == 30
    inner = b"".join(u.inner or b"" for u in esp)
    for c in SECRETS["child_sas"]:
        assert f"via {c['child']}".encode() in inner
    assert b"netsec ping after rekey" in inner and b"netsec ping after IKE rekey" in inner


def test_json_contract(from_gir) -> None:
    units, _, _ = from_gir
    j = next(u.to_json() for u in units if isinstance(u, IKEMessage) and u.exchange_type == 35)
    assert {
        "proto",
        "frame",
        "version",
        "spi_i",
        "spi_r",
        "exchange_type",
        "message_id",
        "flags",
        "payloads",
        "decrypted",
        "inner_payloads",
        "error",
    } <= set(j)
    assert j["proto"] == "ike" and j["version"] == 2 and len(j["spi_i"]) == 16
    assert j["payloads"][-1] in (46, 53) and j["error"] is None
    assert all(isinstance(t, int) for t in j["inner_payloads"])


def test_sk_keys_without_g_ir_decrypt_and_derive() -> None:
    entries = []
    for s in SECRETS["ike_sas"]:
        e = IKEv2KeyEntry(bytes.fromhex(s["spi_i"]), bytes.fromhex(s["spi_r"]))
        for k in ("sk_d", "sk_ei", "sk_er", "sk_ai", "sk_ar"):
            if k in s:
                setattr(e, k, bytes.fromhex(s[k]))
        entries.append(e)
    units, eng, _ = _run(parse_ike_keys(format_netsec_json(entries)))
    enc = [u for u in units if isinstance(u, IKEMessage) and u.exchange_type != 34]
    assert all(m.decrypted for m in enc)
    # no g^ir for the three PFS CREATE_CHILD_SAs: their 8 ESP packets stay undecrypted
    assert eng.stats.esp_decrypted == 22 and eng.stats.esp_no_key == 8


def test_wireshark_table_decrypts_but_derives_nothing() -> None:
    keys = _keys("strongswan_ikev2.ikev2_decryption_table")
    assert len(keys.v2) == 5 and not keys.warnings
    units, eng, tracker = _run(keys)
    msgs = [u for u in units if isinstance(u, IKEMessage) and u.exchange_type != 34]
    ok = {m.spi_i.hex() for m in msgs if m.decrypted}
    names = {s["spi_i"]: s["name"] for s in SECRETS["ike_sas"]}
    assert {names[s] for s in ok} == {"c1", "c2"}  # c4: "ANY 96-bits", no integrity key
    c4 = [m for m in msgs if names.get(m.spi_i.hex()) == "c4"]
    assert c4 and all(m.verdict is IKEVerdict.UNSUPPORTED for m in c4)
    assert not tracker.derived and eng.stats.esp_decrypted == 0
    # written back, the table is the same
    again = parse_ike_keys(format_ikev2_decryption_table(list(keys.v2.values())))
    assert {k: (v.sk_ei, v.sk_ai, v.encr, v.integ) for k, v in again.v2.items()} == {
        k: (v.sk_ei, v.sk_ai, v.encr, v.integ) for k, v in keys.v2.items()
    }


def _dgram(payload: bytes, *, sport: int = 4500, frame: int = 1) -> Datagram:
    ip = IPPacket(4, "10.0.0.1", "10.0.0.2", 17, b"", b"", b"", frame, 0)
    return Datagram(ip, sport, 4500 if sport == 4500 else 500, payload)


def test_forged_icv_is_a_typed_verdict() -> None:
    from scapy.layers.inet import UDP
    from scapy.utils import rdpcap

    tracker = IKETracker(_keys("strongswan_ikev2.ike.json"))
    pkts = rdpcap(str(PCAP))
    seen = 0
    for n, p in enumerate(pkts, 1):
        if UDP not in p:
            continue
        u = p[UDP]
        body = bytes(u.payload)
        if (
            u.sport == 4500
            and body[:4] == b"\0\0\0\0"
            and body[4 + 17] == 0x20
            and body[4 + 18] == 37
            and seen == 0
        ):
            body = body[:-1] + bytes([body[-1] ^ 1])
            seen = n
        d = Datagram(
            IPPacket(4, p["IP"].src, p["IP"].dst, 17, b"", b"", b"", n, 0), u.sport, u.dport, body
        )
        if tracker.claims(d):
            for ev in tracker.feed(d):
                if isinstance(ev, IKEMessage) and ev.frame == seen:
                    j = ev.to_json()
                    assert j["decrypted"] is False and j["inner_payloads"] is None
                    assert ev.verdict is IKEVerdict.BAD_ICV and j["error"]
                    return
    pytest.fail("no INFORMATIONAL message was fed")


def _skf(num: int, total: int, mid: int = 9) -> bytes:
    body = struct.pack("!HH", num, total) + b"\x00" * 40
    pl = struct.pack("!BBH", 41 if num == 1 else 0, 0, 4 + len(body)) + body
    hdr = struct.pack("!8s8sBBBBII", b"i" * 8, b"r" * 8, 53, 0x20, 37, 8, mid, 28 + len(pl))
    return b"\0\0\0\0" + hdr + pl


def test_hostile_fragments_stay_bounded() -> None:
    tracker = IKETracker()
    evs = tracker.feed(_dgram(_skf(70000 % 65536, 65535)))
    assert evs and evs[0].verdict is IKEVerdict.MALFORMED  # more than MAX_FRAGMENTS
    evs = tracker.feed(_dgram(_skf(5, 3)))
    assert evs[0].verdict is IKEVerdict.MALFORMED  # number beyond total
    for i in range(2000):  # a flood without keys: reported, nothing kept
        tracker.feed(_dgram(_skf(1 + i % 60, 60, mid=i)))
    assert all(not sa.fragments and sa.pending_bytes == 0 for sa in tracker.sas.values())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.sampled_from([500, 4500]))
def test_garbage_datagrams(data: bytes, port: int) -> None:
    tracker = IKETracker(_GARBAGE_KEYS)
    d = _dgram(data, sport=port)
    if tracker.claims(d):
        for ev in tracker.feed(d):
            assert isinstance(ev, (IKEMessage, SADerived))


_GARBAGE_KEYS = IKEKeys(
    v2={(b"i" * 8, b"r" * 8): IKEv2KeyEntry(b"i" * 8, b"r" * 8, g_ir=b"g" * 32)}
)


def test_psk_auth_payloads_verified_against_strongswan() -> None:
    """RFC 7296 §2.15: charon's AUTH payloads check out with the rig's PSK, not with another."""
    entries = json.loads((DIR / "strongswan_ikev2.ike.json").read_text())
    for e in entries:
        e["psk"] = "netsec-layers-strongswan-test-psk"  # tools/strongswan_peer.py PSK
    entries[1]["psk"] = "not the psk"
    units, _, _ = _run(parse_ike_keys(json.dumps(entries)))
    auth = [u for u in units if isinstance(u, IKEMessage) and u.exchange_type == 35]
    verdicts = [(u.spi_i.hex() == entries[1]["spi_i"], u.to_json()["auth_verdict"]) for u in auth]
    assert len(auth) == 8 and all(u.auth_method == 2 for u in auth)
    assert sorted(verdicts) == [(False, "verified")] * 6 + [(True, "failed")] * 2
    # without a PSK the verdict says so
    units, _, _ = _run(_keys("strongswan_ikev2.ike.json"))
    assert {
        u.auth_verdict.value for u in units if isinstance(u, IKEMessage) and u.auth_verdict
    } == {"no PSK given"}


def test_ike_sa_init_retry_after_invalid_ke_uses_the_final_exchange() -> None:
    """RFC 7296 §1.3: an INVALID_KE_PAYLOAD response (no SA, its own responder SPI) before the
    real IKE_SA_INIT must not leave its SPI or keys behind: the SA decrypts as without it."""
    from scapy.layers.inet import UDP
    from scapy.utils import rdpcap

    pkts = [p for p in rdpcap(str(PCAP)) if UDP in p]
    first_init = bytes(pkts[0][UDP].payload)  # c1's IKE_SA_INIT request
    spi_i = first_init[:8]
    notify = struct.pack("!BBHBBH", 0, 0, 10, 0, 0, 17) + b"\x00\x1f"  # INVALID_KE, group 31
    bogus = (
        struct.pack("!8s8sBBBBII", spi_i, b"\x99" * 8, 41, 0x20, 34, 0x20, 0, 28 + len(notify))
        + notify
    )
    tracker = IKETracker(_keys("strongswan_ikev2.ike.json"))
    fed = []
    for n, p in enumerate(pkts, 1):
        d = Datagram(
            IPPacket(4, p["IP"].src, p["IP"].dst, 17, b"", b"", b"", n, 0),
            p[UDP].sport,
            p[UDP].dport,
            bytes(p[UDP].payload),
        )
        if tracker.claims(d):
            fed += tracker.feed(d)
        if n == 1:  # the retry round: request answered by INVALID_KE, then the request again
            fed += tracker.feed(_dgram(bogus, sport=500, frame=1))
            fed += tracker.feed(d)
    msgs = [e for e in fed if isinstance(e, IKEMessage) and e.spi_i == spi_i]
    assert all(m.decrypted for m in msgs if m.exchange_type != 34)
    assert sum(m.exchange_type != 34 for m in msgs) >= 8


def test_algs_sample_ctr_ccm_gcm8_gcm12_from_g_ir() -> None:
    """strongswan_ikev2_algs: SK with AES-CTR-256/HMAC-SHA-256, AES-GCM-12, AES-CCM-8/12/16;
    ESP with AES-CTR, AES-CCM-16/12, AES-GCM-8/16 (RFC 3686/4309/4106 salts in KEYMAT)."""
    d = DIR / "strongswan_ikev2_algs"
    units, eng, tracker = _run(_keys("strongswan_ikev2_algs.ike.json"), Path(f"{d}.pcap"))
    secrets = json.loads(Path(f"{d}.secrets.json").read_text())
    enc = [u for u in units if isinstance(u, IKEMessage) and u.exchange_type != 34]
    assert len(enc) == 10 and all(m.decrypted for m in enc)
    by_spi = {sa.spi_i.hex(): sa for sa in tracker.sas.values()}
    for s in secrets["ike_sas"]:
        keys = by_spi[s["spi_i"]].keys
        assert keys is not None
        for k in ("sk_d", "sk_ei", "sk_er", "sk_ai", "sk_ar", "sk_pi", "sk_pr"):
            assert getattr(keys, k).hex() == s.get(k, ""), (s["name"], k)
    derived = {x.sa.spi: x.sa for x in tracker.derived}
    names = set()
    for c in secrets["child_sas"]:
        out_sa, in_sa = derived[int(c["spi_out"], 16)], derived[int(c["spi_in"], 16)]
        assert (out_sa.enc_key.hex(), in_sa.enc_key.hex()) == (c["enc_i"], c["enc_r"])
        assert out_sa.auth_key.hex() == c.get("int_i", "")
        names.add(out_sa.encryption)
    assert names == {"AES-CTR", "AES-CCM-16", "AES-GCM-8", "AES-CCM-12", "AES-GCM-16"}
    assert eng.stats.esp_packets == eng.stats.esp_decrypted == 20


def test_capture_without_ike_sa_init() -> None:
    """Mid-session capture (IKE_SA_INIT missing): SK_* from JSON cannot name the algorithms,
    a Wireshark table line can; neither case raises."""
    from scapy.layers.inet import UDP
    from scapy.utils import rdpcap

    pkts = [p for p in rdpcap(str(PCAP)) if UDP in p and p[UDP].sport == 4500]

    def feed(keys: IKEKeys) -> list[IKEMessage]:
        tr = IKETracker(keys)
        out = []
        for n, p in enumerate(pkts, 1):
            d = Datagram(
                IPPacket(4, p["IP"].src, p["IP"].dst, 17, b"", b"", b"", n, 0),
                p[UDP].sport,
                p[UDP].dport,
                bytes(p[UDP].payload),
            )
            if tr.claims(d):
                out += [e for e in tr.feed(d) if isinstance(e, IKEMessage)]
        return out

    s = SECRETS["ike_sas"][0]
    e = IKEv2KeyEntry(bytes.fromhex(s["spi_i"]), bytes.fromhex(s["spi_r"]))
    for k in ("sk_d", "sk_ei", "sk_er", "sk_ai", "sk_ar"):
        setattr(e, k, bytes.fromhex(s[k]))
    msgs = [m for m in feed(IKEKeys(v2={(e.spi_i, e.spi_r): e})) if m.spi_i == e.spi_i]
    assert msgs and all(not m.decrypted and "IKE_SA_INIT" in (m.error or "") for m in msgs)
    table = _keys("strongswan_ikev2.ikev2_decryption_table")
    msgs = [m for m in feed(table) if m.spi_i == e.spi_i]
    assert msgs and all(m.decrypted for m in msgs)


def test_esn_transport_mode_and_ah_children_from_crafted_exchange() -> None:
    """CREATE_CHILD_SA exchanges sealed here with the c1 IKE SA's keys (charon's SK_e/SK_a),
    fed after the real capture: ESN (transform type 5 = 1) and USE_TRANSPORT_MODE in both
    messages give an ESN transport SA (RFC 7296 §1.3.1, §3.3.2); protocol 2 gives AH SAs with
    integrity-only KEYMAT (§2.17); keys cut as KEYMAT computed here from charon's SK_d."""
    from netsec_layers.crypto.ike import SKCipher, keymat
    from netsec_layers.session.ike_craft import seal_sk_message

    s = SECRETS["ike_sas"][0]  # c1: AES-CBC-128, HMAC-SHA2-256-128, PRF-HMAC-SHA2-256
    spi_i, spi_r = bytes.fromhex(s["spi_i"]), bytes.fromhex(s["spi_r"])
    c_i = SKCipher(12, bytes.fromhex(s["sk_ei"]), 12, bytes.fromhex(s["sk_ai"]))
    c_r = SKCipher(12, bytes.fromhex(s["sk_er"]), 12, bytes.fromhex(s["sk_ar"]))

    def prop(proto: int, spi: bytes, transforms: list[tuple[int, int]]) -> bytes:
        body = b""
        for n, (t, i) in enumerate(transforms):
            attr = struct.pack("!HH", 0x800E, 128) if t == 1 else b""  # Key Length 128
            last = 0 if n == len(transforms) - 1 else 3
            body += struct.pack("!BBHBBH", last, 0, 8 + len(attr), t, 0, i) + attr
        return (
            struct.pack(
                "!BBHBBBB", 0, 0, 8 + len(spi) + len(body), 1, proto, len(spi), len(transforms)
            )
            + spi
            + body
        )

    ts = struct.pack("!B3x", 1) + struct.pack("!BBHHH", 7, 0, 16, 0, 65535) + bytes(8)
    transport = struct.pack("!BBH", 0, 0, 16391)  # USE_TRANSPORT_MODE notify body
    cases = [  # (message ID, protocol, transforms, expected)
        (50, 3, [(1, 12), (3, 12), (5, 1)], ("esp", "transport", True)),
        (51, 2, [(3, 12), (5, 0)], ("ah", "transport", False)),
    ]
    tracker = IKETracker(_keys("strongswan_ikev2.ike.json"))
    for _res in iter_capture(str(PCAP), CaptureEngine(trackers=[tracker])):
        pass
    for mid, proto, transforms, (want_proto, want_mode, want_esn) in cases:
        ni, nr = bytes([mid]) * 32, bytes([mid + 1]) * 32
        t_key = [(1, 12)] if proto == 3 else []
        req = seal_sk_message(
            spi_i=spi_i,
            spi_r=spi_r,
            exchange=36,
            flags=0x08,
            message_id=mid,
            items=[
                (41, transport),
                (33, prop(proto, b"\x11\x22\x33" + bytes([mid]), transforms)),
                (40, ni),
                (44, ts),
                (45, ts),
            ],
            cipher=c_i,
            iv=bytes(16),
        )
        rsp = seal_sk_message(
            spi_i=spi_i,
            spi_r=spi_r,
            exchange=36,
            flags=0x20,
            message_id=mid,
            items=[
                (41, transport),
                (33, prop(proto, b"\x44\x55\x66" + bytes([mid]), transforms)),
                (40, nr),
                (44, ts),
                (45, ts),
            ],
            cipher=c_r,
            iv=bytes(16),
        )
        events = tracker.feed(_dgram(b"\0\0\0\0" + req, frame=1000 + mid))
        events += tracker.feed(_dgram(b"\0\0\0\0" + rsp, frame=2000 + mid))
        derived = [e.sa for e in events if isinstance(e, SADerived)]
        assert len(derived) == 2, [getattr(e, "error", None) for e in events]
        out_sa, in_sa = derived
        assert (out_sa.protocol, out_sa.mode, out_sa.esn) == (want_proto, want_mode, want_esn)
        assert out_sa.spi == int.from_bytes(b"\x44\x55\x66" + bytes([mid]), "big")
        assert in_sa.spi == int.from_bytes(b"\x11\x22\x33" + bytes([mid]), "big")
        enc_len = 16 if t_key else 0
        km = keymat(
            5, sk_d=bytes.fromhex(s["sk_d"]), nonce_i=ni, nonce_r=nr, length=2 * (enc_len + 32)
        )
        assert out_sa.enc_key == km[:enc_len] and out_sa.auth_key == km[enc_len : enc_len + 32]
        assert in_sa.auth_key == km[2 * enc_len + 32 :]
