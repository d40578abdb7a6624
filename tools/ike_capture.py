#!/usr/bin/env python3
"""An IKEv2 capture rig: two strongSwan charons (tools/strongswan_peer.py) with several IKE and
ESP proposals, NAT-T (UDP 4500 with the non-ESP marker), a CREATE_CHILD_SA with its own key
exchange (PFS), and every secret charon logs at ``ike = 4`` / ``chd = 4``.

Usage (root)::

    python3 tools/ike_capture.py [--out pcaps/ike]

writes ``OUT/strongswan_ikev2.pcap`` and beside it

* ``strongswan_ikev2.ikev2_decryption_table``: Wireshark UAT lines (SK_e*/SK_a* from the log),
* ``strongswan_ikev2.esp_sa``: the CHILD_SA keys charon logged (ground truth for ESP),
* ``strongswan_ikev2.ike.json``: netsec ``--ike-keys`` JSON with only ``g_ir`` per IKE SA (and
  ``pfs`` entries for CREATE_CHILD_SA key exchanges), so every other key must be *derived*,
* ``strongswan_ikev2.secrets.json``: everything charon logged per IKE SA (SKEYSEED, SK_*),
  for tests that compare our derivation with charon's.

strongSwan's Debian build has no ``save-keys`` plugin, so the keys come from the log:
``ike = 4`` prints ``shared Diffie Hellman secret => N bytes @ ...``, ``SKEYSEED``, ``Sk_d
secret`` … with hex-dump lines after each.  The namespaces are named ``nslike-a``/``nslike-b``
(not those of strongswan_peer.py) so both rigs can run at the same time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

_HERE = Path(__file__).resolve().parent


def _load_peer() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "strongswan_peer_ike", _HERE / "strongswan_peer.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


sp = _load_peer()
# Our own namespaces / links (module globals of the loaded copy only).
sp.NS = {"a": "nslike-a", "b": "nslike-b"}
sp.VETH = {"a": "nslikea0", "b": "nslikeb0"}

#: IKE connection -> (IKE proposal, {child: (inner host N, ESP proposal)})
CONNECTIONS: dict[str, tuple[str, dict[str, tuple[int, str]]]] = {
    "c1": (
        "aes128-sha256-x25519",
        {"c1gcm": (1, "aes128gcm16"), "c1pfs": (2, "aes128-sha256-x25519")},
    ),
    "c2": ("aes256gcm16-prfsha384-ecp256", {"c2cbc": (3, "aes256-sha512")}),
    "c3": ("chacha20poly1305-prfsha512-x25519", {"c3gcm": (4, "aes256gcm16")}),
    "c4": ("3des-aesxcbc-prfaesxcbc-modp2048", {"c4sha1": (5, "aes192-sha1")}),
}
#: ``--scenario algs``: the other SK ciphers charon 5.9.8 has here (AES-CTR, AES-CCM-8/12/16,
#: AES-GCM-8/12) and ESP with AES-CTR, AES-CCM and AES-GCM-8 (no rekeys)
ALGS: dict[str, tuple[str, dict[str, tuple[int, str]]]] = {
    "a1": ("aes256ctr-sha256-prfsha256-x25519", {"a1ctr": (1, "aes128ctr-sha256")}),
    "a2": ("aes128gcm12-prfsha256-x25519", {"a2ccm": (2, "aes256ccm16")}),
    "a3": ("aes256ccm12-prfsha512-x25519", {"a3gcm8": (3, "aes128gcm8")}),
    "a4": ("aes192ccm8-sha384-prfsha384-ecp384", {"a4ccm12": (4, "aes192ccm12")}),
    "a5": ("aes128ccm16-prfsha1-x25519", {"a5gcm": (5, "aes128gcm16")}),
}


def _use(conns: dict[str, tuple[str, dict[str, tuple[int, str]]]]) -> None:
    if conns is not CONNECTIONS:
        CONNECTIONS.clear()
        CONNECTIONS.update(conns)
    sp.CHILDREN = {
        name: child for _, (_, kids) in CONNECTIONS.items() for name, child in kids.items()
    }


_use(CONNECTIONS)
sp._ENC_NAMES.update(
    {
        "AES_CBC": "AES-CBC [RFC3602]",
        "AES_GCM_16": "AES-GCM with 16 octet ICV [RFC4106]",
    }
)
sp._INTEG_NAMES.update(
    {
        "HMAC_SHA2_512_256": "HMAC-SHA-512-256 [RFC4868]",
        "HMAC_SHA1_96": "HMAC-SHA-1-96 [RFC2404]",
    }
)


def _strongswan_conf(side_dir: Path) -> str:
    text: str = _orig_conf(side_dir)
    text = text.replace("      ike = 2\n", "      ike = 4\n      cfg = 1\n")
    # fragment_size: IP packets of IKE above 290 bytes go out as RFC 7383 fragments (IKE_AUTH
    # requests here), so the sample has real SKF payloads next to plain SK ones.
    text = text.replace("charon {\n", "charon {\n  fragment_size = 290\n", 1)
    return text.replace("load = random", "load = xcbc random")


_orig_conf = sp._strongswan_conf
sp._strongswan_conf = _strongswan_conf


def _swanctl_conf(side: str) -> str:
    peer = "b" if side == "a" else "a"
    conns = []
    for cname, (ike, kids) in CONNECTIONS.items():
        children = "\n".join(
            f"""      {name} {{
        local_ts = {sp.inner_addr(side, n)}/32
        remote_ts = {sp.inner_addr(peer, n)}/32
        esp_proposals = {esp}
        mode = tunnel
      }}"""
            for name, (n, esp) in kids.items()
        )
        conns.append(
            f"""  {cname} {{
    version = 2
    local_addrs = {sp.OUTER[side]}
    remote_addrs = {sp.OUTER[peer]}
    encap = yes
    unique = never
    fragmentation = yes
    proposals = {ike}
    local {{
      auth = psk
      id = {side}-{cname}@netsec
    }}
    remote {{
      auth = psk
      id = {peer}-{cname}@netsec
    }}
    children {{
{children}
    }}
  }}"""
        )
    secrets = "\n".join(
        f"""  ike-{c} {{
    id-a = a-{c}@netsec
    id-b = b-{c}@netsec
    secret = "{sp.PSK}"
  }}"""
        for c in CONNECTIONS
    )
    return "connections {\n" + "\n".join(conns) + "\n}\nsecrets {\n" + secrets + "\n}\n"


sp._swanctl_conf = _swanctl_conf

_HDR = re.compile(r"^(\d+)\[(IKE|CHD)\] (.+?) => (\d+) bytes @")
_HEX = re.compile(r"^\d+\[(?:IKE|CHD)\]\s+\d+: ((?:[0-9A-F]{2} ?)+)")
_IKE_NAME = re.compile(r"^\d+\[IKE\] (?:initiating )?IKE_SA (\w+)\[(\d+)\]")
_GEN = re.compile(r"^\d+\[ENC\] (generating|parsed) CREATE_CHILD_SA request (\d+)")
_SPI = re.compile(r"^\d+\[CHD\]\s+SPI 0x([0-9a-f]{8}), src (\S+) dst (\S+)")
_EST = re.compile(
    r"^\d+\[IKE\] (?:inbound |outbound )?CHILD_SA (\w+)\{\d+\} established with SPIs "
    r"([0-9a-f]{8})_i ([0-9a-f]{8})_o"
)
_LIST = re.compile(r"^\s*(\w+): #(\d+), ESTABLISHED, IKEv2, ([0-9a-f]{16})_i\*? ([0-9a-f]{16})_r")
_IKE_LABELS = {
    "shared Diffie Hellman secret": "g_ir",
    "SKEYSEED": "skeyseed",
    "Sk_d secret": "sk_d",
    "Sk_ai secret": "sk_ai",
    "Sk_ar secret": "sk_ar",
    "Sk_ei secret": "sk_ei",
    "Sk_er secret": "sk_er",
    "Sk_pi secret": "sk_pi",
    "Sk_pr secret": "sk_pr",
}
_CHD_LABELS = {
    "DH secret": "g_ir",
    "encryption initiator key": "enc_i",
    "encryption responder key": "enc_r",
    "integrity initiator key": "int_i",
    "integrity responder key": "int_r",
}


def parse_log(log: str, list_sas: str) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """IKE SAs (uniqueid, name, SPIs, every logged secret) and CHILD_SAs (SPIs, keys, the
    CREATE_CHILD_SA message ID that made them) from an initiator's log at ike/chd = 4."""
    spis = {int(m[2]): (m[1], m[3], m[4]) for m in map(_LIST.match, list_sas.splitlines()) if m}
    ikes: list[dict[str, object]] = []
    children: list[dict[str, object]] = []
    seen: set[tuple[str, str]] = set()
    last_ike = (None, 0)
    msgid: int | None = None
    a_initiates = True
    child: dict[str, object] = {}
    cur: tuple[dict[str, object], str] | None = None
    for line in log.splitlines():
        m = _HEX.match(line)
        if m and cur is not None:
            d, k = cur
            d[k] = str(d[k]) + m[1].replace(" ", "").lower()
            continue
        cur = None
        m = _HDR.match(line)
        if m:
            if m[2] == "IKE" and m[3] in _IKE_LABELS:
                key = _IKE_LABELS[m[3]]
                if key == "g_ir":
                    name, uid = last_ike
                    spi_i, spi_r = spis.get(uid, (None, None, None))[1:]
                    ikes.append({"name": name, "uniqueid": uid, "spi_i": spi_i, "spi_r": spi_r})
                ikes[-1][key] = ""
                cur = (ikes[-1], key)
            elif m[2] == "CHD" and m[3] in _CHD_LABELS:
                key = _CHD_LABELS[m[3]]
                if key == "g_ir" or (key == "enc_i" and "enc_i" in child) or not child:
                    child = {"message_id": msgid}
                child[key] = ""
                cur = (child, key)
            continue
        m = _IKE_NAME.match(line)
        if m:
            last_ike = (m[1], int(m[2]))
            continue
        m = _GEN.match(line)
        if m:
            msgid = int(m[2])
            a_initiates = m[1] == "generating"  # "parsed": B started this exchange
            continue
        m = _EST.match(line)
        if m and (m[2], m[3]) not in seen:
            seen.add((m[2], m[3]))
            # the exchange initiator's keys protect initiator -> responder: A -> B (A's
            # outbound SPI) when A started the exchange, B -> A when B did; stored as
            # enc_i/int_i = A -> B in both cases
            if not a_initiates:
                child = {**child, "enc_i": child.get("enc_r"), "enc_r": child.get("enc_i")}
                if "int_i" in child:
                    child["int_i"], child["int_r"] = child["int_r"], child["int_i"]
            children.append(
                {
                    "child": m[1],
                    "spi_in": m[2],
                    "spi_out": m[3],
                    "a_initiated": a_initiates,
                    **child,
                }
            )
            msgid, child, a_initiates = None, {}, True
    return ikes, children


