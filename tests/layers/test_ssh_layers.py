"""SSH layers: build -> dissect -> build byte-exact for every message class, garbage never
raises and rebuilds to its own bytes, and field values agree with Scapy's own SSH layer
(``scapy.layers.ssh``, written independently) on the messages both decode."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.fields import ConditionalField
from scapy.layers import ssh as scapy_ssh
from scapy.packet import Packet

from netsec_layers.layers.ssh import (
    MESSAGE_CLASSES,
    SSHBinaryPacket,
    SSHIdent,
    SSHKexDHGexGroup,
    SSHKexDHGexRequestOld,
    SSHKexDHReply,
    SSHKexInit,
    SSHNewKeys,
    SSHPublicKey,
    SSHSignature,
    SSHUndecoded,
    SSHUserauthInfoRequest,
    SSHUserauthPasswdChangeReq,
    SSHUserauthRequest,
    dissect_ssh_message,
    dissect_ssh_stream,
    int_to_mpint,
    mpint_to_int,
)
from netsec_layers.layers.ssh._fields import (
    SSHIntField,
    SSHNameListField,
    SSHRestField,
    SSHStringField,
)

ALL_CLASSES: list[Any] = sorted(
    {*MESSAGE_CLASSES.values(), SSHKexDHGexGroup, SSHKexDHGexRequestOld}
    | {SSHUserauthInfoRequest, SSHUserauthPasswdChangeReq},
    key=lambda c: c.__name__,
)

_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-@.", min_size=1, max_size=12)
# request/method/type names the conditional fields look at, plus random ones
_selectors = st.sampled_from(
    [
        b"password",
        b"publickey",
        b"hostbased",
        b"keyboard-interactive",
        b"none",
        b"tcpip-forward",
        b"session",
        b"direct-tcpip",
        b"forwarded-tcpip",
        b"x11",
        b"pty-req",
        b"window-change",
        b"x11-req",
        b"env",
        b"exec",
        b"subsystem",
        b"xon-xoff",
        b"signal",
        b"exit-signal",
        b"exit-status",
        b"shell",
        b"other",
    ]
)


def _value(draw: Any, fld: Any, name: str) -> Any:
    if isinstance(fld, SSHNameListField):
        return draw(st.lists(_name, max_size=4))
    if isinstance(fld, SSHStringField):
        if name in ("method", "channel_type", "request_type", "request_name"):
            return draw(_selectors)
        return draw(st.binary(max_size=40))
    if isinstance(fld, SSHIntField):
        return draw(st.integers(0, (1 << (8 * fld.size)) - 1))
    if isinstance(fld, SSHRestField):
        return draw(st.binary(max_size=20))
    return draw(st.binary(min_size=16, max_size=16))  # the KEXINIT cookie


@st.composite
def messages(draw: Any) -> Any:
    cls = draw(st.sampled_from(ALL_CLASSES))
    values: dict[str, Any] = {}
    for fld in cls.fields_desc:
        inner = fld.fld if isinstance(fld, ConditionalField) else fld
        if fld.name == "msg_type":
            continue
        if fld.name in ("extensions", "prompts", "responses", "nr_extensions"):
            continue  # counted lists: built below
        if fld.name in ("num_prompts", "num_responses"):
            continue
        values[fld.name] = _value(draw, inner, fld.name)
    if values.get("has_signature") is not None:
        values["has_signature"] %= 2
    if "change" in values:
        values["change"] %= 2
    if "data" in values and cls.__name__ not in ("SSHIgnore",):
        values["data"] = values["data"] if isinstance(cls.fields_desc[-1], SSHStringField) else b""
    return cls(**values)


def _context(p: Packet) -> dict[str, Any]:
    """The dissection context that selects ``p``'s class among method-specific alternatives."""
    if isinstance(p, (SSHKexDHGexGroup, SSHKexDHGexRequestOld)):
        return {"kex": "diffie-hellman-group-exchange-sha256"}
    if p.msg_type in (30, 31):
        return {"kex": "curve25519-sha256"}
    methods = {
        "SSHUserauthPKOK": b"publickey",
        "SSHUserauthPasswdChangeReq": b"password",
        "SSHUserauthInfoRequest": b"keyboard-interactive",
    }
    return {"auth_method": methods[type(p).__name__]} if p.msg_type == 60 else {}


def _rebuilt(p: Any) -> bytes:
    q = p.copy()
    q.clear_cache()
    return bytes(q)


