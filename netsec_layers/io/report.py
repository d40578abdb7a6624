"""``netsec report``: one self-contained HTML page with inline SVG pictures of a capture.

Pure: the page is built from the ``netsec dissect --json`` objects of the units (with their
frame times) and the ``netsec stats`` rows of the connections; no file, no network, no script.
Nothing the capture says reaches the page unescaped (``html.escape`` on every text and
attribute).  Pictures:

* a handshake **ladder** per TLS, DTLS and SSH connection: client and server lifelines, one
  arrow per record (per packet for SSH) named as the protocol names its messages
  (``ClientHello``, ``ServerHello``, ``KeyUpdate``, ``Alert fatal handshake_failure``,
  ``KEXINIT`` …), green when decrypted and authenticated, grey when not decrypted, red when
  an error was reported;
* a **sequence-number plot** per ESP/AH SA (named by its SPI): sequence number over time, with
  replays (red), gaps (a jump past the highest number seen + 1, orange) and ESN wraps (the
  32-bit number falling from the top quarter to the bottom quarter; the plot continues with
  the high-order bits counted, RFC 4303 §2.2.1) marked;
* per IKE SA (SPIi/SPIr) a table of its exchanges.

Sizes are bounded: at most ``MAX_MESSAGES`` arrows per ladder, ``MAX_POINTS`` points per plot
and ``MAX_ITEMS`` ladders/plots/IKE SAs; what is left out is counted on the page.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from netsec_layers.constants import tls as tls_c
from netsec_layers.io.report_svg import (
    IKESA,
    Conversation,
    Msg,
    SAPlot,
    ike_table,
    ladder_svg,
    page,
    seq_plot_svg,
)

__all__ = [
    "MAX_ITEMS",
    "MAX_MESSAGES",
    "MAX_POINTS",
    "ReportModel",
    "merge_models",
    "message_label",
]

MAX_MESSAGES = 120
MAX_POINTS = 5000
MAX_ITEMS = 300
_WRAP_HIGH = 0xC0000000
_WRAP_LOW = 0x40000000


def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


def _int(v: Any, default: int = 0) -> int:
    return v if type(v) is int else default


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _hs_name(t: Any) -> str:
    try:
        return _camel(tls_c.HandshakeType(_int(t, -1)).name)
    except ValueError:
        return f"Handshake({t})"


def message_label(obj: dict[str, Any]) -> str:
    """What a TLS/DTLS record or an SSH packet carried, as the protocol names it."""
    if obj.get("proto") == "ssh":
        if "banner" in obj:
            return str(obj["banner"])
        mt = obj.get("msg_type")
        if type(mt) is not int:
            return f"encrypted packet ({obj.get('length', 0)} bytes)"
        from netsec_layers.constants.ssh import SSHMsg

        try:
            return SSHMsg(mt).name.removeprefix("SSH_MSG_")
        except ValueError:
            return f"message {mt}"
    ct = obj.get("inner_content_type")
    if ct is None:
        return f"encrypted record ({obj.get('length', 0)} bytes)"
    parts: list[str] = []
    if ct == tls_c.ContentType.handshake:
        parts += [_hs_name(t) for t in _list(obj.get("handshake_types"))]
        if not parts:
            parts.append("Handshake (fragment)")
    elif ct == tls_c.ContentType.change_cipher_spec:
        parts.append("ChangeCipherSpec")
    elif ct == tls_c.ContentType.alert:
        alert = obj.get("alert")
        if isinstance(alert, list) and len(alert) == 2:
            level = "fatal" if alert[0] == 2 else "warning"
            desc = tls_c.name_of(tls_c.AlertDescription, alert[1])
            parts.append(f"Alert {level} {desc}")
        else:
            parts.append("Alert")
    elif ct == tls_c.ContentType.application_data:
        data = obj.get("app_data")
        n = len(data) // 2 if isinstance(data, str) else obj.get("length", 0)
        parts.append(f"Application Data ({n} bytes)")
    elif ct == tls_c.ContentType.heartbeat:
        parts.append("Heartbeat")
    else:
        parts.append(f"ContentType {ct}")
    return ", ".join(parts)


class ReportModel:
    """Collects units (``add_unit``) and connection rows (``add_info``); ``render`` makes HTML."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.protos: dict[str, list[int]] = {}  # proto -> [units, decrypted, failed]
        self.convs: dict[tuple[str, int], Conversation] = {}
        self.sas: dict[tuple[str, int], SAPlot] = {}
        self.ike: dict[tuple[str, str], IKESA] = {}
        self.dropped = 0  # ladders/plots/IKE SAs past MAX_ITEMS
        self.warnings: list[str] = []
        self.record_warnings: dict[str, int] = {}
        self.frames = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        # For merge_models (units of work on a cluster): the caller sets ``at`` (any ordered
        # key, e.g. (0, frame, rank)) before add_unit; where each connection, SA or IKE SA
        # entered its table (``admitted``, counted against MAX_ITEMS) and took its place in
        # the table's order (``placed``: an IKE SA named by its response moves to the end)
        self.at: tuple[int, ...] = ()
        self.admitted: dict[tuple[Any, ...], tuple[int, ...]] = {}
        self.placed: dict[tuple[Any, ...], tuple[int, ...]] = {}

    # -- collecting ----------------------------------------------------------------------------
    def add_unit(
        self, obj: dict[str, Any], ts_ns: int | None, endpoints: tuple[str, str] | None = None
    ) -> None:
        proto = str(obj.get("proto", "?"))
        ok = obj.get("decrypted") is True
        bad = not ok and obj.get("error") is not None
        c = self.protos.setdefault(proto, [0, 0, 0])
        c[0] += 1
        c[1] += ok
        c[2] += bad
        if ts_ns is not None:
            self.first_ns = ts_ns if self.first_ns is None else min(self.first_ns, ts_ns)
            self.last_ns = ts_ns if self.last_ns is None else max(self.last_ns, ts_ns)
        for w in _list(obj.get("warnings")):
            if isinstance(w, dict):
                code = str(w.get("code"))
                self.record_warnings[code] = self.record_warnings.get(code, 0) + 1
        if proto in ("tls", "dtls", "ssh") and isinstance(obj.get("stream"), int):
            self._ladder(proto, obj, ts_ns, ok, bad)
        elif proto in ("esp", "ah") and isinstance(obj.get("spi"), int):
            self._sa(proto, obj, ts_ns, ok, bad, endpoints)
        elif proto == "ike":
            self._ike(obj, ts_ns)

    def _room(self, table: dict[Any, Any], key: Any) -> bool:
        if key in table:
            return True
        if len(self.convs) + len(self.sas) + len(self.ike) >= MAX_ITEMS:
            self.dropped += 1
            return False
        return True

    def _ladder(
        self, proto: str, obj: dict[str, Any], ts_ns: int | None, ok: bool, bad: bool
    ) -> None:
        key = (proto, obj["stream"])
        if not self._room(self.convs, key):
            return
        conv = self.convs.get(key)
        if conv is None:
            conv = self.convs[key] = Conversation(proto, obj["stream"])
            self._entered(("conv", *key))
        conv.units += 1
        conv.decrypted += ok
        conv.failed += bad
        if len(conv.msgs) >= MAX_MESSAGES:
            conv.more += 1
            return
        clear = obj.get("inner_content_type") is not None or obj.get("msg_type") is not None
        state = "error" if bad else "decrypted" if ok else "clear" if clear else "encrypted"
        if "banner" in obj:
            state = "clear"
        types = ",".join(str(t) for t in _list(obj.get("handshake_types")))
        conv.msgs.append(
            Msg(
                ts_ns,
                _int(obj.get("frame")),
                obj.get("dir") == "c2s",
                message_label(obj),
                state,
                None if obj.get("error") is None else str(obj.get("error")),
                obj.get("version") if isinstance(obj.get("version"), int) else None,
                types,
            )
        )

    def _sa(
        self,
        proto: str,
        obj: dict[str, Any],
        ts_ns: int | None,
        ok: bool,
        bad: bool,
        endpoints: tuple[str, str] | None,
    ) -> None:
        key = (proto, obj["spi"])
        if not self._room(self.sas, key):
            return
        sa = self.sas.get(key)
        if sa is None:
            sa = self.sas[key] = SAPlot(proto, obj["spi"])
            self._entered(("sa", *key))
        if endpoints and not sa.src:
            sa.src, sa.dst = endpoints
        seq = _int(obj.get("seq")) & 0xFFFFFFFF
        t = ts_ns if ts_ns is not None else (self.last_ns or 0)
        sa.packets += 1
        sa.decrypted += ok
        sa.failed += bad
        error = str(obj.get("error") or "")
        if error.startswith("replay"):
            mark = "replay"
            sa.replays += 1
            ext = sa.high + seq
        else:
            low = sa.top & 0xFFFFFFFF if sa.top is not None else None
            if low is not None and low >= _WRAP_HIGH and seq < _WRAP_LOW:
                sa.high += 1 << 32  # RFC 4303 §2.2.1 / appendix A: the high-order bits advance
                sa.wraps.append(t)
            ext = sa.high + seq
            mark = "ok" if ok else "fail" if bad else "nokey"
            if sa.top is not None and ext > sa.top + 1:
                sa.gaps += 1
                mark = "gap" if mark == "ok" else mark
            if sa.top is None or ext > sa.top:
                sa.top = ext
        if len(sa.points) < MAX_POINTS:
            sa.points.append((t, ext, mark))

    def _ike(self, obj: dict[str, Any], ts_ns: int | None) -> None:
        key = (str(obj.get("spi_i", "")), str(obj.get("spi_r", "")))
        zero = (key[0], "0" * len(key[1]))
        if key[1] == zero[1]:  # IKE_SA_INIT request: the responder's SPI is not chosen yet
            key = next((k for k in self.ike if k[0] == key[0]), key)
        elif key not in self.ike and zero in self.ike:  # its response names the IKE SA
            sa0 = self.ike[key] = self.ike.pop(zero)
            sa0.spi_r = key[1]
            self.admitted[("ike", *key)] = self.admitted.pop(("ike", *zero), self.at)
            self.placed.pop(("ike", *zero), None)
            self.placed[("ike", *key)] = self.at
        if not self._room(self.ike, key):
            return
        sa = self.ike.get(key)
        if sa is None:
            sa = self.ike[key] = IKESA(*key)
            self._entered(("ike", *key))
        if len(sa.rows) >= MAX_MESSAGES:
            sa.more += 1
            return
        sa.rows.append({**obj, "_t": ts_ns})

    def _entered(self, key: tuple[Any, ...]) -> None:
        self.admitted[key] = self.placed[key] = self.at

    def add_info(self, row: dict[str, Any]) -> None:
        """A ``netsec stats`` row (TLS/DTLS/SSH connection, IKE SA): endpoints, suite …"""
        proto = row.get("proto")
        if proto in ("tls", "dtls", "ssh") and isinstance(row.get("stream"), int):
            conv = self.convs.get((proto, row["stream"]))
            if conv is not None:
                conv.info = row

    # -- rendering -----------------------------------------------------------------------------
    def render(self) -> str:
        sections: list[str] = [self._summary()]
        for conv in sorted(self.convs.values(), key=lambda c: (c.proto, c.stream)):
            sections.append(ladder_svg(conv))
        for sa in self.sas.values():
            sections.append(seq_plot_svg(sa))
        for ike in self.ike.values():
            sections.append(ike_table(ike))
        return page(self.title, sections)

    def _summary(self) -> str:
        e = html.escape
        rows = "".join(
            f'<tr data-proto="{e(p)}"><td>{e(p.upper())}</td><td>{n}</td><td>{d}</td>'
            f"<td>{f}</td></tr>"
            for p, (n, d, f) in sorted(self.protos.items())
        )
        span = ""
        if self.first_ns is not None and self.last_ns is not None:
            span = f"{(self.last_ns - self.first_ns) / 1e9:.3f} s"
        counts = {
            "frames": self.frames,
            "connections": len(self.convs),
            "ESP/AH SAs": len(self.sas),
            "IKE SAs": len(self.ike),
            "duration": span or "-",
        }
        facts = "".join(f"<li>{e(k)}: <b>{e(str(v))}</b></li>" for k, v in counts.items())
        warns = [*self.warnings]
        warns += [
            f"TLS warning {k}: {v} record(s)" for k, v in sorted(self.record_warnings.items())
        ]
        if self.dropped:
            warns.append(f"{self.dropped} units of connections/SAs past {MAX_ITEMS} not drawn")
        wl = "".join(f"<li>{e(w)}</li>" for w in warns) or "<li>none</li>"
        return (
            '<section id="summary"><h2>Summary</h2>'
            f'<ul class="facts">{facts}</ul>'
            '<table class="protocols"><tr><th>protocol</th><th>units</th><th>decrypted</th>'
            f"<th>failed</th></tr>{rows}</table>"
            f'<h3>Warnings</h3><ul class="warnings">{wl}</ul></section>'
        )


