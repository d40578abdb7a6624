"""SSH messages (the payload of a binary packet), one Scapy class per message.

RFC 4253 §§7-12 (transport), RFC 4252 (user authentication), RFC 4254 (connection), RFC 4256
(keyboard-interactive), RFC 4419 (DH group exchange), RFC 5656 §4 (ECDH), RFC 8308 (EXT_INFO).
Field names follow the RFCs.  Every class starts with ``msg_type`` (byte).  Method-specific
numbers (30-49, 60-79) are resolved by :func:`netsec_layers.layers.ssh.dissect_ssh_message`.
"""

from __future__ import annotations

from typing import Any

from scapy.fields import ConditionalField, PacketListField
from scapy.packet import Packet

from netsec_layers.layers.ssh._fields import (
    SSHBase,
    SSHFixedBytesField,
    SSHIntField,
    SSHNameListField,
    SSHRestField,
    SSHStringField,
)


class SSHMessage(SSHBase):
    """Base of every SSH message class."""

    msg_type_value = 0

    def mysummary(self) -> str:
        return f"SSH {self.name}"


def _u32(name: str, default: int = 0) -> SSHIntField:
    return SSHIntField(name, default, 4)


def _u8(name: str, default: int = 0) -> SSHIntField:
    return SSHIntField(name, default, 1)


def _s(name: str, default: bytes = b"") -> SSHStringField:
    return SSHStringField(name, default)


def _type(value: int) -> SSHIntField:
    return SSHIntField("msg_type", value, 1)


def _when(fld: Any, cond: Any) -> ConditionalField:
    return ConditionalField(fld, cond)


# ----------------------------------------------------------------------- transport (RFC 4253)


class SSHDisconnect(SSHMessage):
    name = "SSH_MSG_DISCONNECT"
    fields_desc = [_type(1), _u32("reason_code"), _s("description"), _s("language")]


class SSHIgnore(SSHMessage):
    name = "SSH_MSG_IGNORE"
    fields_desc = [_type(2), _s("data")]


class SSHUnimplemented(SSHMessage):
    name = "SSH_MSG_UNIMPLEMENTED"
    fields_desc = [_type(3), _u32("seq")]


class SSHDebug(SSHMessage):
    name = "SSH_MSG_DEBUG"
    fields_desc = [_type(4), _u8("always_display"), _s("message"), _s("language")]


class SSHServiceRequest(SSHMessage):
    name = "SSH_MSG_SERVICE_REQUEST"
    fields_desc = [_type(5), _s("service_name", b"ssh-userauth")]


class SSHServiceAccept(SSHMessage):
    name = "SSH_MSG_SERVICE_ACCEPT"
    fields_desc = [_type(6), _s("service_name", b"ssh-userauth")]


class SSHExtension(SSHBase):
    """One extension of EXT_INFO (RFC 8308 §2.3): name and value strings."""

    name = "SSH extension"
    fields_desc = [_s("ext_name"), _s("ext_value")]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class SSHExtInfo(SSHMessage):
    name = "SSH_MSG_EXT_INFO"
    fields_desc = [
        _type(7),
        _u32("nr_extensions", 0),
        PacketListField(
            "extensions", [], SSHExtension, count_from=lambda p: min(p.nr_extensions or 0, 4096)
        ),
    ]


class SSHKexInit(SSHMessage):
    """RFC 4253 §7.1.  ``cookie`` is the 16 random bytes the SSH key log is indexed by."""

    name = "SSH_MSG_KEXINIT"
    fields_desc = [
        _type(20),
        SSHFixedBytesField("cookie", b"\x00" * 16, 16),
        SSHNameListField("kex_algorithms", []),
        SSHNameListField("server_host_key_algorithms", []),
        SSHNameListField("encryption_algorithms_client_to_server", []),
        SSHNameListField("encryption_algorithms_server_to_client", []),
        SSHNameListField("mac_algorithms_client_to_server", []),
        SSHNameListField("mac_algorithms_server_to_client", []),
        SSHNameListField("compression_algorithms_client_to_server", ["none"]),
        SSHNameListField("compression_algorithms_server_to_client", ["none"]),
        SSHNameListField("languages_client_to_server", []),
        SSHNameListField("languages_server_to_client", []),
        _u8("first_kex_packet_follows"),
        _u32("reserved"),
    ]


