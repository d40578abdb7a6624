"""The Sans-I/O initiator without a peer: its messages read correctly with Scapy's own IKEv2
layers (an independent parser), refusals and forged replies become our errors.  The run
against strongSwan is tests/integration/test_ike_initiator.py."""

from __future__ import annotations

import struct

import pytest
from scapy.contrib import ikev2 as scapy_ikev2

from netsec_layers.errors import NetsecError
from netsec_layers.session.ike_initiator import IKEInitiatorError, IKEv2Initiator


def _ini(**kw) -> IKEv2Initiator:
    return IKEv2Initiator(
        psk=b"k",
        id_i="a@netsec",
        id_r="b@netsec",
        local=("10.0.0.1", 500),
        remote=("10.0.0.2", 500),
        ts_i="10.1.0.1",
        ts_r="10.2.0.1",
        **kw,
    )


def test_ike_sa_init_request_reads_with_scapy() -> None:
    ini = _ini()
    (out,) = ini.start()
    assert out.port == 500
    m = scapy_ikev2.IKEv2(out.payload)
    assert m.init_SPI == ini.spi_i and m.exch_type == 34 and m.flags == 0x08
    sa = m[scapy_ikev2.IKEv2_SA]
    trans, ids = sa.prop.trans, []
    while isinstance(trans, scapy_ikev2.IKEv2_Transform):
        ids.append((trans.transform_type, trans.transform_id))
        trans = trans.payload
    assert ids == [(1, 12), (2, 5), (3, 12), (4, 31)]
    assert len(m[scapy_ikev2.IKEv2_KE].ke) == 32 and m[scapy_ikev2.IKEv2_KE].group == 31
    assert len(m[scapy_ikev2.IKEv2_Nonce].nonce) == 32


def _response(ini: IKEv2Initiator, payloads: bytes, first: int) -> bytes:
    return (
        struct.pack(
            "!8s8sBBBBII", ini.spi_i, b"r" * 8, first, 0x20, 34, 0x20, 0, 28 + len(payloads)
        )
        + payloads
    )


def test_error_notify_and_garbage_are_our_errors() -> None:
    ini = _ini()
    ini.start()
    notify = struct.pack("!BBHBBH", 0, 0, 8, 0, 0, 14)  # NO_PROPOSAL_CHOSEN
    with pytest.raises(IKEInitiatorError):
        ini.receive(_response(ini, notify, 41), 500)
    ini = _ini()
    ini.start()
    with pytest.raises(NetsecError):
        ini.receive(_response(ini, b"\x00\x00\x00\x03", 40), 500)
    assert ini.receive(b"\x00" * 40, 500) == []  # another IKE SA's SPI: ignored
    with pytest.raises(IKEInitiatorError):
        ini.create_child_sa(ts_i="10.1.0.2", ts_r="10.2.0.2")


def test_crafted_faults() -> None:
    from netsec_layers.crypto.ike import SKCipher
    from netsec_layers.errors import IntegrityError, ParseError, UsageError
    from netsec_layers.session.ike_craft import seal_sk_message

    c = SKCipher(12, bytes(16), 12, bytes(32))
    kw = dict(
        spi_i=b"i" * 8,
        spi_r=b"r" * 8,
        exchange=37,
        flags=8,
        message_id=5,
        items=[(41, struct.pack("!BBH", 0, 0, 16384))],
        cipher=c,
        iv=bytes(16),
    )
    good = seal_sk_message(**kw)
    assert c.open(good, 32)[:4] == b"\x00\x00\x00\x08"
    with pytest.raises(IntegrityError):
        c.open(seal_sk_message(**kw, fault="bad-icv"), 32)
    with pytest.raises(ParseError):
        c.open(seal_sk_message(**kw, fault="bad-padding"), 32)
    wrong = seal_sk_message(**kw, fault="wrong-message-id")
    assert struct.unpack_from("!I", wrong, 20)[0] == 6 and c.open(wrong, 32)
    with pytest.raises(UsageError):
        seal_sk_message(**kw, fault="nope")
