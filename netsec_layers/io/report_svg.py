"""The pictures and the page of ``netsec report``: inline SVG and HTML text, no script.

Every text from the capture goes through ``html.escape`` (element text and attribute values).
Elements carry ``data-*`` attributes (frame, direction, handshake types, sequence number, mark)
so that the page can be checked by a program as well as read.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "IKESA",
    "Conversation",
    "Msg",
    "SAPlot",
    "ike_table",
    "ladder_svg",
    "page",
    "seq_plot_svg",
]

_e = html.escape


@dataclass(slots=True)
class Msg:
    """One arrow of a ladder."""

    t_ns: int | None
    frame: int
    c2s: bool
    label: str
    state: str  # "decrypted" | "clear" | "encrypted" | "error"
    error: str | None
    version: int | None
    types: str  # handshake types, comma-separated


@dataclass(slots=True)
class Conversation:
    """A TLS/DTLS/SSH connection's ladder."""

    proto: str
    stream: int
    msgs: list[Msg] = field(default_factory=list)
    more: int = 0
    units: int = 0
    decrypted: int = 0
    failed: int = 0
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SAPlot:
    """An ESP/AH SA's sequence numbers over time."""

    proto: str
    spi: int
    src: str = ""
    dst: str = ""
    points: list[tuple[int, int, str]] = field(default_factory=list)  # (t_ns, ext seq, mark)
    packets: int = 0
    decrypted: int = 0
    failed: int = 0
    replays: int = 0
    gaps: int = 0
    wraps: list[int] = field(default_factory=list)  # t_ns of each wrap
    high: int = 0  # high-order 32 bits counted so far (ESN)
    top: int | None = None  # highest extended sequence number seen


@dataclass(slots=True)
class IKESA:
    spi_i: str
    spi_r: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    more: int = 0