#: Wireshark 4.0 table algorithms per connection (None: Wireshark lacks the cipher)
_WS_ALGS: dict[str, tuple[tuple[int, int | None], int] | None] = {
    "c1": ((12, 128), 12),
    "c2": ((20, 256), 0),
    "c3": None,  # ChaCha20-Poly1305: not in Wireshark 4.0
    "c4": ((3, 192), -12),  # AES-XCBC-96 integrity: "ANY 96-bits [No Checking]"
    "a1": ((13, 256), 12),
    "a2": ((19, 128), 0),
    "a3": ((15, 256), 0),
    "a4": ((14, 192), 0),
    "a5": ((16, 128), 0),
}


#: ESP proposal keyword -> Wireshark esp_sa (encryption, integrity) names
_ESP_WS = {
    "aes128gcm16": ("AES-GCM with 16 octet ICV [RFC4106]", "NULL"),
    "aes256gcm16": ("AES-GCM with 16 octet ICV [RFC4106]", "NULL"),
    "aes128-sha256": ("AES-CBC [RFC3602]", "HMAC-SHA-256-128 [RFC4868]"),
    "aes256-sha512": ("AES-CBC [RFC3602]", "HMAC-SHA-512-256 [RFC4868]"),
    "aes192-sha1": ("AES-CBC [RFC3602]", "HMAC-SHA-1-96 [RFC2404]"),
    "aes128ctr-sha256": ("AES-CTR [RFC3686]", "HMAC-SHA-256-128 [RFC4868]"),
    "aes128gcm8": ("AES-GCM with 8 octet ICV [RFC4106]", "NULL"),
}


