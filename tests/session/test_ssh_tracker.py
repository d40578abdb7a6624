"""The SSH tracker on the shipped sample (sshd with paramiko and asyncssh peers): every packet
decrypted, channel bytes equal to what the peers sent (the peers' data is a known pattern),
the same events however the TCP bytes are cut, the JSON contract through ``netsec dissect``;
and hostile input (huge lengths, padding longer than the packet, floods of tiny packets, gaps)
stays within bounds and raises nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.cli.main import main
from netsec_layers.keys.ssh_keylog import parse_ssh_keylog
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.ssh import SSHBanner, SSHPacketInfo, SSHTracker, SSHVerdict
from netsec_layers.session.tcp import StreamChunk, TCPConn
from tools.ssh_peers import pattern

SAMPLE = Path(__file__).parents[2] / "pcaps/ssh/ssh-sample.pcap"
KEYS = SAMPLE.with_suffix(".keys")


def _sample_events(keylog: str) -> list[Any]:
    engine = CaptureEngine(trackers=[SSHTracker(parse_ssh_keylog(keylog))])
    out: list[Any] = []
    for res in iter_capture(str(SAMPLE), engine):
        out.extend(u for u in res.units if isinstance(u, (SSHBanner, SSHPacketInfo)))
    return out


def _channel_data(events: list[Any], stream: int, from_client: bool) -> list[bytes]:
    """CHANNEL_DATA bytes of one direction, per recipient channel number (in order seen)."""
    per: dict[int, bytearray] = {}
    for e in events:
        if isinstance(e, SSHPacketInfo) and e.stream == stream and e.from_client == from_client:
            if e.msg_type == 94 and e.payload is not None:
                n = int.from_bytes(e.payload[5:9], "big")
                per.setdefault(int.from_bytes(e.payload[1:5], "big"), bytearray()).extend(
                    e.payload[9 : 9 + n]
                )
    return [bytes(v) for v in per.values()]


def test_sample_decrypts_and_channels_carry_the_peers_bytes() -> None:
    events = _sample_events(KEYS.read_text())
    packets = [e for e in events if isinstance(e, SSHPacketInfo)]
    assert packets and all(p.error is None for p in packets)
    assert sum(p.decrypted for p in packets) >= 60
    banners = sorted(e.banner for e in events if isinstance(e, SSHBanner))
    assert banners[0].startswith("SSH-2.0-AsyncSSH") and "OpenSSH_9.2" in banners[1]
    # paramiko: two exec "cat" channels, 2000 bytes each, with a rekey in the middle
    sent = [pattern("sample-ctr:0", 2000), pattern("sample-ctr:1", 2000)]
    assert sorted(_channel_data(events, 0, True)) == sorted(sent)
    assert sorted(_channel_data(events, 0, False)) == sorted(sent)
    # asyncssh: chacha20-poly1305
    assert _channel_data(events, 1, True) == [pattern("sample-chacha:0", 2000)]
    assert _channel_data(events, 1, False) == [pattern("sample-chacha:0", 2000)]


def _chunks() -> list[tuple[int, bool, bytes]]:
    """The sample's TCP bytes as the engine delivers them: (connection, from client, bytes)."""
    from netsec_layers.session.trackers import StreamTracker

    got: list[tuple[int, bool, bytes]] = []

    class Tap(StreamTracker):
        name = "tap"

        def claims(self, chunk: StreamChunk) -> bool:
            return True

        def feed(self, chunk: StreamChunk) -> list[Any]:
            if chunk.data:
                got.append((chunk.conn.index, chunk.from_client, chunk.data))
            return []

    engine = CaptureEngine(trackers=[Tap()])
    for _ in iter_capture(str(SAMPLE), engine):
        pass
    return got


