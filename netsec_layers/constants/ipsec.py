"""IANA registries used by IPsec: IKEv2 transform IDs and the IP protocol numbers ESP/AH meet.

Sources: IANA "Internet Key Exchange Version 2 (IKEv2) Parameters" (Transform Type 1 —
Encryption Algorithm, Transform Type 3 — Integrity Algorithm) and "Assigned Internet Protocol
Numbers".  These enums are the single source of the names; :mod:`netsec_layers.keys.sa` maps
them to the canonical algorithm names used by the rest of the project.
"""

from __future__ import annotations

from enum import IntEnum


class EncrTransform(IntEnum):
    """IKEv2 Transform Type 1 (encryption algorithm) IDs."""

    ENCR_DES_IV64 = 1
    ENCR_DES = 2
    ENCR_3DES = 3
    ENCR_RC5 = 4
    ENCR_IDEA = 5
    ENCR_CAST = 6
    ENCR_BLOWFISH = 7
    ENCR_3IDEA = 8
    ENCR_DES_IV32 = 9
    ENCR_NULL = 11
    ENCR_AES_CBC = 12
    ENCR_AES_CTR = 13  # RFC 3686
    ENCR_AES_CCM_8 = 14  # RFC 4309
    ENCR_AES_CCM_12 = 15
    ENCR_AES_CCM_16 = 16
    ENCR_AES_GCM_8 = 18  # RFC 4106
    ENCR_AES_GCM_12 = 19
    ENCR_AES_GCM_16 = 20
    ENCR_NULL_AUTH_AES_GMAC = 21  # RFC 4543
    ENCR_CAMELLIA_CBC = 23
    ENCR_CAMELLIA_CTR = 24
    ENCR_CAMELLIA_CCM_8 = 25
    ENCR_CAMELLIA_CCM_12 = 26
    ENCR_CAMELLIA_CCM_16 = 27
    ENCR_CHACHA20_POLY1305 = 28  # RFC 7634
    ENCR_AES_CCM_8_IIV = 29  # RFC 8750
    ENCR_AES_GCM_16_IIV = 30  # RFC 8750
    ENCR_CHACHA20_POLY1305_IIV = 31  # RFC 8750


class IntegTransform(IntEnum):
    """IKEv2 Transform Type 3 (integrity algorithm) IDs."""

    AUTH_NONE = 0
    AUTH_HMAC_MD5_96 = 1  # RFC 2403
    AUTH_HMAC_SHA1_96 = 2  # RFC 2404
    AUTH_DES_MAC = 3
    AUTH_KPDK_MD5 = 4
    AUTH_AES_XCBC_96 = 5  # RFC 3566
    AUTH_HMAC_MD5_128 = 6
    AUTH_HMAC_SHA1_160 = 7
    AUTH_AES_CMAC_96 = 8  # RFC 4494
    AUTH_AES_128_GMAC = 9  # RFC 4543
    AUTH_AES_192_GMAC = 10
    AUTH_AES_256_GMAC = 11
    AUTH_HMAC_SHA2_256_128 = 12  # RFC 4868
    AUTH_HMAC_SHA2_384_192 = 13
    AUTH_HMAC_SHA2_512_256 = 14


class IPProto(IntEnum):
    """IP protocol numbers (IPv4 Protocol / IPv6 Next Header) that matter around IPsec."""

    HOPOPT = 0
    ICMP = 1
    IPV4 = 4  # IP-in-IP: tunnel-mode ESP/AH next header for an inner IPv4 packet
    TCP = 6
    UDP = 17
    IPV6 = 41  # tunnel-mode next header for an inner IPv6 packet
    IPV6_ROUTE = 43
    IPV6_FRAG = 44
    GRE = 47  # RFC 2784
    ESP = 50  # RFC 4303
    AH = 51  # RFC 4302
    ICMPV6 = 58
    IPV6_NONXT = 59  # "no next header": ESP dummy packets, RFC 4303 §2.6
    IPV6_OPTS = 60


# The numbers as plain ints, for code that compares them per packet: each use of an IntEnum
# member is a class attribute lookup, ~6x an int comparison in CPython 3.11.
PROTO_IPIP, PROTO_TCP, PROTO_UDP, PROTO_IPV6 = map(
    int, (IPProto.IPV4, IPProto.TCP, IPProto.UDP, IPProto.IPV6)
)
PROTO_GRE, PROTO_ESP, PROTO_AH, PROTO_NONXT = map(
    int, (IPProto.GRE, IPProto.ESP, IPProto.AH, IPProto.IPV6_NONXT)
)

#: UDP port of IKE and of UDP-encapsulated ESP (RFC 3948 §2).
NATT_PORT = 4500
#: Ordinary IKE port.
IKE_PORT = 500


# -- RFC 4303 §2.4 / §2.7: the ESP trailer rules, one home for layers and session ---------------
#: The default padding: 1, 2, 3, … (RFC 4303 §2.4), at most 255 bytes.
ESP_DEFAULT_PADDING = bytes(range(1, 256))


def esp_pad_count(content_len: int, align: int) -> int:
    """Pad bytes so that payload + padding + Pad Length + Next Header fill ``align``-byte units
    (the cipher block size, at least 4: §2.4)."""
    return (-(content_len + 2)) % align


def esp_padding_conforms(padding: bytes) -> bool:
    """The padding is the default 1, 2, 3, … of §2.4."""
    return padding == ESP_DEFAULT_PADDING[: len(padding)]


def esp_declared_length(next_header: int, data: bytes) -> int | None:
    """The length the inner packet says it has, to split off TFC padding (§2.7: possible when
    the next layer carries its length: IPv4, IPv6, UDP); ``None`` when it cannot be located."""
    if next_header == PROTO_IPIP and len(data) >= 20 and data[0] >> 4 == 4:
        n = (data[2] << 8) | data[3]
        return n if 20 <= n <= len(data) else None
    if next_header == PROTO_IPV6 and len(data) >= 40 and data[0] >> 4 == 6:
        n = 40 + ((data[4] << 8) | data[5])
        return n if n <= len(data) else None
    if next_header == PROTO_UDP and len(data) >= 8:
        n = (data[4] << 8) | data[5]
        return n if 8 <= n <= len(data) else None
    return None
