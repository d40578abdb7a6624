"""Text summaries shared by ``netsec dissect`` (one line per frame) and ``-V`` trees."""

from __future__ import annotations

from typing import Any

from netsec_layers.constants.tls import VERSION_NAMES
from netsec_layers.session.engine import CaptureEngine, FrameResult, IPsecInfo
from netsec_layers.session.tls import TLSRecordInfo

CONTENT_NAMES = {
    20: "ChangeCipherSpec",
    21: "Alert",
    22: "Handshake",
    23: "Application Data",
    24: "Heartbeat",
}
_IP_PROTO = {
    1: "ICMP",
    4: "IPv4",
    6: "TCP",
    17: "UDP",
    41: "IPv6",
    50: "ESP",
    51: "AH",
    58: "ICMPv6",
    59: "dummy",
}


def _name(enum_name: str, value: int) -> str:
    from netsec_layers.constants import tls as c

    return str(c.name_of(getattr(c, enum_name), value))


def record_summary(rec: TLSRecordInfo, version: int | None) -> str:
    """One record in a summary line, e.g. ``Handshake server_hello, certificate``."""
    ct = rec.inner_content_type if rec.inner_content_type is not None else rec.content_type
    if rec.inner_content_type is None:
        text = f"Encrypted {CONTENT_NAMES.get(rec.content_type, f'type {rec.content_type}')}"
    else:
        text = CONTENT_NAMES.get(ct, f"type {ct}")
    if rec.sslv2:
        text = "SSLv2-compatible " + text
    if rec.handshake_types:
        text += " " + ", ".join(_name("HandshakeType", t) for t in rec.handshake_types)
    if rec.alert:
        text += f" {_name('AlertLevel', rec.alert[0])} {_name('AlertDescription', rec.alert[1])}"
    if rec.decrypted:
        text += f" (decrypted, {len(rec.plaintext or b'')} bytes)"
    if rec.error:
        text += f" [{rec.error}]"
    return text


def ipsec_summary(u: IPsecInfo) -> str:
    text = f"{u.proto.upper()} spi=0x{u.spi & 0xFFFFFFFF:08x} seq={u.seq}"
    if u.udp_encap:
        text = "UDP-encap " + text
    if u.decrypted:
        what = "verified" if u.proto == "ah" else "decrypted"
        text += f" {what} next_header={_IP_PROTO.get(u.next_header or 0, u.next_header)}"
    if u.error:
        text += f" [{u.error}]"
    return text


class Formatter:
    def __init__(self, engine: CaptureEngine, out: Any) -> None:
        self.engine = engine
        self.out = out
        self.t0: int | None = None

    def _version(self, rec: TLSRecordInfo) -> int | None:
        conn = self.engine.tls.connections.get(rec.stream)
        return conn.version if conn else None

    def line(self, res: FrameResult) -> str:
        f = res.frame
        if self.t0 is None:
            self.t0 = f.ts_ns
        t = (f.ts_ns - self.t0) / 1e9
        ip = res.ip
        if ip is None:
            return f"{f.number:>7} {t:11.6f} {res.note or 'not IP'} len={len(f.data)}"
        proto = _IP_PROTO.get(ip.proto, str(ip.proto))
        src, dst = ip.src, ip.dst
        if ip.proto in (6, 17) and len(ip.payload) >= 4:
            src = f"{src}:{int.from_bytes(ip.payload[0:2], 'big')}"
            dst = f"{dst}:{int.from_bytes(ip.payload[2:4], 'big')}"
        info: list[str] = []
        for u in res.units:
            if isinstance(u, TLSRecordInfo):
                proto = VERSION_NAMES.get(self._version(u) or u.version, "TLS")
                info.append(record_summary(u, self._version(u)))
            elif isinstance(u, IPsecInfo):
                info.append(ipsec_summary(u))
            else:  # an event of another protocol tracker (internal events say nothing)
                text = u.summary()
                if text:
                    proto = getattr(u, "proto", proto).upper()
                    info.append(text)
        if res.note:
            info.append(res.note)
        for inner in res.inner_ips:
            info.append(
                f"inner {inner.src} → {inner.dst} {_IP_PROTO.get(inner.proto, inner.proto)}"
            )
        return f"{f.number:>7} {t:11.6f} {src} → {dst} {proto} {len(f.data)} {'; '.join(info)}".rstrip()
