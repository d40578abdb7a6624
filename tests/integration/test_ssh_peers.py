"""SSH against real peers on 127.0.0.1: OpenSSH ``sshd`` (Debian openssh-server, started here with
its own host keys and config) and clients whose key exchange is hooked to write the SSH key log
(paramiko, asyncssh; see tools/ssh_peers.py).  One capture holds a connection per algorithm
set; the tracker must decrypt every packet, and the CHANNEL_DATA bytes of every channel must be
exactly what the peers sent.  tshark 4.0 (two-field key log) must agree where it decrypts."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from netsec_layers.keys.ssh_keylog import parse_ssh_keylog
from netsec_layers.session.engine import CaptureEngine, iter_capture
from netsec_layers.session.ssh import SSHBanner, SSHPacketInfo, SSHTracker
from tests.tshark_util import run_tshark
from tools.loopback_capture import tcpdump_capture
from tools.ssh_peers import Session, asyncssh_session, keylog_text, paramiko_session, running_sshd

pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.slow]

# (label, client, options): every KEX, cipher, MAC and compression the peers share
PLAN: list[tuple[str, str, dict[str, Any]]] = [
    ("p-x25519-ctr-rekey", "paramiko", dict(kex="curve25519-sha256@libssh.org",
        cipher="aes128-ctr", mac="hmac-sha2-256", channels=2, rekey=True)),
    ("p-p256", "paramiko", dict(kex="ecdh-sha2-nistp256", cipher="aes192-ctr", mac="hmac-sha1")),
    ("p-p384", "paramiko", dict(kex="ecdh-sha2-nistp384", cipher="aes256-ctr",
        mac="hmac-sha2-512")),
    ("p-p521-etm", "paramiko", dict(kex="ecdh-sha2-nistp521", cipher="aes128-cbc",
        mac="hmac-sha2-256-etm@openssh.com")),
    ("p-g14-cbc", "paramiko", dict(kex="diffie-hellman-group14-sha256", cipher="aes192-cbc",
        mac="hmac-sha2-512-etm@openssh.com")),
    ("p-g16-md5", "paramiko", dict(kex="diffie-hellman-group16-sha512", cipher="aes256-cbc",
        mac="hmac-md5")),
    ("p-gex-3des-zlib", "paramiko", dict(kex="diffie-hellman-group-exchange-sha256",
        cipher="3des-cbc", mac="hmac-sha1-96", compress=True)),
    ("p-g14-gcm-nostrict", "paramiko", dict(kex="diffie-hellman-group14-sha256",
        cipher="aes256-gcm@openssh.com", strict_kex=False)),
    ("p-x25519-nostrict", "paramiko", dict(kex="curve25519-sha256@libssh.org",
        cipher="aes128-ctr", mac="hmac-sha2-256", strict_kex=False)),
    ("a-chacha", "asyncssh", dict(kex="curve25519-sha256",
        cipher="chacha20-poly1305@openssh.com")),
    ("a-g18-sha1etm", "asyncssh", dict(kex="diffie-hellman-group18-sha512", cipher="aes256-ctr",
        mac="hmac-sha1-etm@openssh.com")),
    ("a-gex1-gcm", "asyncssh", dict(kex="diffie-hellman-group-exchange-sha1",
        cipher="aes128-gcm@openssh.com")),
    ("a-g14sha1-etm", "asyncssh", dict(kex="diffie-hellman-group14-sha1", cipher="aes192-ctr",
        mac="hmac-sha2-256-etm@openssh.com")),
    ("a-g1-md5etm", "asyncssh", dict(kex="diffie-hellman-group1-sha1", cipher="aes128-cbc",
        mac="hmac-md5-etm@openssh.com")),
    ("a-umac64-etm", "asyncssh", dict(kex="curve25519-sha256", cipher="aes128-ctr",
        mac="umac-64-etm@openssh.com")),
    ("a-umac128", "asyncssh", dict(kex="ecdh-sha2-nistp384", cipher="aes256-cbc",
        mac="umac-128@openssh.com")),
    ("a-p256-gcm-zlib", "asyncssh", dict(kex="ecdh-sha2-nistp256",
        cipher="aes256-gcm@openssh.com", compression="zlib@openssh.com", channels=2)),
]  # fmt: skip


@dataclass
class Capture:
    pcap: Path
    port: int
    sessions: list[Session]
    keylog: str
    tshark_keylog: Path
    fingerprints: dict[str, str]  # host key type -> ssh-keygen -l fingerprint


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    out = tmp_path_factory.mktemp("ssh")
    pcap = out / "ssh.pcap"
    with running_sshd() as sshd:

        def traffic() -> list[Session]:
            sessions = []
            for label, client, opts in PLAN:
                run = paramiko_session if client == "paramiko" else asyncssh_session
                sessions.append(run(sshd.port, sshd.user_key, label=label, **opts))
            return sessions

        sessions = tcpdump_capture(pcap, traffic, bpf=f"tcp port {sshd.port}")
        port = sshd.port
        fingerprints = {}
        for pub in sshd.dir.glob("host_*.pub"):
            line = subprocess.run(
                ["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            fingerprints[pub.read_text().split()[0]] = line[1]  # fmt: skip
    wkeys = out / "wireshark.keys"
    wkeys.write_text(keylog_text(sessions, two_field=True))
    return Capture(pcap, port, sessions, keylog_text(sessions), wkeys, fingerprints)


def _run(pcap: Path, keylog: str, tracker: SSHTracker | None = None) -> list[Any]:
    tracker = tracker or SSHTracker(parse_ssh_keylog(keylog))
    engine = CaptureEngine(trackers=[tracker])
    events: list[Any] = []
    for res in iter_capture(str(pcap), engine):
        events.extend(u for u in res.units if isinstance(u, (SSHBanner, SSHPacketInfo)))
    return events


@pytest.fixture(scope="module")
def events(capture: Capture) -> list[Any]:
    return _run(capture.pcap, capture.keylog)


def _by_stream(events: list[Any]) -> dict[int, list[SSHPacketInfo]]:
    out: dict[int, list[SSHPacketInfo]] = defaultdict(list)
    for e in events:
        if isinstance(e, SSHPacketInfo):
            out[e.stream].append(e)
    return out


def _channel_bytes(packets: list[SSHPacketInfo]) -> list[tuple[bytes, bytes]]:
    """Per channel in the client's opening order: (c2s CHANNEL_DATA bytes, s2c bytes).  Channel
    numbers may be reused once a channel is closed, so each open starts a new record."""
    records: list[tuple[bytearray, bytearray]] = []
    by_client: dict[int, int] = {}  # client's channel number -> record
    by_server: dict[int, int] = {}
    for p in packets:
        pl = p.payload
        if pl is None:
            continue
        if p.msg_type == 90 and p.from_client:
            n = int.from_bytes(pl[1:5], "big")
            by_client[int.from_bytes(pl[5 + n : 9 + n], "big")] = len(records)
            records.append((bytearray(), bytearray()))
        elif p.msg_type == 91 and not p.from_client:
            rec = by_client[int.from_bytes(pl[1:5], "big")]
            by_server[int.from_bytes(pl[5:9], "big")] = rec
        elif p.msg_type == 94:
            rcpt = int.from_bytes(pl[1:5], "big")
            n = int.from_bytes(pl[5:9], "big")
            rec = by_server[rcpt] if p.from_client else by_client[rcpt]
            records[rec][0 if p.from_client else 1].extend(pl[9 : 9 + n])
    return [(bytes(a), bytes(b)) for a, b in records]


def test_every_packet_decrypted_and_channels_match(capture: Capture, events: list[Any]) -> None:
    streams = _by_stream(events)
    assert len(streams) == len(PLAN)
    for index, sess in enumerate(capture.sessions):
        packets = streams[index]
        bad = [p.to_json() for p in packets if p.error is not None]
        assert not bad, (sess.label, bad[:3])
        assert sum(p.decrypted for p in packets) >= 10, sess.label
        channels = _channel_bytes(packets)
        assert len(channels) == len(sess.channels) >= 1, sess.label
        for (sent, received), (c2s, s2c) in zip(sess.channels, channels, strict=True):
            assert len(sent) >= 3000 and c2s == sent, sess.label
            assert len(received) >= 3000 and s2c == received, sess.label


def test_rekey_and_strict_sequence_numbers(capture: Capture, events: list[Any]) -> None:
    streams = _by_stream(events)
    labels = [s.label for s in capture.sessions]
    rekeyed = streams[labels.index("p-x25519-ctr-rekey")]
    for from_client in (True, False):
        mine = [p for p in rekeyed if p.from_client == from_client]
        newkeys = [i for i, p in enumerate(mine) if p.msg_type == 21]
        assert len(newkeys) == 2  # the first exchange and the rekey
        assert [p.msg_type for p in mine].count(20) == 2
        # strict KEX: the packet after each NEWKEYS has sequence number 0
        assert all(mine[i + 1].seq == 0 for i in newkeys if i + 1 < len(mine))
        assert all(p.decrypted for p in mine[newkeys[0] + 1 :])
    loose = streams[labels.index("p-x25519-nostrict")]
    for from_client in (True, False):
        seqs = [p.seq for p in loose if p.from_client == from_client]
        assert seqs == list(range(len(seqs)))  # RFC 4253 §6.4: never reset


def test_private_keys_alone_and_shared_secrets_alone(capture: Capture, events: list[Any]) -> None:
    lines = capture.keylog.splitlines()
    want = {
        (e.stream, e.from_client, e.seq): e.payload for e in events if isinstance(e, SSHPacketInfo)
    }
    for kind in ("PRIVATE_KEY", "SHARED_SECRET"):
        subset = "\n".join(line for line in lines if f" {kind} " in line)
        got = _run(capture.pcap, subset)
        by_key = {
            (e.stream, e.from_client, e.seq): e.payload for e in got if isinstance(e, SSHPacketInfo)
        }
        paramiko_streams = {i for i, s in enumerate(capture.sessions) if s.label.startswith("p-")}
        streams = paramiko_streams if kind == "PRIVATE_KEY" else set(range(len(capture.sessions)))
        for key, payload in want.items():
            if key[0] in streams:
                assert by_key.get(key) == payload, (kind, key)


def test_wrong_or_missing_keys(capture: Capture) -> None:
    def corrupt(line: str) -> str:
        cookie, kind, secret = line.split()
        return f"{cookie} {kind} {secret[:-2]}{(int(secret[-2:], 16) ^ 1):02x}"

    wrong = "\n".join(corrupt(line) for line in capture.keylog.splitlines())
    labels = [s.label for s in capture.sessions]
    for keylog in (wrong, ""):
        streams = _by_stream(_run(capture.pcap, keylog))
        for index, packets in streams.items():
            assert not any(p.decrypted for p in packets)
            label = labels[index]
            first_newkeys = next(i for i, p in enumerate(packets) if p.msg_type == 21)
            assert all(p.msg_type is not None for p in packets[:first_newkeys])
            later = [
                p
                for p in packets[first_newkeys + 1 :]
                if p.from_client == packets[first_newkeys].from_client
            ]
            assert later and all(p.payload is None and p.msg_type is None for p in later)
            if "gcm" in label and "zlib" not in label:
                # the length is in clear: still delimited, with sequence numbers
                assert all(p.seq is not None for p in later), label
            if label in ("p-p256", "a-chacha"):
                assert all(p.seq is None for p in later), label
            json = [p.to_json() for p in later]
            assert all(set(j) >= {"proto", "frame", "stream", "dir", "seq", "msg_type",
                                  "decrypted", "payload", "error"} for j in json)  # fmt: skip
            assert all(j["error"] for j in json)


def _tshark(capture: Capture) -> set[tuple[int, int, int, int, int]]:
    """(TCP stream, frame, direction 0=c2s, sequence number, message code) of every packet
    tshark 4.0 decrypted (it shows a message code), from its two-field key log."""
    out = run_tshark(
        ["-r", str(capture.pcap), "-d", f"tcp.port=={capture.port},ssh",
         "-o", f"ssh.keylog_file:{capture.tshark_keylog}", "-Y", "ssh.message_code",
         "-T", "fields", "-e", "frame.number", "-e", "ssh.direction", "-e", "ssh.seq_num",
         "-e", "ssh.message_code", "-e", "tcp.stream"],
    )  # fmt: skip
    rows = set()
    for line in out.splitlines():
        frame, direction, seqs, codes, stream = line.split("\t")
        for seq, code in zip(seqs.split(","), codes.split(","), strict=False):
            if seq and code and direction:
                rows.add((int(stream), int(frame), int(direction), int(seq), int(code)))
    return rows


def test_tshark_agrees_where_it_decrypts(capture: Capture, events: list[Any]) -> None:
    # tshark 4.0 knows neither strict KEX nor NIST ECDH: compare the connections it can follow
    labels = [s.label for s in capture.sessions]
    wanted = {labels.index("p-x25519-nostrict"), labels.index("p-g14-gcm-nostrict")}
    ours = {
        (e.stream, e.frame, 0 if e.from_client else 1, e.seq, e.msg_type)
        for e in events
        if isinstance(e, SSHPacketInfo) and e.msg_type is not None and e.stream in wanted
    }
    theirs = {row for row in _tshark(capture) if row[0] in wanted}
    assert sum(1 for e in events if isinstance(e, SSHPacketInfo) and e.decrypted
               and e.stream in wanted) >= 30  # fmt: skip
    # the same packets with the same message types
    assert {r[:3] + r[4:] for r in ours} == {r[:3] + r[4:] for r in theirs}
    # and the same sequence numbers after NEWKEYS (tshark 4.0 numbers the clear-text
    # KEXDH_INIT/REPLY of the finite-field DH methods one too high: its NEWKEYS then repeats
    # the number, so only the encrypted packets, whose MAC uses it, are compared)
    decrypted = {
        (e.stream, e.frame, 0 if e.from_client else 1, e.seq, e.msg_type)
        for e in events
        if isinstance(e, SSHPacketInfo) and e.decrypted and e.stream in wanted
    }
    assert decrypted <= theirs, sorted(decrypted - theirs)[:5]


def test_stats_rows(capture: Capture) -> None:
    """netsec stats' SSH rows: what each client was told to use, the host key fingerprint as
    ssh-keygen -l prints it, the user and method that succeeded, channel byte counts."""
    tracker = SSHTracker(parse_ssh_keylog(capture.keylog))
    _run(capture.pcap, "", tracker)
    rows = tracker.stats_rows()
    assert len(rows) == len(PLAN)
    for row, (label, client, opts), sess in zip(rows, PLAN, capture.sessions, strict=True):
        assert row["kex"] == opts["kex"], label
        assert row["cipher_c2s"] == row["cipher_s2c"] == opts["cipher"], label
        if "mac" in opts:
            assert row["mac_c2s"] == row["mac_s2c"] == opts["mac"], label
        assert row["host_key_fingerprint"] == capture.fingerprints[row["host_key_type"]], label
        assert row["user"] == "root" and row["auth_method"] == "publickey", label
        assert row["client_version"].startswith("SSH-2.0-" + ("paramiko" if client == "paramiko"
                                                               else "AsyncSSH")), label  # fmt: skip
        assert "OpenSSH_9.2" in row["server_version"]
        assert [(c["bytes_c2s"], c["bytes_s2c"]) for c in row["channels"]] == [
            (len(a), len(b)) for a, b in sess.channels
        ], label
        assert row["decrypted"] >= 10 and row["failed"] == 0, label
        assert row["key_exchanges"] == (2 if "rekey" in label else 1), label
        want = "zlib@openssh.com" if "zlib" in label else "none"
        assert row["compression_c2s"] == want, label


def test_rekey_without_its_key(capture: Capture) -> None:
    """Keys for the first exchange only: after the rekey's NEWKEYS nothing is delimited (the
    issue's contract), even though the packets before it decrypt."""
    labels = [s.label for s in capture.sessions]
    index = labels.index("p-x25519-ctr-rekey")
    first_cookie = capture.sessions[index].keylog[0][0]
    lines = [ln for ln in capture.keylog.splitlines() if ln.startswith(first_cookie.hex())]
    other = [ln for i, s in enumerate(capture.sessions) if i != index
             for ln in keylog_text([s]).splitlines()]  # fmt: skip
    packets = _by_stream(_run(capture.pcap, "\n".join(lines + other)))[index]
    for from_client in (True, False):
        mine = [p for p in packets if p.from_client == from_client]
        newkeys = [i for i, p in enumerate(mine) if p.msg_type == 21]
        assert len(newkeys) == 2
        assert all(p.decrypted for p in mine[newkeys[0] + 1 : newkeys[1] + 1])
        after = mine[newkeys[1] + 1 :]
        assert after and all(p.seq is None and p.payload is None for p in after)
        assert "rekey" in (after[0].error or "")
