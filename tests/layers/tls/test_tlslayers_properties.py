"""Hypothesis: random valid records round-trip byte for byte; random or mutated bytes never
make dissect_tls/dissect_handshake raise, and always rebuild to the input."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.packet import Packet

from netsec_layers.layers import tls as T
from netsec_layers.layers.tls import dissect_handshake, dissect_tls
from tests.layers.tls._tlslayers_compare import rebuild, undecoded_parts

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
blob = st.binary(max_size=40)
name = st.binary(min_size=1, max_size=20)


def _exts_ch() -> st.SearchStrategy[Packet]:
    return st.one_of(
        st.builds(
            lambda h: T.TLSExtServerName(server_names=[T.TLSServerName(server_name=h)]), name
        ),
        st.builds(lambda g: T.TLSExtSupportedGroups(groups=g), st.lists(u16, max_size=8)),
        st.builds(lambda a: T.TLSExtSignatureAlgorithms(algorithms=a), st.lists(u16, max_size=8)),
        st.builds(
            lambda v: T.TLSExtSupportedVersions(versions=v), st.lists(u16, min_size=1, max_size=5)
        ),
        st.builds(
            lambda p: T.TLSExtALPN(protocols=[T.TLSProtocolName(protocol=x) for x in p]),
            st.lists(name, max_size=3),
        ),
        st.builds(
            lambda g, k: T.TLSExtKeyShare(
                client_shares=[T.TLSKeyShareEntry(group=g, key_exchange=k)]
            ),
            u16,
            blob,
        ),
        st.builds(
            lambda i, b: T.TLSExtPreSharedKey(
                identities=[T.TLSPSKIdentity(identity=i)], binders=[T.TLSPSKBinder(binder=b)]
            ),
            name,
            name,
        ),
        st.builds(lambda d: T.TLSExtPadding(padding=d), blob),
        st.builds(lambda m: T.TLSExtPSKKeyExchangeModes(modes=m), st.lists(u8, max_size=3)),
        st.builds(lambda t, d: T.TLSExtension(type=t, data=d), u16, blob),
        st.just(T.TLSExtExtendedMasterSecret()),
        st.builds(lambda e, p: T.TLSExtEncryptedClientHello(enc=e, ech_payload=p), blob, name),
    )


client_hello = st.builds(
    lambda v, r, sid, cs, exts, sni: T.TLSClientHello(
        version=v, random=r, session_id=sid, cipher_suites=cs, extensions=exts, sni=sni
    ),
    st.sampled_from([0x0300, 0x0301, 0x0302, 0x0303]),
    st.binary(min_size=32, max_size=32),
    st.binary(max_size=32),
    st.lists(u16, min_size=1, max_size=10),
    st.lists(_exts_ch(), max_size=6),
    st.none() | st.just("example.com"),
)

server_hello = st.builds(
    lambda r, cs, exts: T.TLSServerHello(random=r, cipher_suite=cs, extensions=exts),
    st.binary(min_size=32, max_size=32),
    u16,
    st.lists(
        st.one_of(
            st.just(T.TLSExtSupportedVersionsServer()),
            st.builds(lambda k: T.TLSExtKeyShareServer(key_exchange=k), blob),
            st.builds(lambda d: T.TLSExtRenegotiationInfo(renegotiated_connection=d), blob),
        ),
        max_size=3,
    ),
)

bodies = st.one_of(
    client_hello,
    server_hello,
    st.builds(
        lambda cs: T.TLSCertificate(certificates=[T.TLSCertificateASN1(cert=c) for c in cs]),
        st.lists(st.binary(min_size=1, max_size=60), max_size=3),
    ),
    st.builds(
        lambda p, s: T.TLSServerKeyExchangeECDH(point=p, signature=T.TLSSignature(signature=s)),
        blob,
        blob,
    ),
    st.builds(lambda p: T.TLSClientKeyExchangeECDH(ecdh_Yc=p), st.binary(min_size=1, max_size=65)),
    st.builds(lambda v: T.TLSFinished(verify_data=v), st.binary(min_size=12, max_size=48)),
    st.just(T.TLSServerHelloDone()),
    st.builds(lambda k: T.TLSKeyUpdate(request_update=k), st.integers(0, 1)),
)

records = st.one_of(
    st.builds(
        lambda ms, v: T.TLSRecord(version=v, messages=[T.TLSHandshake() / m for m in ms]),
        st.lists(bodies, min_size=1, max_size=3),
        st.sampled_from([0x0301, 0x0303]),
    ),
    st.builds(
        lambda lv, d: T.TLSRecord(messages=[T.TLSAlert(level=lv, description=d)]),
        st.integers(1, 2),
        u8,
    ),
    st.builds(
        lambda d: T.TLSRecord(messages=[T.TLSApplicationData(data=d)]),
        st.binary(min_size=1, max_size=80),
    ),
    st.builds(
        lambda d, pad: T.TLSRecord(messages=[T.TLSHeartbeat(data=d, padding=pad)]),
        blob,
        st.binary(min_size=16, max_size=20),
    ),
)


@SETTINGS
@given(st.lists(records, min_size=1, max_size=4), st.booleans())
def test_random_valid_records_round_trip(recs: list[Packet], ccs_last: bool) -> None:
    if ccs_last:
        recs = [*recs, T.TLSRecord(messages=[T.TLSChangeCipherSpec()])]
    wire = b"".join(bytes(r) for r in recs)
    got = dissect_tls(wire)
    assert rebuild(got) == wire
    assert undecoded_parts(got) == []
    parsed = T.iter_records(got)
    assert len(parsed) == len(recs)
    for mine, built in zip(parsed, recs, strict=True):
        assert [type(m) for m in mine.messages] == [type(m) for m in built.messages]
        for m, b in zip(mine.messages, built.messages, strict=True):
            if isinstance(b, T.TLSHandshake) and isinstance(
                b.payload, (T.TLSClientHello, T.TLSServerHello)
            ):
                assert type(m.payload) is type(b.payload)


CONTEXTS = st.sampled_from(
    [
        (None, None),
        (0x0300, "RSA"),
        (0x0301, "DHE"),
        (0x0303, "ECDHE"),
        (0x0303, "RSA"),
        (0x0303, "PSK"),
        (0x0304, None),
    ]
)


def _check_garbage(data: bytes, ctx: tuple[int | None, str | None] = (None, None)) -> None:
    version, kex = ctx
    got = dissect_tls(data, version=version, kex=kex)
    assert rebuild(got) == data
    assert all("dissector error" not in r for r in undecoded_parts(got))
    hs = dissect_handshake(data, version=version, kex=kex)
    assert rebuild(hs) == data
    assert all("dissector error" not in r for r in undecoded_parts(hs))


@SETTINGS
@given(st.binary(max_size=300), CONTEXTS)
def test_random_bytes_never_raise(data: bytes, ctx: tuple[int | None, str | None]) -> None:
    _check_garbage(data, ctx)


@SETTINGS
@given(
    st.binary(max_size=300),
    st.sampled_from([20, 21, 22, 23, 24]),
    st.sampled_from([0x0300, 0x0301, 0x0303]),
    st.integers(0, 26),
    CONTEXTS,
)
def test_random_fragments_behind_valid_header(
    body: bytes, ct: int, ver: int, mt: int, ctx: tuple[int | None, str | None]
) -> None:
    _check_garbage(bytes([ct]) + ver.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body, ctx)
    # a well-framed handshake message of any type with a random body
    _check_garbage(
        bytes([22, 3, 3])
        + (len(body) + 4).to_bytes(2, "big")
        + bytes([mt])
        + len(body).to_bytes(3, "big")
        + body,
        ctx,
    )


@SETTINGS
@given(records, st.data())
def test_mutated_records_never_raise(rec: Packet, data: st.DataObject) -> None:
    wire = bytearray(bytes(rec))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(wire) - 1))
        wire[i] = data.draw(u8)
    cut = data.draw(st.integers(0, len(wire)))
    ctx = data.draw(CONTEXTS)
    _check_garbage(bytes(wire[:cut]), ctx)
    _check_garbage(bytes(wire), ctx)