_VERSIONS = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
    0xFEFF: "DTLS 1.0",
    0xFEFD: "DTLS 1.2",
    0xFEFC: "DTLS 1.3",
}
_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
svg text{font:12px monospace}.life{stroke:#555;stroke-width:1.5}
.decrypted{stroke:#1a7f37;fill:#1a7f37}.clear{stroke:#0550ae;fill:#0550ae}
.encrypted{stroke:#888;fill:#888}.error{stroke:#cf222e;fill:#cf222e}
.msg line{stroke-width:1.5}.msg text{stroke:none}
.pkt.ok{fill:#1a7f37}.pkt.nokey{fill:#888}.pkt.fail{fill:#cf222e}.pkt.replay{fill:#cf222e}
.pkt.gap{fill:#d4a72c}.wrap{stroke:#8250df;stroke-dasharray:4 3}.axis{stroke:#555}
.legend span{display:inline-block;margin-right:1em}.legend .decrypted,.legend .ok{color:#1a7f37}
.legend .clear{color:#0550ae}.legend .encrypted,.legend .nokey{color:#888}
.legend .error,.legend .replay{color:#cf222e}.legend .gap{color:#d4a72c}.legend .wrap{color:#8250df}
"""


def page(title: str, sections: list[str]) -> str:
    """The whole document: no external resource, no script."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>netsec report: {_e(title)}</h1>" + "\n".join(sections) + "</body></html>\n"
    )


def _ms(t_ns: int | None, t0: int | None) -> str:
    if t_ns is None or t0 is None:
        return "end"
    return f"{(t_ns - t0) / 1e6:.1f} ms"


def ladder_svg(conv: Conversation) -> str:
    """Client and server lifelines, one arrow per record/packet, top to bottom in time."""
    info = conv.info
    left, right, top, step = 170, 650, 40, 24
    height = top + step * (len(conv.msgs) + 1)
    t0 = next((m.t_ns for m in conv.msgs if m.t_ns is not None), None)
    client = info.get("client") or "client"
    server = info.get("server") or "server"
    parts = [
        f'<svg class="ladder" xmlns="http://www.w3.org/2000/svg" width="900" height="{height}" '
        f'viewBox="0 0 900 {height}" role="img" aria-label="{_e(conv.proto)} handshake ladder">',
        f'<text x="{left}" y="16" text-anchor="middle">{_e(str(client))}</text>',
        f'<text x="{right}" y="16" text-anchor="middle">{_e(str(server))}</text>',
        f'<text x="{right + 8}" y="32">{"" if conv.proto == "ssh" else "record version"}</text>',
        f'<line class="life" x1="{left}" y1="24" x2="{left}" y2="{height}"/>',
        f'<line class="life" x1="{right}" y1="24" x2="{right}" y2="{height}"/>',
    ]
    for i, m in enumerate(conv.msgs):
        y = top + step * i + 12
        x1, x2 = (left, right) if m.c2s else (right, left)
        head = x2 - 8 if m.c2s else x2 + 8
        ver = _VERSIONS.get(m.version or -1, "")
        title = f"frame {m.frame}" + (f": {m.error}" if m.error else "")
        parts.append(
            f'<g class="msg {m.state}" data-frame="{m.frame}" '
            f'data-dir="{"c2s" if m.c2s else "s2c"}" data-types="{_e(m.types)}" '
            f'data-label="{_e(m.label)}"><title>{_e(title)}</title>'
            f'<text x="4" y="{y + 4}">{_e(_ms(m.t_ns, t0))}</text>'
            f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}"/>'
            f'<polygon points="{x2},{y} {head},{y - 4} {head},{y + 4}"/>'
            f'<text x="{(left + right) // 2}" y="{y - 4}" text-anchor="middle">{_e(m.label)}</text>'
            f'<text x="{right + 8}" y="{y + 4}">{_e(ver)}</text></g>'
        )
    parts.append("</svg>")
    facts = [
        f"{conv.units} {'packets' if conv.proto == 'ssh' else 'records'}",
        f"{conv.decrypted} decrypted",
        f"{conv.failed} failed",
    ]
    for k in ("version", "cipher_suite", "sni", "kex", "key_source", "client_version",
              "server_version"):  # fmt: skip
        if info.get(k):
            facts.append(f"{k}: {info[k]}")
    more = f"<p>… {conv.more} more not drawn</p>" if conv.more else ""
    return (
        f'<section class="conversation" id="{_e(conv.proto)}-{conv.stream}" '
        f'data-proto="{_e(conv.proto)}" data-stream="{conv.stream}">'
        f"<h2>{_e(conv.proto.upper())} connection #{conv.stream}: {_e(str(client))} → "
        f"{_e(str(server))}</h2><p>{_e(', '.join(facts))}</p>"
        + _LEGEND
        + "".join(parts)
        + more
        + "</section>"
    )


_LEGEND = (
    '<p class="legend"><span class="decrypted">■ decrypted</span><span class="clear">■ clear</span>'
    '<span class="encrypted">■ not decrypted</span><span class="error">■ error</span></p>'
)


def seq_plot_svg(sa: SAPlot) -> str:
    """Sequence number (y) over time (x); replays, gaps and ESN wraps marked."""
    w, h, ml, mr, mt, mb = 900, 300, 110, 20, 20, 40
    pts = sa.points
    t_lo = min((p[0] for p in pts), default=0)
    t_hi = max((p[0] for p in pts), default=1)
    s_lo = min((p[1] for p in pts), default=0)
    s_hi = max((p[1] for p in pts), default=1)
    t_span = max(t_hi - t_lo, 1)
    s_span = max(s_hi - s_lo, 1)

    def x(t: int) -> float:
        return ml + (t - t_lo) * (w - ml - mr) / t_span

    def y(s: int) -> float:
        return h - mb - (s - s_lo) * (h - mt - mb) / s_span

    name = f"0x{sa.spi & 0xFFFFFFFF:08x}"
    parts = [
        f'<svg class="seqplot" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{sa.proto.upper()} SA {name} sequence">',
        f'<line class="axis" x1="{ml}" y1="{h - mb}" x2="{w - mr}" y2="{h - mb}"/>',
        f'<line class="axis" x1="{ml}" y1="{mt}" x2="{ml}" y2="{h - mb}"/>',
        f'<text x="{ml - 6}" y="{y(s_hi) + 4:.1f}" text-anchor="end">{s_hi}</text>',
        f'<text x="{ml - 6}" y="{y(s_lo) + 4:.1f}" text-anchor="end">{s_lo}</text>',
        f'<text x="{ml}" y="{h - mb + 16}">0 s</text>',
        f'<text x="{w - mr}" y="{h - mb + 16}" text-anchor="end">'
        f"{(t_hi - t_lo) / 1e9:.3f} s</text>",
        f'<text x="{(ml + w) // 2}" y="{h - 6}" text-anchor="middle">time</text>',
        f'<text x="12" y="{h // 2}" transform="rotate(-90 12 {h // 2})" text-anchor="middle">'
        "sequence number</text>",
    ]
    for t in sa.wraps:
        parts.append(
            f'<line class="wrap" x1="{x(t):.1f}" y1="{mt}" x2="{x(t):.1f}" y2="{h - mb}">'
            "<title>ESN wrap: the high-order 32 bits advance</title></line>"
        )
    for t, s, mark in pts:
        r = 4 if mark in ("replay", "gap", "fail") else 2.5
        parts.append(
            f'<circle class="pkt {mark}" cx="{x(t):.1f}" cy="{y(s):.1f}" r="{r}" '
            f'data-seq="{s & 0xFFFFFFFF}" data-mark="{mark}"><title>seq {s & 0xFFFFFFFF}'
            f"{' (high bits ' + str(s >> 32) + ')' if s >> 32 else ''}: {mark}</title></circle>"
        )
    parts.append("</svg>")
    ends = f"{sa.src} → {sa.dst}" if sa.src else ""
    facts = (
        f"{sa.packets} packets, {sa.decrypted} "
        f"{'verified' if sa.proto == 'ah' else 'decrypted'}, {sa.failed} failed, "
        f"{sa.replays} replays, {sa.gaps} gaps, {len(sa.wraps)} ESN wraps"
    )
    more = f"<p>first {len(pts)} packets drawn</p>" if sa.packets > len(pts) else ""
    legend = (
        '<p class="legend"><span class="ok">● ok</span><span class="nokey">● not decrypted</span>'
        '<span class="replay">● replay / failed</span><span class="gap">● gap</span>'
        '<span class="wrap">┆ ESN wrap</span></p>'
    )
    return (
        f'<section class="sa" id="{sa.proto}-{name}" data-proto="{sa.proto}" data-spi="{name}">'
        f"<h2>{sa.proto.upper()} SA {name} {_e(ends)}</h2><p>{_e(facts)}</p>"
        + legend
        + "".join(parts)
        + more
        + "</section>"
    )


def ike_table(sa: IKESA) -> str:
    """The exchanges of one IKE SA, one row per message."""
    from netsec_layers.constants.ike import ExchangeType, IKEv1Exchange

    rows: list[str] = []
    t0 = next((r["_t"] for r in sa.rows if r.get("_t") is not None), None)
    for r in sa.rows:
        ver = r.get("version")
        et = r.get("exchange_type")
        try:
            ex = (ExchangeType if ver == 2 else IKEv1Exchange)(
                et if isinstance(et, int) else -1
            ).name
        except ValueError:
            ex = str(et)
        raw_flags = r.get("flags")
        flags = raw_flags if isinstance(raw_flags, int) else 0
        kind = "response" if flags & 0x20 else "request"
        state = "decrypted" if r.get("decrypted") else "error" if r.get("error") else "clear"
        rows.append(
            f'<tr class="{state}" data-frame="{_e(str(r.get("frame")))}" data-exchange="{_e(ex)}">'
            f"<td>{_e(_ms(r.get('_t'), t0))}</td><td>{_e(str(r.get('frame')))}</td>"
            f"<td>IKEv{_e(str(ver))}</td><td>{_e(ex)}</td><td>{kind}</td>"
            f"<td>{_e(str(r.get('message_id')))}</td>"
            f"<td>{'yes' if r.get('decrypted') else 'no'}</td>"
            f"<td>{_e(str(r.get('error') or ''))}</td></tr>"
        )
    more = f"<p>… {sa.more} more messages</p>" if sa.more else ""
    return (
        f'<section class="ike" data-spi-i="{_e(sa.spi_i)}" data-spi-r="{_e(sa.spi_r)}">'
        f"<h2>IKE SA {_e(sa.spi_i)}/{_e(sa.spi_r)}</h2><table><tr><th>time</th><th>frame</th>"
        "<th>version</th><th>exchange</th><th>kind</th><th>message id</th><th>decrypted</th>"
        "<th>error</th></tr>" + "".join(rows) + "</table>" + more + "</section>"
    )