class SSHNewKeys(SSHMessage):
    name = "SSH_MSG_NEWKEYS"
    fields_desc = [_type(21)]


# --------------------------------------------------------------- key exchange methods (30-49)


class SSHKexDHInit(SSHMessage):
    """KEXDH_INIT (RFC 4253 §8: mpint e), KEX_ECDH_INIT (RFC 5656 §4: string Q_C) and the
    hybrid INITs (mlkem768x25519 / sntrup761x25519: string C_INIT): one wire format."""

    name = "SSH_MSG_KEXDH_INIT"
    fields_desc = [_type(30), _s("e")]


class SSHKexDHReply(SSHMessage):
    """KEXDH_REPLY / KEX_ECDH_REPLY / hybrid REPLY: host key K_S, f (or Q_S), signature."""

    name = "SSH_MSG_KEXDH_REPLY"
    fields_desc = [_type(31), _s("host_key"), _s("f"), _s("signature")]


class SSHKexDHGexRequestOld(SSHMessage):
    name = "SSH_MSG_KEX_DH_GEX_REQUEST_OLD"
    fields_desc = [_type(30), _u32("n", 2048)]


class SSHKexDHGexGroup(SSHMessage):
    name = "SSH_MSG_KEX_DH_GEX_GROUP"
    fields_desc = [_type(31), _s("p"), _s("g")]


class SSHKexDHGexInit(SSHMessage):
    name = "SSH_MSG_KEX_DH_GEX_INIT"
    fields_desc = [_type(32), _s("e")]


class SSHKexDHGexReply(SSHMessage):
    name = "SSH_MSG_KEX_DH_GEX_REPLY"
    fields_desc = [_type(33), _s("host_key"), _s("f"), _s("signature")]


class SSHKexDHGexRequest(SSHMessage):
    name = "SSH_MSG_KEX_DH_GEX_REQUEST"
    fields_desc = [_type(34), _u32("min", 2048), _u32("n", 4096), _u32("max", 8192)]


# ------------------------------------------------------------ user authentication (RFC 4252)


def _method(p: Packet, name: bytes) -> bool:
    return bool(p.method == name)


class SSHUserauthRequest(SSHMessage):
    """RFC 4252 §5 with the method fields of §§5.2, 7, 8, 9 and RFC 4256 §3.1."""

    name = "SSH_MSG_USERAUTH_REQUEST"
    fields_desc = [
        _type(50),
        _s("user_name"),
        _s("service_name", b"ssh-connection"),
        _s("method", b"none"),
        # password (§8): boolean change, password [, new password]
        _when(_u8("change"), lambda p: _method(p, b"password")),
        _when(_s("password"), lambda p: _method(p, b"password")),
        _when(_s("new_password"), lambda p: _method(p, b"password") and bool(p.change)),
        # publickey (§7): boolean has signature, algorithm, key blob [, signature]
        _when(_u8("has_signature"), lambda p: _method(p, b"publickey")),
        _when(_s("algorithm"), lambda p: p.method in (b"publickey", b"hostbased")),
        _when(_s("public_key"), lambda p: p.method in (b"publickey", b"hostbased")),
        # hostbased (§9): algorithm, host key, client host, client user, signature
        _when(_s("client_host_name"), lambda p: _method(p, b"hostbased")),
        _when(_s("client_user_name"), lambda p: _method(p, b"hostbased")),
        _when(
            _s("signature"),
            lambda p: _method(p, b"hostbased") or (_method(p, b"publickey") and p.has_signature),
        ),
        # keyboard-interactive (RFC 4256 §3.1): language tag, submethods
        _when(_s("language"), lambda p: _method(p, b"keyboard-interactive")),
        _when(_s("submethods"), lambda p: _method(p, b"keyboard-interactive")),
    ]


class SSHUserauthFailure(SSHMessage):
    name = "SSH_MSG_USERAUTH_FAILURE"
    fields_desc = [_type(51), SSHNameListField("methods", []), _u8("partial_success")]


