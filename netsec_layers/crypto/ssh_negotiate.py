"""SSH algorithm negotiation (RFC 4253 §7.1) and the KEXINIT fields it needs, read with plain
byte slicing so the tracker needs no Scapy.  Pure functions on bytes; no cryptography here."""

from __future__ import annotations

from dataclasses import dataclass

from netsec_layers.errors import ParseError

STRICT_KEX_CLIENT = "kex-strict-c-v00@openssh.com"
STRICT_KEX_SERVER = "kex-strict-s-v00@openssh.com"
# pseudo-algorithms that only signal support (RFC 8308 §2.1, OpenSSH PROTOCOL §1.9/§1.10)
_MARKERS = ("ext-info-c", "ext-info-s", "kex-strict-", "ext-info-in-auth@openssh.com")


@dataclass(frozen=True, slots=True)
class KexInit:
    """The parts of an SSH_MSG_KEXINIT payload (RFC 4253 §7.1)."""

    payload: bytes  # the whole payload, message number included (I_C / I_S of H)
    cookie: bytes
    lists: tuple[tuple[str, ...], ...]  # the ten name-lists in wire order
    first_kex_packet_follows: bool

    @property
    def kex_algorithms(self) -> tuple[str, ...]:
        return self.lists[0]


def parse_kexinit(payload: bytes) -> KexInit:
    """Parse a KEXINIT payload (:class:`ParseError` if it is not one)."""
    if len(payload) < 17 or payload[0] != 20:
        raise ParseError("not a KEXINIT")
    pos = 17
    lists: list[tuple[str, ...]] = []
    for _ in range(10):
        if pos + 4 > len(payload):
            raise ParseError("KEXINIT truncated")
        n = int.from_bytes(payload[pos : pos + 4], "big")
        if pos + 4 + n > len(payload):
            raise ParseError("KEXINIT name-list overruns the payload")
        raw = payload[pos + 4 : pos + 4 + n].decode("latin-1")
        lists.append(tuple(raw.split(",")) if raw else ())
        pos += 4 + n
    if pos + 5 > len(payload):
        raise ParseError("KEXINIT truncated")
    return KexInit(payload, payload[1:17], tuple(lists), payload[pos] != 0)


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The algorithms both sides chose (RFC 4253 §7.1)."""

    kex: str
    host_key: str
    cipher_c2s: str
    cipher_s2c: str
    mac_c2s: str | None  # None when the cipher is an AEAD (the MAC list is not used)
    mac_s2c: str | None
    compression_c2s: str
    compression_s2c: str
    strict: bool  # both sides offered strict KEX (OpenSSH PROTOCOL §1.10)


def _first_common(client: tuple[str, ...], server: tuple[str, ...], what: str) -> str:
    for name in client:
        if name in server and not name.startswith(_MARKERS):
            return name
    raise ParseError(f"no common {what} algorithm")


_AEAD = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com")


def negotiate(client: KexInit, server: KexInit) -> Negotiated:
    """The first algorithm of the client's list that the server also lists, per category."""
    c, s = client.lists, server.lists
    enc_c2s = _first_common(c[2], s[2], "cipher c2s")
    enc_s2c = _first_common(c[3], s[3], "cipher s2c")
    mac_c2s = None if enc_c2s in _AEAD else _first_common(c[4], s[4], "MAC c2s")
    mac_s2c = None if enc_s2c in _AEAD else _first_common(c[5], s[5], "MAC s2c")
    return Negotiated(
        kex=_first_common(c[0], s[0], "key exchange"),
        host_key=_first_common(c[1], s[1], "host key"),
        cipher_c2s=enc_c2s,
        cipher_s2c=enc_s2c,
        mac_c2s=mac_c2s,
        mac_s2c=mac_s2c,
        compression_c2s=_first_common(c[6], s[6], "compression c2s"),
        compression_s2c=_first_common(c[7], s[7], "compression s2c"),
        strict=STRICT_KEX_CLIENT in c[0] and STRICT_KEX_SERVER in s[0],
    )


def read_strings(payload: bytes, pos: int, count: int) -> list[bytes]:
    """``count`` SSH strings from ``payload[pos:]`` (:class:`ParseError` if they overrun)."""
    out = []
    for _ in range(count):
        if pos + 4 > len(payload):
            raise ParseError("string length truncated")
        n = int.from_bytes(payload[pos : pos + 4], "big")
        if pos + 4 + n > len(payload):
            raise ParseError("string overruns the message")
        out.append(payload[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out