CHUNKS = _chunks()
REFERENCE = [
    (e.stream, e.from_client, e.seq, e.msg_type, e.payload, e.verdict)
    for e in _sample_events(KEYS.read_text())
    if isinstance(e, SSHPacketInfo)
]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 3000), min_size=1, max_size=40), st.booleans())
def test_same_events_however_the_bytes_are_cut(cuts: list[int], merge: bool) -> None:
    """Each delivered chunk re-cut at the given sizes (or runs of same-direction chunks merged
    first), in capture order: the same packets, numbers, payloads and verdicts."""
    pieces: list[tuple[int, bool, bytes]] = []
    for index, fc, data in CHUNKS:
        if merge and pieces and pieces[-1][:2] == (index, fc):
            pieces[-1] = (index, fc, pieces[-1][2] + data)
        else:
            pieces.append((index, fc, data))
    tracker = SSHTracker(parse_ssh_keylog(KEYS.read_text()))
    conns = {i: TCPConn(i, ("127.0.0.1", 1000 + i), ("127.0.0.1", 22), 4, True) for i in (0, 1)}
    events: list[Any] = []
    k = 0
    for index, fc, data in pieces:
        pos = 0
        while pos < len(data):
            n = cuts[k % len(cuts)]
            k += 1
            chunk = StreamChunk(conns[index], fc, data[pos : pos + n], k, 0)
            events.extend(tracker.feed(chunk))
            pos += n
    got = [
        (e.stream, e.from_client, e.seq, e.msg_type, e.payload, e.verdict)
        for e in events
        if isinstance(e, SSHPacketInfo)
    ]
    assert got == REFERENCE


def _feed(tracker: SSHTracker, parts: list[tuple[bool, bytes]], gap_at: int = -1) -> list[Any]:
    conn = TCPConn(7, ("10.0.0.1", 40000), ("10.0.0.2", 2222), 4, True)
    out: list[Any] = []
    for i, (fc, data) in enumerate(parts):
        out.extend(tracker.feed(StreamChunk(conn, fc, data, i + 1, 0, gap=5 if i == gap_at else 0)))
    return out


def _pkt(payload: bytes) -> bytes:
    pad = -(5 + len(payload)) % 8
    pad += 8 if pad < 4 else 0
    return (1 + len(payload) + pad).to_bytes(4, "big") + bytes([pad]) + payload + bytes(pad)


def test_hostile_lengths_and_padding() -> None:
    for bad in (
        b"\xff\xff\xff\xff\x04" + bytes(100),  # 2^32 - 1
        (8).to_bytes(4, "big") + b"\xc8" + bytes(8),  # padding longer than the packet
        (256 * 1024 + 8).to_bytes(4, "big") + b"\x04",  # above the 256 KiB limit
    ):
        events = _feed(SSHTracker(), [(True, b"SSH-2.0-x\r\n" + bad), (True, b"more bytes")])
        packets = [e for e in events if isinstance(e, SSHPacketInfo)]
        assert packets and all(p.verdict is SSHVerdict.UNDELIMITED for p in packets)
        assert all(p.seq is None and p.to_json()["error"] for p in packets)


def test_flood_of_tiny_packets() -> None:
    flood = _pkt(b"\x02\x00\x00\x00\x00") * 20000  # 20000 SSH_MSG_IGNORE
    events = _feed(SSHTracker(), [(True, b"SSH-2.0-x\r\n"), (True, flood)])
    packets = [e for e in events if isinstance(e, SSHPacketInfo)]
    assert len(packets) == 20000 and packets[-1].seq == 19999
    assert all(p.msg_type == 2 for p in packets)


def test_pre_banner_lines_gap_and_garbage_banner() -> None:
    t = SSHTracker()
    events = _feed(t, [(False, b"hello\r\nSSH-2.0-srv\r\n" + _pkt(b"\x15")), (False, b"x" * 9)], 1)
    assert isinstance(events[0], SSHBanner) and events[0].banner == "SSH-2.0-srv"
    assert events[1].msg_type == 21
    assert events[2].verdict is SSHVerdict.UNDELIMITED and "gap" in events[2].error
    endless = _feed(SSHTracker(), [(True, b"SSH-" + b"a" * 20000)])
    assert endless[0].verdict is SSHVerdict.UNDELIMITED


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=300)), max_size=12))
def test_garbage_never_raises(parts: list[tuple[bool, bytes]]) -> None:
    t = SSHTracker(parse_ssh_keylog("00" * 16 + " SHARED_SECRET 01"))
    parts = [(True, b"SSH-2.0-x\r\n"), (False, b"SSH-2.0-y\r\n"), *parts]
    for e in _feed(t, parts):
        assert e.to_json()["proto"] == "ssh"
        e.summary()


