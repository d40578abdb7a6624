"""The SA database: ESP open/seal and AH verify/build on raw bytes (RFC 4303, RFC 4302).

Sans-I/O and Scapy-free: the per-packet path is struct parsing plus one reused pyca cipher
object per SA (:class:`netsec_layers.crypto.esp.ESPTransform`).  Per-SA state kept here:
outbound sequence number and IV counter, the anti-replay window (RFC 4303 §3.4.3) whose top
also drives ESN inference (Appendix A).

Decryption order (RFC 4303 §3.4): SPI lookup → sequence number (ESN inferred) → ICV
verification (retrying the next ESN epoch, Appendix A3) → replay check → window update →
decryption → trailer parsing.  Nothing
unauthenticated is returned when the SA has integrity.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from netsec_layers.constants.ipsec import (
    ESP_DEFAULT_PADDING,
    esp_declared_length,
    esp_padding_conforms,
)
from netsec_layers.crypto.esp import ESPTransform, InvalidTag, encryption_spec
from netsec_layers.crypto.esp_algorithms import ENCRYPTION_ALGORITHMS
from netsec_layers.errors import (
    ImplausiblePlaintextError,
    IntegrityError,
    NetsecError,
    ParseError,
    ReplayError,
    ReplayVerdict,
    TruncatedError,
    UnknownSPIError,
    UsageError,
)
from netsec_layers.keys.sa import ANY_SPI, SecurityAssociation
from netsec_layers.session.ipsec_ah import AHVerified
from netsec_layers.session.ipsec_replay import ReplayWindow, infer_esn
from netsec_layers.session.ipsec_state import SAState
from netsec_layers.session.netstack import ipv4_checksum

__all__ = [
    "ESPPlaintext",
    "ESPOpened",
    "SADatabase",
    "SAState",
    "FAULTS",
    "ReplayWindow",
    "infer_esn",
]

_HDR = struct.Struct("!II")
_U16 = struct.Struct("!H")
_PAD = ESP_DEFAULT_PADDING  # RFC 4303 §2.4 default padding 1, 2, 3, ...
#: Deliberate faults :meth:`SADatabase.encrypt` can inject.
FAULTS = ("bad-icv", "bad-pad", "bad-pad-length", "reuse-seq")


@dataclass(slots=True)
class ESPPlaintext:
    """A verified and decrypted ESP packet: the bytes of what
    :class:`netsec_layers.layers.ipsec.ESPPlaintext` shows as Scapy layers (one name for an
    opened ESP packet, #13; :func:`netsec_layers.session.ipsec_scapy.plaintext_layer` makes
    the layer from it)."""

    spi: int
    seq: int  # full 64-bit number with ESN, else the 32-bit wire value
    wire_seq: int  # the 32 bits on the wire
    iv: bytes
    payload: bytes  # inner packet (tunnel) / upper-layer data (transport), TFC/padding removed
    tfc_padding: bytes  # RFC 4303 §2.7 bytes after the inner IP packet's own length
    padding: bytes
    pad_length: int
    next_header: int
    icv: bytes
    pad_ok: bool  # padding is 1, 2, 3, ... (RFC 4303 §2.4)
    replay: ReplayVerdict
    sa: SecurityAssociation


#: The name before #13 unified it with the layer's (kept for code written against it).
ESPOpened = ESPPlaintext


@lru_cache(maxsize=4096)
def _ip(addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(addr)
    except ValueError:
        return None


class _AddrPattern:
    """``*`` / per-octet wildcard / prefix / address, compiled once."""

    __slots__ = ("kind", "addr", "net", "sep", "parts", "score")

    def __init__(self, text: str) -> None:
        t = text.strip().strip("[]")
        self.kind, self.score = "any", 0
        self.addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
        self.net: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
        self.sep, self.parts = ".", [""]
        if t in ("", "*", "any", "*.*.*.*", "::/0", "0.0.0.0/0"):
            return
        if "/" in t:
            try:
                self.net = ipaddress.ip_network(t, strict=False)
            except ValueError as exc:
                raise UsageError(f"bad address prefix {text!r}") from exc
            self.kind, self.score = "net", self.net.prefixlen
        elif "*" in t:
            self.sep = ":" if ":" in t else "."
            parts = t.split(self.sep)
            if self.sep == ":":
                parts = [p if p == "*" else (p.lower().lstrip("0") or "0") for p in parts]
            self.kind, self.parts = "glob", parts
            self.score = sum(8 for p in parts if p != "*")
        else:
            try:
                self.addr = ipaddress.ip_address(t)
            except ValueError as exc:
                raise UsageError(f"bad address {text!r}") from exc
            self.kind, self.score = "addr", 256

    def match(self, addr: str | None) -> bool:
        if addr is None or self.kind == "any":
            return True
        ip = _ip(addr)
        if ip is None:
            return False
        if self.addr is not None:
            return ip == self.addr
        if self.net is not None:
            return ip.version == self.net.version and ip in self.net
        if self.sep == ".":
            if ip.version != 4:
                return False
            octets = str(ip).split(".")
        else:
            if ip.version != 6:
                return False
            octets = [g.lstrip("0") or "0" for g in ip.exploded.split(":")]
        parts = self.parts
        return len(parts) == len(octets) and all(
            p in ("*", o) for p, o in zip(parts, octets, strict=True)
        )


def _full_seq(sa: SecurityAssociation, seq: int) -> int:
    """An outgoing sequence number: below 2^32 with ESN it gets ``sa.esn_high`` on top; it must
    fit the SA's 32 or 64 bits."""
    if sa.esn and seq <= 0xFFFFFFFF:
        seq |= sa.esn_high << 32
    if not 0 <= seq <= (0xFFFFFFFFFFFFFFFF if sa.esn else 0xFFFFFFFF):
        raise UsageError(
            f"sequence number {seq} does not fit the SA ({'64' if sa.esn else '32'} bits)"
        )
    return seq