class SSHUserauthSuccess(SSHMessage):
    name = "SSH_MSG_USERAUTH_SUCCESS"
    fields_desc = [_type(52)]


class SSHUserauthBanner(SSHMessage):
    name = "SSH_MSG_USERAUTH_BANNER"
    fields_desc = [_type(53), _s("message"), _s("language")]


class SSHUserauthPKOK(SSHMessage):
    name = "SSH_MSG_USERAUTH_PK_OK"
    fields_desc = [_type(60), _s("algorithm"), _s("public_key")]


class SSHUserauthPasswdChangeReq(SSHMessage):
    name = "SSH_MSG_USERAUTH_PASSWD_CHANGEREQ"
    fields_desc = [_type(60), _s("prompt"), _s("language")]


class SSHPrompt(SSHBase):
    """One prompt of USERAUTH_INFO_REQUEST (RFC 4256 §3.2)."""

    name = "SSH prompt"
    fields_desc = [_s("prompt"), _u8("echo")]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class SSHResponse(SSHBase):
    name = "SSH response"
    fields_desc = [_s("response")]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class SSHUserauthInfoRequest(SSHMessage):
    name = "SSH_MSG_USERAUTH_INFO_REQUEST"
    fields_desc = [
        _type(60),
        _s("req_name"),
        _s("instruction"),
        _s("language"),
        _u32("num_prompts"),
        PacketListField(
            "prompts", [], SSHPrompt, count_from=lambda p: min(p.num_prompts or 0, 256)
        ),
    ]


class SSHUserauthInfoResponse(SSHMessage):
    name = "SSH_MSG_USERAUTH_INFO_RESPONSE"
    fields_desc = [
        _type(61),
        _u32("num_responses"),
        PacketListField(
            "responses", [], SSHResponse, count_from=lambda p: min(p.num_responses or 0, 256)
        ),
    ]


# ------------------------------------------------------------------- connection (RFC 4254)

_FORWARD = (b"tcpip-forward", b"cancel-tcpip-forward")


class SSHGlobalRequest(SSHMessage):
    """RFC 4254 §4; tcpip-forward / cancel-tcpip-forward fields of §7.1; other data opaque."""

    name = "SSH_MSG_GLOBAL_REQUEST"
    fields_desc = [
        _type(80),
        _s("request_name"),
        _u8("want_reply"),
        _when(_s("address_to_bind"), lambda p: p.request_name in _FORWARD),
        _when(_u32("port_to_bind"), lambda p: p.request_name in _FORWARD),
        SSHRestField("data", b""),
    ]


class SSHRequestSuccess(SSHMessage):
    name = "SSH_MSG_REQUEST_SUCCESS"
    fields_desc = [_type(81), SSHRestField("data", b"")]


class SSHRequestFailure(SSHMessage):
    name = "SSH_MSG_REQUEST_FAILURE"
    fields_desc = [_type(82)]


def _ctype(p: Packet, *names: bytes) -> bool:
    return p.channel_type in names


class SSHChannelOpen(SSHMessage):
    """RFC 4254 §5.1 with the type fields of §6.1 (session), §6.3.2 (x11), §7.2 (tcpip)."""

    name = "SSH_MSG_CHANNEL_OPEN"
    fields_desc = [
        _type(90),
        _s("channel_type", b"session"),
        _u32("sender_channel"),
        _u32("initial_window_size", 2097152),
        _u32("maximum_packet_size", 32768),
        _when(_s("host_to_connect"), lambda p: _ctype(p, b"direct-tcpip")),
        _when(_u32("port_to_connect"), lambda p: _ctype(p, b"direct-tcpip")),
        _when(_s("address_connected"), lambda p: _ctype(p, b"forwarded-tcpip")),
        _when(_u32("port_connected"), lambda p: _ctype(p, b"forwarded-tcpip")),
        _when(
            _s("originator_address"),
            lambda p: _ctype(p, b"direct-tcpip", b"forwarded-tcpip", b"x11"),
        ),
        _when(
            _u32("originator_port"),
            lambda p: _ctype(p, b"direct-tcpip", b"forwarded-tcpip", b"x11"),
        ),
        SSHRestField("data", b""),
    ]


