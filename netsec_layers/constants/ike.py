"""IANA registries of IKEv2 (RFC 7296 and updates) and IKEv1/ISAKMP (RFC 2407/2408/2409).

Sources: IANA "Internet Key Exchange Version 2 (IKEv2) Parameters" and "Internet Key Exchange
(IKE) Attributes" / "ISAKMP" registries.  The IKEv2 encryption and integrity transform IDs are
:class:`netsec_layers.constants.ipsec.EncrTransform` / ``IntegTransform`` (one source of names).
"""

from __future__ import annotations

from enum import IntEnum

from netsec_layers.constants.ipsec import EncrTransform, IntegTransform

__all__ = [
    "AuthMethod",
    "CfgAttribute",
    "CfgType",
    "DHGroup",
    "EncrTransform",
    "ExchangeType",
    "IDType",
    "IKEv1Exchange",
    "IKEv1Payload",
    "IntegTransform",
    "NotifyType",
    "PayloadType",
    "PrfTransform",
    "ProtocolID",
    "TSType",
    "TransformType",
    "NON_ESP_MARKER",
]

#: RFC 3948 §2.2: four zero bytes before an IKE message on UDP 4500.
NON_ESP_MARKER = b"\x00\x00\x00\x00"


class ExchangeType(IntEnum):
    """IKEv2 Exchange Types (RFC 7296 §3.1; RFC 9242; RFC 9370)."""

    IKE_SA_INIT = 34
    IKE_AUTH = 35
    CREATE_CHILD_SA = 36
    INFORMATIONAL = 37
    IKE_SESSION_RESUME = 38  # RFC 5723
    GSA_AUTH = 39
    GSA_REGISTRATION = 40
    GSA_REKEY = 41
    GSA_INBAND_REKEY = 42
    IKE_INTERMEDIATE = 43  # RFC 9242
    IKE_FOLLOWUP_KE = 44  # RFC 9370


class PayloadType(IntEnum):
    """IKEv2 Payload Types (RFC 7296 §3.2)."""

    NONE = 0
    SA = 33
    KE = 34
    IDi = 35
    IDr = 36
    CERT = 37
    CERTREQ = 38
    AUTH = 39
    NONCE = 40
    NOTIFY = 41
    DELETE = 42
    VENDOR_ID = 43
    TSi = 44
    TSr = 45
    SK = 46
    CP = 47
    EAP = 48
    GSPM = 49  # RFC 6467
    IDg = 50
    GSA = 51
    KD = 52
    SKF = 53  # RFC 7383
    PS = 54  # RFC 8019


class TransformType(IntEnum):
    """IKEv2 Transform Types (RFC 7296 §3.3.2; RFC 9370 renames 4 and adds ADDKE1-7)."""

    ENCR = 1
    PRF = 2
    INTEG = 3
    KE = 4  # "D-H" in RFC 7296
    ESN = 5
    ADDKE1 = 6
    ADDKE2 = 7
    ADDKE3 = 8
    ADDKE4 = 9
    ADDKE5 = 10
    ADDKE6 = 11
    ADDKE7 = 12


class PrfTransform(IntEnum):
    """IKEv2 Transform Type 2 (pseudorandom function)."""

    PRF_HMAC_MD5 = 1
    PRF_HMAC_SHA1 = 2
    PRF_HMAC_TIGER = 3
    PRF_AES128_XCBC = 4  # RFC 4434
    PRF_HMAC_SHA2_256 = 5  # RFC 4868
    PRF_HMAC_SHA2_384 = 6
    PRF_HMAC_SHA2_512 = 7
    PRF_AES128_CMAC = 8  # RFC 4615


class DHGroup(IntEnum):
    """IKEv2 Transform Type 4 (key exchange method)."""

    NONE = 0
    MODP768 = 1
    MODP1024 = 2
    MODP1536 = 5
    MODP2048 = 14
    MODP3072 = 15
    MODP4096 = 16
    MODP6144 = 17
    MODP8192 = 18
    ECP256 = 19
    ECP384 = 20
    ECP521 = 21
    MODP1024_S160 = 22
    MODP2048_S224 = 23
    MODP2048_S256 = 24
    ECP192 = 25
    ECP224 = 26
    BRAINPOOL224 = 27
    BRAINPOOL256 = 28
    BRAINPOOL384 = 29
    BRAINPOOL512 = 30
    CURVE25519 = 31
    CURVE448 = 32
    GOST3410_256 = 33
    GOST3410_512 = 34
    ML_KEM_512 = 35
    ML_KEM_768 = 36
    ML_KEM_1024 = 37


