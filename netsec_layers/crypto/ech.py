"""TLS Encrypted Client Hello (RFC 9849): open ClientHelloOuter, rebuild ClientHelloInner.

Bytes in, bytes out, no Scapy (the Scapy view of the same structures is
:mod:`netsec_layers.layers.tls.ech`).  A passive decoder does not hold the server's ECH private
key; what it gets is an RFC 9850 key log: ``ECH_SECRET`` (the HPKE KEM shared secret) and
``ECH_CONFIG`` (the ECHConfig the client used), both keyed by ClientHelloOuter.random.  From them:

1. ``info = "tls ech" || 0x00 || ECHConfig`` and the HPKE Base key schedule (RFC 9849 §6.1,
   RFC 9180 §5.1) give the AEAD context, without any KEM step;
2. the payload opens with ClientHelloOuterAAD as associated data: the ClientHelloOuter body
   with the payload bytes replaced by zeros (§5.2);
3. EncodedClientHelloInner becomes ClientHelloInner (§5.1): legacy_session_id copied from the
   outer hello, ``ech_outer_extensions`` expanded from the outer hello's extensions, the zero
   padding dropped;
4. whether the server accepted ECH is its ServerHello.random's last 8 bytes (§7.2):
   :func:`accept_confirmation`.

Every function raises only :class:`~netsec_layers.errors.NetsecError` subclasses: ParseError for
bytes that do not decode, IntegrityError when the payload does not authenticate,
:class:`ECHConfigMismatchError` when the logged ECHConfig cannot be the one used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netsec_layers.crypto.hpke import HPKEContext, HPKESuite, key_schedule_base
from netsec_layers.crypto.tls13 import hkdf_expand_label, hkdf_extract
from netsec_layers.crypto.tls_vectors import VectorReader
from netsec_layers.errors import KeyUnavailableError, NetsecError, ParseError

__all__ = [
    "ECH_OUTER_EXTENSIONS",
    "ECH_VERSION",
    "EXT_ENCRYPTED_CLIENT_HELLO",
    "ECHClientHello",
    "ECHConfig",
    "ECHConfigMismatchError",
    "ECHServerKey",
    "accept_confirmation",
    "client_hello_outer_aad",
    "decode_client_hello_inner",
    "load_ech_pem",
    "open_client_hello",
    "open_client_hello_with_key",
    "parse_ech_client_hello",
    "parse_ech_config",
    "parse_ech_config_list",
]

EXT_ENCRYPTED_CLIENT_HELLO = 0xFE0D  # RFC 9849 §11.1
ECH_OUTER_EXTENSIONS = 0xFD00
ECH_VERSION = 0xFE0D  # ECHConfig.version of RFC 9849
ECH_TYPE_OUTER, ECH_TYPE_INNER = 0, 1
_INFO_PREFIX = b"tls ech\x00"  # §6.1
_ACCEPT_LABEL = b"ech accept confirmation"  # §7.2


class ECHConfigMismatchError(KeyUnavailableError):
    """The logged ECHConfig does not match the extension (config_id, or a cipher suite it does
    not offer, RFC 9849 §6.1): the payload cannot have been sealed under it."""


# -- ECHConfig (RFC 9849 §4) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ECHConfig:
    """One ECHConfig; ``raw`` is the whole structure (version and length included): the bytes
    that enter the HPKE ``info``."""

    raw: bytes
    version: int
    config_id: int
    kem_id: int
    public_key: bytes
    cipher_suites: tuple[tuple[int, int], ...]  # (kdf_id, aead_id)
    maximum_name_length: int
    public_name: bytes
    extensions: tuple[tuple[int, bytes], ...]


def _parse_one_config(r: VectorReader) -> ECHConfig:
    start = r.pos
    version = r.u16()
    contents = r.vec16()
    raw = r.data[start : r.pos]
    if version != ECH_VERSION:
        raise ParseError(f"ECHConfig version 0x{version:04x} is not RFC 9849's 0xfe0d")
    c = VectorReader(contents, what="ECHConfigContents")
    config_id, kem_id = c.u8(), c.u16()
    public_key = c.vec16()
    suites_raw = c.vec16()
    if not public_key or len(suites_raw) < 4 or len(suites_raw) % 4:
        raise ParseError("ECHConfig: empty public_key or bad cipher_suites length")
    suites = tuple(
        (
            int.from_bytes(suites_raw[i : i + 2], "big"),
            int.from_bytes(suites_raw[i + 2 : i + 4], "big"),
        )
        for i in range(0, len(suites_raw), 4)
    )
    max_name = c.u8()
    public_name = c.vec8()
    if not public_name:
        raise ParseError("ECHConfig: empty public_name")
    ext_cursor = VectorReader(c.vec16(), what="ECHConfig extensions")
    exts: list[tuple[int, bytes]] = []
    while ext_cursor.left():
        exts.append((ext_cursor.u16(), ext_cursor.vec16()))
    if c.left():
        raise ParseError(f"ECHConfigContents: {c.left()} trailing bytes")
    return ECHConfig(
        raw, version, config_id, kem_id, public_key, suites, max_name, public_name, tuple(exts)
    )


def parse_ech_config(data: bytes) -> ECHConfig:
    """One ECHConfig, exactly ``data`` (an RFC 9850 ``ECH_CONFIG`` value)."""
    r = VectorReader(bytes(data), what="ECHConfig")
    cfg = _parse_one_config(r)
    if r.left():
        raise ParseError(f"ECHConfig: {r.left()} trailing bytes")
    return cfg


def parse_ech_config_list(data: bytes) -> list[ECHConfig]:
    """ECHConfigList (§4): configs of versions other than 0xfe0d are skipped, as §4 asks
    clients to; ParseError if the list itself is malformed."""
    r = VectorReader(bytes(data), what="ECHConfigList")
    body = VectorReader(r.vec16(), what="ECHConfigList")
    if r.left():
        raise ParseError(f"ECHConfigList: {r.left()} trailing bytes")
    out: list[ECHConfig] = []
    while body.left():
        if (
            body.left() >= 2
            and int.from_bytes(body.data[body.pos : body.pos + 2], "big") != ECH_VERSION
        ):
            body.u16()
            body.vec16()
            continue
        out.append(_parse_one_config(body))
    return out


# -- a server's ECH key file (draft-farrell-tls-pemesni) --------------------------------------------


@dataclass(frozen=True, slots=True)
class ECHServerKey:
    """One ECHConfig with the private key of its public key: what a server decrypts with."""

    config: ECHConfig
    private_key: bytes  # raw KEM private key (RFC 9180 §7.1.2 SerializePrivateKey)
    source: str


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)


def load_ech_pem(text: str, source: str = "ECH key file") -> list[ECHServerKey]:
    """The ECH key file servers use (OpenSSL's ECH builds, nginx, HAProxy, lighttpd:
    draft-farrell-tls-pemesni): a PKCS#8 ``PRIVATE KEY`` block and an ``ECHCONFIG`` block (the
    base64 ECHConfigList, length included).  Every ECHConfig of the list whose public key is the
    private key's is returned; :class:`ParseError` for a file that is not one."""
    import base64
    import binascii

    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519

    from netsec_layers.crypto.hpke import kem_supported, public_key_of

    blocks = [(m.group(1), m.group(2)) for m in _PEM_BLOCK.finditer(text)]
    keys = [b for name, b in blocks if name == "PRIVATE KEY"]
    lists = [b for name, b in blocks if name == "ECHCONFIG"]
    if len(keys) != 1 or len(lists) != 1:
        raise ParseError(
            f"{source}: an ECH key file has one PRIVATE KEY and one ECHCONFIG PEM block "
            f"(found {len(keys)} and {len(lists)})"
        )
    try:
        configs = parse_ech_config_list(base64.b64decode("".join(lists[0].split()), validate=True))
        pem = f"-----BEGIN PRIVATE KEY-----\n{keys[0]}\n-----END PRIVATE KEY-----\n"
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (binascii.Error, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ParseError(f"{source}: {(str(exc) or type(exc).__name__).splitlines()[0]}") from None
    if isinstance(key, x25519.X25519PrivateKey | x448.X448PrivateKey):
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        raw = key.private_numbers().private_value.to_bytes((key.curve.key_size + 7) // 8, "big")
    else:
        raise ParseError(f"{source}: the private key is not an X25519, X448 or EC key")
    out = []
    for cfg in configs:
        if not kem_supported(cfg.kem_id):
            continue
        try:
            mine = public_key_of(cfg.kem_id, raw) == cfg.public_key
        except NetsecError:  # a key of another KEM's type
            mine = False
        if mine:
            out.append(ECHServerKey(cfg, raw, source))
    if not out:
        raise ParseError(f"{source}: no ECHConfig of the list has this private key's public key")
    return out


def open_client_hello_with_key(
    client_hello: bytes, key: ECHServerKey
) -> tuple[bytes, HPKEContext, bytes]:
    """Open a ClientHelloOuter as its server does: DHKEM Decap of the extension's ``enc`` with
    the ECHConfig's private key (RFC 9180 §4.1), then :func:`open_client_hello`.  Returns the
    EncodedClientHelloInner, the HPKE context and the shared secret (what the server would log
    as ``ECH_SECRET``).  :class:`ECHConfigMismatchError` when the extension names another
    config_id."""
    from netsec_layers.crypto.hpke import kem_decap

    body = _message_body(client_hello)
    ech, _ = _outer_extension(_layout(body, "ClientHelloOuter"))
    if ech.config_id != key.config.config_id:
        raise ECHConfigMismatchError(
            f"the key's ECHConfig has config_id {key.config.config_id}, the extension "
            f"{ech.config_id}"
        )
    shared = kem_decap(key.config.kem_id, enc=ech.enc, private_key=key.private_key)  # ParseError
    encoded, ctx = open_client_hello(client_hello, shared_secret=shared, ech_config=key.config.raw)
    return encoded, ctx, shared


# -- the ClientHello extension (§5) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ECHClientHello:
    """The encrypted_client_hello extension of a ClientHello.  For the outer form,
    ``payload_offset`` is where the payload starts inside the extension body."""

    ech_type: int
    kdf_id: int = 0
    aead_id: int = 0
    config_id: int = 0
    enc: bytes = b""
    payload: bytes = b""
    payload_offset: int = 0


def parse_ech_client_hello(body: bytes) -> ECHClientHello:
    """The extension body (after type and length) of ECHClientHello (§5)."""
    r = VectorReader(bytes(body), what="encrypted_client_hello")
    ech_type = r.u8()
    if ech_type == ECH_TYPE_INNER:
        if r.left():
            raise ParseError("encrypted_client_hello(inner) is not empty")
        return ECHClientHello(ECH_TYPE_INNER)
    if ech_type != ECH_TYPE_OUTER:
        raise ParseError(f"encrypted_client_hello: unknown type {ech_type}")
    kdf_id, aead_id, config_id = r.u16(), r.u16(), r.u8()
    enc = r.vec16()
    n = r.u16()
    offset = r.pos
    payload = r.take(n)
    if not payload:
        raise ParseError("encrypted_client_hello: empty payload")
    if r.left():
        raise ParseError(f"encrypted_client_hello: {r.left()} trailing bytes")
    return ECHClientHello(ECH_TYPE_OUTER, kdf_id, aead_id, config_id, enc, payload, offset)


@dataclass(frozen=True, slots=True)
class _HelloLayout:
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: bytes
    compression: bytes
    extensions: tuple[tuple[int, bytes, int], ...]  # (type, body, offset of body in the CH body)
    end: int  # end of the extensions block in the body


def _layout(body: bytes, what: str) -> _HelloLayout:
    r = VectorReader(body, what=what)
    version, random = r.u16(), r.take(32)
    sid, suites, comp = r.vec8(), r.vec16(), r.vec8()
    n = r.u16()
    end = r.pos + n
    if end > len(body):
        raise ParseError(f"{what}: extensions truncated")
    exts: list[tuple[int, bytes, int]] = []
    while r.pos < end:
        etype = r.u16()
        elen = r.u16()
        if r.pos + elen > end:
            raise ParseError(f"{what}: extension 0x{etype:04x} overruns the block")
        exts.append((etype, r.take(elen), r.pos - elen))
    return _HelloLayout(version, random, sid, suites, comp, tuple(exts), end)


def _message_body(msg: bytes) -> bytes:
    if len(msg) < 4 or msg[0] != 1 or int.from_bytes(msg[1:4], "big") != len(msg) - 4:
        raise ParseError("not one whole ClientHello handshake message")
    return bytes(msg[4:])


def _outer_extension(layout: _HelloLayout) -> tuple[ECHClientHello, int]:
    found = [(b, off) for t, b, off in layout.extensions if t == EXT_ENCRYPTED_CLIENT_HELLO]
    if len(found) != 1:
        raise ParseError(f"ClientHelloOuter carries {len(found)} encrypted_client_hello extensions")
    body, off = found[0]
    ech = parse_ech_client_hello(body)
    if ech.ech_type != ECH_TYPE_OUTER:
        raise ParseError("encrypted_client_hello is not of the outer type")
    return ech, off + ech.payload_offset


def client_hello_outer_aad(client_hello: bytes) -> bytes:
    """ClientHelloOuterAAD (§5.2): the ClientHelloOuter body (no handshake header) with the
    ECH payload replaced by as many zero bytes."""
    body = _message_body(client_hello)
    ech, at = _outer_extension(_layout(body, "ClientHelloOuter"))
    n = len(ech.payload)
    return body[:at] + bytes(n) + body[at + n :]


def open_client_hello(
    client_hello: bytes, *, shared_secret: bytes, ech_config: bytes
) -> tuple[bytes, HPKEContext]:
    """Open the ECH payload of a ClientHelloOuter message (header included) with an RFC 9850
    ``ECH_SECRET`` and ``ECH_CONFIG``: ``(EncodedClientHelloInner, the HPKE context)``.

    The context (its sequence number now 1) opens the second ClientHelloOuter after a
    HelloRetryRequest (§6.1.5)."""
    body = _message_body(client_hello)
    ech, at = _outer_extension(_layout(body, "ClientHelloOuter"))
    cfg = parse_ech_config(ech_config)
    if cfg.config_id != ech.config_id:
        raise ECHConfigMismatchError(
            f"ECH_CONFIG has config_id {cfg.config_id}, the extension {ech.config_id}"
        )
    if (ech.kdf_id, ech.aead_id) not in cfg.cipher_suites:
        raise ECHConfigMismatchError(
            f"ECH_CONFIG does not offer the extension's cipher suite "
            f"(KDF 0x{ech.kdf_id:04x}, AEAD 0x{ech.aead_id:04x})"
        )
    suite = HPKESuite(cfg.kem_id, ech.kdf_id, ech.aead_id)
    if ech.enc and len(ech.enc) != suite.n_enc:
        raise ParseError(f"ECH enc of {len(ech.enc)} bytes, KEM needs {suite.n_enc}")
    ctx = key_schedule_base(suite, shared_secret=bytes(shared_secret), info=_INFO_PREFIX + cfg.raw)
    n = len(ech.payload)
    aad = body[:at] + bytes(n) + body[at + n :]
    return ctx.open(aad=aad, ciphertext=ech.payload), ctx


def open_second_client_hello(client_hello: bytes, *, context: HPKEContext) -> bytes:
    """The ClientHelloOuter sent after a HelloRetryRequest: empty ``enc``, the first hello's
    HPKE context continues (§6.1.5)."""
    body = _message_body(client_hello)
    ech, at = _outer_extension(_layout(body, "ClientHelloOuter"))
    if ech.enc:
        raise ParseError("second ClientHelloOuter carries a non-empty enc")
    n = len(ech.payload)
    return context.open(aad=body[:at] + bytes(n) + body[at + n :], ciphertext=ech.payload)


def decode_client_hello_inner(encoded: bytes, *, client_hello_outer: bytes) -> bytes:
    """ClientHelloInner as a whole handshake message, from EncodedClientHelloInner (§5.1)."""
    outer = _layout(_message_body(client_hello_outer), "ClientHelloOuter")
    inner = _layout(bytes(encoded), "EncodedClientHelloInner")
    if inner.session_id:
        raise ParseError("EncodedClientHelloInner has a non-empty legacy_session_id")
    padding = encoded[inner.end :]
    if padding.count(0) != len(padding):
        raise ParseError("EncodedClientHelloInner padding is not all zeros")
    outer_exts = [(t, b) for t, b, _ in outer.extensions]
    pos = 0  # referenced extensions must follow the outer order (§5.1)
    exts: list[tuple[int, bytes]] = []
    seen_inner_marker = False
    for etype, ebody, _ in inner.extensions:
        if etype == EXT_ENCRYPTED_CLIENT_HELLO:
            seen_inner_marker = parse_ech_client_hello(ebody).ech_type == ECH_TYPE_INNER
        if etype != ECH_OUTER_EXTENSIONS:
            exts.append((etype, ebody))
            continue
        r = VectorReader(ebody, what="ech_outer_extensions")
        refs = r.vec8()
        if r.left() or len(refs) < 2 or len(refs) % 2:
            raise ParseError("ech_outer_extensions: bad OuterExtensions vector")
        for i in range(0, len(refs), 2):
            want = int.from_bytes(refs[i : i + 2], "big")
            if want == EXT_ENCRYPTED_CLIENT_HELLO:
                raise ParseError("ech_outer_extensions references encrypted_client_hello")
            while pos < len(outer_exts) and outer_exts[pos][0] != want:
                pos += 1
            if pos == len(outer_exts):
                raise ParseError(
                    f"ech_outer_extensions: 0x{want:04x} not in ClientHelloOuter (in order)"
                )
            exts.append(outer_exts[pos])
            pos += 1
    if not seen_inner_marker:
        raise ParseError("ClientHelloInner lacks encrypted_client_hello(inner)")
    types = [t for t, _ in exts]
    if len(types) != len(set(types)):
        raise ParseError("ClientHelloInner has a duplicated extension")
    block = b"".join(t.to_bytes(2, "big") + len(b).to_bytes(2, "big") + b for t, b in exts)
    body = (
        inner.legacy_version.to_bytes(2, "big")
        + inner.random
        + bytes((len(outer.session_id),))
        + outer.session_id
        + len(inner.cipher_suites).to_bytes(2, "big")
        + inner.cipher_suites
        + bytes((len(inner.compression),))
        + inner.compression
        + len(block).to_bytes(2, "big")
        + block
    )
    if len(block) > 0xFFFF or len(body) > 0xFFFFFF:
        raise ParseError("ClientHelloInner too large")
    return b"\x01" + len(body).to_bytes(3, "big") + body


def accept_confirmation(hash_name: str, *, inner_random: bytes, transcript_hash: bytes) -> bytes:
    """The 8 bytes a server accepting ECH puts at the end of ServerHello.random (§7.2):
    HKDF-Expand-Label(HKDF-Extract(0, ClientHelloInner.random), "ech accept confirmation",
    transcript_ech_conf, 8); ``transcript_hash`` covers ClientHelloInner up to the ServerHello
    with those 8 bytes zeroed."""
    prk = hkdf_extract(hash_name, salt=b"", ikm=bytes(inner_random))
    return hkdf_expand_label(
        hash_name, secret=prk, label=_ACCEPT_LABEL, context=transcript_hash, length=8
    )


def server_hello_for_confirmation(server_hello: bytes) -> bytes:
    """The ServerHello message with the last 8 bytes of its random set to zero (§7.2)."""
    if len(server_hello) < 38:
        raise ParseError("ServerHello too short")
    return server_hello[:30] + bytes(8) + server_hello[38:]