def esp_sa_text(children: list[dict[str, object]]) -> str:
    """Wireshark 4.0 ``esp_sa`` lines for every CHILD_SA charon logged (rekeyed ones too)."""
    kids = {n: esp for _, (_, k) in CONNECTIONS.items() for n, (_, esp) in k.items()}
    lines = ["# esp_sa (Wireshark 4.0) from charon's log: ground truth for derived CHILD_SAs\n"]
    a, b = sp.OUTER["a"], sp.OUTER["b"]
    for c in children:
        names = _ESP_WS.get(kids[str(c["child"])].removesuffix("-x25519"))
        if names is None:  # AES-CCM: Wireshark's esp_sa has no name for it
            lines.append(f"# {c['child']}: no Wireshark esp_sa name for {kids[str(c['child'])]}\n")
            continue
        enc, integ = names
        for spi, src, dst, ek, ik in (
            (c["spi_out"], a, b, c["enc_i"], c.get("int_i", "")),
            (c["spi_in"], b, a, c["enc_r"], c.get("int_r", "")),
        ):
            f = ["IPv4", src, dst, f"0x{spi}", enc, f"0x{ek}", integ, f"0x{ik}" if ik else ""]
            lines.append(",".join(f'"{x}"' for x in f) + "\n")
    return "".join(lines)