@settings(max_examples=250, deadline=None)
@given(messages())
def test_message_round_trip(msg: Packet) -> None:
    wire = bytes(msg)
    back = dissect_ssh_message(wire, **_context(msg))
    assert type(back) is type(msg)
    assert _rebuilt(back) == wire
    for name in back.fields:
        if msg.getfieldval(name) is not None and back.getfieldval(name) is not None:
            assert back.getfieldval(name) == msg.getfieldval(name), name
    framed = bytes(SSHBinaryPacket(message=msg))
    assert (len(framed)) % 8 == 0 and framed[4] >= 4  # RFC 4253 §6 padding rule
    assert _rebuilt(SSHBinaryPacket(framed)) == framed


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_never_raises_and_rebuilds(data: bytes) -> None:
    if not data:  # Scapy: a class called with no bytes is a new packet with default fields
        assert dissect_ssh_stream(data) == []
        return
    for p in (
        dissect_ssh_message(data),
        dissect_ssh_message(data, kex="diffie-hellman-group-exchange-sha1"),
        SSHBinaryPacket(data),
        SSHBinaryPacket(data, mac_len=16),
        SSHIdent(data),
        SSHPublicKey(data),
        SSHSignature(data),
    ):
        assert bytes(p) == data
        assert _rebuilt(p) == data
    assert b"".join(bytes(p) for p in dissect_ssh_stream(data)) == data


@pytest.mark.parametrize("length", [0xFFFFFFFF, 0x80000000, 1, 0])
def test_hostile_lengths_stay_undecoded(length: int) -> None:
    data = length.to_bytes(4, "big") + b"\xff\x14" + b"x" * 30
    p = SSHBinaryPacket(data)
    assert p.message is None  # the payload is not all there: nothing is decoded from it
    assert bytes(p) == data and _rebuilt(p) == data
    stream = dissect_ssh_stream(b"SSH-2.0-x\r\n" + data)
    assert isinstance(stream[-1], SSHUndecoded)


def test_padding_longer_than_packet() -> None:
    data = (8).to_bytes(4, "big") + bytes([200]) + b"\x15" + b"\x00" * 6
    p = SSHBinaryPacket(data)
    assert p.message is None and bytes(p) == data


def test_mpint_encoding_rfc4251_examples() -> None:
    # RFC 4251 §5 table of mpint examples (value -> bytes after the length)
    examples = {
        0: b"",
        0x9A378F9B2E332A7: bytes.fromhex("09a378f9b2e332a7"),
        0x80: bytes.fromhex("0080"),
        -0x1234: bytes.fromhex("edcc"),
        -0xDEADBEEF: bytes.fromhex("ff21524111"),
    }
    for value, enc in examples.items():
        assert int_to_mpint(value) == enc
        assert mpint_to_int(enc) == value


