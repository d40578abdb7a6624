"""A test-side ECH client, written from RFC 9849 on pyhpke (not on netsec_layers.crypto).

It turns a real ClientHello into a ClientHelloOuter that carries it encrypted (§5, §6.1): the
real hello is ClientHelloInner, so the server that answered it (a real OpenSSL through Python
``ssl``) ran the handshake of an ECH server that accepted.  Nothing here imports netsec_layers;
the structures are packed by hand from the RFC's presentation language.

``real_peer_session`` runs that real peer pair with the ClientHelloInner marker extension
(``encrypted_client_hello`` of type inner, §5) added to the client's hello through OpenSSL's own
custom-extension API (``SSL_CTX_add_custom_ext``, reached with ctypes): OpenSSL 3.0 has no ECH,
but this way the hello it sends *is* a well-formed ClientHelloInner and the transcript both
peers hashed is the inner one.
"""

from __future__ import annotations

import ctypes
import os
import ssl
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyhpke import AEADId, CipherSuite, KDFId, KEMId

ECH = 0xFE0D
OUTER_EXTENSIONS = 0xFD00
SERVER_NAME = 0


def vec(data: bytes, n: int) -> bytes:
    return len(data).to_bytes(n, "big") + data


def ext(etype: int, body: bytes) -> bytes:
    return struct.pack("!HH", etype, len(body)) + body


def make_ech_config(
    *,
    config_id: int,
    kem_id: int,
    public_key: bytes,
    suites: list[tuple[int, int]],
    public_name: bytes = b"public.example",
    max_name_length: int = 0,
) -> bytes:
    """ECHConfig (RFC 9849 §4), version 0xfe0d."""
    key_config = (
        bytes((config_id,))
        + kem_id.to_bytes(2, "big")
        + vec(public_key, 2)
        + vec(b"".join(struct.pack("!HH", k, a) for k, a in suites), 2)
    )
    contents = key_config + bytes((max_name_length,)) + vec(public_name, 1) + vec(b"", 2)
    return struct.pack("!H", ECH) + vec(contents, 2)


@dataclass
class Hello:
    version: int
    random: bytes
    session_id: bytes
    suites: bytes
    compression: bytes
    extensions: list[tuple[int, bytes]]


def parse_client_hello(msg: bytes) -> Hello:
    assert msg[0] == 1 and int.from_bytes(msg[1:4], "big") == len(msg) - 4
    b, p = msg[4:], 0
    version = int.from_bytes(b[0:2], "big")
    random = b[2:34]
    p = 34
    sid = b[p + 1 : p + 1 + b[p]]
    p += 1 + b[p]
    n = int.from_bytes(b[p : p + 2], "big")
    suites = b[p + 2 : p + 2 + n]
    p += 2 + n
    comp = b[p + 1 : p + 1 + b[p]]
    p += 1 + b[p]
    end = p + 2 + int.from_bytes(b[p : p + 2], "big")
    p += 2
    exts = []
    while p < end:
        t, n = struct.unpack_from("!HH", b, p)
        exts.append((t, b[p + 4 : p + 4 + n]))
        p += 4 + n
    return Hello(version, random, sid, suites, comp, exts)


def client_hello_body(h: Hello, exts: list[tuple[int, bytes]]) -> bytes:
    return (
        struct.pack("!H", h.version)
        + h.random
        + vec(h.session_id, 1)
        + vec(h.suites, 2)
        + vec(h.compression, 1)
        + vec(b"".join(ext(t, x) for t, x in exts), 2)
    )


def handshake(body: bytes, mtype: int = 1) -> bytes:
    return bytes((mtype,)) + len(body).to_bytes(3, "big") + body


def record(msg: bytes, ctype: int = 22, version: int = 0x0301) -> bytes:
    return struct.pack("!BHH", ctype, version, len(msg)) + msg


@dataclass
class ECHKeys:
    suite: Any  # pyhpke CipherSuite
    kem_id: int
    kdf_id: int
    aead_id: int
    sk: Any
    pk: Any
    config: bytes
    config_id: int


def new_ech_keys(
    *,
    kem: KEMId = KEMId.DHKEM_X25519_HKDF_SHA256,
    kdf: KDFId = KDFId.HKDF_SHA256,
    aead: AEADId = AEADId.AES128_GCM,
    config_id: int = 0x42,
    extra_suites: list[tuple[int, int]] | None = None,
) -> ECHKeys:
    suite = CipherSuite.new(kem, kdf, aead)
    kp = suite.kem.derive_key_pair(os.urandom(32))
    pk_bytes = kp.public_key.to_public_bytes()
    suites = [(kdf.value, aead.value), *(extra_suites or [])]
    cfg = make_ech_config(config_id=config_id, kem_id=kem.value, public_key=pk_bytes, suites=suites)
    return ECHKeys(
        suite, kem.value, kdf.value, aead.value, kp.private_key, kp.public_key, cfg, config_id
    )


@dataclass
class Outer:
    message: bytes  # ClientHelloOuter handshake message
    random: bytes
    shared_secret: bytes  # what the server logs as ECH_SECRET (its Decap output)
    encoded_inner: bytes
    sender: Any = None  # the HPKE sender context (seals the hello after a HelloRetryRequest)