# -- merging the models of units of work (netsec report --cluster / --jobs) --------------------

Renumber = Callable[[str, int], int]


def merge_models(title: str, parts: Sequence[tuple[ReportModel, Renumber]]) -> ReportModel:
    """The model one process would have collected, from the models of units of work that each
    processed a part of the frames (every frame in exactly one part; a connection, an SA, an
    IKE SA in one part, as ``netsec_layers.io.cluster`` cuts the work).

    ``parts``: each unit's model (built with ``at`` set before every ``add_unit``) and its
    renumbering ``(proto, local stream) -> one-process stream``.  Connections, SAs and IKE SAs
    are admitted (``MAX_ITEMS``) and ordered by where one process met them; the counts are
    sums.  The part models are consumed (their entries move into the result)."""
    out = ReportModel(title)
    groups: dict[tuple[Any, ...], list[Any]] = {}  # key -> [admitted, placed, entries]

    def group(key: tuple[Any, ...], model: ReportModel, local: tuple[Any, ...], obj: Any) -> None:
        admitted = model.admitted.get(local, ())
        placed = model.placed.get(local, admitted)
        g = groups.get(key)
        if g is None:
            groups[key] = [admitted, placed, [obj]]
        else:  # the same SPI in two parts (two host pairs): one entry, as in one process
            g[0], g[1] = min(g[0], admitted), min(g[1], placed)
            g[2].append(obj)

    for model, renumber in parts:
        out.frames += model.frames
        out.dropped += model.dropped
        out.warnings += model.warnings
        for proto, counts in model.protos.items():
            c = out.protos.setdefault(proto, [0, 0, 0])
            for i, n in enumerate(counts):
                c[i] += n
        for ts in (model.first_ns, model.last_ns):
            if ts is not None:
                out.first_ns = ts if out.first_ns is None else min(out.first_ns, ts)
                out.last_ns = ts if out.last_ns is None else max(out.last_ns, ts)
        for code, n in model.record_warnings.items():
            out.record_warnings[code] = out.record_warnings.get(code, 0) + n
        for (proto, stream), conv in model.convs.items():
            conv.stream = renumber(proto, stream)
            if conv.info.get("stream") == stream:
                conv.info = {**conv.info, "stream": conv.stream}
            group(("conv", proto, conv.stream), model, ("conv", proto, stream), conv)
        for sa_key, sa in model.sas.items():
            group(("sa", *sa_key), model, ("sa", *sa_key), sa)
        for ike_key, ike in model.ike.items():
            group(("ike", *ike_key), model, ("ike", *ike_key), ike)
    entries = sorted(groups.items(), key=lambda kv: kv[1][0])
    for _key, (_a, _p, objs) in entries[MAX_ITEMS:]:
        out.dropped += sum(_units(o) for o in objs)
    out.record_warnings = dict(sorted(out.record_warnings.items()))
    for key, (_a, _p, objs) in sorted(entries[:MAX_ITEMS], key=lambda kv: kv[1][1]):
        obj = objs[0] if len(objs) == 1 else _combine(objs)
        if key[0] == "conv":
            out.convs[key[1], key[2]] = obj
        elif key[0] == "sa":
            out.sas[key[1], key[2]] = obj
        else:
            out.ike[key[1], key[2]] = obj
    return out


