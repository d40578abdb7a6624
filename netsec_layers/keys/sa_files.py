"""SA files users already have: Wireshark ``esp_sa``, ``ip xfrm state`` output, project JSON.

Readers return :class:`SecurityAssociation` lists; :func:`load_sa_file` auto-detects.

**Wireshark esp_sa** (one SA per line, quoted CSV): ``"Protocol","Src IP","Dest IP","SPI",
"Encryption","Encryption Key","Authentication","Authentication Key"`` (Wireshark 4.0) plus
``"SN"`` (``32-bit``/``64-bit``) and ``"ESN High Bits"`` in later versions.  Keys ``0x…`` are
hex, anything else ASCII (with a warning).  strongSwan's ``AES-GCM [RFC4106]`` +
``ANY <n> bit authentication [no checking]`` pair becomes ``AES-GCM-<n/8>``.

**ip xfrm state** (``ip xfrm state`` / ``ip -s xfrm state`` output, or ``ip xfrm state add``
commands): blocks starting with ``src A dst B``; ``proto``, ``spi``, ``mode``,
``replay-window``, ``flag … esn``, ``enc``/``auth``/``auth-trunc``/``aead`` lines, ``encap
espinudp``, ``seq-hi``/``oseq-hi``.  Unknown lines are skipped.

**Project JSON**: a list of objects whose keys are the :class:`SecurityAssociation` field
names; ``enc_key``/``auth_key`` are hex strings, ``spi`` an integer or ``"0x…"`` string,
``udp_encap`` ``[sport, dport]`` or null; omitted fields take their defaults::

    [{"spi": "0x00001234", "encryption": "AES-GCM-16", "enc_key": "00112233…",
      "src": "10.0.0.1", "dst": "10.0.0.2", "mode": "tunnel", "esn": false}]

Names are canonicalised by :func:`netsec_layers.keys.sa.canonical_encryption` (so IANA names
like ``ENCR_AES_GCM_16`` or ``AUTH_HMAC_SHA2_256_128`` work in every format).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import shlex
import warnings
from pathlib import Path
from typing import Any

from netsec_layers.errors import KeyFileError, NetsecError, UnsupportedAlgorithmError, UsageError
from netsec_layers.keys.sa import (
    ANY_SPI,
    SecurityAssociation,
    canonical_encryption,
    canonical_integrity,
)

__all__ = [
    "SAFileWarning",
    "format_esp_sa",
    "format_project",
    "format_xfrm_add",
    "load_sa_file",
    "parse_esp_sa",
    "parse_project",
    "parse_sa_text",
    "parse_xfrm_state",
]


class SAFileWarning(UserWarning):
    """Something in an SA file that is probably a mistake (e.g. an ASCII key)."""


def _warn(msg: str, sink: list[str] | None) -> None:
    if sink is not None:
        sink.append(msg)
    else:
        warnings.warn(msg, SAFileWarning, stacklevel=3)


# ---------------------------------------------------------------------------------------------
# Wireshark esp_sa
_ANY_AUTH = re.compile(r"any (\d+) bit authentication(?: \[no checking\])?")
_WS_ENC: dict[str, str] = {
    "NULL": "NULL",
    "3DES-CBC": "TripleDES-CBC [RFC2451]",
    "AES-CBC": "AES-CBC [RFC3602]",
    "AES-CTR": "AES-CTR [RFC3686]",
    "DES-CBC": "DES-CBC [RFC2405]",
    "AES-GCM-8": "AES-GCM with 8 octet ICV [RFC4106]",
    "AES-GCM-12": "AES-GCM with 12 octet ICV [RFC4106]",
    "AES-GCM-16": "AES-GCM with 16 octet ICV [RFC4106]",
    "AES-GCM-16-IIV": "AES-GCM with IIV and 16 octet ICV [RFC4106 & RFC8750]",
    "CHACHA20-POLY1305": "ChaCha20 with Poly1305 [RFC7634]",
    "CHACHA20-POLY1305-IIV": "ChaCha20 with Poly1305 and IIV [RFC7634 & RFC8750]",
}
_WS_AUTH: dict[str, str] = {
    "NONE": "NULL",
    "HMAC-SHA1-96": "HMAC-SHA-1-96 [RFC2404]",
    "HMAC-SHA-256-96": "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]",
    "HMAC-SHA2-256-128": "HMAC-SHA-256-128 [RFC4868]",
    "HMAC-SHA2-384-192": "HMAC-SHA-384-192 [RFC4868]",
    "HMAC-SHA2-512-256": "HMAC-SHA-512-256 [RFC4868]",
    "HMAC-MD5-96": "HMAC-MD5-96 [RFC2403]",
}


def _key(text: str, what: str, lineno: int, sink: list[str] | None) -> bytes:
    t = text.strip()
    if not t:
        return b""
    if t[:2].lower() == "0x":
        try:
            return bytes.fromhex(t[2:])
        except ValueError:
            raise KeyFileError(f"line {lineno}: {what} is not valid hex") from None
    _warn(  # never echo key material (secrets hygiene)
        f"line {lineno}: {what} has no 0x prefix and is taken as {len(t)} ASCII bytes "
        "(as Wireshark does); write hex keys as 0x…",
        sink,
    )
    return t.encode("utf-8")


def _spi(text: str, lineno: int) -> int:
    t = text.strip()
    if t in ("*", ""):
        return ANY_SPI
    try:
        return int(t, 16) if t[:2].lower() == "0x" else int(t, 10)
    except ValueError:
        raise KeyFileError(f"line {lineno}: bad SPI {t!r}") from None


def parse_esp_sa(text: str, *, warnings_out: list[str] | None = None) -> list[SecurityAssociation]:
    """SAs from Wireshark ``esp_sa`` lines (8 or 10 fields; header/comment/blank lines skipped).

    Raises :class:`KeyFileError` (with the line number) or :class:`UnsupportedAlgorithmError`.
    Warnings (ASCII keys) go to ``warnings_out`` if given, else :mod:`warnings`.
    """
    out: list[SecurityAssociation] = []
    seen: set[tuple[object, ...]] = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        fields = next(csv.reader([s], skipinitialspace=True))
        if fields and fields[0].strip().lower() == "protocol":
            continue  # header line (pcapng ESPS secrets may carry one)
        if len(fields) < 8:
            raise KeyFileError(f"line {lineno}: esp_sa needs 8 or 10 fields, got {len(fields)}")
        proto, src, dst, spi, enc_name, enc_key, auth_name, auth_key = fields[:8]
        sn = fields[8].strip().lower() if len(fields) > 8 else ""
        high = fields[9].strip() if len(fields) > 9 else ""
        try:
            enc = canonical_encryption(enc_name)
            auth_n = " ".join(auth_name.split()).lower()
            m = _ANY_AUTH.fullmatch(auth_n)
            if enc.startswith("AES-GCM") and enc_name.strip().lower() == "aes-gcm [rfc4106]":
                # strongSwan save-keys: ICV length rides in the authentication column.
                bits = int(m.group(1)) if m else 128
                if bits not in (64, 96, 128):
                    raise KeyFileError(f"line {lineno}: AES-GCM ICV of {bits} bits")
                enc, integ = f"AES-GCM-{bits // 8}", "NONE"
            elif m:
                if not _aead(enc):
                    raise UnsupportedAlgorithmError(
                        f"line {lineno}: {auth_name.strip()!r} skips integrity checking, which "
                        "netsec_layers does not do for a non-AEAD cipher; known: "
                        + ", ".join(_WS_AUTH.values())
                    )
                integ = "NONE"
            else:
                integ = canonical_integrity(auth_name)
                if _aead(enc):
                    integ = "NONE"
            esn = sn.startswith("64")
            sa = SecurityAssociation(
                spi=_spi(spi, lineno),
                encryption=enc,
                enc_key=_key(enc_key, "encryption key", lineno, warnings_out),
                integrity=integ,
                auth_key=_key(auth_key, "authentication key", lineno, warnings_out)
                if integ != "NONE"
                else b"",
                src=_addr(src, proto),
                dst=_addr(dst, proto),
                esn=esn,
                esn_high=int(high, 16) if high and high not in ("*",) else 0,
            )
            key = dataclasses.astuple(sa)
            if key not in seen:  # the IPv4 + IPv6 pair format_esp_sa writes for one SA
                seen.add(key)
                out.append(sa)
        except UnsupportedAlgorithmError as exc:
            msg = str(exc)
            raise UnsupportedAlgorithmError(
                msg if msg.startswith("line") else f"line {lineno}: {msg}"
            ) from None
        except KeyFileError:
            raise
        except UsageError as exc:
            raise KeyFileError(f"line {lineno}: {exc}") from None
        except ValueError as exc:
            raise KeyFileError(f"line {lineno}: {exc}") from None
    return out


def _aead(enc: str) -> bool:
    from netsec_layers.crypto.esp_algorithms import ENCRYPTION_ALGORITHMS

    return ENCRYPTION_ALGORITHMS[enc].aead


def _addr(text: str, proto: str) -> str:
    t = text.strip()
    if t in ("", "*"):
        return "*"
    return t


def format_esp_sa(sas: list[SecurityAssociation]) -> str:
    """Wireshark ``esp_sa`` lines with the 10 columns (ESP SAs only; AH SAs are skipped).

    Raises :class:`UnsupportedAlgorithmError` for algorithms Wireshark cannot decrypt
    (AES-CCM, AES-GMAC, AES-XCBC, AES-CMAC).
    """
    rows = io.StringIO()
    w = csv.writer(rows, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for sa in sas:
        if sa.protocol != "esp":
            continue
        if sa.encryption not in _WS_ENC or sa.integrity not in _WS_AUTH:
            raise UnsupportedAlgorithmError(
                f"Wireshark's esp_sa has no {sa.encryption}/{sa.integrity}; it knows "
                + ", ".join(_WS_ENC)
                + " with "
                + ", ".join(_WS_AUTH)
            )
        v6 = ":" in sa.src or ":" in sa.dst
        v4 = "." in sa.src or "." in sa.dst
        # Wireshark 4.0 rejects "Any": an address-family-agnostic SA becomes an IPv4 and an
        # IPv6 line (parse_esp_sa folds identical SAs back into one).
        for family in ["IPv6"] if v6 else ["IPv4"] if v4 else ["IPv4", "IPv6"]:
            w.writerow(
                [
                    family,
                    sa.src or "*",
                    sa.dst or "*",
                    "*" if sa.spi == ANY_SPI else f"0x{sa.spi:08x}",
                    _WS_ENC[sa.encryption],
                    "0x" + sa.enc_key.hex() if sa.enc_key else "",
                    _WS_AUTH[sa.integrity],
                    "0x" + sa.auth_key.hex() if sa.auth_key else "",
                    "64-bit" if sa.esn else "32-bit",
                    f"0x{sa.esn_high:08x}",
                ]
            )
    return rows.getvalue()


# ---------------------------------------------------------------------------------------------
# ip xfrm state
_XFRM_AUTH_TRUNC = {
    ("hmac(sha256)", 128): "HMAC-SHA2-256-128",
    ("hmac(sha256)", 96): "HMAC-SHA-256-96",
    ("hmac(sha384)", 192): "HMAC-SHA2-384-192",
    ("hmac(sha512)", 256): "HMAC-SHA2-512-256",
    ("hmac(sha1)", 96): "HMAC-SHA1-96",
    ("hmac(md5)", 96): "HMAC-MD5-96",
    ("xcbc(aes)", 96): "AES-XCBC-MAC-96",
    ("cmac(aes)", 96): "AES-CMAC-96",
}
_XFRM_ENC = {
    "AES-CBC": "cbc(aes)",
    "AES-CTR": "rfc3686(ctr(aes))",
    "3DES-CBC": "cbc(des3_ede)",
    "DES-CBC": "cbc(des)",
    "NULL": "ecb(cipher_null)",
}
_XFRM_AEAD = {
    "AES-GCM": "rfc4106(gcm(aes))",
    "AES-CCM": "rfc4309(ccm(aes))",
    "AES-GMAC": "rfc4543(gcm(aes))",
    "CHACHA20-POLY1305": "rfc7539esp(chacha20,poly1305)",
}
_XFRM_AUTH = {v: k[0] for k, v in _XFRM_AUTH_TRUNC.items()}
_XFRM_NOISE = re.compile(r"\((?:\d+|0x[0-9a-fA-F]+)(?: bits)?\)")


def _xfrm_key(tok: str) -> bytes:
    t = tok.strip("\"'")
    if t[:2].lower() == "0x":
        return bytes.fromhex(t[2:])
    if t in ("", '""'):
        return b""
    return t.encode()


def _int(tok: str) -> int:
    t = tok.rstrip(",")
    return int(t, 16) if t[:2].lower() == "0x" else int(t)


def parse_xfrm_state(text: str) -> list[SecurityAssociation]:
    """SAs from ``ip [-s] xfrm state`` output or ``ip xfrm state add …`` commands (lenient)."""
    blocks: list[list[list[str]]] = []
    for raw in text.splitlines():
        raw = _XFRM_NOISE.sub(" ", raw)  # `ip -s`: "(1234)" after SPIs, "(160 bits)" after keys
        try:
            toks = shlex.split(raw.replace("\\", " "), comments=False)
        except ValueError:
            toks = raw.split()
        if toks[:4] in (["ip", "xfrm", "state", "add"], ["ip", "xfrm", "state", "update"]):
            toks = toks[4:]
        elif toks[:3] == ["xfrm", "state", "add"]:
            toks = toks[3:]
        if not toks:
            continue
        if toks[0] == "src" and "dst" in toks[:4]:
            blocks.append([])
        if blocks:
            blocks[-1].append(toks)
    out: list[SecurityAssociation] = []
    for n, block in enumerate(blocks, 1):
        try:
            sa = _xfrm_block(block)
        except UnsupportedAlgorithmError:
            raise
        except (NetsecError, ValueError, IndexError, KeyError) as exc:
            raise KeyFileError(f"xfrm state #{n}: {exc}") from None
        if sa is not None:
            out.append(sa)
    return out


def _xfrm_block(block: list[list[str]]) -> SecurityAssociation | None:
    kw: dict[str, Any] = {"replay_window": 0, "mode": "transport"}
    spi: int | None = None
    proto = "esp"
    seq_hi = 0
    for toks in block:
        if toks[0] in ("sel", "lifetime", "stats:", "lifetime:", "current:", "stats"):
            continue  # selectors and counters name other src/dst fields
        i = 0
        while i < len(toks):
            t = toks[i]
            nxt = toks[i + 1] if i + 1 < len(toks) else ""
            if t in ("src", "dst") and nxt:
                kw[t] = nxt
                i += 2
            elif t == "proto":
                proto = nxt.lower()
                i += 2
            elif t == "spi":
                spi = _int(nxt)
                i += 2
            elif t == "mode":
                kw["mode"] = nxt if nxt in ("tunnel", "transport") else "tunnel"
                i += 2
            elif t in ("replay-window", "replay_window"):
                kw["replay_window"] = _int(nxt)
                i += 2
            elif t == "esn":
                kw["esn"] = True
                i += 1
            elif t in ("seq-hi", "oseq-hi", "replay-seq-hi", "replay-oseq-hi"):
                seq_hi = max(seq_hi, _int(nxt))
                i += 2
            elif t == "enc":
                kw["encryption"] = canonical_encryption(nxt)
                # The kernel prints a zero-length key (ecb(cipher_null)) as nothing at all.
                key_tok = toks[i + 2] if i + 2 < len(toks) else ""
                if key_tok.startswith("0x") or key_tok in ('""', "''"):
                    kw["enc_key"] = _xfrm_key(key_tok)
                    i += 3
                else:
                    kw["enc_key"] = b""
                    i += 2
            elif t == "auth":
                kw["integrity"] = canonical_integrity(nxt)
                kw["auth_key"] = _xfrm_key(toks[i + 2])
                i += 3
            elif t == "auth-trunc":
                name, bits = nxt.lower(), _int(toks[i + 3])
                if (name, bits) not in _XFRM_AUTH_TRUNC:
                    raise UnsupportedAlgorithmError(
                        f"xfrm auth-trunc {name} {bits}; known: "
                        + ", ".join(f"{a} {b}" for a, b in _XFRM_AUTH_TRUNC)
                    )
                kw["integrity"] = _XFRM_AUTH_TRUNC[(name, bits)]
                kw["auth_key"] = _xfrm_key(toks[i + 2])
                i += 4
            elif t == "aead":
                name, bits = nxt.lower(), _int(toks[i + 3])
                enc = canonical_encryption(name)
                if enc.startswith(("AES-GCM", "AES-CCM")):
                    enc = f"{enc.rsplit('-', 1)[0]}-{bits // 8}"
                kw["encryption"] = enc
                kw["enc_key"] = _xfrm_key(toks[i + 2])
                i += 4
            elif t == "encap" and nxt == "type":  # display: encap type espinudp sport N dport N
                if toks[i + 2] == "espinudp":
                    kw["udp_encap"] = (_int(toks[i + 4]), _int(toks[i + 6]))
                i += 7
            elif t == "encap" and nxt == "espinudp":  # command: encap espinudp SPORT DPORT OADDR
                kw["udp_encap"] = (_int(toks[i + 2]), _int(toks[i + 3]))
                i += 5
            else:
                i += 1
    if spi is None:
        raise KeyFileError("no spi")
    if proto not in ("esp", "ah"):
        return None  # comp / route2 / hao states carry no keys we use
    kw.setdefault("encryption", "NULL")
    if proto == "ah":
        kw["encryption"] = "NULL"
        kw.pop("enc_key", None)
    if kw.get("esn"):
        kw["esn_high"] = seq_hi
    return SecurityAssociation(spi=spi, protocol=proto, **kw)


def format_xfrm_add(sa: SecurityAssociation) -> str:
    """An ``ip xfrm state add …`` command creating ``sa`` (needs concrete addresses)."""
    for a in (sa.src, sa.dst):
        if not a or "*" in a or "/" in a:
            raise UsageError(f"ip xfrm needs concrete addresses, not {a!r}")
    if sa.spi == ANY_SPI:
        raise UsageError("ip xfrm needs a concrete SPI")
    parts = [
        "ip xfrm state add",
        f"src {sa.src} dst {sa.dst} proto {sa.protocol} spi 0x{sa.spi:08x}",
        f"mode {sa.mode}",
    ]
    if sa.replay_window:
        parts.append(f"replay-window {sa.replay_window}")
    flags = []
    if sa.esn:
        flags.append("esn")
    if sa.protocol == "ah" and ":" not in sa.src:
        # RFC 4302 §3.3.3.2.1 aligns IPv4 AH to 32 bits (as build_ah does); Linux insists on
        # 64 bits unless the state carries `align4` (net/ipv4/ah4.c).
        flags.append("align4")
    if flags:
        parts.append("flag " + " ".join(flags))
    if sa.esn:
        if sa.esn_high:
            parts.append(f"replay-seq-hi {sa.esn_high} replay-oseq-hi {sa.esn_high}")
    enc = sa.enc_spec
    if sa.protocol == "esp":
        if enc.implicit_iv:
            raise UnsupportedAlgorithmError(f"Linux xfrm has no {sa.encryption} (RFC 8750)")
        if enc.aead:
            base = sa.encryption.rsplit("-", 1)[0] if enc.kind in ("gcm", "ccm") else sa.encryption
            parts.append(f"aead '{_XFRM_AEAD[base]}' 0x{sa.enc_key.hex()} {enc.icv_len * 8}")
        else:
            parts.append(f"enc '{_XFRM_ENC[sa.encryption]}' 0x{sa.enc_key.hex() or '00'}")
            if sa.encryption == "NULL" and not sa.enc_key:
                parts[-1] = "enc 'ecb(cipher_null)' \"\""
    if sa.integrity != "NONE":
        ints = sa.int_spec
        parts.append(
            f"auth-trunc '{_XFRM_AUTH[sa.integrity]}' 0x{sa.auth_key.hex()} {ints.icv_len * 8}"
        )
    if sa.udp_encap:
        parts.append(f"encap espinudp {sa.udp_encap[0]} {sa.udp_encap[1]} 0.0.0.0")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# project JSON
_FIELDS = {f.name for f in dataclasses.fields(SecurityAssociation)}


def parse_project(text: str) -> list[SecurityAssociation]:
    """SAs from the project's JSON format (see the module docstring)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyFileError(f"SA JSON: {exc}") from None
    if isinstance(data, dict):
        data = data.get("sas", [data])
    if not isinstance(data, list):
        raise KeyFileError("SA JSON must be a list of objects")
    out = []
    for n, obj in enumerate(data, 1):
        if not isinstance(obj, dict):
            raise KeyFileError(f"SA JSON entry {n} is not an object")
        unknown = set(obj) - _FIELDS
        if unknown:
            raise KeyFileError(f"SA JSON entry {n}: unknown fields {sorted(unknown)}")
        kw = dict(obj)
        _check_json_types(kw, n)
        try:
            if isinstance(kw.get("spi"), str):
                kw["spi"] = _spi(kw["spi"], n)
            for k in ("enc_key", "auth_key"):
                if k in kw:
                    v = str(kw[k])
                    kw[k] = bytes.fromhex(v[2:] if v[:2].lower() == "0x" else v)
            if kw.get("udp_encap") is not None:
                kw["udp_encap"] = tuple(kw["udp_encap"])
            out.append(SecurityAssociation(**kw))
        except UnsupportedAlgorithmError:
            raise
        except (UsageError, ValueError, TypeError) as exc:
            raise KeyFileError(f"SA JSON entry {n}: {exc}") from None
    return out


