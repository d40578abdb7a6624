"""``netsec dissect --json``: one JSON line per unit, the common shapes written without a dict.

The JSON object of a unit is defined once, by its ``to_json()`` (the contract in
docs/cli-contract.md).  Encoding that dict costs more than dissecting the packet on the bulk of a
capture -- ESP packets without keys, TLS records with no hello, alert, warning or error -- so for
those two shapes the line is formatted directly, with the keys in ``to_json()``'s order.  Every
other unit (and every value that would need JSON escaping: error texts, alerts, warnings,
fingerprints, ECH) goes through ``to_json()`` and the one C encoder.  ``tests/cli/test_json_lines.py``
checks the direct lines against ``json_line_encoder()(u.to_json())`` on every unit of every sample
capture and on generated units, so a key added to ``to_json()`` cannot be missed here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netsec_layers.cli.common import json_line_encoder
from netsec_layers.session.ipsec_tracker import IPsecInfo
from netsec_layers.session.tls import CT_APPDATA, TLSRecordInfo

__all__ = ["unit_line_writer"]


def _hex(b: bytes | None) -> str:
    return "null" if b is None else '"' + b.hex() + '"'


def _int(n: int | None) -> str:
    return "null" if n is None else f"{n:d}"


def _ipsec(u: IPsecInfo) -> str | None:
    if u.error is not None or u.proto not in ("esp", "ah"):
        return None  # free text: escaped by the encoder
    if u.iv is None and u.icv is None and u.inner is None:  # not decrypted: the bulk
        if u.pad_length is None and u.next_header is None:
            return (
                f'{{"proto": "{u.proto}", "frame": {u.frame:d}, "spi": {u.spi:d}, '
                f'"seq": {u.seq:d}, "decrypted": {"true" if u.decrypted else "false"}, '
                '"iv": null, "pad_length": null, "next_header": null, "icv": null, '
                '"inner": null, "error": null}'
            )
    return (
        f'{{"proto": "{u.proto}", "frame": {u.frame:d}, "spi": {u.spi:d}, "seq": {u.seq:d}, '
        f'"decrypted": {"true" if u.decrypted else "false"}, "iv": {_hex(u.iv)}, '
        f'"pad_length": {_int(u.pad_length)}, "next_header": {_int(u.next_header)}, '
        f'"icv": {_hex(u.icv)}, "inner": {_hex(u.inner)}, "error": null}}'
    )


def _tls(u: TLSRecordInfo) -> str | None:
    if (
        u.error is not None
        or u.alert
        or u.warnings
        or u.fingerprint is not None
        or u.ech is not None
    ):
        return None
    ict = u.inner_content_type
    pt = u.plaintext
    app = _hex(pt) if u.decrypted and ict == CT_APPDATA else "null"
    hts = u.handshake_types
    return (
        f'{{"proto": "tls", "frame": {u.frame:d}, "stream": {u.stream:d}, '
        f'"dir": "{"c2s" if u.from_client else "s2c"}", "content_type": {u.content_type:d}, '
        f'"version": {u.version:d}, "length": {u.length:d}, '
        f'"decrypted": {"true" if u.decrypted else "false"}, '
        f'"inner_content_type": {_int(ict)}, '
        f'"handshake_types": [{", ".join([f"{t:d}" for t in hts]) if hts else ""}], '
        f'"alert": null, "app_data": {app}, "error": null, "warnings": [], "ja3": null, '
        '"ja3_string": null, "ja3s": null, "ja3s_string": null, "ja4": null, "ech": null}'
    )


_DIRECT: dict[type, Callable[[Any], str | None]] = {IPsecInfo: _ipsec, TLSRecordInfo: _tls}


def unit_line_writer() -> Callable[[Any], str | None]:
    """``line(unit)``: the unit's JSON line, or ``None`` for an event that is not a unit."""
    dumps = json_line_encoder()
    direct = _DIRECT.get

    def line(u: Any) -> str | None:
        fast = direct(type(u))
        if fast is not None:
            try:
                text = fast(u)
            except (TypeError, ValueError):  # a field not of its declared type: the encoder
                text = None
            if text is not None:
                return text
        obj = u.to_json()
        return None if obj is None else dumps(obj)

    return line
