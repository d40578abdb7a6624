"""A Python `ssl` (OpenSSL) client/server pair over MemoryBIOs, for the TLS interop tests.

Every byte each side writes is recorded in order, so the tests see the exact TLS records an
independent implementation produced.  Run as a script it performs one session and prints JSON
(used to select TLS 1.3 cipher suites through OPENSSL_CONF, which only applies at start-up).
"""

from __future__ import annotations

import datetime
import json
import os
import ssl
import sys
import warnings
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

OP_NO_EXTENDED_MASTER_SECRET = 1 << 0  # SSL_OP_NO_EXTENDED_MASTER_SECRET (OpenSSL 3.0)
OP_NO_ENCRYPT_THEN_MAC = 1 << 19  # SSL_OP_NO_ENCRYPT_THEN_MAC

VERSIONS = {
    0x0301: ssl.TLSVersion.TLSv1,
    0x0302: ssl.TLSVersion.TLSv1_1,
    0x0303: ssl.TLSVersion.TLSv1_2,
    0x0304: ssl.TLSVersion.TLSv1_3,
}


def make_cert(directory: str) -> tuple[str, str]:
    """Throwaway RSA-2048 key and self-signed certificate (PEM files)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    kp, cp = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    with open(kp, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    with open(cp, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    return kp, cp


@dataclass
class Session:
    chunks: list[tuple[str, bytes]] = field(default_factory=list)  # ("c"|"s", bytes) in order
    keylog: str = ""
    version: str = ""
    cipher: str = ""
    client: ssl.SSLObject | None = None
    server: ssl.SSLObject | None = None
    bios: dict[str, ssl.MemoryBIO] = field(default_factory=dict)

    def pump(self) -> bool:
        moved = False
        for side, out, dest in (("c", "cout", "sin"), ("s", "sout", "cin")):
            data = self.bios[out].read()
            if data:
                self.chunks.append((side, data))
                self.bios[dest].write(data)
                moved = True
        return moved


def run_session(
    directory: str,
    cert: tuple[str, str],
    *,
    version: int,
    ciphers: str | None = None,
    options: int = 0,
    dh_params: str | None = None,
    server_curve: str | None = None,
    client_msgs: list[bytes] = (),  # type: ignore[assignment]
    server_msgs: list[bytes] = (),  # type: ignore[assignment]
    key_update: bool = False,
) -> Session:
    """Handshake, then the client sends ``client_msgs`` and the server ``server_msgs``."""
    kp, cp = cert
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        sctx.load_cert_chain(cp, kp)
        cctx.check_hostname = False
        cctx.verify_mode = ssl.CERT_NONE
        for ctx in (sctx, cctx):
            ctx.minimum_version = VERSIONS[version]
            ctx.maximum_version = VERSIONS[version]
            if ciphers:
                ctx.set_ciphers(ciphers)
            ctx.options |= options
    if dh_params:
        sctx.load_dh_params(dh_params)
    if server_curve:
        sctx.set_ecdh_curve(server_curve)
    keylog = os.path.join(directory, "sslkeys.log")
    if os.path.exists(keylog):
        os.unlink(keylog)
    cctx.keylog_filename = keylog
    s = Session()
    s.bios = {n: ssl.MemoryBIO() for n in ("cin", "cout", "sin", "sout")}
    s.client = cctx.wrap_bio(s.bios["cin"], s.bios["cout"], server_side=False)
    s.server = sctx.wrap_bio(s.bios["sin"], s.bios["sout"], server_side=True)
    done = [False, False]
    for _ in range(50):
        for i, obj in enumerate((s.client, s.server)):
            if not done[i]:
                try:
                    obj.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
        if not s.pump() and all(done):
            break
    assert all(done), "handshake did not complete"
    s.version, s.cipher = s.client.version() or "", (s.client.cipher() or ("",))[0]
    for msg in client_msgs:
        s.client.write(msg)
        s.pump()
        assert read_all(s.server, len(msg), s) == msg
    for msg in server_msgs:
        s.server.write(msg)
        s.pump()
        assert read_all(s.client, len(msg), s) == msg
    with open(keylog, encoding="ascii") as fh:
        s.keylog = fh.read()
    return s


def read_all(obj: ssl.SSLObject, n: int, s: Session) -> bytes:
    out = b""
    for _ in range(100):
        if len(out) >= n:
            break
        try:
            out += obj.read(n - len(out))
        except ssl.SSLWantReadError:
            if not s.pump():
                break
    return out


if __name__ == "__main__":
    args = json.loads(sys.argv[1])
    d = args["dir"]
    sess = run_session(
        d,
        (args["key"], args["cert"]),
        version=args["version"],
        client_msgs=[bytes.fromhex(m) for m in args["client_msgs"]],
        server_msgs=[bytes.fromhex(m) for m in args["server_msgs"]],
    )
    json.dump(
        {
            "chunks": [[side, data.hex()] for side, data in sess.chunks],
            "keylog": sess.keylog,
            "version": sess.version,
            "cipher": sess.cipher,
        },
        sys.stdout,
    )
