"""certificate_* warnings (issue #20) against ``openssl verify`` as the independent judge.

Chains are made here with pyca's builder (a CA, leaves that are expired, not yet valid, for
another name, with a 1024-bit RSA key, signed with SHA-1, self-signed, or from an unknown CA);
for each, our codes are compared with the error OpenSSL 3 reports for the same chain, time and
host name (``-attime``, ``-verify_hostname``, ``-auth_level 2`` for weak keys and digests).
A chain in a TLS 1.2 server flight shows the warnings on the record that carries it.
"""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.crypto.x509_checks import certificate_findings
from tests.session.test_tls_warnings import C, S, _ch, _codes, _rec, _run, _sh

UTC = dt.timezone.utc
AT = dt.datetime(2026, 6, 1, tzinfo=UTC)
_KEYS: dict[int, rsa.RSAPrivateKey] = {}


def _key(bits: int = 2048) -> rsa.RSAPrivateKey:
    if bits not in _KEYS:
        _KEYS[bits] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _KEYS[bits]


def _cert(
    cn: str,
    *,
    issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None = None,
    key: rsa.RSAPrivateKey | None = None,
    ca: bool = False,
    start: dt.datetime = dt.datetime(2026, 1, 1, tzinfo=UTC),
    end: dt.datetime = dt.datetime(2027, 1, 1, tzinfo=UTC),
    digest: hashes.HashAlgorithm | None = None,
) -> x509.Certificate:
    key = key or _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    iname, ikey = issuer if issuer else (name, key)
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(iname)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ikey.public_key()), critical=False
        )
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        b = b.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return b.sign(ikey, digest or hashes.SHA256())


CA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CA = _cert("netsec test CA", key=CA_KEY, ca=True, start=dt.datetime(2025, 1, 1, tzinfo=UTC))
CA_ISSUER = (CA.subject, CA_KEY)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = _cert("unknown CA", key=OTHER_KEY, ca=True)


