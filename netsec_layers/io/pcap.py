"""Streaming pcap / pcapng reader and writer.

The reader never loads a whole file: it pulls large chunks (1 MiB by default) from the source and
parses records out of the chunk with precompiled :class:`struct.Struct` objects, so memory stays
constant whatever the capture size.  Bytes are untrusted: a length field that claims more than
``max_packet`` bytes (e.g. a header saying 4 GB) is never allocated; the reader stops cleanly and
records the reason in :attr:`CaptureReader.truncated`, exactly as for a file cut mid-record.
Only a bad magic number raises (:class:`~netsec_layers.errors.ParseError`).

Formats:
- pcap (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html): both byte orders,
  microsecond magic ``0xA1B2C3D4`` and nanosecond magic ``0xA1B23C4D`` (and the old "modified
  pcap" ``0xA1B2CD34`` with 24-byte record headers); the link-type field's upper bits (FCS
  information, draft §4) are masked off.
- pcapng (draft-ietf-opsawg-pcapng): several sections (each with its own byte order and
  interfaces), IDB options ``if_tsresol`` (§4.2: MSB clear = 10^-n, MSB set = 2^-n) and
  ``if_tsoffset``; EPB (§4.3), SPB (§4.4), obsolete PB (Appendix A), Decryption Secrets Block
  (§4.7, type 0x0000000A); every other block type is skipped.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO

from netsec_layers.errors import ParseError, UsageError
from netsec_layers.frame import Frame

__all__ = [
    "Frame",
    "CaptureReader",
    "CaptureWriter",
    "open_capture",
    "PCAP_MAGIC_US",
    "PCAP_MAGIC_NS",
    "PCAPNG_SHB",
    "SECRETS_TLS",
    "SECRETS_ESP",
    "SECRETS_SSH",
    "SECRETS_WIREGUARD",
]

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
# Alexey Kuznetzov's "modified pcap" (old Linux patched libpcap): 8 extra bytes per record header
PCAP_MAGIC_MODIFIED = 0xA1B2CD34
_PCAP_MAGICS = (PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_MODIFIED)
PCAPNG_SHB = 0x0A0D0D0A
_BOM = 0x1A2B3C4D

# pcapng block types (draft-ietf-opsawg-pcapng §11.1)
_BT_IDB = 0x00000001
_BT_PB = 0x00000002  # obsolete Packet Block (Appendix A)
_BT_SPB = 0x00000003
_BT_EPB = 0x00000006
_BT_DSB = 0x0000000A
# Blocks Wireshark shows as (non-packet) records with their own frame number: custom blocks
# (§4.8, 0x00000BAD / 0x40000BAD) and systemd Journal Export Blocks (0x00000009).  They are not
# returned, but they consume a frame number so our numbers match Wireshark's.
_NUMBERED_RECORDS = frozenset((0x00000BAD, 0x40000BAD, 0x00000009))

# Decryption Secrets Block secrets types (§4.7)
SECRETS_TLS = 0x544C534B  # "TLSK": NSS key log
SECRETS_ESP = 0x45535053  # "ESPS": Wireshark esp_sa lines
SECRETS_SSH = 0x5353484B
SECRETS_WIREGUARD = 0x57474B4C

_OPT_IF_TSRESOL = 9
_OPT_IF_TSOFFSET = 14

_CHUNK = 1 << 20
# Allowance for EPB options on top of the captured bytes when sanity-checking a block length.
_OPTIONS_SLACK = 1 << 16

_NS = 1_000_000_000
_WRITE_BATCH = 1 << 18  # bytes of frames gathered per write call (CaptureWriter)


class _Interface:
    __slots__ = ("linktype", "snaplen", "mul", "div", "offset_ns")

    def __init__(self, linktype: int, snaplen: int) -> None:
        self.linktype = linktype
        self.snaplen = snaplen
        self.mul = 1000  # default resolution 10^-6 (§4.2 if_tsresol)
        self.div = 1
        self.offset_ns = 0

    def set_tsresol(self, v: int) -> None:
        if v & 0x80:  # power of two: units of 2^-n s
            self.mul, self.div = _NS, 1 << (v & 0x7F)
        elif v <= 9:
            self.mul, self.div = 10 ** (9 - v), 1
        else:
            self.mul, self.div = 1, 10 ** (v - 9)


class CaptureReader:
    """Stream :class:`Frame` objects out of a pcap or pcapng file.

    ``source`` is a path or a binary file object (a pipe works: only ``read`` is used).  Use as a
    context manager and iterate.  Attributes:

    - ``format``: ``"pcap"`` or ``"pcapng"``
    - ``secrets``: ``(secrets_type, data)`` of every Decryption Secrets Block read so far
    - ``on_secrets``: called with ``(secrets_type, data)`` when a DSB is read, before the next frame
    - ``truncated``: why iteration stopped early (file cut mid-record, or a malformed record);
      ``None`` after a clean end
    - ``bytes_read`` / ``size``: progress (``size`` is ``None`` for unseekable sources)
    - ``linktype``: pcap header link type, or first interface's link type for pcapng
    - ``nanosecond``: pcap timestamp resolution is nanoseconds
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | BinaryIO,
        *,
        max_packet: int = 256 << 10,
        max_block: int = 64 << 20,
        chunk_size: int = _CHUNK,
    ) -> None:
        if isinstance(source, (str, os.PathLike)):
            try:
                self._f: BinaryIO = open(source, "rb")  # noqa: SIM115 - closed in close()
            except FileNotFoundError as e:
                raise UsageError(f"{os.fspath(source)}: no such file") from e
            except OSError as e:
                raise UsageError(f"{os.fspath(source)}: cannot open capture: {e.strerror}") from e
            self._own = True
        else:
            self._f = source
            self._own = False
        self.max_packet = max_packet
        self.max_block = max_block
        self._chunk = max(chunk_size, 4096)
        self.secrets: list[tuple[int, bytes]] = []
        self.on_secrets: Callable[[int, bytes], None] | None = None
        self.truncated: str | None = None
        self.bytes_read = 0
        self.size: int | None = None
        self.linktype: int | None = None
        self.nanosecond = False
        self.interfaces: list[tuple[int, int]] = []  # (linktype, snaplen) of the current section
        try:
            st = os.fstat(self._f.fileno())
            if st.st_size > 0:
                self.size = st.st_size
        except (OSError, AttributeError, ValueError):
            pass
        self._buf = b""
        self._pos = 0
        self._base = 0
        try:
            head = self._read_at_least(b"", 0, 4)[0]
        except OSError as e:
            self.close()
            raise ParseError(f"cannot read capture: {e}") from e
        self._buf = head
        if len(head) < 4:
            self.close()
            raise ParseError("not a capture file: shorter than a magic number")
        le = struct.unpack_from("<I", head)[0]
        be = struct.unpack_from(">I", head)[0]
        self._gen: Iterator[Frame]
        if le in _PCAP_MAGICS or be in _PCAP_MAGICS:
            self.format = "pcap"
            self._endian = "<" if le in _PCAP_MAGICS else ">"
            magic = le if self._endian == "<" else be
            self.nanosecond = magic == PCAP_MAGIC_NS
            self._rec_len = 24 if magic == PCAP_MAGIC_MODIFIED else 16
            self._gen = self._frames_pcap()
        elif le == PCAPNG_SHB:
            self.format = "pcapng"
            self._endian = "<"
            self._gen = self._frames_pcapng()
        else:
            self.close()
            raise ParseError(f"not a pcap/pcapng file (magic 0x{be:08x})")
        if self.format == "pcapng":
            # Read the first SHB eagerly so a bad byte-order magic is a ParseError too.
            buf, _, _ = self._read_at_least(self._buf, 0, 12)
            self._buf = buf
            if (
                len(buf) >= 12
                and struct.unpack_from("<I", buf, 8)[0] != _BOM
                and (struct.unpack_from(">I", buf, 8)[0] != _BOM)
            ):
                self.close()
                raise ParseError("pcapng section header with a bad byte-order magic")
        else:
            buf, _, _ = self._read_at_least(self._buf, 0, 24)
            self._buf = buf
            if len(buf) >= 24:
                self.linktype = struct.unpack_from(self._endian + "I", buf, 20)[0] & 0xFFFF

    # -- buffer management -------------------------------------------------------------------
    def _read_at_least(self, buf: bytes, pos: int, need: int) -> tuple[bytes, int, int]:
        """Return (buffer, pos, base) with at least ``need`` bytes from ``pos`` unless at EOF."""
        rest = buf[pos:]
        self._base += pos
        parts = [rest]
        have = len(rest)
        read = self._f.read
        while have < need:
            chunk = read(max(self._chunk, need - have))
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        return b"".join(parts), 0, self._base

    def _discard(self, buf: bytes, pos: int, n: int) -> tuple[bytes, int, bool]:
        """Skip ``n`` bytes without holding them all in memory; False if EOF came first."""
        avail = len(buf) - pos
        if avail >= n:
            return buf, pos + n, True
        n -= avail
        self._base += len(buf)
        read = self._f.read
        while n > 0:
            chunk = read(min(self._chunk, n))
            if not chunk:
                return b"", 0, False
            self._base += len(chunk)
            n -= len(chunk)
        return b"", 0, True

    # -- pcap ----------------------------------------------------------------------------------
    def _frames_pcap(self) -> Iterator[Frame]:
        e = self._endian
        buf = self._buf
        if len(buf) < 24:
            self.truncated = "file ends inside the pcap file header"
            return
        _, _, _, _, _, _snaplen, lt = struct.unpack_from(e + "IHHiIII", buf, 0)
        linktype = lt & 0xFFFF
        mult = 1 if self.nanosecond else 1000
        hdr = struct.Struct(e + "IIII").unpack_from
        rl = self._rec_len
        pos = 24
        maxp = self.max_packet
        number = 0
        base = self._base
        while True:
            if len(buf) - pos < rl:
                buf, pos, base = self._read_at_least(buf, pos, rl)
                avail = len(buf)
                if avail < rl:
                    if avail:
                        self.truncated = f"file ends inside the record header of frame {number + 1}"
                    self.bytes_read = base + avail
                    break
            sec, frac, incl, orig = hdr(buf, pos)
            if incl > maxp:
                self.truncated = (
                    f"frame {number + 1}: record claims {incl} captured bytes "
                    f"(limit {maxp}); malformed capture"
                )
                break
            start = pos + rl
            end = start + incl
            if end > len(buf):
                buf, pos, base = self._read_at_least(buf, pos, rl + incl)
                start = rl
                end = start + incl
                if end > len(buf):
                    self.truncated = f"file ends inside the data of frame {number + 1}"
                    self.bytes_read = base + len(buf)
                    break
            pos = end
            number += 1
            self.bytes_read = base + pos
            yield Frame(number, sec * _NS + frac * mult, linktype, buf[start:end], orig, 0)

    # -- pcapng --------------------------------------------------------------------------------
    def _frames_pcapng(self) -> Iterator[Frame]:
        buf = self._buf
        pos = 0
        base = self._base
        number = 0
        e = "<"
        u32 = struct.Struct("<I").unpack_from
        hdr2 = struct.Struct("<II").unpack_from
        epb = struct.Struct("<IIIII").unpack_from
        ifaces: list[_Interface] = []
        maxp = self.max_packet
        pkt_limit = maxp + _OPTIONS_SLACK + 32
        while True:
            if len(buf) - pos < 12:
                buf, pos, base = self._read_at_least(buf, pos, 12)
                if len(buf) < 12:
                    if buf:
                        self.truncated = "file ends inside a pcapng block header"
                    self.bytes_read = base + len(buf)
                    return
            btype, blen = hdr2(buf, pos)
            if btype == PCAPNG_SHB:
                bom = struct.unpack_from("<I", buf, pos + 8)[0]
                if bom == _BOM:
                    e = "<"
                elif struct.unpack_from(">I", buf, pos + 8)[0] == _BOM:
                    e = ">"
                else:
                    self.truncated = "section header with a bad byte-order magic"
                    return
                u32 = struct.Struct(e + "I").unpack_from
                hdr2 = struct.Struct(e + "II").unpack_from
                epb = struct.Struct(e + "IIIII").unpack_from
                blen = u32(buf, pos + 4)[0]
                ifaces = []
                self.interfaces = []
            if blen < 12 or blen & 3:
                self.truncated = f"pcapng block of invalid length {blen}"
                return
            is_pkt = btype in (_BT_EPB, _BT_SPB, _BT_PB)
            limit = pkt_limit if is_pkt else self.max_block
            if blen > limit:
                if is_pkt:
                    self.truncated = (
                        f"packet block claims {blen} bytes (limit {maxp}); malformed capture"
                    )
                    return
                # A huge non-packet block (unknown, or oversized secrets): skip it in chunks.
                buf, pos, ok = self._discard(buf, pos, blen)
                base = self._base
                if not ok:
                    self.truncated = "file ends inside a pcapng block"
                    self.bytes_read = base
                    return
                continue
            if len(buf) - pos < blen:
                buf, pos, base = self._read_at_least(buf, pos, blen)
                if len(buf) < blen:
                    self.truncated = "file ends inside a pcapng block"
                    self.bytes_read = base + len(buf)
                    return
            if u32(buf, pos + blen - 4)[0] != blen:
                self.truncated = "pcapng block trailer length does not match its header"
                return
            bpos = pos
            pos += blen
            self.bytes_read = base + pos
            if btype == _BT_EPB:
                if blen < 32:
                    self.truncated = "enhanced packet block too short"
                    return
                iid, tsh, tsl, cap, orig = epb(buf, bpos + 8)
                if cap > blen - 32 or iid >= len(ifaces):
                    self.truncated = f"malformed enhanced packet block (frame {number + 1})"
                    return
                it = ifaces[iid]
                t = (tsh << 32) | tsl
                ts = (t * it.mul // it.div if it.div != 1 else t * it.mul) + it.offset_ns
                number += 1
                yield Frame(number, ts, it.linktype, buf[bpos + 28 : bpos + 28 + cap], orig, iid)
            elif btype == _BT_SPB:
                if not ifaces or blen < 16:
                    self.truncated = "simple packet block without an interface"
                    return
                it = ifaces[0]
                orig = u32(buf, bpos + 8)[0]
                cap = min(orig, blen - 16)
                if it.snaplen:
                    cap = min(cap, it.snaplen)
                number += 1
                # SPBs carry no timestamp (§4.4).
                yield Frame(number, 0, it.linktype, buf[bpos + 12 : bpos + 12 + cap], orig, 0)
            elif btype == _BT_PB:
                if blen < 32:
                    self.truncated = "packet block too short"
                    return
                iid = struct.unpack_from(e + "H", buf, bpos + 8)[0]
                _, tsh, tsl, cap, orig = epb(buf, bpos + 8)
                if cap > blen - 32 or iid >= len(ifaces):
                    self.truncated = f"malformed packet block (frame {number + 1})"
                    return
                it = ifaces[iid]
                t = (tsh << 32) | tsl
                ts = (t * it.mul // it.div if it.div != 1 else t * it.mul) + it.offset_ns
                number += 1
                yield Frame(number, ts, it.linktype, buf[bpos + 28 : bpos + 28 + cap], orig, iid)
            elif btype == _BT_IDB:
                if blen < 20:
                    self.truncated = "interface description block too short"
                    return
                lt, _, snap = struct.unpack_from(e + "HHI", buf, bpos + 8)
                it = _Interface(lt, snap)
                self._parse_idb_options(it, buf[bpos + 16 : bpos + blen - 4], e)
                ifaces.append(it)
                self.interfaces.append((lt, snap))
                if self.linktype is None:
                    self.linktype = lt
            elif btype == _BT_DSB:
                if blen < 20:
                    self.truncated = "decryption secrets block too short"
                    return
                stype, slen = struct.unpack_from(e + "II", buf, bpos + 8)
                if slen > blen - 20:
                    self.truncated = "decryption secrets block length exceeds the block"
                    return
                data = buf[bpos + 16 : bpos + 16 + slen]
                self.secrets.append((stype, data))
                if self.on_secrets is not None:
                    self.on_secrets(stype, data)
            elif btype in _NUMBERED_RECORDS:
                number += 1
            # Other blocks (SHB body, NRB, ISB, unknown) are skipped.

    @staticmethod
    def _parse_idb_options(it: _Interface, opts: bytes, e: str) -> None:
        p = 0
        n = len(opts)
        while p + 4 <= n:
            code, olen = struct.unpack_from(e + "HH", opts, p)
            p += 4
            if code == 0 or p + olen > n:
                break
            if code == _OPT_IF_TSRESOL and olen >= 1:
                it.set_tsresol(opts[p])
            elif code == _OPT_IF_TSOFFSET and olen >= 8:
                it.offset_ns = struct.unpack_from(e + "q", opts, p)[0] * _NS
            p += (olen + 3) & ~3

    # -- protocol ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        return self._gen

    def __next__(self) -> Frame:
        return next(self._gen)

    def close(self) -> None:
        """Close the file if this reader opened it."""
        if self._own:
            self._f.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_capture(source: str | os.PathLike[str] | BinaryIO, **kwargs: int) -> CaptureReader:
    """Open a pcap or pcapng capture for streaming reading (see :class:`CaptureReader`)."""
    return CaptureReader(source, **kwargs)


class CaptureWriter:
    """Write frames to a pcap (µs or ns) or pcapng file.

    pcapng output has one SHB, one IDB per distinct link type (``linktype`` first, others on
    first use; ``if_tsresol`` = 9 when ``nanosecond``), EPBs, and DSBs from
    :meth:`write_secrets`.
    """

    def __init__(
        self,
        dest: str | os.PathLike[str] | BinaryIO,
        *,
        format: str = "pcap",
        linktype: int = 1,
        nanosecond: bool = False,
        snaplen: int = 262144,
    ) -> None:
        if format not in ("pcap", "pcapng"):
            raise UsageError(f"unknown capture format {format!r} (pcap or pcapng)")
        if isinstance(dest, (str, os.PathLike)):
            try:
                self._f: BinaryIO = open(dest, "wb")  # noqa: SIM115 - closed in close()
            except OSError as e:
                raise UsageError(f"cannot create capture {os.fspath(dest)!r}: {e}") from e
            self._own = True
        else:
            self._f = dest
            self._own = False
        self.format = format
        self.linktype = linktype
        self.nanosecond = nanosecond
        self.snaplen = snaplen
        # Frames are gathered and written in blocks of about _WRITE_BATCH bytes (one write
        # call per block instead of one per frame, issue #22); flush() and close() write them.
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._ifaces: dict[int, int] = {}
        self._rec = struct.Struct("<IIII")
        self._epb = struct.Struct("<IIIIIII")
        if format == "pcap":
            magic = PCAP_MAGIC_NS if nanosecond else PCAP_MAGIC_US
            self._f.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
        else:
            # SHB: BOM, version 1.0, section length unknown (-1), no options (§4.1).
            self._f.write(struct.pack("<IIIHHqI", PCAPNG_SHB, 28, _BOM, 1, 0, -1, 28))
            # Interface 0 up front: Wireshark's wiretap takes the file's encapsulation from the
            # IDBs before the first other block, so a DSB written first must follow an IDB.
            self._iface(linktype)

    def _drain(self) -> None:
        if self._pending:
            self._f.write(b"".join(self._pending))
            self._pending.clear()
            self._pending_size = 0

    def _iface(self, linktype: int) -> int:
        iid = self._ifaces.get(linktype)
        if iid is None:
            self._drain()
            iid = len(self._ifaces)
            self._ifaces[linktype] = iid
            opts = b""
            if self.nanosecond:
                opts = struct.pack("<HHB3x", _OPT_IF_TSRESOL, 1, 9) + b"\0\0\0\0"
            blen = 20 + len(opts)
            self._f.write(
                struct.pack("<IIHHI", _BT_IDB, blen, linktype, 0, self.snaplen)
                + opts
                + struct.pack("<I", blen)
            )
        return iid

    def write(
        self,
        data: bytes,
        *,
        ts_ns: int,
        linktype: int | None = None,
        orig_len: int | None = None,
    ) -> None:
        """Append one frame (cut to ``snaplen``; ``orig_len`` defaults to ``len(data)``)."""
        lt = self.linktype if linktype is None else linktype
        if orig_len is None:
            orig_len = len(data)
        if len(data) > self.snaplen:
            data = data[: self.snaplen]
        n = len(data)
        if not 0 <= ts_ns < (1 << 32) * _NS:
            raise UsageError(f"timestamp {ts_ns} ns does not fit a capture file")
        if not 0 <= orig_len <= 0xFFFFFFFF:
            raise UsageError(f"original length {orig_len} out of range")
        if self.format == "pcap":
            if lt != self.linktype:
                raise UsageError(
                    f"pcap files hold one link type ({self.linktype}); use pcapng for {lt}"
                )
            sec, frac = divmod(ts_ns, _NS)
            if not self.nanosecond:
                frac //= 1000
            pending = self._pending
            pending.append(self._rec.pack(sec, frac, n, orig_len))
            pending.append(data)
            self._pending_size += n + 16
            if self._pending_size >= _WRITE_BATCH:
                self._drain()
            return
        iid = self._iface(lt)
        t = ts_ns if self.nanosecond else ts_ns // 1000
        pad = -n & 3
        blen = 32 + n + pad
        self._pending.append(
            self._epb.pack(_BT_EPB, blen, iid, t >> 32, t & 0xFFFFFFFF, n, orig_len)
            + data
            + b"\0" * pad
            + struct.pack("<I", blen)
        )
        self._pending_size += blen
        if self._pending_size >= _WRITE_BATCH:
            self._drain()

    def write_secrets(self, secrets_type: int, data: bytes) -> None:
        """Write a Decryption Secrets Block (pcapng only), e.g. ``(SECRETS_TLS, keylog_bytes)``."""
        if self.format != "pcapng":
            raise UsageError("decryption secrets need pcapng output")
        if not 0 <= secrets_type <= 0xFFFFFFFF:
            raise UsageError(f"secrets type {secrets_type} out of range")
        pad = -len(data) & 3
        blen = 20 + len(data) + pad
        self._drain()
        self._f.write(
            struct.pack("<IIII", _BT_DSB, blen, secrets_type, len(data))
            + data
            + b"\0" * pad
            + struct.pack("<I", blen)
        )

    def flush(self) -> None:
        self._drain()
        self._f.flush()

    def close(self) -> None:
        """Flush, and close the file if this writer opened it."""
        self._drain()
        if self._own:
            self._f.close()
        else:
            self._f.flush()

    def __del__(self) -> None:
        # A writer dropped without close() still writes what it gathered (as the file object
        # itself would flush its buffer), best effort.
        if getattr(self, "_pending", None):
            try:
                self._drain()
            except (OSError, ValueError):
                pass

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
