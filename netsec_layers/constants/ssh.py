"""SSH message numbers and reason codes: the single source of their names.

Sources: RFC 4250 §4.1 (message numbers), §4.2.2 (disconnect reasons), §4.3 (channel open
failure reasons), §4.4 (extended data types); RFC 4419 (DH group exchange), RFC 5656 §7.1 (ECDH),
RFC 8308 (EXT_INFO), RFC 4256 (keyboard-interactive), OpenSSH PROTOCOL (strict KEX).
Numbers 30-49 are key-exchange-method specific and 60-79 user-authentication-method specific:
the same number means different messages (RFC 4250 §4.1.2), so the names given here for them
are the ones of the most common method and :data:`KEX_METHOD_NAMES` lists the others.
"""

from __future__ import annotations

from enum import IntEnum


class SSHMsg(IntEnum):
    """SSH message numbers (RFC 4250 §4.1.2)."""

    DISCONNECT = 1
    IGNORE = 2
    UNIMPLEMENTED = 3
    DEBUG = 4
    SERVICE_REQUEST = 5
    SERVICE_ACCEPT = 6
    EXT_INFO = 7  # RFC 8308
    NEWCOMPRESS = 8  # RFC 8308 §3.2 (never deployed)
    KEXINIT = 20
    NEWKEYS = 21
    KEXDH_INIT = 30  # also KEX_ECDH_INIT, KEX_DH_GEX_REQUEST_OLD, KEX_HYBRID_INIT
    KEXDH_REPLY = 31  # also KEX_ECDH_REPLY, KEX_DH_GEX_GROUP, KEX_HYBRID_REPLY
    KEX_DH_GEX_INIT = 32  # RFC 4419
    KEX_DH_GEX_REPLY = 33
    KEX_DH_GEX_REQUEST = 34
    USERAUTH_REQUEST = 50
    USERAUTH_FAILURE = 51
    USERAUTH_SUCCESS = 52
    USERAUTH_BANNER = 53
    USERAUTH_PK_OK = 60  # also USERAUTH_PASSWD_CHANGEREQ, USERAUTH_INFO_REQUEST
    USERAUTH_INFO_RESPONSE = 61  # RFC 4256
    GLOBAL_REQUEST = 80
    REQUEST_SUCCESS = 81
    REQUEST_FAILURE = 82
    CHANNEL_OPEN = 90
    CHANNEL_OPEN_CONFIRMATION = 91
    CHANNEL_OPEN_FAILURE = 92
    CHANNEL_WINDOW_ADJUST = 93
    CHANNEL_DATA = 94
    CHANNEL_EXTENDED_DATA = 95
    CHANNEL_EOF = 96
    CHANNEL_CLOSE = 97
    CHANNEL_REQUEST = 98
    CHANNEL_SUCCESS = 99
    CHANNEL_FAILURE = 100


KEX_METHOD_NAMES: dict[int, tuple[str, ...]] = {
    30: ("KEXDH_INIT", "KEX_ECDH_INIT", "KEX_DH_GEX_REQUEST_OLD", "KEX_HYBRID_INIT"),
    31: ("KEXDH_REPLY", "KEX_ECDH_REPLY", "KEX_DH_GEX_GROUP", "KEX_HYBRID_REPLY"),
    60: ("USERAUTH_PK_OK", "USERAUTH_PASSWD_CHANGEREQ", "USERAUTH_INFO_REQUEST"),
}


class SSHDisconnectReason(IntEnum):
    """RFC 4250 §4.2.2."""

    HOST_NOT_ALLOWED_TO_CONNECT = 1
    PROTOCOL_ERROR = 2
    KEY_EXCHANGE_FAILED = 3
    RESERVED = 4
    MAC_ERROR = 5
    COMPRESSION_ERROR = 6
    SERVICE_NOT_AVAILABLE = 7
    PROTOCOL_VERSION_NOT_SUPPORTED = 8
    HOST_KEY_NOT_VERIFIABLE = 9
    CONNECTION_LOST = 10
    BY_APPLICATION = 11
    TOO_MANY_CONNECTIONS = 12
    AUTH_CANCELLED_BY_USER = 13
    NO_MORE_AUTH_METHODS_AVAILABLE = 14
    ILLEGAL_USER_NAME = 15


class SSHOpenFailureReason(IntEnum):
    """RFC 4250 §4.3."""

    ADMINISTRATIVELY_PROHIBITED = 1
    CONNECT_FAILED = 2
    UNKNOWN_CHANNEL_TYPE = 3
    RESOURCE_SHORTAGE = 4


class SSHExtendedDataType(IntEnum):
    """RFC 4250 §4.4."""

    STDERR = 1


# OpenSSH PROTOCOL §1.10: strict key exchange markers in the KEXINIT kex_algorithms list.
STRICT_KEX_CLIENT = "kex-strict-c-v00@openssh.com"
STRICT_KEX_SERVER = "kex-strict-s-v00@openssh.com"

# RFC 4253 §6.1: every implementation must accept packets of total length 35000; OpenSSH
# accepts up to 256 KiB (PACKET_MAX_SIZE).  A length above this is not an SSH packet.
MAX_PACKET_LENGTH = 256 * 1024

# RFC 4253 §4.2: identification string at most 255 bytes including CR LF.
MAX_BANNER_LENGTH = 255