def _units(obj: Any) -> int:
    """The units one connection/SA/IKE SA entry took (counted as dropped past MAX_ITEMS)."""
    if isinstance(obj, Conversation):
        return obj.units
    if isinstance(obj, SAPlot):
        return obj.packets
    assert isinstance(obj, IKESA)
    return len(obj.rows) + obj.more


def _combine(objs: list[Any]) -> Any:
    """One entry from the parts' entries of one SPI (the SA's packets in two host pairs):
    counts summed, points in time order.  Sequence gaps and ESN wraps were counted per part."""
    first = objs[0]
    if isinstance(first, SAPlot):
        for sa in objs[1:]:
            first.packets += sa.packets
            first.decrypted += sa.decrypted
            first.failed += sa.failed
            first.replays += sa.replays
            first.gaps += sa.gaps
            first.wraps = sorted(first.wraps + sa.wraps)
            first.points = sorted(first.points + sa.points, key=lambda p: p[0])[:MAX_POINTS]
            tops = [t for t in (first.top, sa.top) if t is not None]
            first.top = max(tops) if tops else None
            first.high = max(first.high, sa.high)
        return first
    if isinstance(first, IKESA):
        rows = sorted((r for sa in objs for r in sa.rows), key=lambda r: r.get("_t") or 0)
        first.more = sum(sa.more for sa in objs) + max(0, len(rows) - MAX_MESSAGES)
        first.rows = rows[:MAX_MESSAGES]
        return first
    conv = first
    for c in objs[1:]:
        conv.units += c.units
        conv.decrypted += c.decrypted
        conv.failed += c.failed
        conv.more += c.more
        conv.msgs += c.msgs
        conv.info = conv.info or c.info
    conv.msgs.sort(key=lambda m: m.frame)
    conv.more += max(0, len(conv.msgs) - MAX_MESSAGES)
    del conv.msgs[MAX_MESSAGES:]
    return conv