# JSON types each field may take (keys are hex strings, the SPI a number or "0x…" text).
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "spi": (int, str),
    "encryption": (str,),
    "enc_key": (str,),
    "integrity": (str,),
    "auth_key": (str,),
    "src": (str,),
    "dst": (str,),
    "protocol": (str,),
    "mode": (str,),
    "esn": (bool,),
    "esn_high": (int,),
    "replay_window": (int,),
    "udp_encap": (list, type(None)),
    "implicit_iv": (bool,),
}


def _check_json_types(kw: dict[str, object], n: int) -> None:
    for key, value in kw.items():
        allowed = _JSON_TYPES.get(key)
        if allowed is None:
            continue
        if not isinstance(value, allowed) or (bool in allowed) != isinstance(value, bool):
            raise KeyFileError(
                f"SA JSON entry {n}: {key} must be {' or '.join(t.__name__ for t in allowed)}"
            )
    encap = kw.get("udp_encap")
    if isinstance(encap, list) and (
        len(encap) != 2
        or not all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p < 65536 for p in encap)
    ):
        raise KeyFileError(f"SA JSON entry {n}: udp_encap must be [sport, dport]")


def format_project(sas: list[SecurityAssociation]) -> str:
    """The project's JSON for ``sas`` (round-trips through :func:`parse_project`)."""
    rows = []
    for sa in sas:
        d = dataclasses.asdict(sa)
        d["spi"] = "*" if sa.spi == ANY_SPI else f"0x{sa.spi:08x}"
        d["enc_key"] = sa.enc_key.hex()
        d["auth_key"] = sa.auth_key.hex()
        d["udp_encap"] = list(sa.udp_encap) if sa.udp_encap else None
        rows.append(d)
    return json.dumps(rows, indent=2) + "\n"


# ---------------------------------------------------------------------------------------------
def parse_sa_text(text: str, *, warnings_out: list[str] | None = None) -> list[SecurityAssociation]:
    """Detect the format of ``text`` (JSON, xfrm, esp_sa) and parse it."""
    s = text.lstrip("\ufeff").strip()
    if s.startswith(("[", "{")):
        return parse_project(s)
    if re.search(r"^\s*(ip\s+(xfrm|x)\s+(state|s)\s+\w+\s+)?src\s+\S+\s+dst\s+\S+", s, re.M):
        return parse_xfrm_state(s)
    return parse_esp_sa(s, warnings_out=warnings_out)


def load_sa_file(
    path: str | os.PathLike[str], *, warnings_out: list[str] | None = None
) -> list[SecurityAssociation]:
    """SAs from a file in any supported format (auto-detected); KeyFileError if unreadable."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not UTF-8 text") from None
    try:
        return parse_sa_text(text, warnings_out=warnings_out)
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None
