"""CMS (RFC 5652) on asn1crypto: parsing and SignedData verification.

Bytes in, typed results out; pyca ``cryptography`` public API only.  Every signature is checked
over the exact bytes that were signed: the eContent octets (or the detached content given), and
for signed attributes their original DER with the ``[0] IMPLICIT`` tag turned into ``SET OF``
(RFC 5652 section 5.4).  ``valid`` says the signature and the messageDigest / contentType
attributes check out with the signer certificate's key; whether that certificate chains to a
trust anchor is a separate verdict (:attr:`SignerResult.chain`).

See :mod:`netsec_layers.crypto.cms_envelope` for EnvelopedData / AuthEnvelopedData and
:mod:`netsec_layers.crypto.cms_build` for crafting.
"""

from __future__ import annotations

import enum
import re
from base64 import b64decode
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from asn1crypto import cms as acms  # type: ignore[import-untyped]
from asn1crypto import core
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa

from netsec_layers.crypto.x509_checks import UNDECODABLE
from netsec_layers.errors import ParseError

__all__ = [
    "ChainVerdict",
    "SignedResult",
    "SignerResult",
    "SignerVerdict",
    "content_type_name",
    "load_content_info",
    "verify_signed_data",
]

MAX_CMS_SIZE = 64 << 20  # bytes of DER we are willing to parse

OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED = "1.2.840.113549.1.7.2"
OID_ENVELOPED = "1.2.840.113549.1.7.3"
OID_AUTH_ENVELOPED = "1.2.840.113549.1.9.16.1.23"
OID_COMPRESSED = "1.2.840.113549.1.9.16.1.9"
OID_DIGESTED = "1.2.840.113549.1.7.5"

_NAMES = {
    OID_DATA: "data",
    OID_SIGNED: "signed_data",
    OID_ENVELOPED: "enveloped_data",
    OID_AUTH_ENVELOPED: "authenticated_enveloped_data",
    OID_COMPRESSED: "compressed_data",
    "1.2.840.113549.1.9.16.1.2": "authenticated_data",
    "1.2.840.113549.1.7.5": "digested_data",
    "1.2.840.113549.1.7.6": "encrypted_data",
}

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
    "md5": hashes.MD5,
}


def content_type_name(oid: str) -> str:
    return _NAMES.get(oid, oid)


def hash_by_name(name: str) -> hashes.HashAlgorithm:
    try:
        return _HASHES[name]()
    except KeyError:
        raise ParseError(f"unsupported digest algorithm {name}") from None


def _pem_body(data: bytes) -> bytes | None:
    m = re.search(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", data, re.S)
    if m is None:
        return None
    try:
        return b64decode(re.sub(rb"\s", b"", m.group(2)), validate=True)
    except ValueError:
        raise ParseError("PEM block with invalid base64") from None


def load_content_info(data: bytes) -> Any:
    """A ContentInfo from DER or PEM (``-----BEGIN CMS-----``, ``PKCS7``).  Raises
    :class:`ParseError` for anything else.  The result is an asn1crypto ``ContentInfo`` whose
    nested values keep their original encodings."""
    if len(data) > MAX_CMS_SIZE:
        raise ParseError(f"CMS object larger than {MAX_CMS_SIZE} bytes")
    if data[:1] != b"\x30":
        body = _pem_body(data)
        if body is None:
            raise ParseError("not a CMS object (no DER SEQUENCE, no PEM block)")
        data = body
    try:
        ci = acms.ContentInfo.load(data, strict=False)
        ci["content_type"].dotted  # noqa: B018 - forces the parse (asn1crypto is lazy)
        ci["content"]  # noqa: B018
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise ParseError(f"not a CMS ContentInfo: {exc}") from None
    return ci


def asn1_guard(what: str) -> Any:
    """Context for reading asn1crypto values lazily: its errors become :class:`ParseError`."""
    return _Guard(what)


class _Guard:
    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: Any, exc: Any, tb: Any) -> Literal[False]:
        if exc is not None and isinstance(
            exc, ValueError | TypeError | KeyError | OverflowError | AttributeError | IndexError
        ):
            raise ParseError(f"malformed {self.what}: {exc}") from None
        return False


