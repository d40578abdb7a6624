"""SADatabase.decrypt's shortcuts for combined-mode and CBC + HMAC SAs (issue 22) against the
full path.

The shortcuts (``session.ipsec._aead_opener``, ``_cbc_opener``) must give the same :class:`ESPPlaintext` — and the
same error, replay verdict and window state — as ``_open`` for every packet.  ``esn_high`` set
forces the full path (it is ignored by non-ESN SAs), so one database per path sees the same
packet sequence.
"""

from __future__ import annotations

import dataclasses
import random
import struct

import pytest

from netsec_layers.errors import NetsecError
from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.session import ipsec as ipsec_mod
from netsec_layers.session.ipsec import SADatabase

SUITES = [
    ("AES-GCM-16", 20, "NONE", 0, True),
    ("AES-GCM-16", 36, "NONE", 0, True),
    ("AES-CCM-8", 19, "NONE", 0, True),
    ("AES-CCM-16", 35, "NONE", 0, True),
    ("CHACHA20-POLY1305", 36, "NONE", 0, True),
    # CBC with HMAC (session.ipsec._cbc_opener)
    ("AES-CBC", 16, "HMAC-SHA2-256-128", 32, True),
    ("AES-CBC", 32, "HMAC-SHA1-96", 20, True),
    ("3DES-CBC", 24, "HMAC-MD5-96", 16, True),
    # full path only: truncated GCM tag, implicit IV, GMAC, CBC with XCBC, CTR
    ("AES-GCM-12", 20, "NONE", 0, False),
    ("AES-GCM-16-IIV", 20, "NONE", 0, False),
    ("AES-GMAC", 20, "NONE", 0, False),
    ("AES-CBC", 16, "AES-XCBC-MAC-96", 16, False),
    ("AES-CTR", 20, "HMAC-SHA2-256-128", 32, False),
]


def _sa(enc: str, klen: int, integ: str, alen: int, **kw: object) -> SecurityAssociation:
    return SecurityAssociation(
        spi=0x5151,
        encryption=enc,
        enc_key=bytes(range(7, 7 + klen)),
        integrity=integ,
        auth_key=bytes(range(alen)),
        src="10.0.0.1",
        dst="10.0.0.2",
        **kw,  # type: ignore[arg-type]
    )


def _ipv4(body: bytes, ident: int) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ident, 0, 64, 17, 0,
                       b"\xc0\xa8\x01\x01", b"\xc0\xa8\x02\x02") + body  # fmt: skip


def _packets(sa: SecurityAssociation, rng: random.Random) -> list[bytes]:
    """In-order packets, then replays, reordering, damage, TFC padding and bad pad lengths."""
    enc = SADatabase([sa])
    out: list[bytes] = []
    for i in range(1, 41):
        inner = _ipv4(rng.randbytes(rng.randrange(0, 300)), i)
        kind = i % 8
        if kind == 3:  # TFC padding after the inner IPv4 packet (RFC 4303 §2.7)
            out.append(
                enc.encrypt(inner, sa=sa, next_header=4, seq=i, tfc_pad=rng.randrange(1, 40))
            )
        elif kind == 5:  # transport-mode UDP
            udp = struct.pack("!HHHH", 1, 2, 8 + 20, 0) + bytes(20)
            out.append(enc.encrypt(udp + bytes(7), sa=sa, next_header=17, seq=i))
        elif kind == 6:
            out.append(enc.encrypt(inner, sa=sa, next_header=4, seq=i, fault="bad-pad"))
        else:
            out.append(enc.encrypt(inner, sa=sa, next_header=4, seq=i))
    out.append(enc.encrypt(b"x" * 30, sa=sa, next_header=4, seq=60, fault="bad-pad-length"))
    out.append(enc.encrypt(b"x" * 30, sa=sa, next_header=4, seq=61, fault="bad-icv"))
    out.append(enc.encrypt(b"", sa=sa, next_header=59, seq=62))
    out += [out[5], out[30]]  # replays
    out.append(enc.encrypt(b"late", sa=sa, next_header=4, seq=55))  # below the top, in window
    out.append(out[-1][:12])  # truncated
    out.append(enc.encrypt(_ipv4(b"next", 99), sa=sa, next_header=4, seq=2**32 - 1))
    rng.shuffle(out[10:20])
    return out


def _outcome(db: SADatabase, esp: bytes, *, full: bool, check_replay: bool) -> object:
    try:
        opened = db.decrypt(
            esp,
            src="10.0.0.1",
            dst="10.0.0.2",
            check_replay=check_replay,
            esn_high=0 if full else None,
        )
    except NetsecError as exc:
        return (type(exc).__name__, str(exc))
    return dataclasses.astuple(opened)


@pytest.mark.parametrize("check_replay", [True, False])
@pytest.mark.parametrize("window", [64, 0])
@pytest.mark.parametrize(("enc", "klen", "integ", "alen", "shortcut"), SUITES)
def test_shortcut_equals_full_path(
    enc: str, klen: int, integ: str, alen: int, shortcut: bool, window: int, check_replay: bool
) -> None:
    sa = _sa(enc, klen, integ, alen, replay_window=window)
    fast, full = SADatabase([sa]), SADatabase([sa])
    for esp in _packets(sa, random.Random(f"{enc}{window}")):
        assert _outcome(fast, esp, full=False, check_replay=check_replay) == _outcome(
            full, esp, full=True, check_replay=check_replay
        )
    ((st_fast, opener),) = fast._fast.values()
    st_full = next(iter(full._state.values()))
    assert (opener is not None) is shortcut
    w1, w2 = st_fast.window, st_full.window
    assert (w1.top, w1.bitmap, w1.seen) == (w2.top, w2.bitmap, w2.seen)


def test_shortcut_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-order GCM case goes through the shortcut (else the test above proves nothing)."""
    calls = []
    made = ipsec_mod._aead_opener

    def counting(st: object) -> object:
        opener = made(st)  # type: ignore[arg-type]
        assert opener is not None

        def wrapped(esp: bytes, spi: int, seq: int) -> object:
            res = opener(esp, spi, seq)
            calls.append(res is not None)
            return res

        return wrapped

    monkeypatch.setattr(ipsec_mod, "_aead_opener", counting)
    sa = _sa("AES-GCM-16", 20, "NONE", 0)
    db = SADatabase([sa])
    packets = [
        SADatabase([sa]).encrypt(b"p" * 50, sa=sa, next_header=4, seq=i) for i in range(1, 6)
    ]
    for esp in packets:
        db.decrypt(esp, src="10.0.0.1", dst="10.0.0.2")
    assert calls == [True] * 4  # the first packet finds the SA and takes the full path


def test_shortcut_skips_esn_sas() -> None:
    sa = _sa("AES-GCM-16", 20, "NONE", 0, esn=True)
    db = SADatabase([sa])
    db.decrypt(SADatabase([sa]).encrypt(b"p", sa=sa, next_header=4, seq=1),
               src="10.0.0.1", dst="10.0.0.2")  # fmt: skip
    ((_st, opener),) = db._fast.values()
    assert opener is None
