"""``netsec dissect -V``: the full layer tree of each packet, via the Scapy layers.

Only this slow, human-facing path builds Scapy objects; the summary and JSON paths do not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from netsec_layers.session.tls import TLSRecordInfo

if TYPE_CHECKING:
    from netsec_layers.cli.summaries import Formatter
    from netsec_layers.session.engine import CaptureEngine, FrameResult


def _show(pkt: object) -> str:
    return str(pkt.show(dump=True)).rstrip()  # type: ignore[attr-defined]


def _indent(text: str, n: int = 2) -> str:
    pad = " " * n
    return "\n".join(pad + line for line in text.splitlines())


def frame_tree(res: FrameResult, engine: CaptureEngine, fmt: Formatter) -> str:
    from netsec_layers.cli.summaries import ipsec_summary, record_summary
    from netsec_layers.constants.tls import suite_kex
    from netsec_layers.layers.tls import dissect_tls

    lines = [fmt.line(res)]
    for u in res.units:
        if isinstance(u, TLSRecordInfo):
            conn = engine.tls.connections.get(u.stream)
            version = conn.version if conn else None
            lines.append(
                f"  TLS record, stream {u.stream} {'c2s' if u.from_client else 's2c'}: "
                f"{record_summary(u, version)}"
            )
            kex = suite_kex(conn.suite) if conn and conn.suite is not None else None
            protected = u.decrypted or u.inner_content_type is None
            lines.append(
                _indent(_show(dissect_tls(u.raw, version=version, kex=kex, encrypted=protected)), 4)
            )
            if u.decrypted and u.plaintext is not None and u.inner_content_type is not None:
                from netsec_layers.layers.tls import TLSRecord

                plain = (
                    TLSRecord(
                        content_type=u.inner_content_type,
                        version=u.version,
                        length=len(u.plaintext),
                    ).build()[:5]
                    + u.plaintext
                )
                lines.append("    Decrypted content:")
                lines.append(_indent(_show(dissect_tls(plain, version=version, kex=kex)), 6))
        elif not hasattr(u, "spi"):  # another protocol tracker's event
            if not u.summary():
                continue  # an internal event (keys learned, connection state)
            lines.append(f"  {u.summary()}")
            for layer in u.layers() if hasattr(u, "layers") else []:
                lines.append(_indent(_show(layer), 4))
        else:
            lines.append(f"  {ipsec_summary(u)}")
            if u.decrypted and u.opened is not None:
                from netsec_layers.session.ipsec_scapy import plaintext_layer

                lines.append(_indent(_show(plaintext_layer(u.opened)), 4))
    return "\n".join(lines)
