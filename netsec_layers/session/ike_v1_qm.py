"""IKEv1 Quick Mode (RFC 2409 §5.5): the IPsec SAs' keys from SKEYID_d and the decrypted Quick
Mode messages.  Each side's SA payload carries the SPI it receives on; KEYMAT is computed per
direction with that SPI: prf(SKEYID_d, protocol | SPI | Ni_b | Nr_b) expanded (K1 | K2 ...),
encryption key first.  PFS (a KE payload in Quick Mode) is not supported: no key is derived.
"""

from __future__ import annotations

from typing import Any

from netsec_layers.crypto.ike import ikev1_keymat
from netsec_layers.errors import NetsecError
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session.trackers import SADerived

__all__ = ["proposal_of", "quick_mode_sas"]

#: IPsec DOI ESP transform IDs (RFC 2407 §4.4.4) -> (canonical name, default key bytes)
_ESP: dict[int, tuple[str, int]] = {3: ("3DES-CBC", 24), 12: ("AES-CBC", 16), 13: ("AES-CTR", 16)}
#: IPsec DOI "Authentication Algorithm" attribute (5) -> (canonical name, key bytes)
_AUTH: dict[int, tuple[str, int]] = {
    1: ("HMAC-MD5-96", 16),
    2: ("HMAC-SHA1-96", 20),
    5: ("HMAC-SHA2-256-128", 32),
    6: ("HMAC-SHA2-384-192", 48),
    7: ("HMAC-SHA2-512-256", 64),
}
_UDP_ENCAP = {3, 4, 61443, 61444}  # encapsulation modes UDP-Tunnel/Transport (RFC 3947, drafts)


def proposal_of(body: bytes) -> tuple[int, bytes, int, dict[int, int]] | None:
    """(protocol, SPI, transform ID, attributes) of the first proposal/transform of an
    IPsec DOI SA payload body, or None when malformed."""
    if len(body) < 16:
        return None
    pos = 8  # DOI, situation
    proto, spi_size = body[pos + 5], body[pos + 6]
    spi = body[pos + 8 : pos + 8 + spi_size]
    t = pos + 8 + spi_size
    if len(spi) != spi_size or t + 8 > len(body):
        return None
    tid = body[t + 5]
    end = min(t + int.from_bytes(body[t + 2 : t + 4], "big"), len(body))
    attrs: dict[int, int] = {}
    a = t + 8
    while a + 4 <= end:
        atype, aval = (
            int.from_bytes(body[a : a + 2], "big"),
            int.from_bytes(body[a + 2 : a + 4], "big"),
        )
        if atype & 0x8000:
            attrs[atype & 0x7FFF] = aval
            a += 4
        else:
            a += 4 + aval
    return proto, spi, tid, attrs


def quick_mode_sas(
    *,
    hash_id: int,
    skeyid_d: bytes,
    frame: int,
    initiator: str,
    responder: str,
    qm: dict[str, Any],
    source: str,
) -> list[SADerived]:
    """Both SAs of a finished Quick Mode (``qm``: spi_i, spi_r, ni, nr, tid, attrs)."""
    if qm.get("pfs") or qm.get("proto") != 3:
        return []
    esp = _ESP.get(qm["tid"])
    auth = _AUTH.get(qm["attrs"].get(5, 0), ("NONE", 0))
    if esp is None:
        return []
    enc_len = qm["attrs"].get(6, esp[1] * 8) // 8 if qm["tid"] != 3 else 24
    salt = 4 if qm["tid"] == 13 else 0
    n = enc_len + salt + auth[1]
    encap = (4500, 4500) if qm["attrs"].get(4) in _UDP_ENCAP else None
    mode = "transport" if qm["attrs"].get(4) in (2, 4, 61444) else "tunnel"
    out = []
    try:
        for spi, src, dst in (
            (qm["spi_r"], initiator, responder),
            (qm["spi_i"], responder, initiator),
        ):
            km = ikev1_keymat(
                hash_id,
                skeyid_d=skeyid_d,
                protocol=3,
                spi=spi,
                nonce_i=qm["ni"],
                nonce_r=qm["nr"],
                length=n,
            )
            sa = SecurityAssociation(
                spi=int.from_bytes(spi, "big"),
                encryption=esp[0],
                enc_key=km[: enc_len + salt],
                integrity=auth[0],
                auth_key=km[enc_len + salt :],
                src=src,
                dst=dst,
                mode=mode,
                udp_encap=encap,
            )
            out.append(SADerived(frame, sa, source))
    except NetsecError:
        return []
    return out