class SSHChannelOpenConfirmation(SSHMessage):
    name = "SSH_MSG_CHANNEL_OPEN_CONFIRMATION"
    fields_desc = [
        _type(91),
        _u32("recipient_channel"),
        _u32("sender_channel"),
        _u32("initial_window_size", 2097152),
        _u32("maximum_packet_size", 32768),
        SSHRestField("data", b""),
    ]


class SSHChannelOpenFailure(SSHMessage):
    name = "SSH_MSG_CHANNEL_OPEN_FAILURE"
    fields_desc = [
        _type(92),
        _u32("recipient_channel"),
        _u32("reason_code"),
        _s("description"),
        _s("language"),
    ]


class SSHChannelWindowAdjust(SSHMessage):
    name = "SSH_MSG_CHANNEL_WINDOW_ADJUST"
    fields_desc = [_type(93), _u32("recipient_channel"), _u32("bytes_to_add")]


class SSHChannelData(SSHMessage):
    name = "SSH_MSG_CHANNEL_DATA"
    fields_desc = [_type(94), _u32("recipient_channel"), _s("data")]


class SSHChannelExtendedData(SSHMessage):
    name = "SSH_MSG_CHANNEL_EXTENDED_DATA"
    fields_desc = [_type(95), _u32("recipient_channel"), _u32("data_type_code", 1), _s("data")]


class SSHChannelEOF(SSHMessage):
    name = "SSH_MSG_CHANNEL_EOF"
    fields_desc = [_type(96), _u32("recipient_channel")]


class SSHChannelClose(SSHMessage):
    name = "SSH_MSG_CHANNEL_CLOSE"
    fields_desc = [_type(97), _u32("recipient_channel")]


def _rtype(p: Packet, *names: bytes) -> bool:
    return p.request_type in names


class SSHChannelRequest(SSHMessage):
    """RFC 4254 §5.4 with the request fields of §§6.2-6.10; unknown requests' data opaque."""

    name = "SSH_MSG_CHANNEL_REQUEST"
    fields_desc = [
        _type(98),
        _u32("recipient_channel"),
        _s("request_type", b"shell"),
        _u8("want_reply"),
        # pty-req (§6.2)
        _when(_s("term"), lambda p: _rtype(p, b"pty-req")),
        # pty-req and window-change (§6.7)
        _when(_u32("width_chars"), lambda p: _rtype(p, b"pty-req", b"window-change")),
        _when(_u32("height_rows"), lambda p: _rtype(p, b"pty-req", b"window-change")),
        _when(_u32("width_pixels"), lambda p: _rtype(p, b"pty-req", b"window-change")),
        _when(_u32("height_pixels"), lambda p: _rtype(p, b"pty-req", b"window-change")),
        _when(_s("terminal_modes"), lambda p: _rtype(p, b"pty-req")),
        # x11-req (§6.3.1)
        _when(_u8("single_connection"), lambda p: _rtype(p, b"x11-req")),
        _when(_s("auth_protocol"), lambda p: _rtype(p, b"x11-req")),
        _when(_s("auth_cookie"), lambda p: _rtype(p, b"x11-req")),
        _when(_u32("screen_number"), lambda p: _rtype(p, b"x11-req")),
        # env (§6.4)
        _when(_s("variable_name"), lambda p: _rtype(p, b"env")),
        _when(_s("variable_value"), lambda p: _rtype(p, b"env")),
        # exec (§6.5), subsystem (§6.5)
        _when(_s("command"), lambda p: _rtype(p, b"exec")),
        _when(_s("subsystem_name"), lambda p: _rtype(p, b"subsystem")),
        # xon-xoff (§6.8)
        _when(_u8("client_can_do"), lambda p: _rtype(p, b"xon-xoff")),
        # signal (§6.9), exit-signal (§6.10)
        _when(_s("signal_name"), lambda p: _rtype(p, b"signal", b"exit-signal")),
        _when(_u8("core_dumped"), lambda p: _rtype(p, b"exit-signal")),
        _when(_s("error_message"), lambda p: _rtype(p, b"exit-signal")),
        _when(_s("language"), lambda p: _rtype(p, b"exit-signal")),
        # exit-status (§6.10)
        _when(_u32("exit_status"), lambda p: _rtype(p, b"exit-status")),
        SSHRestField("data", b""),
    ]