class SignerVerdict(enum.Enum):
    VALID = "valid"
    BAD_SIGNATURE = "bad signature"
    DIGEST_MISMATCH = "messageDigest attribute does not match the content"
    CONTENT_TYPE_MISMATCH = "contentType attribute does not match eContentType"
    MISSING_ATTRIBUTE = "signed attributes lack messageDigest or contentType"
    NO_CERTIFICATE = "no certificate for the signer"
    NO_CONTENT = "detached signature and no content given"
    UNSUPPORTED = "unsupported algorithm"


class ChainVerdict(enum.Enum):
    TRUSTED = "chains to a given trust anchor"
    UNTRUSTED = "no chain to a given trust anchor"
    EXPIRED = "a certificate of the chain is outside its validity period"
    NOT_CHECKED = "no trust anchors given"


@dataclass(slots=True)
class SignerResult:
    verdict: SignerVerdict
    signer: str | None  # subject as Name.rfc4514_string(), or the sid when no certificate
    certificate: x509.Certificate | None
    digest: str
    signature_algorithm: str
    detail: str = ""
    chain: ChainVerdict = ChainVerdict.NOT_CHECKED

    @property
    def valid(self) -> bool | None:
        """True / False; ``None`` when no certificate for the signer was available."""
        if self.verdict is SignerVerdict.VALID:
            return True
        if self.verdict is SignerVerdict.NO_CERTIFICATE:
            return None
        return False

    @property
    def error(self) -> str | None:
        if self.verdict is SignerVerdict.VALID:
            return None
        return str(self.verdict.value) + (f": {self.detail}" if self.detail else "")


@dataclass(slots=True)
class SignedResult:
    content_type: str  # eContentType (dotted)
    content: bytes | None  # eContent, or the detached content given
    detached: bool
    signers: list[SignerResult] = field(default_factory=list)
    certificates: list[x509.Certificate] = field(default_factory=list)


def _certs_of(signed: Any) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    if not _present(signed, "certificates"):
        return out
    for choice in signed["certificates"]:
        if choice.name != "certificate":
            continue
        try:
            out.append(x509.load_der_x509_certificate(choice.chosen.dump()))
        except UNDECODABLE:  # unreadable certificates are skipped
            continue
    return out


