#!/usr/bin/env python3
"""Drive :class:`netsec_layers.session.ike_initiator.IKEv2Initiator` over real UDP sockets.

Run inside the initiator's network namespace (tests/integration/test_ike_initiator.py does it
with ``ip netns exec``)::

    python3 tools/ike_initiator_run.py --local 10.99.0.1 --remote 10.99.0.2 --psk PSK \\
        --id-i a-c1@netsec --id-r b-c1@netsec --ts 10.98.1.1:10.98.2.1 \\
        --child-ts 10.98.1.2:10.98.2.2 --out DIR

It runs IKE_SA_INIT + IKE_AUTH (first CHILD_SA), sends an ICMP echo request through it as
UDP-encapsulated ESP and waits for the peer's ESP echo reply, then CREATE_CHILD_SA with PFS
and the same over the new CHILD_SA, then deletes the IKE SA.  It writes ``DIR/ike.json``
(netsec --ike-keys), ``DIR/ikev2_decryption_table`` and ``DIR/result.json`` (what happened).
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netsec_layers.errors import NetsecError  # noqa: E402
from netsec_layers.session.ike_initiator import IKEv2Initiator, Outgoing  # noqa: E402
from netsec_layers.session.ike_wire import notify_fields  # noqa: E402
from netsec_layers.session.ipbuild import checksum16, ipv4_header  # noqa: E402
from netsec_layers.session.ipsec import SADatabase  # noqa: E402


def _echo(src: str, dst: str, ident: int, payload: bytes) -> bytes:
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + payload
    icmp = icmp[:2] + struct.pack("!H", checksum16(icmp)) + icmp[4:]
    return ipv4_header(src=src, dst=dst, proto=1, payload_len=len(icmp), ident=ident) + icmp


class Link:
    """The two UDP sockets (500 and 4500) of the initiator."""

    def __init__(self, local: str, remote: str) -> None:
        self.remote = remote
        self.socks = {}
        for port in (500, 4500):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((local, port))
            s.settimeout(0.2)
            self.socks[port] = s

    def send(self, out: list[Outgoing]) -> None:
        for o in out:
            self.socks[o.port].sendto(o.payload, (self.remote, o.port))

    def recv(self, timeout: float) -> tuple[bytes, int] | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for port, s in self.socks.items():
                try:
                    data, _ = s.recvfrom(65535)
                except TimeoutError:
                    continue
                return data, port
        return None


def _exchange(ini: IKEv2Initiator, link: Link, out: list[Outgoing], until, timeout=5.0) -> None:
    link.send(out)
    end = time.monotonic() + timeout
    while not until():
        if time.monotonic() > end:
            raise TimeoutError("no answer from the responder")
        got = link.recv(0.5)
        if got is not None:
            link.send(ini.receive(*got))


def _ping_through(db: SADatabase, out_sa, link: Link, src: str, dst: str, tag: bytes) -> str:
    """ESP echo request through ``out_sa``; returns the payload of the decrypted ESP reply."""
    esp = db.encrypt(_echo(src, dst, 0x4E53, tag), sa=out_sa, next_header=4)
    link.socks[4500].sendto(esp, (link.remote, 4500))
    end = time.monotonic() + 5
    while time.monotonic() < end:
        got = link.recv(0.5)
        if got is None or got[1] != 4500 or got[0][:4] == b"\0\0\0\0" or len(got[0]) < 8:
            continue
        opened = db.decrypt(got[0], check_replay=False)
        inner = opened.payload
        if inner[9] == 1 and inner[20] == 0:  # ICMP echo reply
            return inner[28:].decode(errors="replace")
    raise TimeoutError("no ESP echo reply")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--local", required=True)
    ap.add_argument("--remote", required=True)
    ap.add_argument("--psk", required=True)
    ap.add_argument("--id-i", required=True)
    ap.add_argument("--id-r")
    ap.add_argument("--ts", required=True, help="LOCAL_INNER:REMOTE_INNER of the first child")
    ap.add_argument("--child-ts", required=True, help="the same for the CREATE_CHILD_SA")
    ap.add_argument(
        "--child-esp", default="20:128:0", help="ENCR:KEYBITS:INTEG transform IDs of the new child"
    )
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    ts_i, ts_r = a.ts.split(":")
    cts_i, cts_r = a.child_ts.split(":")
    ini = IKEv2Initiator(
        psk=a.psk.encode(),
        id_i=a.id_i,
        id_r=a.id_r,
        local=(a.local, 500),
        remote=(a.remote, 500),
        ts_i=ts_i,
        ts_r=ts_r,
        force_encap=True,
    )
    link = Link(a.local, a.remote)
    result: dict[str, object] = {}
    try:
        _exchange(ini, link, ini.start(), lambda: ini.established)
        result["established"] = True
        db = SADatabase()
        for pair in ini.child_sas:
            db.add(pair[0])
            db.add(pair[1])
        result["reply1"] = _ping_through(
            db, ini.child_sas[0][0], link, ts_i, ts_r, b"netsec initiator ping 1"
        )
        n = len(ini.child_sas)
        encr, bits, integ = (int(x) for x in a.child_esp.split(":"))
        req = ini.create_child_sa(
            ts_i=cts_i, ts_r=cts_r, pfs=True, encr=encr, key_bits=bits, integ=integ
        )
        _exchange(ini, link, req, lambda: len(ini.child_sas) > n)
        db.add(ini.child_sas[-1][0])
        db.add(ini.child_sas[-1][1])
        result["reply2"] = _ping_through(
            db, ini.child_sas[-1][0], link, cts_i, cts_r, b"netsec initiator ping 2 (PFS child)"
        )
        result["child_spis"] = [[f"{o.spi:08x}", f"{i.spi:08x}"] for o, i in ini.child_sas]
        (out / "ike.json").write_text(ini.key_file())
        (out / "ikev2_decryption_table").write_text(ini.wireshark_table())
        # deliberately broken INFORMATIONAL requests: a bad ICV and a message ID out of the
        # window must be dropped silently, after which a good liveness check is answered ...
        for fault in ("bad-icv", "wrong-message-id"):
            link.send(ini.informational(fault=fault))
            time.sleep(0.3)
        _exchange(ini, link, ini.informational(), lambda: not ini._pending)
        result["liveness_answered"] = True
        # ... and bad padding under a valid ICV gets INVALID_SYNTAX (RFC 7296 §2.21.2)
        seen = len(ini.messages)
        link.send(ini.informational(fault="bad-padding"))
        end = time.monotonic() + 5
        while time.monotonic() < end and not any(
            m.flags & 0x20 and m.decrypted for m in ini.messages[seen + 1 :]
        ):
            got = link.recv(0.5)
            if got is not None:
                ini.receive(*got)
        answer = next(m for m in ini.messages[seen + 1 :] if m.flags & 0x20 and m.decrypted)
        assert answer.plaintext is not None
        result["bad_padding_answer"] = notify_fields(answer.plaintext[4:])[1]
    except (NetsecError, TimeoutError, StopIteration) as e:
        result["error"] = f"{type(e).__name__}: {e}"
    result["messages"] = [m.to_json() for m in ini.messages]
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "messages"}))
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