def _sha1_leaf() -> x509.Certificate:
    """pyca does not sign with SHA-1: OpenSSL's ``x509 -req -sha1`` does, with our CA."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        _pem(d / "ca.pem", CA)
        pkcs8 = (Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        (d / "ca.key").write_bytes(CA_KEY.private_bytes(*pkcs8))
        (d / "leaf.key").write_bytes(_key().private_bytes(*pkcs8))
        (d / "ext.cnf").write_text(
            "subjectAltName=DNS:good.example\nbasicConstraints=critical,CA:FALSE\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nextendedKeyUsage=serverAuth\n"
        )
        for cmd in (
            "req -new -key leaf.key -subj /CN=good.example -out leaf.csr",
            "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -sha1 -days 30 -extfile ext.cnf "
            "-out sha1.pem",
        ):
            subprocess.run(["openssl", *cmd.split()], cwd=d, check=True, capture_output=True)
        return x509.load_pem_x509_certificate((d / "sha1.pem").read_bytes())


CASES: list[dict[str, Any]] = [
    {"id": "good", "leaf": lambda: _cert("good.example", issuer=CA_ISSUER), "codes": []},
    {
        "id": "expired",
        "leaf": lambda: _cert("good.example", issuer=CA_ISSUER),
        "at": dt.datetime(2028, 1, 1, tzinfo=UTC),
        "codes": ["certificate_expired"],
        "openssl": "certificate has expired",
    },
    {
        "id": "not-yet-valid",
        "leaf": lambda: _cert("good.example", issuer=CA_ISSUER),
        "at": dt.datetime(2025, 6, 1, tzinfo=UTC),
        "codes": ["certificate_not_yet_valid"],
        "openssl": "certificate is not yet valid",
    },
    {
        "id": "name-mismatch",
        "leaf": lambda: _cert("good.example", issuer=CA_ISSUER),
        "sni": "other.example",
        "codes": ["certificate_name_mismatch"],
        "openssl": "hostname mismatch",
    },
    {
        "id": "rsa-1024",
        "leaf": lambda: _cert("good.example", issuer=CA_ISSUER, key=_key(1024)),
        "codes": ["certificate_rsa_too_small"],
        "openssl": "EE certificate key too weak",
    },
    {
        "id": "sha1",
        "leaf": lambda: _sha1_leaf(),
        "at": "now",  # openssl x509 -req starts the validity now
        "codes": ["certificate_sha1_signature", "certificate_untrusted"],
        "openssl": "CA signature digest algorithm too weak",
    },
    {
        "id": "self-signed",
        "leaf": lambda: _cert("good.example"),
        "codes": ["certificate_self_signed", "certificate_untrusted"],
        "openssl": "self-signed certificate",
    },
    {
        "id": "unknown-ca",
        "leaf": lambda: _cert("good.example", issuer=(OTHER.subject, OTHER_KEY)),
        "codes": ["certificate_untrusted"],
        "openssl": "unable to get local issuer certificate",
    },
]


def _pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certs))
    return path


def _openssl_verify(tmp: Path, leaf: x509.Certificate, at: dt.datetime, host: str) -> str:
    exe = shutil.which("openssl")
    assert exe, "openssl is needed as the reference verifier (apt-get install openssl)"
    proc = subprocess.run(
        [
            exe,
            "verify",
            "-CAfile",
            str(_pem(tmp / "ca.pem", CA)),
            "-attime",
            str(int(at.timestamp())),
        ]
        + ["-verify_hostname", host, "-auth_level", "2", str(_pem(tmp / "leaf.pem", leaf))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.stdout + proc.stderr


@pytest.mark.integration
@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_certificate_codes_agree_with_openssl_verify(case: dict[str, Any], tmp_path: Path) -> None:
    leaf = case["leaf"]()
    at, sni = case.get("at", AT), case.get("sni", "good.example")
    if at == "now":
        at = dt.datetime.now(UTC) + dt.timedelta(minutes=1)
    ours = certificate_findings(
        [leaf.public_bytes(Encoding.DER)], sni=sni, at=at, ca_file=_pem(tmp_path / "store.pem", CA)
    )
    assert [code for code, _ in ours] == case["codes"]
    verdict = _openssl_verify(tmp_path, leaf, at, sni)
    if case["codes"]:
        assert case["openssl"] in verdict, verdict
    else:
        assert verdict.strip().endswith(": OK"), verdict


def test_server_certificate_flight_carries_the_warnings(tmp_path: Path) -> None:
    """An expired leaf from an unknown CA in a plaintext TLS 1.2 Certificate message, judged at
    the capture's time (the pcap's timestamps are in 2023, the leaf's validity 2020-2021)."""
    leaf = _cert(
        "good.example",
        issuer=(OTHER.subject, OTHER_KEY),
        start=dt.datetime(2020, 1, 1, tzinfo=UTC),
        end=dt.datetime(2021, 1, 1, tzinfo=UTC),
    )
    ders = [leaf.public_bytes(Encoding.DER), OTHER.public_bytes(Encoding.DER)]
    entries = b"".join(len(d).to_bytes(3, "big") + d for d in ders)
    body = len(entries).to_bytes(3, "big") + entries
    msg = b"\x0b" + len(body).to_bytes(3, "big") + body
    recs = _run(tmp_path, [(C, _ch()), (S, _sh() + _rec(22, msg))])
    assert _codes(recs[2]) == ["certificate_expired", "certificate_untrusted"]
    assert recs[2]["handshake_types"] == [11]


