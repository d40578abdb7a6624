"""Fast, struct-level reading of the handshake fields the connection tracker needs.

This is the per-record hot path of ``netsec dissect``/``decrypt``: it never builds Scapy objects.
It extracts only what key derivation and the summary need (versions, randoms, session ids,
cipher suite, a few extensions, the RSA-encrypted pre-master); the full field-by-field view is
the Scapy layer family in :mod:`netsec_layers.layers.tls`.

Every function here takes untrusted bytes and raises only :class:`~netsec_layers.errors.ParseError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from netsec_layers.constants.tls import HRR_RANDOM  # RFC 8446 §4.1.3
from netsec_layers.crypto.tls_vectors import VectorReader
from netsec_layers.errors import ParseError

HT_HELLO_REQUEST = 0
HT_CLIENT_HELLO = 1
HT_SERVER_HELLO = 2
HT_NEW_SESSION_TICKET = 4
HT_END_OF_EARLY_DATA = 5
HT_ENCRYPTED_EXTENSIONS = 8
HT_CERTIFICATE = 11
HT_SERVER_KEY_EXCHANGE = 12
HT_CERTIFICATE_REQUEST = 13
HT_SERVER_HELLO_DONE = 14
HT_CERTIFICATE_VERIFY = 15
HT_CLIENT_KEY_EXCHANGE = 16
HT_FINISHED = 20
HT_KEY_UPDATE = 24
HT_MESSAGE_HASH = 254

EXT_SERVER_NAME = 0
EXT_MAX_FRAGMENT_LENGTH = 1
EXT_ALPN = 16
EXT_ENCRYPT_THEN_MAC = 22
EXT_EXTENDED_MASTER_SECRET = 23
EXT_RECORD_SIZE_LIMIT = 28  # RFC 8449
EXT_SESSION_TICKET = 35
EXT_PRE_SHARED_KEY = 41
EXT_EARLY_DATA = 42
EXT_SUPPORTED_VERSIONS = 43
EXT_KEY_SHARE = 51

_U16 = struct.Struct("!H")


def split_messages(buf: bytes | bytearray) -> tuple[list[tuple[int, bytes]], int]:
    """Split complete handshake messages off the front of ``buf``.

    Returns ``([(msg_type, whole_message_bytes), ...], consumed)``; an incomplete message at the
    end is left for the caller to complete with the next record (RFC 8446 §5.1: a handshake
    message may span records).
    """
    out: list[tuple[int, bytes]] = []
    pos = 0
    n = len(buf)
    while n - pos >= 4:
        length = (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]
        end = pos + 4 + length
        if end > n:
            break
        out.append((buf[pos], bytes(buf[pos:end])))
        pos = end
    return out, pos


def iter_extensions(block: bytes) -> Iterator[tuple[int, bytes]]:
    r = VectorReader(block)
    while r.left() > 0:
        etype = r.u16()
        yield etype, r.vec16()


@dataclass(slots=True)
class Hello:
    """What the tracker keeps of a ClientHello or ServerHello."""

    is_client: bool
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: list[int] = field(default_factory=list)  # ClientHello
    cipher_suite: int | None = None  # ServerHello
    extensions: dict[int, bytes] = field(default_factory=dict)
    extension_order: list[int] = field(default_factory=list)
    compression_method: int = 0  # ServerHello: the method chosen (0 = null)

    @property
    def is_hrr(self) -> bool:
        return not self.is_client and self.random == HRR_RANDOM

    def selected_version(self) -> int:
        """The negotiated version a ServerHello announces (RFC 8446 §4.2.1)."""
        sv = self.extensions.get(EXT_SUPPORTED_VERSIONS)
        if not self.is_client and sv is not None and len(sv) == 2:
            return int.from_bytes(sv, "big")
        return self.legacy_version

    def sni(self) -> str | None:
        data = self.extensions.get(EXT_SERVER_NAME)
        if not data:
            return None
        try:
            r = VectorReader(VectorReader(data).vec16())
            while r.left() > 0:
                name_type = r.u8()
                name = r.vec16()
                if name_type == 0:
                    return name.decode("ascii", "replace")
        except ParseError:
            return None
        return None

    def alpn(self) -> list[str]:
        data = self.extensions.get(EXT_ALPN)
        if not data:
            return []
        out = []
        try:
            r = VectorReader(VectorReader(data).vec16())
            while r.left() > 0:
                out.append(r.vec8().decode("ascii", "replace"))
        except ParseError:
            pass
        return out


def parse_hello(msg: bytes) -> Hello:
    """Parse a whole ClientHello (type 1) or ServerHello (type 2) message, header included."""
    mtype = msg[0]
    r = VectorReader(msg, 4)
    legacy_version = r.u16()
    random = r.take(32)
    session_id = r.vec8()
    h = Hello(mtype == HT_CLIENT_HELLO, legacy_version, random, session_id)
    if h.is_client:
        suites = r.vec16()
        h.cipher_suites = [
            int.from_bytes(suites[i : i + 2], "big") for i in range(0, len(suites) - 1, 2)
        ]
        r.vec8()  # compression methods
    else:
        h.cipher_suite = r.u16()
        h.compression_method = r.u8()
    if r.left() >= 2:
        for etype, edata in iter_extensions(r.vec16()):
            h.extension_order.append(etype)
            h.extensions.setdefault(etype, edata)
    return h


def parse_sslv2_client_hello(data: bytes) -> tuple[Hello, int] | None:
    """Recognise an SSLv2-compatible ClientHello (RFC 5246 Appendix E.2).

    Returns the hello (challenge right-aligned into a 32-byte random) and the header+body length,
    or None if ``data`` does not start with one.
    """
    if len(data) < 11 or not data[0] & 0x80 or data[2] != 1 or data[3] not in (2, 3):
        return None
    length = ((data[0] & 0x7F) << 8) | data[1]
    if len(data) < 2 + length:
        return None
    version = _U16.unpack_from(data, 3)[0]
    cs_len, sid_len, ch_len = struct.unpack_from("!HHH", data, 5)
    if 9 + cs_len + sid_len + ch_len > 2 + length or not 16 <= ch_len <= 32 or cs_len % 3:
        return None
    body = data[11 : 2 + length]
    specs = body[:cs_len]
    sid = body[cs_len : cs_len + sid_len]
    challenge = body[cs_len + sid_len : cs_len + sid_len + ch_len]
    suites = [int.from_bytes(specs[i : i + 3], "big") for i in range(0, cs_len, 3)]
    h = Hello(True, version, challenge.rjust(32, b"\0"), sid)
    h.cipher_suites = [s for s in suites if s < 0x10000]
    return h, 2 + length


def parse_rsa_encrypted_pre_master(msg: bytes, version: int) -> bytes:
    """The EncryptedPreMasterSecret of an RSA ClientKeyExchange (RFC 5246 §7.4.7.1).

    TLS carries a 2-byte length; SSL 3.0 does not (RFC 6101 §5.6.7.1).
    """
    body = msg[4:]
    if version == 0x0300:
        return body
    r = VectorReader(body)
    return r.vec16()


def parse_key_update(msg: bytes) -> int:
    """request_update of a KeyUpdate (RFC 8446 §4.6.3)."""
    if len(msg) != 5:
        raise ParseError("KeyUpdate body must be one byte")
    return msg[4]


def parse_new_session_ticket(msg: bytes, version: int) -> bytes:
    """The ticket bytes of a NewSessionTicket (RFC 5077 §3.3 for ≤1.2, RFC 8446 §4.6.1)."""
    r = VectorReader(msg, 4)
    if version >= 0x0304:
        r.take(8)  # lifetime, age_add
        r.vec8()  # nonce
        return r.vec16()
    r.take(4)  # lifetime hint
    return r.vec16()


def parse_first_certificate(msg: bytes, *, tls13: bool) -> bytes | None:
    """The end-entity certificate (DER) of a Certificate message (RFC 5246 §7.4.2, RFC 8446 §4.4.2)."""
    r = VectorReader(msg, 4)
    if tls13:
        r.vec8()  # certificate_request_context
    chain = r.take(int.from_bytes(r.take(3), "big"))
    if len(chain) < 3:
        return None
    cr = VectorReader(chain)
    return cr.take(int.from_bytes(cr.take(3), "big"))


def parse_certificate_chain(msg: bytes, *, tls13: bool) -> list[bytes]:
    """Every certificate (DER, leaf first) of a Certificate message (RFC 5246 §7.4.2, RFC 8446
    §4.4.2: TLS 1.3 entries carry extensions after each certificate)."""
    r = VectorReader(msg, 4)
    if tls13:
        r.vec8()  # certificate_request_context
    chain = VectorReader(r.take(int.from_bytes(r.take(3), "big")))
    out = []
    while chain.left() > 0:
        out.append(chain.take(int.from_bytes(chain.take(3), "big")))
        if tls13:
            chain.vec16()  # CertificateEntry extensions
    return out


def parse_encrypted_extensions(msg: bytes) -> Hello:
    """The extensions of a TLS 1.3 EncryptedExtensions message (RFC 8446 §4.3.1), as a server
    :class:`Hello` with no other field."""
    h = Hello(False, 0, b"", b"")
    for etype, edata in iter_extensions(VectorReader(msg, 4).vec16()):
        h.extension_order.append(etype)
        h.extensions.setdefault(etype, edata)
    return h