def _seal(st: SAState, tr: ESPTransform, seq: int, iv: bytes | None, plaintext: bytes) -> bytes:
    """SPI ‖ sequence number ‖ the transform's IV ‖ ciphertext ‖ ICV.  Without ``iv``: random
    for CBC (RFC 3602 §2.3: unpredictable), else the SA's counter (unique per packet)."""
    if iv is None and tr.iv_len and not tr.spec.implicit_iv:
        if tr.kind == "cbc":
            iv = os.urandom(tr.iv_len)
        else:
            st.iv_counter = (st.iv_counter + 1) & 0xFFFFFFFFFFFFFFFF
            iv = st.iv_counter.to_bytes(8, "big")
    sa = st.sa
    return _HDR.pack(sa.spi, seq & 0xFFFFFFFF) + tr.seal(
        spi=sa.spi, seq=seq, esn=sa.esn, iv=iv, plaintext=plaintext
    )


class SADatabase:
    """Security associations by SPI (+ addresses), with their per-SA state.

    An SA's keys and algorithms are read once, when its state is first needed: treat a
    :class:`SecurityAssociation` as immutable after use (``dataclasses.replace`` makes a new
    one with fresh state).  Lookups are cached per (SPI, src, dst) and reset by :meth:`add`.
    """

    def __init__(self, sas: Iterable[SecurityAssociation] = ()) -> None:
        self.sas: list[SecurityAssociation] = []
        self._by_spi: dict[int, list[tuple[SecurityAssociation, _AddrPattern, _AddrPattern]]] = {}
        self._state: OrderedDict[tuple[int, int], SAState] = OrderedDict()
        # (spi, src, dst, protocol) → SA: captures repeat the same few flows.
        self._cache: dict[tuple[int, str | None, str | None, str | None], SecurityAssociation] = {}
        # decrypt's shortcut: (spi, src, dst) → the SA's state and its one-call opener
        self._fast: dict[tuple[int, str | None, str | None], tuple[SAState, _Opener | None]] = {}
        self._fast_seal: dict[
            int, tuple[SecurityAssociation, Callable[[bytes, int, int], bytes]]
        ] = {}
        self.max_states = 65536
        for sa in sas:
            self.add(sa)

    # -- table --------------------------------------------------------------------------------
    def add(self, sa: SecurityAssociation) -> None:
        """Add an SA; more specific address patterns win over wildcards for the same SPI."""
        entry = (sa, _AddrPattern(sa.src), _AddrPattern(sa.dst))
        bucket = self._by_spi.setdefault(sa.spi, [])
        # Keep the bucket ordered by specificity with one insertion (bisect), not a re-sort per
        # add; equal scores keep insertion order.
        rank = (-entry[2].score, -entry[1].score)
        lo, hi = 0, len(bucket)
        while lo < hi:
            mid = (lo + hi) // 2
            if (-bucket[mid][2].score, -bucket[mid][1].score) <= rank:
                lo = mid + 1
            else:
                hi = mid
        bucket.insert(lo, entry)
        self.sas.append(sa)
        self._cache.clear()
        self._fast.clear()

    def __len__(self) -> int:
        return len(self.sas)

    def lookup(
        self,
        spi: int,
        *,
        src: str | None = None,
        dst: str | None = None,
        protocol: str | None = None,
    ) -> SecurityAssociation:
        """The SA for ``spi`` whose patterns match ``src``/``dst``; else :class:`UnknownSPIError`."""
        key = (spi, src, dst, protocol)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        for bucket in (self._by_spi.get(spi), self._by_spi.get(ANY_SPI)):
            if not bucket:
                continue
            for sa, ps, pd in bucket:
                if (
                    (protocol is None or sa.protocol == protocol)
                    and pd.match(dst)
                    and ps.match(src)
                ):
                    if len(self._cache) > 65536:
                        self._cache.clear()
                    self._cache[key] = sa
                    return sa
        raise UnknownSPIError(spi, dst)

    def state(self, sa: SecurityAssociation, spi: int | None = None) -> SAState:
        """The mutable state of ``sa`` (created on first use; SAs outside the table work too)."""
        key = (id(sa), sa.spi if spi is None else spi)
        st = self._state.get(key)
        if st is None or st.sa is not sa:
            if len(self._state) >= self.max_states:
                # Bounded: a wildcard-SPI SA seeing random SPIs must not grow without limit;
                # the oldest state goes (its replay window restarts if it comes back).
                self._state.popitem(last=False)
                self._fast.clear()
                self._fast_seal.clear()
            st = self._state[key] = SAState(sa, key[1])
        return st

    # -- ESP receive --------------------------------------------------------------------------
    def decrypt(
        self,
        esp: bytes | bytearray | memoryview,
        *,
        src: str | None = None,
        dst: str | None = None,
        check_replay: bool = True,
        esn_high: int | None = None,
    ) -> ESPPlaintext:
        """Verify and decrypt ESP bytes (from the SPI to the end of the IP payload).

        Raises UnknownSPIError, TruncatedError (too short for header/IV/ICV/trailer),
        IntegrityError (bad ICV/tag), ReplayError (if ``check_replay``; the verdict is always
        in :attr:`ESPPlaintext.replay`), ParseError (authenticated but pad length past the data).
        ``esn_high`` overrides ESN inference.
        """
        if len(esp) < 8:
            raise TruncatedError(f"ESP packet of {len(esp)} bytes shorter than SPI+sequence")
        spi, wire_seq = _HDR.unpack_from(esp)
        fkey = (spi, src, dst)
        hit = self._fast.get(fkey)
        if hit is not None:
            st, opener = hit
            if opener is not None and esn_high is None and type(esp) is bytes:
                opened = opener(esp, spi, wire_seq)
                if opened is not None:
                    return opened
            return self._open(st, esp, spi, wire_seq, check_replay, esn_high)
        fresh_sa = self.lookup(spi, src=src, dst=dst, protocol="esp")
        fresh = (id(fresh_sa), spi) not in self._state
        st = self.state(fresh_sa, spi)
        if fresh and fresh_sa.spi == ANY_SPI:
            # A wildcard SA keeps per-SPI state only once a packet authenticates, so junk
            # with random SPIs cannot grow the tables.
            try:
                return self._open(st, esp, spi, wire_seq, check_replay, esn_high)
            except NetsecError:
                self._state.pop((id(fresh_sa), spi), None)
                raise
        if len(self._fast) > 65536:
            self._fast.clear()
        self._fast[fkey] = (st, _aead_opener(st) or _cbc_opener(st))
        return self._open(st, esp, spi, wire_seq, check_replay, esn_high)

    def _open(
        self,
        st: SAState,
        esp: bytes | bytearray | memoryview,
        spi: int,
        wire_seq: int,
        check_replay: bool,
        esn_high: int | None,
    ) -> ESPPlaintext:
        sa = st.sa
        tr = st.transform
        assert tr is not None
        window = st.window
        esn = sa.esn
        if not esn:
            seq = wire_seq
        elif esn_high is not None:
            seq = (esn_high & 0xFFFFFFFF) << 32 | wire_seq
        else:
            seq = window.infer(wire_seq)
        # RFC 4303 §3.4.3: no anti-replay without integrity (nothing authenticates the number).
        use_window = tr.authenticated and sa.replay_window > 0
        try:
            iv, pt, icv = tr.open(esp, seq=seq, esn=esn)
        except IntegrityError:
            # Appendix A3: after a long loss the high half may have moved on; try Seqh + 1.
            if not (esn and esn_high is None and tr.authenticated):
                raise
            seq += 1 << 32
            iv, pt, icv = tr.open(esp, seq=seq, esn=esn)
        # The window is checked after the ICV (a passive decoder favours ESN resynchronisation
        # over §3.4.3's cheap pre-check) and updated only for authenticated packets.
        verdict = window.check(seq) if use_window else ReplayVerdict.UNCHECKED
        if check_replay and (
            verdict is ReplayVerdict.REPLAYED or verdict is ReplayVerdict.OUTSIDE_WINDOW
        ):
            raise ReplayError(
                f"SPI 0x{spi:08x} sequence number {seq} {verdict}", seq=seq, verdict=verdict
            )
        if use_window:
            window.update(seq)
        elif esn and tr.authenticated and seq > window.top:
            window.top, window.seen = seq, True  # keep ESN inference going without a window
        return _parse_trailer(spi, seq, wire_seq, iv, pt, icv, verdict, sa)

    # -- ESP send -----------------------------------------------------------------------------
    def encrypt(
        self,
        payload: bytes,
        *,
        sa: SecurityAssociation,
        next_header: int,
        seq: int | None = None,
        tfc_pad: int = 0,
        iv: bytes | None = None,
        fault: str | None = None,
        pad_length: int | None = None,
    ) -> bytes:
        """ESP bytes (from the SPI) carrying ``payload``; sequence numbers advance per SA.

        ``seq``: explicit number (with ESN a value below 2^32 gets ``sa.esn_high`` on top);
        ``tfc_pad``: RFC 4303 §2.7 TFC bytes after an inner IP packet (next header 4/41/59);
        ``iv``: explicit IV (else random for CBC, a per-SA counter for CTR/GCM/CCM/ChaCha20);
        ``pad_length``: extra padding (rounded to the cipher alignment); ``fault``: one of
        :data:`FAULTS` to build a deliberately broken packet.  Next header 59 with random
        payload makes a dummy packet (§2.6).
        """
        if (
            fault is None
            and not tfc_pad
            and iv is None
            and pad_length is None
            and seq is not None
            and 0 <= next_header <= 255
        ):
            fast = self._fast_seal.get(id(sa))
            if fast is not None and fast[0] is sa:
                return fast[1](payload, next_header, seq)
        if sa.protocol != "esp":
            raise UsageError("encrypt() needs an ESP SA; use build_ah() for AH")
        if sa.spi == ANY_SPI:
            raise UsageError("cannot encrypt with a wildcard SPI")
        if fault is not None and fault not in FAULTS:
            raise UsageError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        if not 0 <= next_header <= 255:
            raise UsageError("next_header must be 0..255")
        st = self.state(sa)
        tr = st.transform
        assert tr is not None
        if fault == "reuse-seq" and st.last_out is not None:
            seq = st.last_out
        elif seq is None:
            seq = st.out_seq
        seq = _full_seq(sa, seq)  # (last_out / out_seq already carry the ESN high half)
        st.last_out = seq
        st.out_seq = seq + 1
        if tfc_pad:
            if next_header not in (4, 41, 59):
                raise UsageError("TFC padding needs an inner IP packet (next header 4/41) or 59")
            payload = bytes(payload) + bytes(tfc_pad)
        align = tr.align
        data_len = len(payload)
        npad = (-(data_len + 2)) % align
        if pad_length is not None:
            npad += -(-pad_length // align) * align
        if fault == "bad-pad" and npad == 0:
            npad = align
        if npad > 255:
            raise UsageError("padding longer than 255 bytes")
        padding = bytes(npad) if fault == "bad-pad" else _PAD[:npad]
        pl_field = npad
        if fault == "bad-pad-length":
            # Past the data when possible (→ ParseError at the receiver), else inconsistent.
            pl_field = 255 if data_len + npad < 255 else (npad + align) % 256
        plaintext = bytes(payload) + padding + bytes((pl_field, next_header))
        out = _seal(st, tr, seq, iv, plaintext)
        if fault is None and not tfc_pad and pad_length is None and sa.spi != ANY_SPI:
            self._remember_fast_seal(sa, st)
        if fault == "bad-icv":
            if not tr.icv_len:
                raise UsageError("bad-icv needs an SA with an ICV")
            out = out[:-1] + bytes((out[-1] ^ 0x01,))
        return out

    def _remember_fast_seal(self, sa: SecurityAssociation, st: SAState) -> None:
        """After a first ordinary :meth:`encrypt`: the same steps for the common case (explicit
        ``seq``, no TFC/IV/padding/fault), without re-validating the SA on every packet."""
        tr = st.transform
        assert tr is not None
        align = tr.align

        def fast(payload: bytes, next_header: int, seq: int) -> bytes:
            seq = _full_seq(sa, seq)
            st.last_out = seq
            st.out_seq = seq + 1
            npad = (-(len(payload) + 2)) % align
            plaintext = b"".join((payload, _PAD[:npad], bytes((npad, next_header))))
            return _seal(st, tr, seq, None, plaintext)

        if len(self._fast_seal) > 1024:
            self._fast_seal.clear()
        self._fast_seal[id(sa)] = (sa, fast)

    # -- AH -----------------------------------------------------------------------------------
    def verify_ah(
        self,
        ip_packet: object,
        *,
        src: str | None = None,
        dst: str | None = None,
        check_replay: bool = True,
        esn_high: int | None = None,
    ) -> AHVerified:
        """Verify the AH ICV of an IP packet (bytes, or an object with ``header``+``payload``)."""
        from netsec_layers.session.ipsec_ah import verify_ah

        return verify_ah(
            self, ip_packet, src=src, dst=dst, check_replay=check_replay, esn_high=esn_high
        )

    def build_ah(
        self,
        ip_packet: bytes,
        *,
        sa: SecurityAssociation,
        seq: int | None = None,
        fault: str | None = None,
        outer_src: str | None = None,
        outer_dst: str | None = None,
    ) -> bytes:
        """Protect an IP packet with AH (transport: insert after the IP header; tunnel: wrap)."""
        from netsec_layers.session.ipsec_ah import build_ah

        return build_ah(
            self, ip_packet, sa=sa, seq=seq, fault=fault, outer_src=outer_src, outer_dst=outer_dst
        )


def _parse_trailer(
    spi: int,
    seq: int,
    wire_seq: int,
    iv: bytes,
    pt: bytes,
    icv: bytes,
    verdict: ReplayVerdict,
    sa: SecurityAssociation,
) -> ESPPlaintext:
    n = len(pt)
    if n < 2:
        raise TruncatedError("ESP plaintext shorter than Pad Length + Next Header")
    pad_len, nh = pt[n - 2], pt[n - 1]
    end = n - 2 - pad_len
    if end < 0:
        msg = f"ESP pad length {pad_len} exceeds the {n - 2} bytes before it"
        if _separately_authenticated(sa):
            raise ImplausiblePlaintextError(msg)
        raise ParseError(msg)
    padding = pt[end : n - 2]
    payload = pt[:end]
    tfc = b""
    # RFC 4303 §2.7: TFC padding follows an inner packet whose own length says where it ends.
    declared = esp_declared_length(nh, payload)
    if declared is not None and declared < end:
        payload, tfc = payload[:declared], payload[declared:]
    return ESPPlaintext(
        spi,
        seq,
        wire_seq,
        iv,
        payload,
        tfc,
        padding,
        pad_len,
        nh,
        icv,
        esp_padding_conforms(padding),
        verdict,
        sa,
    )


#: ``opener(esp, spi, wire_seq)``: the opened packet, or ``None`` to take the full path.
_Opener = Callable[[bytes, int, int], ESPPlaintext | None]


def _aead_opener(st: SAState) -> _Opener | None:
    """The per-packet shortcut of :meth:`SADatabase._open` for one SA: a combined-mode cipher
    opened with one AEAD call (:meth:`ESPTransform.aead_parts`), no ESN, a packet past the top
    of the replay window (or no window).  Same checks, in the same order, and the same result;
    anything else — a packet at or below the window top, a bad tag, a pad length past the
    data, a packet too short — returns ``None`` before any state changes, and the full path
    decides (and raises)."""
    sa, tr = st.sa, st.transform
    if tr is None or sa.esn:
        return None
    parts = tr.aead_parts()
    if parts is None:
        return None
    decrypt, salt, ivl, icvl = parts
    head = 8 + ivl
    least = head + icvl + 2  # Pad Length and Next Header at least
    window = st.window
    update = window.update
    use_window = sa.replay_window > 0  # combined modes always authenticate (§3.4.3)
    verdict = ReplayVerdict.NEW if use_window else ReplayVerdict.UNCHECKED
    pad = _PAD
    declared_length = esp_declared_length

    def opener(esp: bytes, spi: int, seq: int) -> ESPPlaintext | None:
        n = len(esp)
        if n < least or (use_window and window.seen and seq <= window.top):
            return None
        iv = esp[8:head]
        try:
            pt = decrypt(salt + iv, esp[head:], esp[:8])
        except InvalidTag:
            return None
        m = len(pt) - 2
        pad_len = pt[m]
        end = m - pad_len
        if end < 0:
            return None
        if use_window:
            update(seq)
        nh = pt[m + 1]
        padding = pt[end:m]
        if nh == 4 and end >= 20 and pt[0] >> 4 == 4:  # RFC 4303 §2.7 TFC: inner IPv4 length
            cut = (pt[2] << 8) | pt[3]
            if not 20 <= cut < end:
                cut = end
        else:
            d = declared_length(nh, pt[:end])
            cut = d if d is not None and d < end else end
        return ESPPlaintext(
            spi,
            seq,
            seq,
            iv,
            pt[:cut],
            pt[cut:end] if cut < end else b"",
            padding,
            pad_len,
            nh,
            esp[n - icvl :],
            padding == pad[:pad_len],
            verdict,
            sa,
        )

    return opener


def _cbc_opener(st: SAState) -> _Opener | None:
    """The per-packet shortcut of :meth:`SADatabase._open` for a CBC + HMAC SA without ESN
    (:meth:`ESPTransform.cbc_parts`): the ICV verified first (RFC 4303 §3.4.4), then the
    ciphertext decrypted with the SA's block context, for a packet past the top of the replay
    window (or with no window).  Whatever else happens -- a packet at or below the window top,
    a bad ICV, a ciphertext that is not whole blocks -- returns ``None`` before any state
    changes, and the full path decides (and raises).  The trailer is parsed by the same
    :func:`_parse_trailer` as the full path."""
    sa, tr = st.sa, st.transform
    if tr is None or sa.esn:
        return None
    parts = tr.cbc_parts()
    if parts is None:
        return None
    mac, ecb, ivl, icvl, bs = parts
    head = 8 + ivl
    window = st.window
    update = window.update
    use_window = sa.replay_window > 0
    verdict = ReplayVerdict.NEW if use_window else ReplayVerdict.UNCHECKED
    same = hmac.compare_digest
    from_bytes = int.from_bytes

    def opener(esp: bytes, spi: int, seq: int) -> ESPPlaintext | None:
        n = len(esp)
        body_end = n - icvl
        ct_len = body_end - head
        if ct_len <= 0 or ct_len % bs or (use_window and window.seen and seq <= window.top):
            return None
        h = mac()
        h.update(esp[:body_end])
        icv = esp[body_end:]
        if not same(h.digest()[:icvl], icv):
            return None
        ct = esp[head:body_end]
        iv = esp[8:head]
        d = ecb(ct)
        pt = (from_bytes(d, "big") ^ from_bytes(iv + ct[: ct_len - bs], "big")).to_bytes(
            ct_len, "big"
        )
        if use_window:
            update(seq)
        return _parse_trailer(spi, seq, seq, iv, pt, icv, verdict, sa)

    return opener


# IANA "Assigned Internet Protocol Numbers": 146-252 are unassigned, 255 is reserved.
_UNASSIGNED_PROTOCOLS = frozenset((*range(146, 253), 255))


#: Encryption names whose ICV covers only the ciphertext (see _separately_authenticated).
SEPARATELY_AUTHENTICATED = frozenset(
    name for name, spec in ENCRYPTION_ALGORITHMS.items() if spec.kind in ("cbc", "ctr")
)


def _separately_authenticated(sa: SecurityAssociation) -> bool:
    """An encrypting cipher whose ICV covers only the ciphertext (CBC/CTR + HMAC/XCBC/CMAC),
    or no integrity at all: a wrong encryption key goes unnoticed by the ICV.  Combined modes
    (GCM, CCM, ChaCha20-Poly1305) authenticate with the encryption key; NULL and GMAC do not
    encrypt."""
    return encryption_spec(sa.encryption).kind in ("cbc", "ctr")


def implausible_reason(opened: ESPPlaintext) -> str | None:
    """Why the plaintext of an authenticated ESP packet cannot be what its sender encrypted, or
    ``None``.  Only judged where the ICV does not prove the encryption key
    (:func:`_separately_authenticated`).  Evidence, strongest first: an unassigned next header;
    an inner IP header (tunnel mode) that does not parse with a matching length and checksum;
    padding other than 1, 2, 3, … (RFC 4303 §2.4) without an inner header to vouch for the
    packet; a transport-mode UDP/TCP header whose length fields disagree with the payload."""
    enc = opened.sa.encryption
    if enc not in SEPARATELY_AUTHENTICATED and not _separately_authenticated(opened.sa):
        return None
    nh = opened.next_header
    if nh in _UNASSIGNED_PROTOCOLS:
        return f"next header {nh} is an unassigned protocol number"
    if nh == 4 or nh == 41:
        # The inner packet and any TFC padding after it (RFC 4303 §2.7), joined only when the
        # payload alone may be shorter than the longest header to judge (60 bytes).
        p, tfc = opened.payload, opened.tfc_padding
        n = len(p) + len(tfc)
        if tfc and len(p) < 60:
            p += tfc
        if nh == 4:
            bad = _bad_ipv4(p, n)
            return f"inner IPv4 header {bad}" if bad else None
        if n < 40 or p[0] >> 4 != 6 or 40 + _U16.unpack_from(p, 4)[0] > n:
            return "inner IPv6 header does not parse with a matching length"
        return None
    if not opened.pad_ok:
        return "padding is not 1, 2, 3, … (RFC 4303 §2.4)"
    pl = opened.payload
    if nh == 17 and (len(pl) < 8 or _U16.unpack_from(pl, 4)[0] != len(pl)):
        return "UDP length does not match the payload"
    if nh == 6 and (len(pl) < 20 or not 5 <= pl[12] >> 4 <= len(pl) // 4):
        return "TCP data offset does not fit the payload"
    return None


def _bad_ipv4(p: bytes, n: int) -> str | None:
    """``p``: the first 60 bytes (or all) of the ``n`` bytes decrypted."""
    if n < 20 or p[0] >> 4 != 4:
        return "is not IPv4"
    ihl = (p[0] & 15) * 4
    total = _U16.unpack_from(p, 2)[0]
    if ihl < 20 or total < ihl or total > n:
        return f"length {total} does not match the {n} bytes decrypted"
    if ipv4_checksum(p[:ihl]) != 0:
        return "checksum is wrong"
    return None


__all__ += ["AHVerified", "SAState", "SEPARATELY_AUTHENTICATED"]