class ProtocolID(IntEnum):
    """Security Protocol Identifiers (RFC 7296 §3.3.1)."""

    NONE = 0
    IKE = 1
    AH = 2
    ESP = 3


class AuthMethod(IntEnum):
    """IKEv2 Authentication Method (RFC 7296 §3.8; RFC 4754; RFC 7427)."""

    RSA_SIG = 1
    SHARED_KEY_MIC = 2
    DSS_SIG = 3
    ECDSA_SHA256_P256 = 9
    ECDSA_SHA384_P384 = 10
    ECDSA_SHA512_P521 = 11
    GENERIC_SECURE_PASSWORD = 12
    NULL_AUTH = 13  # RFC 7619
    DIGITAL_SIGNATURE = 14  # RFC 7427


class IDType(IntEnum):
    """IKEv2 Identification types (RFC 7296 §3.5)."""

    ID_IPV4_ADDR = 1
    ID_FQDN = 2
    ID_RFC822_ADDR = 3
    ID_IPV6_ADDR = 5
    ID_DER_ASN1_DN = 9
    ID_DER_ASN1_GN = 10
    ID_KEY_ID = 11
    ID_FC_NAME = 12
    ID_NULL = 13


class TSType(IntEnum):
    """Traffic Selector types (RFC 7296 §3.13.1; RFC 4595)."""

    TS_IPV4_ADDR_RANGE = 7
    TS_IPV6_ADDR_RANGE = 8
    TS_FC_ADDR_RANGE = 9


class CfgType(IntEnum):
    """Configuration payload CFG types (RFC 7296 §3.15)."""

    CFG_REQUEST = 1
    CFG_REPLY = 2
    CFG_SET = 3
    CFG_ACK = 4


class CfgAttribute(IntEnum):
    """Configuration attribute types (RFC 7296 §3.15.1; RFC 8598)."""

    INTERNAL_IP4_ADDRESS = 1
    INTERNAL_IP4_NETMASK = 2
    INTERNAL_IP4_DNS = 3
    INTERNAL_IP4_NBNS = 4
    INTERNAL_IP4_DHCP = 6
    APPLICATION_VERSION = 7
    INTERNAL_IP6_ADDRESS = 8
    INTERNAL_IP6_DNS = 10
    INTERNAL_IP6_DHCP = 12
    INTERNAL_IP4_SUBNET = 13
    SUPPORTED_ATTRIBUTES = 14
    INTERNAL_IP6_SUBNET = 15
    MIP6_HOME_PREFIX = 16
    INTERNAL_IP6_LINK = 17
    INTERNAL_IP6_PREFIX = 18
    HOME_AGENT_ADDRESS = 19
    P_CSCF_IP4_ADDRESS = 20
    P_CSCF_IP6_ADDRESS = 21
    FTT_KAT = 22
    EXTERNAL_SOURCE_IP4_NAT_INFO = 23
    TIMEOUT_PERIOD_FOR_LIVENESS_CHECK = 24
    INTERNAL_DNS_DOMAIN = 25
    INTERNAL_DNSSEC_TA = 26


