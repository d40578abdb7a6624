# ruff: noqa: F405
"""netsec_layers.layers.tls: the plaintext SSL/TLS layer family as Scapy packets.

Entry points for untrusted bytes: :func:`dissect_tls` (records) and
:func:`dissect_handshake` (one handshake message); both never raise and take the connection
context (``version``, ``kex``) as keywords.  Bind to TCP with
:func:`netsec_layers.layers.tls.bind.bind_tls`.
"""

from ._base import TLSContext, TLSUndecoded
from .defrag import TLSHandshakeDefragmenter, handshake_messages, split_handshake_messages
from .extensions import *  # noqa: F403
from .handshake import *  # noqa: F403
from .handshake_kx import (
    TLSCertificate,
    TLSCertificate13,
    TLSCertificateASN1,
    TLSCertificateEntry,
    TLSCertificateRequest,
    TLSCertificateRequest11,
    TLSCertificateRequest13,
    TLSCertificateStatus,
    TLSCertificateURL,
    TLSCertificateVerify,
    TLSClientKeyExchange,
    TLSClientKeyExchangeDH,
    TLSClientKeyExchangeECDH,
    TLSClientKeyExchangeRSA,
    TLSClientKeyExchangeSSL3RSA,
    TLSCompressedCertificate,
    TLSEKTKey,
    TLSKeyUpdate,
    TLSMessageHash,
    TLSNewSessionTicket,
    TLSNewSessionTicket13,
    TLSServerKeyExchange,
    TLSServerKeyExchangeDH,
    TLSServerKeyExchangeECDH,
    TLSServerKeyExchangeRSA,
    TLSSignature,
    TLSSignatureLegacy,
    TLSSupplementalData,
    TLSURLAndHash,
)
from .record import (
    SSLv2ClientHello,
    TLSAlert,
    TLSApplicationData,
    TLSChangeCipherSpec,
    TLSEncryptedRecord,
    TLSHandshakeFragment,
    TLSHeartbeat,
    TLSRecord,
    dissect_handshake,
    dissect_tls,
    iter_records,
)

TLSCiphertext = TLSEncryptedRecord  # RFC 8446 §5.2 name

__all__ = [
    "DEFAULT_CIPHER_SUITES", "SSLv2ClientHello", "TLSAlert", "TLSApplicationData",
    "TLSCertificate", "TLSCertificate13", "TLSCertificateASN1", "TLSCertificateEntry",
    "TLSCertificateRequest", "TLSCertificateRequest11", "TLSCertificateRequest13",
    "TLSCertificateStatus", "TLSCertificateURL", "TLSCertificateVerify", "TLSChangeCipherSpec",
    "TLSCiphertext", "TLSClientHello", "TLSClientKeyExchange", "TLSClientKeyExchangeDH",
    "TLSClientKeyExchangeECDH", "TLSClientKeyExchangeRSA", "TLSClientKeyExchangeSSL3RSA",
    "TLSCompressedCertificate", "TLSContext", "TLSDistinguishedName", "TLSEKTKey",
    "TLSEncryptedExtensions", "TLSEncryptedRecord", "TLSEndOfEarlyData", "TLSExtALPN",
    "TLSExtCertificateAuthorities", "TLSExtCertificateStatus", "TLSExtCompressCertificate",
    "TLSExtCookie", "TLSExtECPointFormats", "TLSExtEarlyData", "TLSExtEarlyDataTicket",
    "TLSExtEncryptThenMAC", "TLSExtEncryptedClientHello", "TLSExtExtendedMasterSecret",
    "TLSExtHeartbeat", "TLSExtKeyShare", "TLSExtKeyShareHRR", "TLSExtKeyShareServer",
    "TLSExtMaxFragmentLength", "TLSExtOIDFilters", "TLSExtPSKKeyExchangeModes", "TLSExtPadding",
    "TLSExtPostHandshakeAuth", "TLSExtPreSharedKey", "TLSExtPreSharedKeyServer",
    "TLSExtRecordSizeLimit", "TLSExtRenegotiationInfo", "TLSExtServerName", "TLSExtSessionTicket",
    "TLSExtSignatureAlgorithms", "TLSExtSignatureAlgorithmsCert",
    "TLSExtSignedCertificateTimestamp", "TLSExtStatusRequest", "TLSExtStatusRequestEmpty",
    "TLSExtSupportedGroups", "TLSExtSupportedVersions", "TLSExtSupportedVersionsServer",
    "TLSExtUseSRTP", "TLSExtension", "TLSFinished", "TLSHandshake", "TLSHandshakeDefragmenter",
    "TLSHandshakeFragment", "TLSHeartbeat", "TLSHelloRequest", "TLSHelloRetryRequest",
    "TLSHelloVerifyRequest", "TLSKeyShareEntry", "TLSKeyUpdate", "TLSMessageHash",
    "TLSNewSessionTicket", "TLSNewSessionTicket13", "TLSOIDFilter", "TLSPSKBinder",
    "TLSPSKIdentity", "TLSProtocolName", "TLSRecord", "TLSSerializedSCT", "TLSServerHello",
    "TLSServerHelloDone", "TLSServerKeyExchange", "TLSServerKeyExchangeDH",
    "TLSServerKeyExchangeECDH", "TLSServerKeyExchangeRSA", "TLSServerName", "TLSSignature",
    "TLSSignatureLegacy", "TLSSupplementalData", "TLSURLAndHash", "TLSUndecoded",
    "TLSUnknownHandshake", "X25519_SAMPLE", "body_classes", "default_client_extensions",
    "dissect_handshake", "dissect_tls", "extension_class", "find_extension", "handshake_messages",
    "iter_records", "parse_extensions", "split_handshake_messages",
]
