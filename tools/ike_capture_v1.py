#!/usr/bin/env python3
"""IKEv1 capture rig: two strongSwan charons (tools/strongswan_peer.py, as tools/ike_capture.py)
negotiating IKEv1 with a pre-shared key: Main Mode (AES-CBC-128/SHA2-256/MODP2048) and
Aggressive Mode (3DES/SHA1/MODP2048), each followed by Quick Mode, NAT-T forced (RFC 3947),
ESP in UDP 4500.

Usage (root)::

    python3 tools/ike_capture_v1.py [--out pcaps/ike]

writes ``OUT/strongswan_ikev1.pcap``, ``.ikev1_decryption_table`` (Wireshark UAT lines:
initiator cookie, encryption key, both from charon's ``ike = 4`` log), ``.esp_sa`` and
``.secrets.json`` (every secret charon logged, in order) and ``.ike.json`` (netsec
``--ike-keys`` with only the PSK and g^xy per IKE SA: Ka and the Quick Mode keys are derived).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent


def _load_rig() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ike_capture_rig", _HERE / "ike_capture.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


rig = _load_rig()
sp = rig.sp
sp.NS = {"a": "nslike1-a", "b": "nslike1-b"}
sp.VETH = {"a": "nslike1a0", "b": "nslike1b0"}

#: connection -> (IKE proposal, aggressive, {child: (inner host N, ESP proposal)})
V1: dict[str, tuple[str, bool, dict[str, tuple[int, str]]]] = {
    "m1": ("aes128-sha256-modp2048", False, {"m1cbc": (1, "aes128-sha256")}),
    "a2": ("3des-sha1-modp2048", True, {"a2cbc": (2, "aes128-sha1")}),
}
sp.CHILDREN = {n: c for _, (_, _, k) in V1.items() for n, c in k.items()}


def _strongswan_conf(side_dir: Path) -> str:
    text: str = rig._orig_conf(side_dir)
    text = text.replace("      ike = 2\n", "      ike = 4\n      cfg = 1\n")
    # Aggressive Mode with a PSK sends a hash of it in clear: strongSwan wants consent.
    return text.replace(
        "charon {\n",
        "charon {\n  i_dont_care_about_security_and_use_aggressive_mode_psk = yes\n",
        1,
    )


sp._strongswan_conf = _strongswan_conf


def _swanctl_conf(side: str) -> str:
    peer = "b" if side == "a" else "a"
    conns = []
    # IKEv1 responders pick a config before they see the peer's ID (Main Mode): B accepts
    # every proposal so each connection gets the one A offers.
    union = ",".join(ike for ike, _, _ in V1.values())
    for cname, (ike, aggressive, kids) in V1.items():
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
    version = 1
    aggressive = {"yes" if aggressive else "no"}
    local_addrs = {sp.OUTER[side]}
    remote_addrs = {sp.OUTER[peer]}
    encap = yes
    unique = never
    proposals = {ike if side == "a" else union}
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
        for c in V1
    )
    return "connections {\n" + "\n".join(conns) + "\n}\nsecrets {\n" + secrets + "\n}\n"


sp._swanctl_conf = _swanctl_conf


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(_HERE.parent / "pcaps" / "ike"))
    ap.add_argument("--workdir", default="/tmp/nsl-ike1-rig")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / "strongswan_ikev1"
    sp.cleanup(Path(args.workdir))
    shutil.rmtree(args.workdir, ignore_errors=True)
    try:
        with sp.Peers(Path(args.workdir)) as peers:
            tmp = peers.workdir / "ike1.pcap"
            with peers.capture("a", sp.VETH["a"], tmp):
                for _c, (_p, _a, kids) in V1.items():
                    for child, (n, _esp) in kids.items():
                        peers.initiate(child)
                        peers.send_ping("a", n, f"netsec ping via {child}".encode())
                        peers.send_udp("a", n, f"netsec udp via {child}".encode())
                sas_text = peers.swanctl("a", "--list-sas")
            shutil.copyfile(tmp, f"{stem}.pcap")
            log = peers.log("a")
            (Path(args.workdir) / "a.log").write_text(log)
            Path(f"{stem}.esp_sa").write_text(
                "# esp_sa (Wireshark 4.0) from charon's log\n" + peers.esp_sa_text()
            )
        secrets = _secrets(log)
        Path(f"{stem}.secrets.json").write_text(json.dumps(secrets, indent=1) + "\n")
        Path(f"{stem}.ikev1_decryption_table").write_text(_table(secrets, sas_text))
        Path(f"{stem}.ike.json").write_text(_json(secrets, sas_text))
    except sp.PeerError as e:
        sys.stderr.write(f"ike_capture_v1: {e}\n")
        return 1
    sys.stdout.write(f"wrote {stem}.*\n")
    return 0


_LIST1 = re.compile(r"^\s*(\w+): #(\d+), ESTABLISHED, IKEv1, ([0-9a-f]{16})_i\*? ([0-9a-f]{16})_r")


def _table(secrets: list[dict[str, str]], list_sas: str) -> str:
    """Wireshark ``ikev1_decryption_table``: initiator cookie, encryption key (Ka).

    The n-th ``encryption key Ka`` of the log belongs to IKE SA #n (uniqueids count up)."""
    cookies = {int(m[2]): m[3] for m in map(_LIST1.match, list_sas.splitlines()) if m}
    kas = [s["hex"] for s in secrets if s["label"] == "encryption key Ka"]
    return "".join(f"{cookies[i]},{ka}\n" for i, ka in enumerate(kas, 1) if i in cookies)


def _json(secrets: list[dict[str, str]], list_sas: str) -> str:
    """netsec ``--ike-keys`` JSON for IKEv1: cookie, PSK and g^xy only (all else derived)."""
    cookies = {int(m[2]): m[3] for m in map(_LIST1.match, list_sas.splitlines()) if m}
    gxy = [s["hex"] for s in secrets if s["label"] == "shared Diffie Hellman secret"]
    entries = [
        {"version": 1, "cookie_i": cookies[i], "psk": sp.PSK, "g_xy": g}
        for i, g in enumerate(gxy, 1)
        if i in cookies
    ]
    return json.dumps(entries, indent=1) + "\n"


def _secrets(log: str) -> list[dict[str, str]]:
    """Every ``label => N bytes`` hex dump of the log, in order."""
    out: list[dict[str, str]] = []
    cur: dict[str, str] | None = None
    for line in log.splitlines():
        m = rig._HDR.match(line)
        if m:
            cur = {"label": m[3], "hex": ""}
            out.append(cur)
            continue
        h = rig._HEX.match(line)
        if h and cur is not None:
            cur["hex"] += h[1].replace(" ", "").lower()
            continue
        cur = None
    return out


if __name__ == "__main__":
    sys.exit(main())
