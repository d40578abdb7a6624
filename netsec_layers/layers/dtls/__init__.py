"""netsec_layers.layers.dtls: DTLS 1.0/1.2/1.3 records and handshake messages as Scapy packets.

Entry point for untrusted bytes: :func:`dissect_dtls` (the records of one UDP payload; never
raises).  Handshake bodies are the TLS classes of :mod:`netsec_layers.layers.tls` (the
ClientHello with its cookie is :class:`DTLSClientHello`; HelloVerifyRequest is
:class:`~netsec_layers.layers.tls.TLSHelloVerifyRequest`).
"""

from netsec_layers.layers.tls.handshake import TLSHelloVerifyRequest

from .handshake import (
    DTLSAck,
    DTLSClientHello,
    DTLSContext,
    DTLSHandshake,
    DTLSHandshakeFragmentBody,
    DTLSRecordNumber,
)
from .record import (
    DTLSCIDRecord,
    DTLSCiphertext,
    DTLSRecord,
    dissect_dtls,
    guess_cid_length,
    iter_dtls_records,
    looks_like_dtls,
    record_length,
)

DTLSHelloVerifyRequest = TLSHelloVerifyRequest

__all__ = [
    "DTLSAck",
    "DTLSCIDRecord",
    "DTLSCiphertext",
    "DTLSClientHello",
    "DTLSContext",
    "DTLSHandshake",
    "DTLSHandshakeFragmentBody",
    "DTLSHelloVerifyRequest",
    "DTLSRecord",
    "DTLSRecordNumber",
    "dissect_dtls",
    "guess_cid_length",
    "iter_dtls_records",
    "looks_like_dtls",
    "record_length",
]