def _ski(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return None  # absent, or extensions that do not parse: no SKI to match


def match_identifier(rid: Any, cert: x509.Certificate) -> bool:
    """Whether a SignerIdentifier / RecipientIdentifier names ``cert``."""
    if rid.name == "issuer_and_serial_number":
        ias = rid.chosen
        if ias["serial_number"].native != cert.serial_number:
            return False
        if ias["issuer"].dump() == cert.issuer.public_bytes():
            return True
        # asn1crypto compares names after RFC 5280 section 7.1 normalisation
        return bool(ias["issuer"] == acms.Name.load(cert.issuer.public_bytes()))
    if rid.name in ("subject_key_identifier", "r_key_id"):
        value = rid.chosen.native if rid.name == "subject_key_identifier" else None
        if value is None:
            value = rid.chosen["subject_key_identifier"].native
        return bool(value == _ski(cert))
    return False


def sid_text(sid: Any) -> str:
    """A SignerIdentifier / RecipientIdentifier as text (when no certificate names it)."""
    if sid.name == "issuer_and_serial_number":
        return f"issuer={sid.chosen['issuer'].human_friendly} serial=0x{sid.chosen['serial_number'].native:x}"
    return f"ski={sid.chosen.native.hex()}"


def signed_attrs_der(signer_info: Any) -> bytes:
    """The DER that was signed: the original attribute bytes under a SET OF tag (RFC 5652 5.4)."""
    raw: bytes = signer_info["signed_attrs"].dump()
    return b"\x31" + raw[1:]


class _AnyAttribute(core.Sequence):  # type: ignore[misc]
    """An attribute read without interpreting its values (RFC 5652 section 5.3)."""

    _fields = [("type", core.ObjectIdentifier), ("values", core.SetOf, {"spec": core.Any})]


class _AnyAttributes(core.SetOf):  # type: ignore[misc]
    _child_spec = _AnyAttribute


_OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"


def signed_attribute_values(signer_info: Any) -> tuple[list[bytes], list[str]]:
    """(messageDigest values, contentType values) of the signed attributes.  The attributes
    are re-read generically, so one that asn1crypto's typed parser rejects (e.g. an odd
    countersignature) does not hide the two that matter."""
    raw = signed_attrs_der(signer_info)
    attrs = _AnyAttributes.load(raw)
    digests: list[bytes] = []
    types: list[str] = []
    for a in attrs:
        oid = a["type"].dotted
        for v in a["values"]:
            if oid == _OID_MESSAGE_DIGEST:
                digests.append(bytes(core.OctetString.load(v.dump()).native))
            elif oid == _OID_CONTENT_TYPE:
                types.append(str(core.ObjectIdentifier.load(v.dump()).dotted))
    return digests, types


def verify_signature(
    public_key: Any, sig_alg: Any, digest_name: str, signature: bytes, data: bytes
) -> None:
    """Raise InvalidSignature / UnsupportedAlgorithm / ParseError unless ``signature`` verifies."""
    name = sig_alg["algorithm"].native
    if isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        public_key.verify(signature, data)  # RFC 8419: pure EdDSA over the message
        return
    if isinstance(public_key, rsa.RSAPublicKey):
        if name == "rsassa_pss":
            params = sig_alg["parameters"]
            h = hash_by_name(params["hash_algorithm"]["algorithm"].native)
            mgf_h = hash_by_name(params["mask_gen_algorithm"]["parameters"]["algorithm"].native)
            pad: padding.AsymmetricPadding = padding.PSS(
                mgf=padding.MGF1(mgf_h), salt_length=int(params["salt_length"].native)
            )
        else:
            h = hash_by_name(digest_name)
            pad = padding.PKCS1v15()
        public_key.verify(signature, data, pad, h)
        return
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        # RFC 5753 section 2.1.1: the digest algorithm names the hash
        public_key.verify(signature, data, ec.ECDSA(hash_by_name(digest_name)))
        return
    if isinstance(public_key, dsa.DSAPublicKey):  # RFC 3370 section 3.1 (RFC 4134 examples)
        public_key.verify(signature, data, hash_by_name(digest_name))
        return
    raise UnsupportedAlgorithm(f"signer key type {type(public_key).__name__}")


def check_chain(
    cert: x509.Certificate,
    pool: list[x509.Certificate],
    anchors: list[x509.Certificate],
    now: datetime | None = None,
) -> ChainVerdict:
    """Walk issuer links from ``cert`` through ``pool`` to one of ``anchors`` (signatures and
    validity periods checked; no policy, name constraints or revocation)."""
    if not anchors:
        return ChainVerdict.NOT_CHECKED
    when = now or datetime.now(timezone.utc)
    current = cert
    seen: set[bytes] = set()
    for _ in range(16):
        fp = current.fingerprint(hashes.SHA256())
        if fp in seen:
            break
        seen.add(fp)
        if not (current.not_valid_before_utc <= when <= current.not_valid_after_utc):
            return ChainVerdict.EXPIRED
        for anchor in anchors:
            if anchor.fingerprint(hashes.SHA256()) == fp:
                return ChainVerdict.TRUSTED
            if anchor.subject == current.issuer and _issued_by(current, anchor):
                return ChainVerdict.TRUSTED
        parents = [c for c in pool if c.subject == current.issuer and _issued_by(current, c)]
        if not parents:
            break
        current = parents[0]
    return ChainVerdict.UNTRUSTED


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def check_digested(digested: Any) -> tuple[bool, str, bytes]:
    """DigestedData (RFC 5652 section 7): whether the digest matches the encapsulated content;
    ``(ok, content type, content)``.  Integrity only against accidents: no key is involved."""
    with asn1_guard("DigestedData"):
        h = hash_by_name(str(digested["digest_algorithm"]["algorithm"].native))
        eci = digested["encap_content_info"]
        ctype = str(eci["content_type"].dotted)
        content = bytes(eci["content"]) if _present(eci, "content") else b""
        digest = bytes(digested["digest"].native)
    hasher = hashes.Hash(h)
    hasher.update(content)
    return hasher.finalize() == digest, ctype, content


def verify_signed_data(
    signed: Any,
    *,
    detached_content: bytes | None = None,
    certificates: list[x509.Certificate] | None = None,
    anchors: list[x509.Certificate] | None = None,
) -> SignedResult:
    """Check every SignerInfo of an asn1crypto ``SignedData``.  Never raises on bad
    signatures (they are verdicts); raises :class:`ParseError` on malformed structure."""
    with asn1_guard("SignedData"):
        eci = signed["encap_content_info"]
        ctype = eci["content_type"].dotted
        econtent = eci["content"]
        content = None if econtent.native is None else bytes(econtent)
        detached = content is None
        if detached:
            content = detached_content
        in_message = _certs_of(signed)
        pool = in_message + list(certificates or [])
        result = SignedResult(ctype, content, detached, certificates=in_message)
        for si in signed["signer_infos"]:
            result.signers.append(_check_signer(si, ctype, content, pool, anchors or []))
    return result


def _present(seq: Any, name: str) -> bool:
    """An optional field is there (without parsing its contents, unlike ``.native``)."""
    return not isinstance(seq[name], core.Void)


def _check_signer(
    si: Any, ctype: str, content: bytes | None, pool: list[x509.Certificate], anchors: Any
) -> SignerResult:
    digest_name = si["digest_algorithm"]["algorithm"].native
    sig_alg = si["signature_algorithm"]
    sig_name = str(sig_alg["algorithm"].native)
    sid = si["sid"]
    cert = next((c for c in pool if match_identifier(sid, c)), None)
    res = SignerResult(
        SignerVerdict.NO_CERTIFICATE,
        cert.subject.rfc4514_string() if cert else sid_text(sid),
        cert,
        str(digest_name),
        sig_name,
    )
    if content is None:
        res.verdict = SignerVerdict.NO_CONTENT if cert else res.verdict
        return res
    if cert is None:
        return res
    res.chain = check_chain(cert, pool, list(anchors))
    try:
        h = hash_by_name(str(digest_name))
    except ParseError as exc:
        res.verdict, res.detail = SignerVerdict.UNSUPPORTED, str(exc)
        return res
    signature = bytes(si["signature"].native)
    if _present(si, "signed_attrs"):
        md, ct = signed_attribute_values(si)
        # RFC 5652 section 5.3: exactly one value each
        if len(md) != 1 or len(ct) != 1:
            res.verdict = SignerVerdict.MISSING_ATTRIBUTE
            return res
        hasher = hashes.Hash(h)
        hasher.update(content)
        if md[0] != hasher.finalize():
            res.verdict = SignerVerdict.DIGEST_MISMATCH
            return res
        if ct[0] != ctype:
            res.verdict = SignerVerdict.CONTENT_TYPE_MISMATCH
            return res
        signed_bytes = signed_attrs_der(si)
    else:
        signed_bytes = content
    try:
        verify_signature(cert.public_key(), sig_alg, str(digest_name), signature, signed_bytes)
    except InvalidSignature:
        res.verdict = SignerVerdict.BAD_SIGNATURE
        return res
    except (UnsupportedAlgorithm, ParseError, ValueError, TypeError) as exc:
        res.verdict, res.detail = SignerVerdict.UNSUPPORTED, str(exc)
        return res
    res.verdict = SignerVerdict.VALID
    return res
