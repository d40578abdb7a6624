"""Decrypt mode (``inner_packets=False``): a TCP segment that ESP carried is reassembled only
when some key could make it matter (issue 22) — TLS/SSH/mail key material or IKE keys; else
the plaintext rewriter writes the decrypted packet as it is, so the work is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from netsec_layers.io.pcap import CaptureReader
from netsec_layers.keys.sa_files import load_sa_file
from netsec_layers.session.engine import CaptureEngine
from netsec_layers.session.ipsec import SADatabase
from netsec_layers.session.plaintext import PlaintextRewriter
from netsec_layers.session.tls_keys import TLSKeyMaterial
from tools import bench_esp

KEYLOG = Path(__file__).resolve().parents[2] / "pcaps" / "tls" / "tls13-aes128gcm.keys"


@pytest.fixture(scope="module")
def tunnel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("inner")
    bench_esp.write_esp_gateways(d / "gw.pcap", d / "gw.esp_sa", 400)
    return d / "gw.pcap", d / "gw.esp_sa"


def _run(cap: Path, sa: Path, keys: TLSKeyMaterial | None) -> tuple[int, int, list[bytes]]:
    """(ESP frames with an inner TCP packet taken up, ESP frames decrypted, output frames)."""
    engine = CaptureEngine(
        sadb=SADatabase(load_sa_file(str(sa))), tls_keys=keys, inner_packets=False
    )
    rewriter = PlaintextRewriter(engine)
    taken = decrypted = 0
    out: list[bytes] = []
    with CaptureReader(str(cap)) as r:
        for f in r:
            res = engine.process(f)
            decrypted += any(getattr(u, "decrypted", False) for u in res.units)
            taken += any(level.ip.proto == 6 for level in res.inner)
            out += [o.data for o in rewriter.process(res)]
    out += [o.data for o in rewriter.finish()]
    return taken, decrypted, out


def test_no_key_for_tcp_no_reassembly_same_packets(tunnel: tuple[Path, Path]) -> None:
    cap, sa = tunnel
    taken, decrypted, out = _run(cap, sa, None)
    assert decrypted == 400 and taken == 0
    assert len(out) == 400
    assert all(frame[12:14] == b"\x08\x00" and frame[14] >> 4 == 4 for frame in out)
    # the decrypted inner packets, each right after the outer Ethernet header
    assert sum(frame[14 + 9] == 6 for frame in out) > 200  # TCP-heavy tunnel


def test_with_a_tls_key_log_the_inner_tcp_is_followed(tunnel: tuple[Path, Path]) -> None:
    cap, sa = tunnel
    keys = TLSKeyMaterial()
    keys.add_keylog_text(KEYLOG.read_text())
    taken, decrypted, _out = _run(cap, sa, keys)
    assert decrypted == 400 and taken > 200


def test_with_ike_keys_the_inner_tcp_is_followed(tunnel: tuple[Path, Path]) -> None:
    """IKE over TCP derives SAs: with IKE keys the tunnel's TCP is reassembled too."""
    from netsec_layers.keys.ike_keys import parse_ike_keys
    from netsec_layers.session.ike import IKETracker

    table = KEYLOG.parents[1] / "ike" / "strongswan_ikev2.ikev2_decryption_table"
    ike = IKETracker(parse_ike_keys(table.read_text()))
    cap, sa = tunnel
    engine = CaptureEngine(
        sadb=SADatabase(load_sa_file(str(sa))), inner_packets=False, trackers=[ike]
    )
    with CaptureReader(str(cap)) as r:
        taken = sum(any(level.ip.proto == 6 for level in engine.process(f).inner) for f in r)
    assert taken > 200