class NotifyType(IntEnum):
    """IKEv2 Notify Message Types: errors (< 16384) and status types (RFC 7296 §3.10.1 and
    the later RFCs named in the IANA registry)."""

    UNSUPPORTED_CRITICAL_PAYLOAD = 1
    INVALID_IKE_SPI = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_SYNTAX = 7
    INVALID_MESSAGE_ID = 9
    INVALID_SPI = 11
    NO_PROPOSAL_CHOSEN = 14
    INVALID_KE_PAYLOAD = 17
    AUTHENTICATION_FAILED = 24
    SINGLE_PAIR_REQUIRED = 34
    NO_ADDITIONAL_SAS = 35
    INTERNAL_ADDRESS_FAILURE = 36
    FAILED_CP_REQUIRED = 37
    TS_UNACCEPTABLE = 38
    INVALID_SELECTORS = 39
    UNACCEPTABLE_ADDRESSES = 40
    UNEXPECTED_NAT_DETECTED = 41
    USE_ASSIGNED_HoA = 42
    TEMPORARY_FAILURE = 43
    CHILD_SA_NOT_FOUND = 44
    INVALID_GROUP_ID = 45
    AUTHORIZATION_FAILED = 46
    STATE_NOT_FOUND = 47
    TS_MAX_QUEUE = 48
    REGISTRATION_FAILED = 49
    INITIAL_CONTACT = 16384
    SET_WINDOW_SIZE = 16385
    ADDITIONAL_TS_POSSIBLE = 16386
    IPCOMP_SUPPORTED = 16387
    NAT_DETECTION_SOURCE_IP = 16388
    NAT_DETECTION_DESTINATION_IP = 16389
    COOKIE = 16390
    USE_TRANSPORT_MODE = 16391
    HTTP_CERT_LOOKUP_SUPPORTED = 16392
    REKEY_SA = 16393
    ESP_TFC_PADDING_NOT_SUPPORTED = 16394
    NON_FIRST_FRAGMENTS_ALSO = 16395
    MOBIKE_SUPPORTED = 16396
    ADDITIONAL_IP4_ADDRESS = 16397
    ADDITIONAL_IP6_ADDRESS = 16398
    NO_ADDITIONAL_ADDRESSES = 16399
    UPDATE_SA_ADDRESSES = 16400
    COOKIE2 = 16401
    NO_NATS_ALLOWED = 16402
    AUTH_LIFETIME = 16403
    MULTIPLE_AUTH_SUPPORTED = 16404
    ANOTHER_AUTH_FOLLOWS = 16405
    REDIRECT_SUPPORTED = 16406
    REDIRECT = 16407
    REDIRECTED_FROM = 16408
    TICKET_LT_OPAQUE = 16409
    TICKET_REQUEST = 16410
    TICKET_ACK = 16411
    TICKET_NACK = 16412
    TICKET_OPAQUE = 16413
    LINK_ID = 16414
    USE_WESP_MODE = 16415
    ROHC_SUPPORTED = 16416
    EAP_ONLY_AUTHENTICATION = 16417
    CHILDLESS_IKEV2_SUPPORTED = 16418
    QUICK_CRASH_DETECTION = 16419
    IKEV2_MESSAGE_ID_SYNC_SUPPORTED = 16420
    IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED = 16421
    IKEV2_MESSAGE_ID_SYNC = 16422
    IPSEC_REPLAY_COUNTER_SYNC = 16423
    SECURE_PASSWORD_METHODS = 16424
    PSK_PERSIST = 16425
    PSK_CONFIRM = 16426
    ERX_SUPPORTED = 16427
    IFOM_CAPABILITY = 16428
    SENDER_REQUEST_ID = 16429
    IKEV2_FRAGMENTATION_SUPPORTED = 16430  # RFC 7383
    SIGNATURE_HASH_ALGORITHMS = 16431  # RFC 7427
    CLONE_IKE_SA_SUPPORTED = 16432
    CLONE_IKE_SA = 16433
    PUZZLE = 16434
    USE_PPK = 16435
    PPK_IDENTITY = 16436
    NO_PPK_AUTH = 16437
    INTERMEDIATE_EXCHANGE_SUPPORTED = 16438  # RFC 9242
    IP4_ALLOWED = 16439
    IP6_ALLOWED = 16440
    ADDITIONAL_KEY_EXCHANGE = 16441  # RFC 9370
    USE_AGGFRAG = 16442


class IKEv1Payload(IntEnum):
    """ISAKMP payload types (RFC 2408 §3.1; RFC 3947 NAT-D/NAT-OA and their draft numbers)."""

    NONE = 0
    SA = 1
    P = 2
    T = 3
    KE = 4
    ID = 5
    CERT = 6
    CR = 7
    HASH = 8
    SIG = 9
    NONCE = 10
    N = 11
    D = 12
    VID = 13
    SAK = 15
    NAT_D = 20
    NAT_OA = 21
    NAT_D_DRAFT = 130
    NAT_OA_DRAFT = 131
    FRAG = 132  # Cisco fragmentation (not dissected further)


class IKEv1Exchange(IntEnum):
    """ISAKMP exchange types (RFC 2408 §3.1; RFC 2409 §5)."""

    NONE = 0
    BASE = 1
    MAIN_MODE = 2  # identity protection
    AUTH_ONLY = 3
    AGGRESSIVE = 4
    INFORMATIONAL = 5
    TRANSACTION = 6  # mode config
    QUICK_MODE = 32
    NEW_GROUP_MODE = 33


__all__ += ["IKEV1_ATTR_NAMES"]

#: IKEv1 phase 1 SA attribute classes (RFC 2409 Appendix A).
IKEV1_ATTR_NAMES: dict[int, str] = {
    1: "Encryption Algorithm",
    2: "Hash Algorithm",
    3: "Authentication Method",
    4: "Group Description",
    5: "Group Type",
    6: "Group Prime/Irreducible Polynomial",
    11: "Life Type",
    12: "Life Duration",
    14: "Key Length",
}
