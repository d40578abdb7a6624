"""IKE key files: Wireshark's ``ikev2_decryption_table`` / ``ikev1_decryption_table`` UAT lines
and the netsec JSON of ``--ike-keys`` (format detected by content), read and written.

* ``ikev2_decryption_table``: ``SPIi,SPIr,SK_ei,SK_er,"Encryption algorithm",SK_ai,SK_ar,
  "Integrity algorithm"`` (hex without ``0x``; names as in Wireshark's packet-isakmp.c).  It has
  no SK_d, so it decrypts IKE but derives no CHILD_SA.
* ``ikev1_decryption_table``: ``initiator cookie (16 hex),encryption key (hex)``.
* netsec JSON: a list of objects ``{"spi_i", "spi_r", "sk_d"?, "sk_ei"?, "sk_er"?, "sk_ai"?,
  "sk_ar"?}`` or ``{"spi_i", "spi_r", "g_ir", "pfs"?: [{"message_id", "g_ir"}]}``; optional
  ``"psk"`` (text) or ``"psk_hex"`` to verify PSK AUTH payloads (RFC 7296 §2.15).

Blank lines and ``#`` comments are skipped; a bad line is reported in ``warnings`` and the
rest of the file still loads.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from typing import Any

from netsec_layers.errors import KeyFileError

__all__ = [
    "IKEKeys",
    "IKEv1Keys",
    "IKEv2KeyEntry",
    "WIRESHARK_ENCR",
    "WIRESHARK_INTEG",
    "format_ikev2_decryption_table",
    "format_netsec_json",
    "parse_ike_keys",
]

#: Wireshark IKEv2 encryption names -> (IKEv2 ENCR id, key bits or None, ICV bytes)
WIRESHARK_ENCR: dict[str, tuple[int, int | None]] = {
    "NULL [RFC2410]": (11, None),
    "3DES [RFC2451]": (3, 192),
}
for _bits in (128, 192, 256):
    WIRESHARK_ENCR[f"AES-CBC-{_bits} [RFC3602]"] = (12, _bits)
    WIRESHARK_ENCR[f"AES-CTR-{_bits} [RFC5930]"] = (13, _bits)
    for _icv, _gcm, _ccm in ((8, 18, 14), (12, 19, 15), (16, 20, 16)):
        WIRESHARK_ENCR[f"AES-GCM-{_bits} with {_icv} octet ICV [RFC5282]"] = (_gcm, _bits)
        WIRESHARK_ENCR[f"AES-CCM-{_bits} with {_icv} octet ICV [RFC5282]"] = (_ccm, _bits)

#: Wireshark IKEv2 integrity names -> IKEv2 INTEG id (negative: "ANY n bits", no checking)
WIRESHARK_INTEG: dict[str, int] = {
    "NONE [RFC4306]": 0,
    "HMAC_MD5_96 [RFC2403]": 1,
    "HMAC_SHA1_96 [RFC2404]": 2,
    "HMAC_SHA2_256_128 [RFC4868]": 12,
    "HMAC_SHA2_384_192 [RFC4868]": 13,
    "HMAC_SHA2_512_256 [RFC4868]": 14,
    # names Wireshark and strongSwan's save-keys also know (no SK decryption here for them)
    "HMAC_MD5_128 [RFC4595]": 6,
    "HMAC_SHA1_160 [RFC4595]": 7,
    "HMAC_SHA2_256_96 [draft-ietf-ipsec-ciph-sha-256-00]": 1026,  # strongSwan private ID
}
for _n in (64, 96, 128, 160, 192, 256):
    WIRESHARK_INTEG[f"ANY {_n}-bits of Authentication [No Checking]"] = -(_n // 8)


@dataclass
class IKEv2KeyEntry:
    """Keys of one IKE SA; any part may be missing."""

    spi_i: bytes
    spi_r: bytes
    sk_d: bytes | None = None
    sk_ei: bytes | None = None
    sk_er: bytes | None = None
    sk_ai: bytes | None = None
    sk_ar: bytes | None = None
    g_ir: bytes | None = None
    pfs: dict[int, bytes] = field(default_factory=dict)  # CREATE_CHILD_SA message ID -> g^ir
    psk: bytes | None = None  # JSON "psk" (text) or "psk_hex": AUTH payloads get verified
    encr: tuple[int, int | None] | None = None  # from a Wireshark line
    integ: int | None = None  # from a Wireshark line (negative = ANY n bytes, unchecked)
    source: str = ""


@dataclass
class IKEv1Keys:
    """IKEv1 phase 1 keys: the encryption key (Wireshark table), or what derives it and the
    Quick Mode KEYMAT (JSON ``{"version": 1, "cookie_i", "psk"|"psk_hex", "g_xy"}`` or
    ``{"version": 1, "cookie_i", "enc_key"?, "skeyid_d"?}``)."""

    cookie_i: bytes
    enc_key: bytes | None = None
    psk: bytes | None = None
    g_xy: bytes | None = None
    skeyid_d: bytes | None = None


@dataclass
class IKEKeys:
    """Everything loaded from one or more ``--ike-keys`` files."""

    v2: dict[tuple[bytes, bytes], IKEv2KeyEntry] = field(default_factory=dict)
    v1: dict[bytes, IKEv1Keys] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def merge(self, other: IKEKeys) -> None:
        for k, e in other.v2.items():
            cur = self.v2.get(k)
            if cur is None:
                self.v2[k] = e
                continue
            for name in (
                "sk_d",
                "sk_ei",
                "sk_er",
                "sk_ai",
                "sk_ar",
                "g_ir",
                "psk",
                "encr",
                "integ",
            ):
                if getattr(cur, name) is None:
                    setattr(cur, name, getattr(e, name))
            cur.pfs.update(e.pfs)
        for ck, k1 in other.v1.items():
            cur1 = self.v1.setdefault(ck, k1)
            for name in ("enc_key", "psk", "g_xy", "skeyid_d"):
                if getattr(cur1, name) is None:
                    setattr(cur1, name, getattr(k1, name))
        self.warnings += other.warnings


def _hex(value: Any, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise KeyFileError(f"{what} must be a hex string")
    s = value.strip()
    if s[:2].lower() == "0x":
        s = s[2:]
    try:
        b = bytes.fromhex(s)
    except ValueError:
        raise KeyFileError(f"{what} is not hex: {value[:40]!r}") from None
    if size is not None and len(b) != size:
        raise KeyFileError(f"{what} must be {size} bytes, got {len(b)}")
    return b


def _opt(obj: dict[str, Any], key: str) -> bytes | None:
    v = obj.get(key)
    return None if v in (None, "") else _hex(v, key)


def _parse_json(text: str, source: str) -> IKEKeys:
    try:
        data = json.loads(text)
    except ValueError as err:
        raise KeyFileError(f"{source}: not valid JSON: {err}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise KeyFileError(f"{source}: expected a list of IKE SA objects")
    out = IKEKeys()
    for i, obj in enumerate(data):
        try:
            if not isinstance(obj, dict):
                raise KeyFileError("not an object")
            if obj.get("version") == 1:
                v1 = IKEv1Keys(_hex(obj.get("cookie_i"), "cookie_i", 8), _opt(obj, "enc_key"))
                v1.g_xy, v1.skeyid_d = _opt(obj, "g_xy"), _opt(obj, "skeyid_d")
                if isinstance(obj.get("psk"), str):
                    v1.psk = obj["psk"].encode()
                elif obj.get("psk_hex") is not None:
                    v1.psk = _hex(obj.get("psk_hex"), "psk_hex")
                out.v1[v1.cookie_i] = v1
                continue
            e = IKEv2KeyEntry(
                _hex(obj.get("spi_i"), "spi_i", 8),
                _hex(obj.get("spi_r"), "spi_r", 8),
                source=source,
            )
            for k in ("sk_d", "sk_ei", "sk_er", "sk_ai", "sk_ar", "g_ir"):
                setattr(e, k, _opt(obj, k))
            if isinstance(obj.get("psk"), str):
                e.psk = obj["psk"].encode()
            elif obj.get("psk_hex") is not None:
                e.psk = _hex(obj.get("psk_hex"), "psk_hex")
            for p in obj.get("pfs") or []:
                if not isinstance(p, dict) or not isinstance(p.get("message_id"), int):
                    raise KeyFileError("pfs entries need an integer message_id")
                e.pfs[p["message_id"]] = _hex(p.get("g_ir"), "pfs g_ir")
            out.v2[(e.spi_i, e.spi_r)] = e
        except KeyFileError as err:
            out.warnings.append(f"{source}: entry {i}: {err}")
    return out


def _parse_uat(text: str, source: str) -> IKEKeys:
    out = IKEKeys()
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            row = next(csv.reader([s], skipinitialspace=True))
            if len(row) == 8:
                enc_name, integ_name = row[4].strip(), row[7].strip()
                if enc_name not in WIRESHARK_ENCR:
                    raise KeyFileError(f"unknown encryption algorithm {enc_name!r}")
                if integ_name not in WIRESHARK_INTEG:
                    raise KeyFileError(f"unknown integrity algorithm {integ_name!r}")
                e = IKEv2KeyEntry(
                    _hex(row[0], "SPIi", 8),
                    _hex(row[1], "SPIr", 8),
                    sk_ei=_hex(row[2], "SK_ei"),
                    sk_er=_hex(row[3], "SK_er"),
                    sk_ai=_hex(row[5], "SK_ai") if row[5].strip() else None,
                    sk_ar=_hex(row[6], "SK_ar") if row[6].strip() else None,
                    encr=WIRESHARK_ENCR[enc_name],
                    integ=WIRESHARK_INTEG[integ_name],
                    source=f"{source}:{n}",
                )
                out.v2[(e.spi_i, e.spi_r)] = e
            elif len(row) == 2:
                ck = _hex(row[0], "initiator cookie", 8)
                out.v1[ck] = IKEv1Keys(ck, _hex(row[1], "encryption key"))
            else:
                raise KeyFileError(f"{len(row)} fields (want 8 for IKEv2, 2 for IKEv1)")
        except (KeyFileError, csv.Error) as err:
            out.warnings.append(f"{source}:{n}: {err}")
    return out


def parse_ike_keys(text: str, source: str = "<ike-keys>") -> IKEKeys:
    """Parse any supported IKE key file (JSON if it starts with ``[`` or ``{``)."""
    body = text.lstrip("\ufeff").lstrip()
    if body[:1] in ("[", "{"):
        return _parse_json(body, source)
    keys = _parse_uat(text, source)
    if not keys.v2 and not keys.v1 and keys.warnings:
        raise KeyFileError(f"{source}: no usable IKE key line ({keys.warnings[0]})")
    return keys


def format_ikev2_decryption_table(entries: list[IKEv2KeyEntry]) -> str:
    """Wireshark ``ikev2_decryption_table`` lines for entries with SK_e*/SK_a* and ``encr``.

    Entries whose cipher Wireshark 4.0 lacks (ChaCha20-Poly1305) are skipped; integrity it
    lacks (AES-XCBC/CMAC) is written as "ANY n-bits ... [No Checking]"."""
    enc_names = {v: k for k, v in WIRESHARK_ENCR.items()}
    int_names = {v: k for k, v in WIRESHARK_INTEG.items()}
    lines = []
    for e in entries:
        if e.encr is None or e.encr not in enc_names or e.sk_ei is None or e.sk_er is None:
            continue
        integ = e.integ if e.integ is not None else 0
        name = int_names.get(integ) or int_names[-12]
        checked = integ > 0  # Wireshark's "ANY n-bits" takes no key (its length must be 0)
        fields = [
            e.spi_i.hex(),
            e.spi_r.hex(),
            e.sk_ei.hex(),
            e.sk_er.hex(),
            f'"{enc_names[e.encr]}"',
            (e.sk_ai or b"").hex() if checked else "",
            (e.sk_ar or b"").hex() if checked else "",
            f'"{name}"',
        ]
        lines.append(",".join(fields) + "\n")
    return "".join(lines)


def format_netsec_json(entries: list[IKEv2KeyEntry]) -> str:
    """The netsec ``--ike-keys`` JSON for ``entries`` (only the parts that are present)."""
    out = []
    for e in entries:
        obj: dict[str, Any] = {"spi_i": e.spi_i.hex(), "spi_r": e.spi_r.hex()}
        for k in ("sk_d", "sk_ei", "sk_er", "sk_ai", "sk_ar", "g_ir"):
            v = getattr(e, k)
            if v is not None:
                obj[k] = v.hex()
        if e.psk is not None:
            obj["psk_hex"] = e.psk.hex()
        if e.pfs:
            obj["pfs"] = [{"message_id": m, "g_ir": g.hex()} for m, g in sorted(e.pfs.items())]
        out.append(obj)
    return json.dumps(out, indent=1) + "\n"
