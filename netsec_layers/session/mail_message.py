"""One message file, opened layer by layer: RFC 5322/MIME, S/MIME (RFC 8551) and bare CMS.

:func:`dissect_message` takes bytes and a :class:`~netsec_layers.keys.smime_keys.SMIMEKeyring`
and returns a :class:`MessageReport` whose :meth:`~MessageReport.to_json` is the ``message``
JSON contract (docs/mail.md): ``kind``, ``tree``, ``decrypted``, ``signatures``, ``content``,
``error``.  Unwrapping goes from the outside in and stops at the first entity that is not an
S/MIME/CMS layer.  Signatures are checked over the original bytes (for multipart/signed, the
first body part exactly as it was on the wire).  An AEAD failure leaves no plaintext anywhere
in the report; CBC layers say ``"authenticated": false``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from netsec_layers.crypto.cms import (
    OID_AUTH_ENVELOPED,
    OID_COMPRESSED,
    OID_DATA,
    OID_DIGESTED,
    OID_ENVELOPED,
    OID_SIGNED,
    SignerVerdict,
    check_digested,
    content_type_name,
    load_content_info,
    verify_signed_data,
)
from netsec_layers.crypto.cms_envelope import (
    RecipientKeys,
    decompress,
    describe_recipients,
    open_auth_enveloped,
    open_enveloped,
)
from netsec_layers.errors import IntegrityError, KeyUnavailableError, NetsecError, ParseError
from netsec_layers.keys.smime_keys import SMIMEKeyring
from netsec_layers.layers.mail.entity import MIMEEntity, parse_entity
from netsec_layers.session.mail_smime import canonical_crlf

__all__ = ["MAX_LAYERS", "MessageReport", "detect_kind", "dissect_message"]

MAX_LAYERS = 8  # S/MIME / CMS layers unwrapped, at most
_PKCS7_MIME = ("application/pkcs7-mime", "application/x-pkcs7-mime")
_PKCS7_SIG = ("application/pkcs7-signature", "application/x-pkcs7-signature")


@dataclass
class MessageReport:
    kind: str  # "mime" | "cms" | "openpgp"
    tree: list[dict[str, Any]] = field(default_factory=list)
    decrypted: bool = False
    signatures: list[dict[str, Any]] = field(default_factory=list)
    content: bytes | None = None
    error: str | None = None
    entities: list[MIMEEntity] = field(default_factory=list)  # the MIME trees, outermost first

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tree": self.tree,
            "decrypted": self.decrypted,
            "signatures": self.signatures,
            "content": None if self.content is None else self.content.hex(),
            "error": self.error,
        }


def detect_kind(data: bytes) -> str:
    """``cms`` (DER SEQUENCE or a CMS/PKCS7 PEM block), ``openpgp`` (armor or a binary packet
    header), else ``mime``."""
    head = data.lstrip()[:64]
    if head.startswith((b"-----BEGIN CMS", b"-----BEGIN PKCS7")):
        return "cms"
    if head.startswith(b"-----BEGIN PGP "):
        return "openpgp"
    if data[:1] == b"\x30" and (_is_content_info(data) or _binary(data[:256])):
        return "cms"  # a DER SEQUENCE; binary but unparsable = a broken CMS object
    if data[:1] and data[0] & 0x80 and data[0] != 0x30:
        return "openpgp"  # RFC 9580 section 4.2: the packet tag's top bit is always set
    return "mime"


def _none_valid(res: Any) -> bool:
    """Every signer failed on the bytes (digest or signature), none for want of a key."""
    bad = (SignerVerdict.DIGEST_MISMATCH, SignerVerdict.BAD_SIGNATURE)
    return bool(res.signers) and all(s.verdict in bad for s in res.signers)


def _binary(head: bytes) -> bool:
    return any(b < 9 or 13 < b < 32 for b in head)


def _is_content_info(data: bytes) -> bool:
    try:
        load_content_info(data)
    except NetsecError:
        return False
    return True


def _looks_like_mime(data: bytes) -> bool:
    ent = parse_entity(data)
    return bool(ent.fields) and (ent.separator != b"" or not ent.body) and not ent.defects


def _recipient_keys(ring: SMIMEKeyring) -> RecipientKeys:
    return RecipientKeys(
        private_keys=ring.pairs(), keks=dict(ring.keks), passwords=list(ring.passwords)
    )


class _Unwrapper:
    def __init__(self, ring: SMIMEKeyring, report: MessageReport) -> None:
        self.ring = ring
        self.keys = _recipient_keys(ring)
        self.report = report
        self.layers = 0
        self.recipients: list[dict[str, str]] = []  # of the envelope being opened

    # -- MIME ---------------------------------------------------------------------------
    def mime(self, data: bytes) -> None:
        ent = parse_entity(data)
        self.report.entities.append(ent)
        self.report.tree.append(ent.to_node())
        self.smime_entity(ent)

    def smime_entity(self, ent: MIMEEntity) -> None:
        """Unwrap ``ent`` if it is an S/MIME layer; else stop here."""
        if self.layers >= MAX_LAYERS:
            self.report.error = f"more than {MAX_LAYERS} S/MIME layers: stopped"
            return
        if ent.mime_type in _PKCS7_MIME:
            self.layers += 1
            self.cms(ent.decoded_body())
        elif ent.mime_type == "multipart/signed" and ent.multipart is not None:
            proto = ent.content_type.params.get("protocol", "").lower()
            parts = ent.multipart.parts
            if proto not in _PKCS7_SIG or len(parts) != 2:
                return  # another protocol (e.g. PGP/MIME): not an S/MIME layer
            self.layers += 1
            signed = parts[0].build()  # RFC 8551 section 3.5.3: the exact bytes of part one
            sig = parts[1].decoded_body()
            self.report.content = signed
            try:
                ci = load_content_info(sig)
                if ci["content_type"].dotted != OID_SIGNED:
                    raise ParseError("multipart/signed signature is not SignedData")
                res = self._verify_detached(ci["content"], signed)
                canonical = False
                if _none_valid(res) and re.search(rb"(?<!\r)\n", signed):
                    # a message stored with local (LF) line breaks: the signature was made
                    # over the CRLF canonical form (RFC 8551 section 3.1.1), as openssl assumes
                    alt = self._verify_detached(ci["content"], canonical_crlf(signed))
                    if any(x.verdict is SignerVerdict.VALID for x in alt.signers):
                        res, canonical = alt, True
            except NetsecError as exc:
                self.report.error = f"signature part: {exc}"
                return
            self._signers(res, canonicalized=canonical)
            self.report.tree.append(_cms_node(OID_SIGNED, signers=len(res.signers), detached=True))
            self.smime_entity(parts[0])

    # -- CMS ----------------------------------------------------------------------------
    def cms(self, data: bytes) -> None:
        try:
            ci = load_content_info(data)
            oid = ci["content_type"].dotted
        except (NetsecError, ValueError, TypeError) as exc:
            self.report.error = f"CMS: {exc}"
            self.report.content = None
            return
        try:
            self._cms_content(ci, oid)
        except KeyUnavailableError as exc:
            node = _cms_node(oid, decrypted=False, recipients=self.recipients, error=str(exc))
            self.report.tree.append(node)
            self.report.error = str(exc)
            self.report.content = None
        except IntegrityError as exc:
            node = _cms_node(oid, decrypted=False, recipients=self.recipients, error=str(exc))
            self.report.tree.append(node)
            self.report.error = str(exc)
            self.report.content = None
        except (NetsecError, ValueError, TypeError, KeyError) as exc:
            self.report.tree.append(_cms_node(oid, error=str(exc)))
            self.report.error = f"CMS {content_type_name(oid)}: {exc}"
            self.report.content = None

    def _cms_content(self, ci: Any, oid: str) -> None:
        if oid == OID_SIGNED:
            res = verify_signed_data(
                ci["content"], certificates=self.ring.certificates, anchors=self.ring.anchors
            )
            self._signers(res)
            self.report.tree.append(
                _cms_node(oid, signers=len(res.signers), inner=res.content_type)
            )
            self._inner(res.content_type, res.content)
        elif oid in (OID_ENVELOPED, OID_AUTH_ENVELOPED):
            opener = open_enveloped if oid == OID_ENVELOPED else open_auth_enveloped
            self.recipients = describe_recipients(ci["content"])
            opened = opener(ci["content"], self.keys)
            self.report.decrypted = True
            self.report.tree.append(
                _cms_node(
                    oid,
                    decrypted=True,
                    authenticated=opened.authenticated,
                    cipher=opened.cipher,
                    recipient=opened.recipient,
                    recipients=self.recipients,
                    inner=opened.content_type,
                )
            )
            self._inner(opened.content_type, opened.content)
        elif oid == OID_COMPRESSED:
            ctype, content = decompress(ci["content"])
            self.report.tree.append(_cms_node(oid, inner=ctype))
            self._inner(ctype, content)
        elif oid == OID_DIGESTED:
            ok, ctype, content = check_digested(ci["content"])
            self.report.tree.append(_cms_node(oid, digest_ok=ok, inner=ctype))
            if not ok:
                raise IntegrityError("DigestedData: digest does not match the content")
            self._inner(ctype, content)
        elif oid == OID_DATA:
            self.report.tree.append(_cms_node(oid))
            self.report.content = bytes(ci["content"].native or b"")
        else:
            raise ParseError(f"unsupported CMS content type {content_type_name(oid)}")

    def _inner(self, ctype: str, content: bytes | None) -> None:
        self.report.content = content
        if content is None:
            self.report.error = self.report.error or "detached signature without its content"
            return
        if ctype in (OID_SIGNED, OID_ENVELOPED, OID_AUTH_ENVELOPED, OID_COMPRESSED):
            self.layers += 1
            self.cms(content)
        elif ctype == OID_DATA and _looks_like_mime(content):
            self.mime(content)

    def _verify_detached(self, signed_data: Any, content: bytes) -> Any:
        return verify_signed_data(
            signed_data,
            detached_content=content,
            certificates=self.ring.certificates,
            anchors=self.ring.anchors,
        )

    def _signers(self, res: Any, *, canonicalized: bool = False) -> None:
        for s in res.signers:
            entry: dict[str, Any] = {"signer": s.signer, "valid": s.valid, "error": s.error}
            entry["chain"] = s.chain.name.lower()
            entry["signature_algorithm"] = s.signature_algorithm
            if canonicalized:
                entry["canonicalized"] = True  # verified over the CRLF form of the part
            self.report.signatures.append(entry)


def _cms_node(oid: str, **extra: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"cms": content_type_name(oid)}
    if "inner" in extra:
        extra["inner"] = content_type_name(extra["inner"])
    node.update(extra)
    return node


def dissect_message(data: bytes, ring: SMIMEKeyring | None = None) -> MessageReport:
    """Open ``data`` as far as the keys allow.  Raises only :class:`ParseError` for input that
    is nothing we read (e.g. an empty file)."""
    ring = ring or SMIMEKeyring()
    if not data:
        raise ParseError("empty input")
    kind = detect_kind(data)
    report = MessageReport(kind)
    unwrap = _Unwrapper(ring, report)
    if kind == "openpgp":
        report.error = "OpenPGP messages are not opened by this command (see docs/mail.md)"
    elif kind == "cms":
        unwrap.cms(data)
        if report.error and not report.tree and report.error.startswith("CMS: "):
            raise ParseError(report.error)
    else:
        unwrap.mime(data)
    return report


def content_digest(report: MessageReport) -> str | None:
    return None if report.content is None else hashlib.sha256(report.content).hexdigest()