def test_ident_fields() -> None:
    p = SSHIdent(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\nrest")
    assert p.proto_version == "2.0" and p.software_version == "OpenSSH_9.2p1"
    assert p.eol == b"\r\n"
    assert not SSHIdent(b"hello world\n").is_version


def test_method_specific_numbers_by_fit() -> None:
    reply = SSHKexDHReply(host_key=b"k" * 40, f=b"f" * 32, signature=b"s" * 70)
    assert isinstance(dissect_ssh_message(bytes(reply)), SSHKexDHReply)
    group = SSHKexDHGexGroup(p=int_to_mpint(23), g=int_to_mpint(5))
    assert isinstance(dissect_ssh_message(bytes(group)), SSHKexDHGexGroup)
    old = SSHKexDHGexRequestOld(n=2048)
    assert isinstance(dissect_ssh_message(bytes(old)), SSHKexDHGexRequestOld)


def test_userauth_publickey_fields() -> None:
    key = SSHPublicKey(key_type=b"ssh-ed25519", key=b"\x01" * 32)
    sig = SSHSignature(algorithm=b"ssh-ed25519", signature=b"\x02" * 64)
    req = SSHUserauthRequest(
        user_name=b"alice",
        method=b"publickey",
        has_signature=1,
        algorithm=b"ssh-ed25519",
        public_key=bytes(key),
        signature=bytes(sig),
    )
    back = dissect_ssh_message(bytes(req))
    assert back.signature == bytes(sig)
    assert SSHPublicKey(back.public_key).key == b"\x01" * 32


# ------------------------------------------------------------- against Scapy's own SSH layer


@settings(max_examples=100, deadline=None)
@given(
    cookie=st.binary(min_size=16, max_size=16),
    lists=st.lists(st.lists(_name, min_size=1, max_size=4), min_size=10, max_size=10),
    follows=st.integers(0, 1),
)
def test_kexinit_agrees_with_scapy(cookie: bytes, lists: list[list[str]], follows: int) -> None:
    names = [f.name for f in SSHKexInit.fields_desc[2:12]]
    built = SSHKexInit(
        cookie=cookie, first_kex_packet_follows=follows, **dict(zip(names, lists, strict=True))
    )
    wire = bytes(SSHBinaryPacket(message=built))
    ours = SSHBinaryPacket(wire)
    theirs = scapy_ssh.SSH(wire)
    kex = theirs[scapy_ssh.SSHKexInit]
    assert theirs.packet_length == ours.packet_length
    assert theirs.padding_length == ours.padding_length
    assert kex.cookie == cookie
    for our_name, value in zip(names, lists, strict=True):
        assert [n.decode() for n in getattr(kex, our_name).names] == value
    assert int(kex.first_kex_packet_follows) == follows


def test_newkeys_and_disconnect_agree_with_scapy() -> None:
    wire = bytes(SSHBinaryPacket(message=SSHNewKeys()))
    assert scapy_ssh.SSH(wire).haslayer(scapy_ssh.SSHNewKeys)
    theirs = scapy_ssh.SSHVersionExchange(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    ours = SSHIdent(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    assert theirs.lines[0] == ours.ident


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=80))
def test_sftp_packets_never_raise_and_rebuild(ptype: int, body: bytes) -> None:
    from netsec_layers.layers.ssh.sftp import SFTP_CLASSES, dissect_sftp_packet

    data = (len(body) + 1).to_bytes(4, "big") + bytes([ptype]) + body
    for d in (data, data[: len(data) // 2]):
        if d:
            p = dissect_sftp_packet(d)
            assert bytes(p) == d and _rebuilt(p) == d
    built = SFTP_CLASSES[6](request_id=7, handle=b"h", offset=2**40, data=b"xyz")
    again = dissect_sftp_packet(bytes(built))
    assert (again.request_id, again.handle, again.offset, again.data) == (7, b"h", 2**40, b"xyz")


@pytest.mark.integration
def test_public_keys_and_certificates_from_ssh_keygen(tmp_path: Any) -> None:
    """Key blobs written by OpenSSH's ssh-keygen (ed25519, ECDSA P-256/384/521, RSA) dissect to
    the numbers pyca reads from the same files; an OpenSSH certificate made with ssh-keygen -s
    shows the serial, key id, principals, validity and CA key it was given; all rebuild."""
    import base64
    import os
    import subprocess

    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    def keygen(name: str, *args: str) -> bytes:
        subprocess.run(["ssh-keygen", "-q", "-N", "", "-f", str(tmp_path / name), *args],
                       check=True, timeout=60)  # fmt: skip
        pub: bytes = (tmp_path / f"{name}.pub").read_bytes()
        return pub

    for name, args in [("ed", ("-t", "ed25519")), ("p256", ("-t", "ecdsa", "-b", "256")),
                       ("p384", ("-t", "ecdsa", "-b", "384")),
                       ("p521", ("-t", "ecdsa", "-b", "521")),
                       ("rsa", ("-t", "rsa", "-b", "2048"))]:  # fmt: skip
        text = keygen(name, *args)
        blob = base64.b64decode(text.split()[1])
        ours = SSHPublicKey(blob)
        assert bytes(ours) == blob and _rebuilt(ours) == blob and not ours.key_data
        theirs = load_ssh_public_key(text)
        if isinstance(theirs, ed25519.Ed25519PublicKey):
            assert ours.key == theirs.public_bytes_raw()
        elif isinstance(theirs, ec.EllipticCurvePublicKey):
            nums = theirs.public_numbers()
            size = (theirs.curve.key_size + 7) // 8
            assert ours.q_point == b"\x04" + nums.x.to_bytes(size, "big") + nums.y.to_bytes(
                size, "big"
            )
            assert ours.curve == text.split()[0].split(b"-")[-1]
        else:
            assert isinstance(theirs, rsa.RSAPublicKey)
            rsa_nums = theirs.public_numbers()
            assert (mpint_to_int(ours.e), mpint_to_int(ours.n)) == (rsa_nums.e, rsa_nums.n)
    ca = keygen("ca", "-t", "ed25519")
    subprocess.run(["ssh-keygen", "-q", "-s", str(tmp_path / "ca"), "-I", "test-id", "-n",
                    "alice,bob", "-z", "42", "-V", "20200101000000:20300101000000",
                    str(tmp_path / "p256.pub")], check=True, timeout=60,
                   env={**os.environ, "TZ": "UTC"})  # fmt: skip
    cert_text = (tmp_path / "p256-cert.pub").read_bytes()
    blob = base64.b64decode(cert_text.split()[1])
    cert = SSHPublicKey(blob)
    assert bytes(cert) == blob and _rebuilt(cert) == blob and not cert.key_data
    assert cert.key_type == b"ecdsa-sha2-nistp256-cert-v01@openssh.com"
    assert (cert.serial, cert.cert_type, cert.key_id) == (42, 1, b"test-id")
    names, pos = [], 0
    while pos < len(cert.valid_principals):
        n = int.from_bytes(cert.valid_principals[pos : pos + 4], "big")
        names.append(cert.valid_principals[pos + 4 : pos + 4 + n])
        pos += 4 + n
    assert names == [b"alice", b"bob"]
    assert cert.valid_after == 1577836800 and cert.valid_before == 1893456000
    assert cert.signature_key == base64.b64decode(ca.split()[1])
    assert SSHSignature(cert.signature).algorithm == b"ssh-ed25519"
