"""``netsec encrypt IN -w OUT --esp-sa FILE``: every IP packet of IN becomes ESP under one SA."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from typing import TYPE_CHECKING

from netsec_layers.cli import status
from netsec_layers.cli.common import Progress, load_sadb, plural, warn
from netsec_layers.errors import UsageError
from netsec_layers.io.atomic import atomic_output, check_output_path
from netsec_layers.session import ipbuild

if TYPE_CHECKING:
    from netsec_layers.keys.sa import SecurityAssociation
    from netsec_layers.session.ipsec import SADatabase
    from netsec_layers.session.netstack import IPPacket

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101


def run_encrypt(args: argparse.Namespace) -> int:
    from netsec_layers.io.pcap import CaptureWriter, open_capture
    from netsec_layers.session.netstack import IPDecoder

    check_output_path(args.write)
    db = load_sadb(args)
    assert db is not None
    sa = _pick_sa(db, args.spi)
    if args.mode:
        sa = dataclasses.replace(sa, mode=args.mode)
    if args.udp_encap:
        sa = dataclasses.replace(sa, udp_encap=(args.udp_encap, args.udp_encap))
    fmt = args.format or ("pcapng" if str(args.write).endswith(".pcapng") else "pcap")
    decoder = IPDecoder()
    seq = args.seq
    written = skipped = 0
    progress = Progress(enabled=not args.quiet)
    # ESP output holds no secret; written whole or not at all (a failure at packet 7 leaves
    # no file with 6 packets, and an existing file is untouched).
    with (
        open_capture(args.input) as reader,
        atomic_output(args.write, secret=False) as dest,
        CaptureWriter(dest, format=fmt, linktype=_out_linktype(reader)) as writer,
    ):
        for frame in reader:
            progress(reader.bytes_read, reader.size)
            ip = decoder.feed(frame)
            if ip is None:
                skipped += 1
                continue
            packet = encapsulate(ip, sa=sa, db=db, seq=seq)
            seq += 1
            if frame.linktype == LINKTYPE_ETHERNET and len(ip.link) >= 14:
                ethertype = b"\x08\x00" if packet[0] >> 4 == 4 else b"\x86\xdd"
                writer.write(
                    ip.link[:-2] + ethertype + packet, ts_ns=frame.ts_ns, linktype=LINKTYPE_ETHERNET
                )
            else:
                writer.write(packet, ts_ns=frame.ts_ns, linktype=LINKTYPE_RAW)
            written += 1
    progress.close()
    if not args.quiet:
        if reader.truncated:
            warn(f"capture ends early: {reader.truncated}")
        if not written:
            warn("nothing encrypted: the capture holds no IP packet")
        print(
            f"netsec: {plural(written, 'packet')} encrypted under SPI 0x{sa.spi:08x} "
            f"(seq {args.seq}..{seq - 1}), {plural(skipped, 'non-IP frame')} skipped",
            file=sys.stderr,
        )
    return status.INCOMPLETE if reader.truncated or not written else status.DONE


def _out_linktype(reader: object) -> int:
    """Ethernet in → Ethernet out (addresses kept); anything else → raw IP."""
    lt = getattr(reader, "linktype", None)
    return LINKTYPE_ETHERNET if lt == LINKTYPE_ETHERNET else LINKTYPE_RAW


def _pick_sa(db: SADatabase, spi: int | None) -> SecurityAssociation:
    sas = [sa for sa in db.sas if sa.protocol == "esp"]
    if spi is not None:
        sas = [sa for sa in sas if sa.spi == spi]
    if not sas:
        raise UsageError(
            "no ESP SA" + (f" with SPI 0x{spi:08x}" if spi is not None else "") + " in the SA file"
        )
    return sas[0]


def encapsulate(ip: IPPacket, *, sa: SecurityAssociation, db: SADatabase, seq: int) -> bytes:
    """One plaintext IP packet → outer IP (+UDP) + ESP, per the SA's mode (RFC 4303 §3.1)."""
    if sa.mode == "tunnel":
        inner = ip.header + ip.payload
        next_header = 4 if ip.version == 4 else 41
        esp = db.encrypt(inner, sa=sa, next_header=next_header, seq=seq)
        src = sa.src if _concrete(sa.src) else ip.src
        dst = sa.dst if _concrete(sa.dst) else ip.dst
        version = 6 if ":" in src else 4
        return _outer(version, src, dst, esp, sa, ident=seq)
    # Transport mode: the original IP header, protocol = ESP; ESP protects the upper layer only.
    esp = db.encrypt(ip.payload, sa=sa, next_header=ip.proto, seq=seq)
    if ip.version == 4 and not sa.udp_encap:
        return ipbuild.ipv4_with_proto(ip.header, proto=50, payload_len=len(esp)) + esp
    return _outer(ip.version, ip.src, ip.dst, esp, sa, ident=seq)


def _outer(
    version: int, src: str, dst: str, esp: bytes, sa: SecurityAssociation, *, ident: int
) -> bytes:
    encap = sa.udp_encap
    if encap:
        body = ipbuild.udp_datagram(
            version=version, src=src, dst=dst, sport=encap[0], dport=encap[1], payload=esp
        )
        return (
            ipbuild.ip_header(
                version=version, src=src, dst=dst, proto=17, payload_len=len(body), ident=ident
            )
            + body
        )
    return (
        ipbuild.ip_header(
            version=version, src=src, dst=dst, proto=50, payload_len=len(esp), ident=ident
        )
        + esp
    )


@functools.lru_cache(maxsize=256)
def _concrete(addr: str) -> bool:
    return bool(addr) and "*" not in addr and "/" not in addr
