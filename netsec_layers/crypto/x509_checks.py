"""What an analyst wants flagged about a server's certificate chain (issue #20 warnings).

Bytes in (DER certificates, leaf first, as the TLS Certificate message carries them), findings
out as ``(code, text)`` pairs; pyca ``cryptography``'s public x509 API only. Validity is judged
at the time the capture saw the chain, not today. "Untrusted" means the chain does not verify
to a root of the system trust store (Debian's ca-certificates) with pyca's RFC 5280 verifier.
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["certificate_findings", "chain_summary", "SYSTEM_CA_FILE", "UNDECODABLE"]

SYSTEM_CA_FILE = Path("/etc/ssl/certs/ca-certificates.crt")
MIN_RSA_BITS = 2048


# What pyca raises for a certificate it cannot read (some fields are parsed lazily, on first
# access): an unknown version is InvalidVersion, a repeated extension DuplicateExtension; both
# were found by fuzzing damaged real certificates.
UNDECODABLE: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
)


@lru_cache(maxsize=4)
def _store(ca_file: Path) -> x509.verification.Store | None:
    try:
        with warnings.catch_warnings():
            # a few distribution roots have non-positive serials (pyca warns, still loads them)
            warnings.simplefilter("ignore")
            roots = x509.load_pem_x509_certificates(ca_file.read_bytes())
    except (OSError, ValueError):
        return None
    return x509.verification.Store(roots) if roots else None


def _name_matches(cert: x509.Certificate, name: str) -> bool:
    """RFC 6125 §6.4: DNS names of the subjectAltName (one left-most ``*`` label); the CN only
    when there is no SAN (legacy)."""
    name = name.rstrip(".").lower()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        candidates = [n.lower() for n in san.get_values_for_type(x509.DNSName)]
    except (x509.ExtensionNotFound, x509.DuplicateExtension):
        candidates = [
            str(a.value).lower()
            for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        ]
    for c in candidates:
        if c == name:
            return True
        if c.startswith("*.") and "." in name and name.split(".", 1)[1] == c[2:]:
            return True
    return False


def certificate_findings(
    chain: list[bytes],
    *,
    sni: str | None,
    at: dt.datetime,
    ca_file: Path = SYSTEM_CA_FILE,
) -> list[tuple[str, str]]:
    """Findings about ``chain`` (leaf first) seen at time ``at`` (timezone-aware) for ``sni``.

    Never raises: a certificate pyca cannot read (lazily parsed fields, unknown algorithms) is
    the ``certificate_undecodable`` finding."""
    if not chain:
        return []
    try:
        return _findings([x509.load_der_x509_certificate(der) for der in chain], sni, at, ca_file)
    except UNDECODABLE as exc:
        return [("certificate_undecodable", f"certificate does not parse: {exc}")]


def _findings(
    certs: list[x509.Certificate], sni: str | None, at: dt.datetime, ca_file: Path
) -> list[tuple[str, str]]:
    leaf = certs[0]
    subject = leaf.subject.rfc4514_string() or "(empty subject)"
    out: list[tuple[str, str]] = []
    if at > leaf.not_valid_after_utc:
        out.append(
            (
                "certificate_expired",
                f"{subject} expired {leaf.not_valid_after_utc:%Y-%m-%d %H:%M:%S}Z",
            )
        )
    if at < leaf.not_valid_before_utc:
        out.append(
            (
                "certificate_not_yet_valid",
                f"{subject} valid only from {leaf.not_valid_before_utc:%Y-%m-%d %H:%M:%S}Z",
            )
        )
    if leaf.issuer == leaf.subject:
        out.append(("certificate_self_signed", f"{subject} is self-signed (issuer = subject)"))
    if sni and not _name_matches(leaf, sni):
        out.append(("certificate_name_mismatch", f"{subject} does not name the SNI {sni!r}"))
    for cert in certs:
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
            out.append(
                (
                    "certificate_rsa_too_small",
                    f"{cert.subject.rfc4514_string()}: RSA key of {key.key_size} bits (< {MIN_RSA_BITS})",
                )
            )
        if cert.issuer != cert.subject and isinstance(cert.signature_hash_algorithm, hashes.SHA1):
            out.append(
                (
                    "certificate_sha1_signature",
                    f"{cert.subject.rfc4514_string()} is signed with SHA-1",
                )
            )
    store = _store(ca_file)
    if store is not None:
        # Trust only: the time is kept inside the leaf's validity and the name is the leaf's
        # own (expiry and the SNI have codes of their own above).
        when = min(max(at, leaf.not_valid_before_utc), leaf.not_valid_after_utc)
        builder = x509.verification.PolicyBuilder().store(store).time(when)
        try:
            names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns = names.get_values_for_type(x509.DNSName)
        except (x509.ExtensionNotFound, x509.DuplicateExtension):
            dns = []
        try:
            if dns:
                subject_name = x509.DNSName(dns[0].replace("*.", "wildcard.", 1))
                builder.build_server_verifier(subject_name).verify(leaf, certs[1:])
            else:
                builder.build_client_verifier().verify(leaf, certs[1:])
        except (x509.verification.VerificationError, ValueError) as exc:
            why = str(exc).split(" (encountered", 1)[0]
            out.append(
                ("certificate_untrusted", f"chain does not verify to a system trust root: {why}")
            )
    return out


def _key_text(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    return type(key).__name__


def chain_summary(chain: list[bytes]) -> list[dict[str, str | None]]:
    """Subject, issuer, validity (ISO 8601 UTC) and key of each certificate, leaf first; a
    certificate pyca cannot read gets ``{"error": …}`` values of None elsewhere."""
    out: list[dict[str, str | None]] = []
    for der in chain:
        try:
            cert = x509.load_der_x509_certificate(der)
            out.append(
                {
                    "subject": cert.subject.rfc4514_string(),
                    "issuer": cert.issuer.rfc4514_string(),
                    "not_before": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "key": _key_text(cert),
                }
            )
        except UNDECODABLE as exc:
            out.append(
                {
                    "subject": None,
                    "issuer": None,
                    "not_before": None,
                    "not_after": None,
                    "key": None,
                    "error": str(exc),
                }  # fmt: skip
            )
    return out
