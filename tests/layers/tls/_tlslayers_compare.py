"""Our dissection of a recorded TLS connection, in tshark's field vocabulary, so tests can
compare the two field by field."""

from __future__ import annotations

from typing import Any

from scapy.packet import Packet

from netsec_layers.layers.tls import (
    TLSCertificate,
    TLSCertificateASN1,
    TLSCertificateVerify,
    TLSClientHello,
    TLSClientKeyExchangeDH,
    TLSClientKeyExchangeECDH,
    TLSClientKeyExchangeRSA,
    TLSExtALPN,
    TLSExtension,
    TLSExtKeyShare,
    TLSExtKeyShareHRR,
    TLSExtKeyShareServer,
    TLSExtServerName,
    TLSExtSupportedGroups,
    TLSExtSupportedVersions,
    TLSExtSupportedVersionsServer,
    TLSNewSessionTicket,
    TLSRecord,
    TLSServerHello,
    TLSServerKeyExchangeDH,
    TLSServerKeyExchangeECDH,
    TLSUndecoded,
    dissect_tls,
    handshake_messages,
    iter_records,
)

# fields compared as numbers (tshark prints some in hex, some in decimal)
NUMERIC = {
    "tls.record.content_type",
    "tls.record.version",
    "tls.record.length",
    "tls.handshake.type",
    "tls.handshake.length",
    "tls.handshake.version",
    "tls.handshake.ciphersuite",
    "tls.handshake.extension.type",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.extensions_supported_group",
    "tls.handshake.certificate_length",
    "tls.handshake.server_named_curve",
    "tls.handshake.p_len",
    "tls.handshake.ys_len",
    "tls.handshake.epms_len",
    "tls.handshake.client_point_len",
    "tls.handshake.yc_len",
    "tls.handshake.sig_len",
    "tls.handshake.client_cert_vrfy.sig_len",
    "tls.handshake.session_ticket_length",
    "tls.handshake.extensions_key_share_group",
    "tls.handshake.extensions_key_share_selected_group",
    "tls.alert_message.desc",
}


def normalise(fields: dict[str, list[str]]) -> dict[str, list[Any]]:
    return {
        f: [int(v, 0) for v in vals] if f in NUMERIC else [v.lower() for v in vals]
        for f, vals in fields.items()
    }


def rebuild(p: Packet) -> bytes:
    """Bytes of ``p`` rebuilt from its fields (the raw cache cleared)."""
    p.clear_cache()
    return bytes(p)


def undecoded_parts(p: Packet) -> list[str]:
    """Reasons of every TLSUndecoded in a dissected chain (payloads and list fields)."""
    out: list[str] = []

    def walk(x: Any) -> None:
        while x is not None and isinstance(x, Packet) and x.__class__.__name__ != "NoPayload":
            if isinstance(x, TLSUndecoded):
                out.append(str(x.reason))
            for f in x.fields_desc:
                v = x.getfieldval(f.name)
                if isinstance(v, Packet):
                    walk(v)
                elif isinstance(v, list):
                    for e in v:
                        if isinstance(e, Packet):
                            walk(e)
            x = x.payload

    walk(p)
    return out


def ours(
    data: bytes, *, tls13: bool, version: int | None = None, kex: str | None = None
) -> dict[str, list[Any]]:
    """Our fields for one direction's bytes, named like tshark's."""
    chain = dissect_tls(data, version=version, kex=kex)
    recs = [r for r in iter_records(chain) if isinstance(r, TLSRecord)]
    msgs = handshake_messages(chain, version=version, kex=kex)
    r: dict[str, list[Any]] = {
        k: []
        for k in NUMERIC
        | {
            "tls.handshake.random",
            "tls.handshake.session_id",
            "tls.handshake.extensions_server_name",
            "tls.handshake.extensions_alpn_str",
        }
    }
    r["tls.record.content_type"] = [
        x.content_type for x in recs if not (tls13 and x.content_type == 23)
    ]
    r["tls.record.version"] = [x.version for x in recs]
    r["tls.record.length"] = [x.length for x in recs]
    for m in msgs:
        body = m.payload
        r["tls.handshake.type"].append(m.msg_type)
        r["tls.handshake.length"].append(m.length)
        if isinstance(body, (TLSClientHello, TLSServerHello)):
            r["tls.handshake.version"].append(body.version)
            r["tls.handshake.random"].append(body.random.hex())
            if body.session_id:
                r["tls.handshake.session_id"].append(body.session_id.hex())
            if isinstance(body, TLSClientHello):
                r["tls.handshake.ciphersuite"] += list(body.cipher_suites)
            else:
                r["tls.handshake.ciphersuite"].append(body.cipher_suite)
            for e in body.extensions or []:
                assert isinstance(e, TLSExtension), e
                r["tls.handshake.extension.type"].append(e.type)
                if isinstance(e, TLSExtServerName):
                    r["tls.handshake.extensions_server_name"] += [
                        s.server_name.decode() for s in e.server_names
                    ]
                elif isinstance(e, TLSExtALPN):
                    r["tls.handshake.extensions_alpn_str"] += [
                        x.protocol.decode() for x in e.protocols
                    ]
                elif isinstance(e, TLSExtSupportedVersions):
                    r["tls.handshake.extensions.supported_version"] += list(e.versions)
                elif isinstance(e, TLSExtSupportedVersionsServer):
                    r["tls.handshake.extensions.supported_version"].append(e.selected_version)
                elif isinstance(e, TLSExtSupportedGroups):
                    r["tls.handshake.extensions_supported_group"] += list(e.groups)
                elif isinstance(e, TLSExtKeyShare):
                    r["tls.handshake.extensions_key_share_group"] += [
                        k.group for k in e.client_shares
                    ]
                elif isinstance(e, TLSExtKeyShareServer):
                    r["tls.handshake.extensions_key_share_group"].append(e.group)
                elif isinstance(e, TLSExtKeyShareHRR):
                    r["tls.handshake.extensions_key_share_selected_group"].append(e.selected_group)
        elif isinstance(body, TLSCertificate):
            r["tls.handshake.certificate_length"] += [
                c.cert_length for c in body.certificates if isinstance(c, TLSCertificateASN1)
            ]
        elif isinstance(body, TLSServerKeyExchangeECDH):
            r["tls.handshake.server_named_curve"].append(body.named_curve)
            r["tls.handshake.sig_len"].append(body.signature.signature_length)
        elif isinstance(body, TLSServerKeyExchangeDH):
            r["tls.handshake.p_len"].append(body.p_length)
            r["tls.handshake.ys_len"].append(body.ys_length)
            r["tls.handshake.sig_len"].append(body.signature.signature_length)
        elif isinstance(body, TLSCertificateVerify):
            r["tls.handshake.client_cert_vrfy.sig_len"].append(body.signature.signature_length)
        elif isinstance(body, TLSClientKeyExchangeRSA):
            r["tls.handshake.epms_len"].append(body.encrypted_pre_master_length)
        elif isinstance(body, TLSClientKeyExchangeECDH):
            r["tls.handshake.client_point_len"].append(body.point_length)
        elif isinstance(body, TLSClientKeyExchangeDH):
            r["tls.handshake.yc_len"].append(body.yc_length)
        elif isinstance(body, TLSNewSessionTicket):
            r["tls.handshake.session_ticket_length"].append(body.ticket_length)
    from netsec_layers.layers.tls import TLSAlert

    for rec in recs:
        for x in rec.messages or []:
            if isinstance(x, TLSAlert):
                r["tls.alert_message.desc"].append(x.description)
    return r
