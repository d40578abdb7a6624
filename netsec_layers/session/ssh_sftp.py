"""SFTP (draft-ietf-secsh-filexfer-02, version 3) over one SSH channel: packets and the files
read and written, from the channel's byte streams (Sans-I/O; fed by
:class:`~.ssh_channels.SSHChannelDemux` segments of a channel whose subsystem is ``sftp``).

The files are rebuilt from OPEN → HANDLE (the handle's path), WRITE (client data at an offset)
and READ → DATA (server data at the read's offset), which is what ``netsec extract`` would
write under ``DIR/sftp/``.  Bounded: packets over 256 KiB end the reassembly of that direction,
and at most ``max_bytes`` of file content is kept per session."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_SFTP_PACKET = 256 * 1024 + 1024


@dataclass(frozen=True, slots=True)
class SFTPMessage:
    frame: int
    from_client: bool
    sftp_type: int
    raw: bytes  # the whole packet, length included (dissect with layers.ssh.sftp)


def _string(b: bytes, pos: int) -> tuple[bytes, int] | None:
    if pos + 4 > len(b):
        return None
    n = int.from_bytes(b[pos : pos + 4], "big")
    if pos + 4 + n > len(b):
        return None
    return b[pos + 4 : pos + 4 + n], pos + 4 + n


def _put(buf: bytearray, offset: int, data: bytes) -> None:
    if offset > len(buf):
        buf.extend(bytes(offset - len(buf)))
    buf[offset : offset + len(data)] = data


@dataclass
class SFTPSession:
    """One SFTP channel."""

    max_bytes: int = 256 << 20
    files_written: dict[str, bytearray] = field(default_factory=dict)
    files_read: dict[str, bytearray] = field(default_factory=dict)
    error: str | None = None
    _buf: dict[bool, bytearray] = field(
        default_factory=lambda: {True: bytearray(), False: bytearray()}
    )
    _lost: set[bool] = field(default_factory=set)
    _open: dict[int, str] = field(default_factory=dict)  # request id -> path (OPEN)
    _reads: dict[int, tuple[str, int]] = field(default_factory=dict)  # id -> (path, offset)
    _handles: dict[bytes, str] = field(default_factory=dict)
    _stored: int = 0

    def feed(self, from_client: bool, data: bytes, frame: int) -> list[SFTPMessage]:
        if from_client in self._lost:
            return []
        buf = self._buf[from_client]
        buf += data
        out: list[SFTPMessage] = []
        while len(buf) >= 5:
            n = int.from_bytes(buf[:4], "big")
            if n < 1 or n > MAX_SFTP_PACKET:
                self._lost.add(from_client)
                self.error = f"SFTP packet length {n} out of range"
                buf.clear()
                break
            if len(buf) < 4 + n:
                break
            raw = bytes(buf[: 4 + n])
            del buf[: 4 + n]
            out.append(SFTPMessage(frame, from_client, raw[4], raw))
            self._track(from_client, raw)
        return out

    def _track(self, from_client: bool, raw: bytes) -> None:
        t = raw[4]
        if len(raw) < 9 or t in (1, 2):
            return
        rid = int.from_bytes(raw[5:9], "big")
        if from_client and t == 3:  # OPEN: filename
            s = _string(raw, 9)
            if s is not None and len(self._open) < 65536:
                self._open[rid] = s[0].decode("utf-8", "replace")
        elif not from_client and t == 102:  # HANDLE
            path = self._open.pop(rid, None)
            s = _string(raw, 9)
            if path is not None and s is not None and len(self._handles) < 65536:
                self._handles[s[0]] = path
        elif from_client and t in (5, 6):  # READ / WRITE: handle, uint64 offset, …
            s = _string(raw, 9)
            if s is None or s[1] + 8 > len(raw) or s[0] not in self._handles:
                return
            path = self._handles[s[0]]
            offset = int.from_bytes(raw[s[1] : s[1] + 8], "big")
            if t == 5 and len(self._reads) < 65536:
                self._reads[rid] = (path, offset)
            elif t == 6:
                d = _string(raw, s[1] + 8)
                if d is not None:
                    self._store(self.files_written, path, offset, d[0])
        elif not from_client and t == 103:  # DATA answering a READ
            read = self._reads.pop(rid, None)
            d = _string(raw, 9)
            if read is not None and d is not None:
                self._store(self.files_read, read[0], read[1], d[0])
        elif not from_client and t == 101:  # STATUS (EOF or error) ends a READ
            self._reads.pop(rid, None)
            self._open.pop(rid, None)

    def _store(self, files: dict[str, bytearray], path: str, offset: int, data: bytes) -> None:
        end = offset + len(data)
        current = len(files.get(path, b""))
        growth = max(0, end - current)
        if self._stored + growth > self.max_bytes:
            self.error = "SFTP file content over the limit: not kept"
            return
        self._stored += growth
        _put(files.setdefault(path, bytearray()), offset, data)
