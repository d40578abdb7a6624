"""netsec's IKEv2 decryption against tshark 4.0 on the strongSwan sample (pcaps/ike).

tshark decrypts with ``uat:ikev2_decryption_table`` (SK_e*/SK_a* as charon logged them);
netsec decrypts from g^ir alone (its own key schedule).  For every frame tshark decrypts, the
inner payload types and the plaintext bytes (tshark's "Decrypted Data" minus padding, and its
"Reassembled IKE2 ISAKMP" for RFC 7383 fragments) must be equal.  tshark 4.0 has no
ChaCha20-Poly1305 for IKEv2, so the c3 IKE SA is decrypted by netsec only."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from netsec_layers.keys.ike_keys import parse_ike_keys
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.ike import IKEMessage, IKETracker
from tests.tshark_util import run_tshark

pytestmark = pytest.mark.integration

DIR = Path(__file__).resolve().parents[2] / "pcaps" / "ike"
PCAP = DIR / "strongswan_ikev2.pcap"
_BLOCK = re.compile(r"^(Frame|Decrypted Data|Reassembled IKE2 ISAKMP) \((\d+) bytes?\):$")
_HEX = re.compile(r"^[0-9a-f]{4}  ((?:[0-9a-f]{2} )+)")


def _tshark(*extra: str, stem: str = "strongswan_ikev2") -> str:
    args = ["-n", "-r", str(DIR / f"{stem}.pcap")]
    for line in (DIR / f"{stem}.ikev2_decryption_table").read_text().splitlines():
        if line.strip():
            args += ["-o", f"uat:ikev2_decryption_table:{line.strip()}"]
    return run_tshark([*args, *extra])


def _tshark_blocks(stem: str) -> dict[int, dict[str, bytes]]:
    """frame -> {"Decrypted Data": bytes, "Reassembled IKE2 ISAKMP": bytes} from ``-x``.

    Packets are separated by a blank line; a packet with more than one data source has a
    ``Name (N bytes):`` line before each source's hex dump."""
    out: dict[int, dict[str, bytes]] = {}
    for frame, packet in enumerate(_tshark("-x", stem=stem).strip("\n").split("\n\n"), 1):
        kind, buf = "Frame", bytearray()
        for line in [*packet.splitlines(), "End (0 bytes):"]:
            m = _BLOCK.match(line) or re.match(r"^(End) \((\d+) bytes\):$", line)
            if m:
                if kind != "Frame" and buf:
                    out.setdefault(frame, {})[kind] = bytes(buf)
                kind, buf = m[1], bytearray()
                continue
            h = _HEX.match(line)
            if h:
                buf += bytes.fromhex(h[1].replace(" ", ""))
    return out


def _tshark_types(stem: str) -> dict[int, list[int]]:
    rows = _tshark(
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "isakmp.typepayload",
        "-E",
        "occurrence=a",
        stem=stem,
    )
    out = {}
    for row in rows.splitlines():
        num, _, types = row.partition("\t")
        if types.strip():
            out[int(num)] = [int(t) for t in types.split(",")]
    return out


@pytest.mark.parametrize("stem", ["strongswan_ikev2", "strongswan_ikev2_algs"])
def test_ikev2_decryption_equals_tshark(stem: str) -> None:
    keys = parse_ike_keys((DIR / f"{stem}.ike.json").read_text())
    eng = CaptureEngine(trackers=[IKETracker(keys)])
    ours = {
        u.frame: u
        for res in iter_capture(str(DIR / f"{stem}.pcap"), eng)
        for u in res.units
        if isinstance(u, IKEMessage)
    }
    blocks, types = _tshark_blocks(stem), _tshark_types(stem)
    secrets = json.loads((DIR / f"{stem}.secrets.json").read_text())
    chacha = {s["spi_i"] for s in secrets["ike_sas"] if s["name"] == "c3"}
    compared = reassembled = fragments = 0
    whole = [m.plaintext for m in ours.values() if m.fragments and m.plaintext]
    for frame, b in blocks.items():
        if frame not in ours:  # a non-final RFC 7383 fragment: its piece is in a whole message
            assert types[frame] == [53]
            dec = b["Decrypted Data"]
            piece = dec[: len(dec) - dec[-1] - 1]
            assert any(w.startswith(piece) for w in whole), frame
            fragments += 1
            continue
        m = ours[frame]
        assert m.decrypted and m.plaintext is not None, frame
        if "Reassembled IKE2 ISAKMP" in b:
            assert b["Reassembled IKE2 ISAKMP"] == m.plaintext
            reassembled += 1
        elif m.fragments == 0:
            dec = b["Decrypted Data"]
            n = len(m.plaintext)
            assert dec[:n] == m.plaintext and dec[-1] == len(dec) - n - 1, frame
        inner = [t for t in types[frame][1:] if t not in (2, 3)]  # proposals/transforms
        if m.fragments == 0 or "Reassembled IKE2 ISAKMP" in b:
            assert inner == m.inner_payloads, frame
        compared += 1
    # every message netsec decrypted and tshark did not is a ChaCha20 (c3) one or a
    # non-final fragment (tshark shows those with the reassembled frame)
    only_ours = [m for f, m in ours.items() if m.decrypted and f not in blocks]
    assert all(m.spi_i.hex() in chacha for m in only_ours), [m.frame for m in only_ours]
    print(
        f"compared={compared} reassembled={reassembled} fragments={fragments} "
        f"netsec-only={len(only_ours)}"
    )
    if stem == "strongswan_ikev2":
        assert compared >= 25 and reassembled >= 1 and fragments >= 1 and len(only_ours) >= 4
    else:  # AES-CTR, AES-GCM-12, AES-CCM-8/12/16: tshark decrypts every SK message too
        assert compared == 10 and not only_ours


def test_tshark_decrypts_esp_with_child_sas_netsec_derived(tmp_path: Path) -> None:
    """`netsec keys export --ike-keys` (CHILD_SAs from g^ir alone) -> tshark's esp_sa table:
    tshark decrypts every ESP packet of the capture to the payloads the test sent."""
    import sys

    out = tmp_path / "derived.esp_sa"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "netsec_layers",
            "keys",
            "export",
            str(PCAP),
            "-q",
            "--ike-keys",
            str(DIR / "strongswan_ikev2.ike.json"),
            "-w",
            str(out),
            "--to",
            "esp_sa",
        ],
        check=True,
        timeout=120,
    )
    args = [
        "-n",
        "-r",
        str(PCAP),
        "-o",
        "esp.enable_encryption_decode:TRUE",
        "-o",
        "esp.enable_authentication_check:TRUE",
    ]
    for line in out.read_text().splitlines():
        cols = line.split('","')
        if line.startswith('"'):  # Wireshark 4.0 takes the first 8 columns
            args += ["-o", "uat:esp_sa:" + '","'.join(cols[:8]) + '"']
    rows = run_tshark(
        [*args, "-Y", "esp", "-T", "fields", "-e", "esp.spi", "-e", "data.data"]
    ).splitlines()
    payloads = [bytes.fromhex(r.split("\t")[1]) for r in rows if "\t" in r]
    assert len(rows) == 30 and len(payloads) == 30
    assert all(p.startswith(b"netsec ") for p in payloads)