class SSHChannelSuccess(SSHMessage):
    name = "SSH_MSG_CHANNEL_SUCCESS"
    fields_desc = [_type(99), _u32("recipient_channel")]


class SSHChannelFailure(SSHMessage):
    name = "SSH_MSG_CHANNEL_FAILURE"
    fields_desc = [_type(100), _u32("recipient_channel")]


class SSHUnknownMessage(SSHMessage):
    """A message number this module has no class for (local extensions, 192-255)."""

    name = "SSH message"
    fields_desc = [_type(0), SSHRestField("data", b"")]


# One class per number; the method-specific numbers map to their most common message and
# dissect_ssh_message chooses the others from the context or by which format fits exactly.
MESSAGE_CLASSES: dict[int, type[SSHMessage]] = {
    1: SSHDisconnect,
    2: SSHIgnore,
    3: SSHUnimplemented,
    4: SSHDebug,
    5: SSHServiceRequest,
    6: SSHServiceAccept,
    7: SSHExtInfo,
    20: SSHKexInit,
    21: SSHNewKeys,
    30: SSHKexDHInit,
    31: SSHKexDHReply,
    32: SSHKexDHGexInit,
    33: SSHKexDHGexReply,
    34: SSHKexDHGexRequest,
    50: SSHUserauthRequest,
    51: SSHUserauthFailure,
    52: SSHUserauthSuccess,
    53: SSHUserauthBanner,
    60: SSHUserauthPKOK,
    61: SSHUserauthInfoResponse,
    80: SSHGlobalRequest,
    81: SSHRequestSuccess,
    82: SSHRequestFailure,
    90: SSHChannelOpen,
    91: SSHChannelOpenConfirmation,
    92: SSHChannelOpenFailure,
    93: SSHChannelWindowAdjust,
    94: SSHChannelData,
    95: SSHChannelExtendedData,
    96: SSHChannelEOF,
    97: SSHChannelClose,
    98: SSHChannelRequest,
    99: SSHChannelSuccess,
    100: SSHChannelFailure,
}

# the alternatives of the method-specific numbers, tried in this order when no context decides
ALTERNATIVES: dict[int, tuple[type[SSHMessage], ...]] = {
    30: (SSHKexDHInit, SSHKexDHGexRequestOld),
    31: (SSHKexDHReply, SSHKexDHGexGroup),
    60: (SSHUserauthInfoRequest, SSHUserauthPKOK, SSHUserauthPasswdChangeReq),
}

__all__ = [
    "SSHChannelClose",
    "SSHChannelData",
    "SSHChannelEOF",
    "SSHChannelExtendedData",
    "SSHChannelFailure",
    "SSHChannelOpen",
    "SSHChannelOpenConfirmation",
    "SSHChannelOpenFailure",
    "SSHChannelRequest",
    "SSHChannelSuccess",
    "SSHChannelWindowAdjust",
    "SSHDebug",
    "SSHDisconnect",
    "SSHExtInfo",
    "SSHExtension",
    "SSHGlobalRequest",
    "SSHIgnore",
    "SSHKexDHGexGroup",
    "SSHKexDHGexInit",
    "SSHKexDHGexReply",
    "SSHKexDHGexRequest",
    "SSHKexDHGexRequestOld",
    "SSHKexDHInit",
    "SSHKexDHReply",
    "SSHKexInit",
    "SSHMessage",
    "SSHNewKeys",
    "SSHPrompt",
    "SSHRequestFailure",
    "SSHRequestSuccess",
    "SSHResponse",
    "SSHServiceAccept",
    "SSHServiceRequest",
    "SSHUnimplemented",
    "SSHUnknownMessage",
    "SSHUserauthBanner",
    "SSHUserauthFailure",
    "SSHUserauthInfoRequest",
    "SSHUserauthInfoResponse",
    "SSHUserauthPKOK",
    "SSHUserauthPasswdChangeReq",
    "SSHUserauthRequest",
    "SSHUserauthSuccess",
    "ALTERNATIVES",
    "MESSAGE_CLASSES",
]