def write_key_files(
    stem: Path, ikes: list[dict[str, object]], children: list[dict[str, object]]
) -> None:
    """``.ike.json`` (g^ir only, pfs per CREATE_CHILD_SA) and ``.ikev2_decryption_table``."""
    sys.path.insert(0, str(_HERE.parent))
    from netsec_layers.keys.ike_keys import (
        IKEv2KeyEntry,
        format_ikev2_decryption_table,
        format_netsec_json,
    )

    gir, table = [], []
    for ike in ikes:
        spi_i, spi_r = bytes.fromhex(str(ike["spi_i"])), bytes.fromhex(str(ike["spi_r"]))
        e = IKEv2KeyEntry(spi_i, spi_r, g_ir=bytes.fromhex(str(ike["g_ir"])))
        for c in children:
            if str(c["child"]).startswith(str(ike["name"])) and "g_ir" in c:
                # the CREATE_CHILD_SA ran on the IKE SA of that connection alive at the time
                if (
                    ike
                    is max(
                        (i for i in ikes if i["name"] == ike["name"]),
                        key=lambda i: int(str(i["uniqueid"])),
                    )
                    or len([i for i in ikes if i["name"] == ike["name"]]) == 1
                ):
                    e.pfs[int(str(c["message_id"]))] = bytes.fromhex(str(c["g_ir"]))
        gir.append(e)
        algs = _WS_ALGS.get(str(ike["name"]))
        if algs is not None:
            w = IKEv2KeyEntry(spi_i, spi_r, encr=algs[0], integ=algs[1])
            for k in ("sk_ei", "sk_er", "sk_ai", "sk_ar"):
                setattr(w, k, bytes.fromhex(str(ike.get(k, ""))))
            table.append(w)
    Path(f"{stem}.ike.json").write_text(format_netsec_json(gir))
    Path(f"{stem}.ikev2_decryption_table").write_text(format_ikev2_decryption_table(table))