@pytest.mark.integration
@pytest.mark.parametrize("name", ["test-rsa-cert", "test-ecdsa-cert"])
def test_the_samples_server_certificates_are_self_signed_for_openssl_too(name: str) -> None:
    """Why every real sample has certificate_self_signed + certificate_untrusted: OpenSSL, with
    the system trust store, says the same of the peers' certificates."""
    pem = Path(__file__).resolve().parents[2] / "pcaps" / "tls" / f"{name}.pem"
    proc = subprocess.run(
        ["openssl", "verify", "-CAfile", "/etc/ssl/certs/ca-certificates.crt", str(pem)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0 and "self-signed certificate" in proc.stdout + proc.stderr
    der = x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(Encoding.DER)
    when = dt.datetime(2026, 12, 1, tzinfo=UTC)  # the samples were captured then
    codes = [c for c, _ in certificate_findings([der], sni="localhost", at=when)]
    assert codes == ["certificate_self_signed", "certificate_untrusted"]


@given(st.lists(st.binary(max_size=400), min_size=1, max_size=3))
@settings(max_examples=200, deadline=None)
def test_any_chain_bytes_give_findings_never_an_exception(chain: list[bytes]) -> None:
    findings = certificate_findings(chain, sni="x.example", at=AT)
    assert [c for c, _ in findings] == ["certificate_undecodable"]


@functools.lru_cache(maxsize=1)
def _leaf_der() -> bytes:
    """One certificate for the whole Hypothesis run: the examples' byte positions must refer to
    the same bytes every time (a fresh certificate has another length: a flaky strategy)."""
    return bytes(CASES[0]["leaf"]().public_bytes(Encoding.DER))


@given(st.data())
@settings(max_examples=100, deadline=None)
def test_a_damaged_real_certificate_never_raises(data: st.DataObject) -> None:
    der = bytearray(_leaf_der())
    for _ in range(data.draw(st.integers(1, 4))):
        der[data.draw(st.integers(0, len(der) - 1))] = data.draw(st.integers(0, 255))
    for code, text in certificate_findings([bytes(der)], sni="good.example", at=AT):
        assert code.startswith("certificate_") and text


def test_every_single_byte_damage_of_a_real_certificate_is_a_finding() -> None:
    """Deterministic companion of the Hypothesis test: every byte of a real certificate set to
    0x00, 0xFF and flipped in its lowest bit (2,500 certificates) gives findings, never an
    exception; the version byte's damage is pyca's InvalidVersion, met by Hypothesis once."""
    der = _leaf_der()
    undecodable = 0
    for i in range(len(der)):
        for v in {0x00, 0xFF, der[i] ^ 0x01}:
            damaged = der[:i] + bytes([v]) + der[i + 1 :]
            findings = certificate_findings([damaged], sni="good.example", at=AT)
            assert all(code.startswith("certificate_") and text for code, text in findings)
            undecodable += any(code == "certificate_undecodable" for code, _ in findings)
    assert undecodable > 100  # the damage was real: pyca refused many of them


@pytest.mark.integration
@pytest.mark.parametrize(
    ("sample", "pem"),
    [("tls13-aes128gcm", "test-rsa-cert"), ("tls12-ecdhe-ecdsa-aes256gcm", "test-ecdsa-cert")],
)
def test_stats_chain_equals_openssl_x509(sample: str, pem: str) -> None:
    """netsec stats' certificate_chain (from the capture) against ``openssl x509`` on the
    certificate the server was given: subject, issuer, validity, key type and size."""
    from netsec_layers.cli.stats import tls_row
    from netsec_layers.keys.keylog import load_keylog
    from netsec_layers.session.engine import CaptureEngine, iter_capture
    from netsec_layers.session.tls_keys import TLSKeyMaterial

    tls = Path(__file__).resolve().parents[2] / "pcaps" / "tls"
    keys = TLSKeyMaterial()
    keys.add_keylog(load_keylog(tls / f"{sample}.keys"))
    engine = CaptureEngine(tls_keys=keys)
    rows: list[dict[str, Any]] = []
    engine.tls.on_release = lambda c: rows.append(tls_row(c))
    for _ in iter_capture(tls / f"{sample}.pcap", engine):
        pass
    engine.tls.release_all()
    [leaf] = rows[0]["certificate_chain"]
    out = subprocess.run(
        ["openssl", "x509", "-in", str(tls / f"{pem}.pem"), "-noout", "-subject", "-issuer"]
        + ["-startdate", "-enddate", "-text", "-nameopt", "RFC2253", "-dateopt", "iso_8601"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    fields = dict(line.split("=", 1) for line in out.splitlines()[:4])
    assert leaf["subject"] == fields["subject"] and leaf["issuer"] == fields["issuer"]
    assert leaf["not_before"] == fields["notBefore"].replace(" ", "T")
    assert leaf["not_after"] == fields["notAfter"].replace(" ", "T")
    if leaf["key"].startswith("RSA"):
        assert f"Public-Key: ({leaf['key'].split()[1]} bit)" in out
    else:
        assert leaf["key"] == "EC secp256r1" and "ASN1 OID: prime256v1" in out