def test_dissect_json_contract(capsys: Any) -> None:
    assert main(["dissect", str(SAMPLE), "--json", "-q", "--ssh-keylog", str(KEYS)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    ssh = [r for r in rows if r["proto"] == "ssh"]
    banners = [r for r in ssh if "banner" in r]
    assert len(banners) == 4
    assert all(set(r) == {"proto", "frame", "stream", "dir", "banner"} for r in banners)
    packets = [r for r in ssh if "banner" not in r]
    want = {"proto", "frame", "stream", "dir", "seq", "msg_type", "decrypted", "payload", "error"}
    assert all(set(r) >= want for r in packets)
    assert all(r["dir"] in ("c2s", "s2c") and isinstance(r["frame"], int) for r in packets)
    assert all(r["decrypted"] and r["error"] is None for r in packets if r["seq"] is not None
               and r["msg_type"] not in (20, 21, 30, 31) and r["payload"] and r["frame"] > 20)  # fmt: skip
    assert sum(r["decrypted"] for r in packets) >= 60
    # without keys: exit 0, the clear-text part dissected, the rest null
    assert main(["dissect", str(SAMPLE), "--json", "-q"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    packets = [r for r in rows if r["proto"] == "ssh" and "banner" not in r]
    assert not any(r["decrypted"] for r in packets)
    assert {r["msg_type"] for r in packets if r["payload"]} == {20, 30, 31, 21}
    assert all(r["payload"] is None and r["msg_type"] is None for r in packets if r["error"])


def test_channel_demux_gives_each_channel_its_bytes() -> None:
    """What ``decrypt -w`` needs: per channel, the CHANNEL_DATA bytes each way and the ends."""
    from netsec_layers.session.ssh_channels import SSHChannelDemux

    demux = SSHChannelDemux()
    got: dict[tuple[int, int, bool], bytearray] = {}
    ends: set[tuple[int, int, bool]] = set()
    for e in _sample_events(KEYS.read_text()):
        for seg in demux.feed(e):
            assert seg.channel_type == "session"
            key = (seg.stream, seg.index, seg.from_client)
            assert key not in ends  # nothing after the end
            got.setdefault(key, bytearray()).extend(seg.data)
            if seg.end:
                ends.add(key)
    want = {
        0: [pattern("sample-ctr:0", 2000), pattern("sample-ctr:1", 2000)],
        1: [pattern("sample-chacha:0", 2000)],
    }
    for stream, chans in want.items():
        for index, data in enumerate(chans):
            assert bytes(got[(stream, index, True)]) == data
            assert bytes(got[(stream, index, False)]) == data
            assert (stream, index, True) in ends and (stream, index, False) in ends


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=200)), max_size=10))
def test_sftp_session_garbage_stays_bounded(parts: list[tuple[bool, bytes]]) -> None:
    from netsec_layers.session.ssh_sftp import SFTPSession

    s = SFTPSession(max_bytes=1000)
    for i, (fc, data) in enumerate(parts):
        for msg in s.feed(fc, data, i):
            assert msg.raw[4] == msg.sftp_type
    assert sum(len(v) for v in (*s.files_written.values(), *s.files_read.values())) <= 1000


@pytest.mark.integration
def test_keys_from_a_pcapng_dsb_written_by_editcap(tmp_path: Path, capsys: Any) -> None:
    """editcap (Wireshark 4.0) --inject-secrets ssh writes the key log as a Decryption Secrets
    Block (type 0x5353484b); dissect reads the keys from it, with no --ssh-keylog."""
    out = tmp_path / "dsb.pcapng"
    subprocess.run(
        ["editcap", "--inject-secrets", f"ssh,{KEYS}", str(SAMPLE), str(out)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert main(["dissect", str(out), "--json", "-q"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    packets = [r for r in rows if r["proto"] == "ssh" and "banner" not in r]
    assert sum(r["decrypted"] for r in packets) >= 60
    assert not [r for r in packets if r["error"]]