def _main_rekeys(peers: Any) -> str:
    """The rekeys of the main scenario; returns ``swanctl --list-sas`` output (SPIs)."""
    # rekey a CHILD_SA with PFS (CREATE_CHILD_SA with KE) and send over the new one
    peers.swanctl("a", "--rekey", "--child", "c1pfs")
    peers.send_ping("a", 2, b"netsec ping after rekey")
    # rekey an IKE SA (RFC 7296 §2.18): the new one has its own g^ir and SPIs
    sas_text = peers.swanctl("a", "--list-sas")
    peers.swanctl("a", "--rekey", "--ike", "c2")
    time.sleep(0.5)
    sas_text += peers.swanctl("a", "--list-sas")
    peers.swanctl("a", "--rekey", "--child", "c2cbc")
    time.sleep(0.5)
    peers.send_ping("a", 3, b"netsec ping after IKE rekey")
    # CHILD_SA rekeys started by the responder B (the exchange initiator is then
    # the IKE SA's responder): one plain, one with a new Curve25519 exchange
    peers.swanctl("b", "--rekey", "--child", "c3gcm")
    peers.swanctl("b", "--rekey", "--child", "c1pfs")
    time.sleep(0.5)
    peers.send_ping("a", 4, b"netsec ping after peer rekey")
    peers.send_ping("a", 2, b"netsec ping after peer PFS rekey")
    # an IKE SA rekey started by the responder B: B is the new IKE SA's initiator
    peers.swanctl("b", "--rekey", "--ike", "c4")
    time.sleep(0.5)
    peers.swanctl("a", "--rekey", "--child", "c4sha1")
    time.sleep(0.5)
    peers.send_ping("a", 5, b"netsec ping after peer IKE rekey")
    sas_text += peers.swanctl("a", "--list-sas")
    return sas_text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(_HERE.parent / "pcaps" / "ike"))
    ap.add_argument("--workdir", default="/tmp/nsl-ike-rig")
    ap.add_argument("--scenario", choices=["main", "algs"], default="main")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / ("strongswan_ikev2" if args.scenario == "main" else "strongswan_ikev2_algs")
    if args.scenario == "algs":
        _use(ALGS)
    sp.cleanup(Path(args.workdir))
    shutil.rmtree(args.workdir, ignore_errors=True)  # a stale VICI socket fools the start-up wait
    try:
        with sp.Peers(Path(args.workdir)) as peers:
            tmp = peers.workdir / "ike.pcap"
            with peers.capture("a", sp.VETH["a"], tmp):
                for _cname, (_ike, kids) in CONNECTIONS.items():
                    for child, (n, _esp) in kids.items():
                        peers.initiate(child)
                        peers.send_ping("a", n, f"netsec ping via {child}".encode())
                        peers.send_udp("a", n, f"netsec udp via {child}".encode())
                sas_text = peers.swanctl("a", "--list-sas")
                if args.scenario == "main":
                    sas_text = _main_rekeys(peers)
            shutil.copyfile(tmp, f"{stem}.pcap")
            log = peers.log("a")
            (Path(args.workdir) / "a.log").write_text(log)
            (Path(args.workdir) / "list-sas.txt").write_text(sas_text)
        ikes, children = parse_log(log, sas_text)
        write_key_files(stem, ikes, children)
        Path(f"{stem}.esp_sa").write_text(esp_sa_text(children))
        Path(f"{stem}.secrets.json").write_text(
            json.dumps({"ike_sas": ikes, "child_sas": children}, indent=1) + "\n"
        )
    except sp.PeerError as e:
        sys.stderr.write(f"ike_capture: {e}\n")
        return 1
    sys.stdout.write(f"wrote {stem}.*\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