def build_outer(
    inner_msg: bytes,
    keys: ECHKeys,
    *,
    compress: tuple[int, ...] = (11, 10, 13),  # point formats, groups, signature_algorithms
    public_name: bytes = b"public.example",
    pad_to: int = 32,
    sender: Any = None,
    outer_random: bytes | None = None,
) -> Outer:
    """ClientHelloOuter for ClientHelloInner ``inner_msg`` (RFC 9849 §5.1, §6.1); with the
    first hello's ``sender`` context, the second ClientHelloOuter after a HelloRetryRequest
    (empty enc, same context, §6.1.5)."""
    inner = parse_client_hello(inner_msg)
    assert (ECH, b"\x01") in inner.extensions, "the inner hello lacks the inner marker"
    # EncodedClientHelloInner: empty legacy_session_id; a run of extensions replaced by one
    # ech_outer_extensions listing their types; zero padding (§6.1.3).
    # Only one ech_outer_extensions may appear (no duplicated extension types, RFC 8446 §4.2)
    # and it expands in place, so it replaces the first contiguous run of ``compress`` types.
    types = [t for t, _ in inner.extensions]
    start = next(i for i, t in enumerate(types) if t in compress)
    end = start
    while end < len(types) and types[end] in compress:
        end += 1
    run = types[start:end]
    enc_exts: list[tuple[int, bytes]] = list(inner.extensions[:start])
    enc_exts.append((OUTER_EXTENSIONS, vec(b"".join(struct.pack("!H", r) for r in run), 1)))
    enc_exts += inner.extensions[end:]
    encoded_body = client_hello_body(
        Hello(inner.version, inner.random, b"", inner.suites, inner.compression, []), enc_exts
    )
    encoded = encoded_body + bytes(-len(encoded_body) % pad_to)
    # ClientHelloOuter: fresh random, the inner's session id, the public name, the inner's
    # other extensions (the compressed ones in the same order), ECH last.
    outer_random = outer_random or os.urandom(32)  # the same in both hellos of an HRR
    outer_exts: list[tuple[int, bytes]] = []
    for t, x in inner.extensions:
        if t == ECH:
            continue
        if t == SERVER_NAME:
            x = vec(b"\x00" + vec(public_name, 2), 2)
        outer_exts.append((t, x))
    if not any(t == SERVER_NAME for t, _ in outer_exts):
        outer_exts.insert(0, (SERVER_NAME, vec(b"\x00" + vec(public_name, 2), 2)))
    info = b"tls ech\x00" + keys.config
    first = sender is None
    if first:
        enc, sender = keys.suite.create_sender_context(keys.pk, info)
    else:
        enc = b""
    tag_len = 16
    head = struct.pack("!BHHB", 0, keys.kdf_id, keys.aead_id, keys.config_id) + vec(enc, 2)
    payload_len = len(encoded) + tag_len
    outer = Hello(0x0303, outer_random, inner.session_id, inner.suites, inner.compression, [])
    aad = client_hello_body(
        outer, [*outer_exts, (ECH, head + vec(bytes(payload_len), 2))]
    )  # ClientHelloOuterAAD (§5.2)
    payload = sender.seal(encoded, aad)
    assert len(payload) == payload_len
    body = client_hello_body(outer, [*outer_exts, (ECH, head + vec(payload, 2))])
    shared = keys.suite.kem.decap(enc, keys.sk) if first else b""
    return Outer(handshake(body), outer_random, shared, encoded, sender)


# -- a real peer pair whose client sends the ClientHelloInner marker -------------------------------

_SSL_EXT_CLIENT_HELLO = 0x0080
_ADD_CB = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_uint,
    ctypes.c_uint,
    ctypes.POINTER(ctypes.c_void_p),
    ctypes.POINTER(ctypes.c_size_t),
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.POINTER(ctypes.c_int),
    ctypes.c_void_p,
)
_BODY = [ctypes.create_string_buffer(b"\x01", 1)]  # ECHClientHello{type = inner}


@_ADD_CB
def _add_marker(s, ext_type, context, out, outlen, x, chainidx, al, arg):  # type: ignore[no-untyped-def]
    out[0] = ctypes.cast(_BODY[0], ctypes.c_void_p).value
    outlen[0] = len(_BODY[0].raw)
    return 1


@contextmanager
def inner_marker_clients(
    server_hostname: str = "secret.example", body: bytes = b"\x01"
) -> Iterator[None]:
    """While active, Python ``ssl`` clients made by ``wrap_bio`` send an encrypted_client_hello
    extension with ``body`` (default: the inner marker) and SNI ``server_hostname`` (the name
    ECH hides)."""
    _BODY[0] = ctypes.create_string_buffer(body, len(body))
    libssl = ctypes.CDLL("libssl.so.3")
    add = libssl.SSL_CTX_add_custom_ext
    add.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint, _ADD_CB] + [ctypes.c_void_p] * 4
    add.restype = ctypes.c_int
    orig = ssl.SSLContext.wrap_bio

    def wrap_bio(self: ssl.SSLContext, *a: Any, **k: Any) -> ssl.SSLObject:
        if not k.get("server_side"):
            # PySSLContext: PyObject_HEAD (16 bytes on 64-bit CPython), then SSL_CTX *ctx
            ctx_ptr = ctypes.c_void_p.from_address(id(self) + 16).value
            if not getattr(self, "_ech_marker", False):
                assert (
                    add(ctx_ptr, ECH, _SSL_EXT_CLIENT_HELLO, _add_marker, None, None, None, None)
                    == 1
                )
                self._ech_marker = True  # type: ignore[attr-defined]
            k["server_hostname"] = server_hostname
        return orig(self, *a, **k)

    ssl.SSLContext.wrap_bio = wrap_bio  # type: ignore[method-assign]
    try:
        yield
    finally:
        ssl.SSLContext.wrap_bio = orig  # type: ignore[method-assign]
