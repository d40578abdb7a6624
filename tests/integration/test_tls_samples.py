"""The shipped TLS samples (real OpenSSL/GnuTLS/Python peers on 127.0.0.1) through netsec.

Two independent references: the exact application bytes each peer sent (the sidecar written by
tools/make_tls_captures.py when it drove the peers), and tshark's dissection/decryption of the
same file with the same key log.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from netsec_layers.keys.keylog import load_keylog
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.tls import TLSRecordInfo
from netsec_layers.session.tls_keys import TLSKeyMaterial
from tests.tshark_util import load_sidecar, sidecar_bytes, tshark_tls_records

SAMPLES = Path(__file__).resolve().parents[2] / "pcaps" / "tls"
SIDECARS = sorted(SAMPLES.glob("*.json"))


def _engine(
    meta: dict[str, Any], *, use_keylog: bool = True, use_rsa: bool = True
) -> CaptureEngine:
    keys = TLSKeyMaterial()
    if use_keylog and meta.get("keylog"):
        keys.add_keylog(load_keylog(SAMPLES / meta["keylog"]))
    if use_rsa and meta.get("rsa_key"):
        from netsec_layers.crypto.tls_rsa import load_rsa_private_key

        keys.add_rsa_key(load_rsa_private_key((SAMPLES / meta["rsa_key"]).read_bytes()))
    return CaptureEngine(tls_keys=keys)


def _run(meta: dict[str, Any], **kw: bool) -> tuple[CaptureEngine, list[TLSRecordInfo]]:
    engine = _engine(meta, **kw)
    recs: list[TLSRecordInfo] = []
    for res in iter_capture(SAMPLES / meta["pcap"], engine):
        recs.extend(u for u in res.units if isinstance(u, TLSRecordInfo))
    recs.extend(engine.flush())
    return engine, recs


def _streams(engine: CaptureEngine, recs: list[TLSRecordInfo]) -> dict[int, dict[str, bytes]]:
    """Decrypted application data per client port and direction."""
    data: dict[int, dict[str, bytearray]] = defaultdict(
        lambda: {"c2s": bytearray(), "s2c": bytearray()}
    )
    for r in recs:
        if r.decrypted and r.inner_content_type == 23 and r.plaintext:
            conn = engine.tls.connections[r.stream]
            tcp = conn.tcp
            client_port = tcp.client[1] if conn.client_is_tcp_client else tcp.server[1]
            data[client_port]["c2s" if r.from_client else "s2c"] += r.plaintext
    return {k: {d: bytes(v) for d, v in dd.items()} for k, dd in data.items()}


@pytest.mark.parametrize("sidecar", SIDECARS, ids=lambda p: p.stem)
def test_decrypted_application_data_is_what_the_peers_sent(sidecar: Path) -> None:
    meta = load_sidecar(sidecar)
    engine, recs = _run(meta)
    got = _streams(engine, recs)
    assert not [r.error for r in recs if r.error and "decryption failed" in r.error]
    for conn in meta["connections"]:
        for direction in ("c2s", "s2c"):
            want = sidecar_bytes(conn, direction)
            have = got.get(conn["client_port"], {}).get(direction, b"")
            assert hashlib.sha256(have).hexdigest() == hashlib.sha256(want).hexdigest(), (
                f"{direction} of client port {conn['client_port']}: {len(have)} bytes vs {len(want)} sent"
            )
    if not meta.get("handshake_fails"):
        for c in engine.tls.connections.values():
            if c.client_hello is not None and c.server_hello is not None:
                assert c.finished_ok == {"client": True, "server": True}, c.index


@pytest.mark.parametrize(
    "sidecar", [p for p in SIDECARS if load_sidecar(p).get("rsa_key")], ids=lambda p: p.stem
)
def test_static_rsa_decrypts_with_the_server_key_alone(sidecar: Path) -> None:
    meta = load_sidecar(sidecar)
    engine, recs = _run(meta, use_keylog=False)
    got = _streams(engine, recs)
    for conn in meta["connections"]:
        for direction in ("c2s", "s2c"):
            assert got[conn["client_port"]][direction] == sidecar_bytes(conn, direction)
    assert all(c.key_source == "rsa-key" for c in engine.tls.connections.values() if c.client_hello)


@pytest.mark.parametrize("sidecar", SIDECARS, ids=lambda p: p.stem)
def test_without_keys_nothing_is_decrypted_and_nothing_fails(sidecar: Path) -> None:
    meta = load_sidecar(sidecar)
    engine = CaptureEngine()
    recs = [u for res in iter_capture(SAMPLES / meta["pcap"], engine) for u in res.units]
    assert recs and not any(r.decrypted for r in recs)
    assert not any(r.error for r in recs)


@pytest.mark.integration
@pytest.mark.parametrize("sidecar", SIDECARS, ids=lambda p: p.stem)
def test_every_record_matches_tshark(sidecar: Path) -> None:
    meta = load_sidecar(sidecar)
    engine, recs = _run(meta)
    theirs = tshark_tls_records(
        SAMPLES / meta["pcap"],
        keylog=SAMPLES / meta["keylog"] if meta.get("keylog") else None,
        ports=[meta["server_port"]],
    )
    ours = [r.to_json() for r in recs]
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs, strict=True):
        where = f"frame {t['frame']}"
        assert (o["frame"], o["stream"], o["version"], o["length"]) == (
            t["frame"],
            t["stream"],
            t["version"],
            t["length"],
        ), where
        wire_type = t["opaque_type"] if t["opaque_type"] is not None else t["content_type"]
        assert o["content_type"] == wire_type, where
        if o["decrypted"] or t["opaque_type"] is None:
            assert o["inner_content_type"] == t["content_type"], where
        if t["handshake_types"]:
            assert o["handshake_types"] == t["handshake_types"], where
        if t["alert"] is not None:
            assert o["alert"] == t["alert"], where
        if t["app_data"] is not None:
            assert o["app_data"] == t["app_data"], where
