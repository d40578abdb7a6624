"""The floor of TLS 1.2 AES-GCM ``decrypt -w`` in pure Python (issue 22's evidence).

What any pure-Python ``decrypt -w`` of the one-host-pair capture must at least do, and nothing
more: read the pcap, parse Ethernet/IPv4/TCP at fixed offsets, cut the application-data records
of each segment (assumed in order, whole, one connection state per direction), make one AES-GCM
call per record on a fragment of the same size (an encrypt: the same cost as the decrypt, no
keys needed), build the plaintext segment with its IPv4 and TCP checksums, and write a pcap.  No
handshake, no reassembly, no events, no checks: the plaintext it writes is not the real one.

    python tools/tls_floor.py CAPTURE.pcap OUT.pcap      # prints records and CPU seconds

docs/benchmarks.md compares its CPU time with tshark's ``-z io,stat,0`` on the same file.
"""

from __future__ import annotations

import os
import struct
import sys
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_REC = struct.Struct("<IIII")


def _checksum(total: int) -> bytes:
    r = total % 0xFFFF  # RFC 1071 by parts, as netsec_layers.session.ipbuild.checksum16
    return (0xFFFF - r if r else 0).to_bytes(2, "big")


def floor(src: str, dst: str) -> int:  # noqa: C901 - one flat loop on purpose: that is the floor
    data = open(src, "rb").read()  # noqa: SIM115 - the whole file, as fast as it gets
    enc = AESGCM(os.urandom(16)).encrypt
    unpack = _REC.unpack_from
    out = [data[:24]]
    add = out.append
    pos, n = 24, len(data)
    seqs: dict[bytes, int] = {}
    ip_id = records = 0
    while pos + 16 <= n:
        ts_s, ts_us, incl, _orig = unpack(data, pos)
        f = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        if f[12:14] != b"\x08\x00" or f[23] != 6:
            continue
        t = 14 + (f[14] & 15) * 4
        p = t + (f[t + 12] >> 4) * 4
        if p >= len(f):
            continue
        key = f[26:34] + f[t : t + 4]
        rs = seqs.get(key, 0)
        body = []
        while p + 5 <= len(f):
            ln = (f[p + 3] << 8) | f[p + 4]
            if f[p] == 23 and ln > 24:
                frag = f[p + 5 : p + 5 + ln]
                aad = rs.to_bytes(8, "big") + f[p : p + 3] + (ln - 24).to_bytes(2, "big")
                body.append(enc(b"\0\0\0\0" + frag[:8], frag[8 : ln - 16], aad))
                records += 1
            rs += 1
            p += 5 + ln
        seqs[key] = rs
        if not body:
            continue
        payload = b"".join(body)
        seg_len = 20 + len(payload)
        ip_id = (ip_id + 1) & 0xFFFF
        iph = bytearray(f[14:34])
        iph[2:6] = struct.pack("!HH", 20 + seg_len, ip_id)
        iph[10:12] = b"\0\0"
        iph[10:12] = _checksum(int.from_bytes(iph, "big"))
        tcp = bytearray(f[t : t + 20])
        tcp[12], tcp[16:18] = 0x50, b"\0\0"
        padded = payload + b"\0" if len(payload) & 1 else payload
        tcp[16:18] = _checksum(
            int.from_bytes(f[26:34], "big")
            + 6
            + seg_len
            + int.from_bytes(tcp, "big")
            + int.from_bytes(padded, "big")
        )
        frame = f[:14] + bytes(iph) + bytes(tcp) + payload
        add(_REC.pack(ts_s, ts_us, len(frame), len(frame)))
        add(frame)
    with open(dst, "wb") as w:
        w.write(b"".join(out))
    return records


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    t0 = time.process_time()
    records = floor(args[0], args[1])
    print(f"records {records} cpu {time.process_time() - t0:.3f} s (after interpreter start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
