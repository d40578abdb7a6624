"""layers/fast/ (the accelerator) builds the same Scapy objects as Scapy's own constructors.

The reference is Scapy itself: ``fast.scapy_only()`` makes netsec's layers call Scapy's
constructors too, so every comparison is "Scapy's dissection" against "the fast path", layer
by layer and attribute by attribute (every slot ``Packet.__init__`` sets, the field values and
their types, the caches, the links between layers), then by behaviour (bytes, ``show2``,
``summary``, editing a field and rebuilding, ``copy``, pickling).
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.config import conf
from scapy.fields import ByteField, FlagValue, StrField
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import NoPayload, Packet, Raw, bind_layers, split_layers
from scapy.utils import PcapNgReader, PcapReader
from scapy.volatile import VolatileValue

from netsec_layers.layers import fast
from netsec_layers.layers.all import bind_netsec_layers, unbind_netsec_layers
from netsec_layers.layers.ipsec import AH, ESP
from netsec_layers.layers.tls import TLSApplicationData, TLSRecord

PCAPS = Path(__file__).resolve().parents[2] / "pcaps"
_SKIP_SLOTS = {"time", "payload", "underlayer", "parent", "_answered", "_pkt"}


@pytest.fixture(autouse=True, scope="module")
def _netsec_bound() -> Iterator[None]:
    bind_netsec_layers()
    try:
        yield
    finally:
        unbind_netsec_layers()


def _chain(p: Packet) -> list[Packet]:
    out = []
    while isinstance(p, Packet) and not isinstance(p, NoPayload):
        out.append(p)
        p = p.payload
    return out


def _same_value(a: Any, b: Any, path: str) -> str | None:
    if isinstance(a, Packet):
        return differences(a, b, path) if isinstance(b, Packet) else f"{path}: packet vs {b!r}"
    if isinstance(a, list) and a and isinstance(a[0], Packet):
        if not isinstance(b, list) or len(a) != len(b):
            return f"{path}: list length"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = _same_value(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], dict):  # rpcf of packets
        return None if repr(a) == repr(b) else f"{path}: {a!r} != {b!r}"
    if type(a) is not type(b) or repr(a) != repr(b):
        return f"{path}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"
    if isinstance(a, FlagValue) and a is b:
        return f"{path}: FlagValue shared"
    return None


def _stable(d: dict[str, Any]) -> dict[str, Any]:
    """Default values; random-valued ones (RandField, packets holding them) by type only."""

    def one(v: Any) -> Any:
        if isinstance(v, list):
            return [one(x) for x in v]
        return type(v) if isinstance(v, VolatileValue | Packet) else v

    return {k: one(v) for k, v in d.items()}


def _instance_dict(p: Packet) -> dict[str, Any]:
    """The instance attributes (bound methods by their function: ICMP stores one)."""
    return {k: getattr(v, "__func__", v) for k, v in p.__dict__.items() if k != "tls_ctx"}


def differences(a: Packet, b: Packet, path: str = "pkt") -> str | None:
    """None if ``a`` and ``b`` are the same dissection, else where they differ."""
    la, lb = _chain(a), _chain(b)
    names_a = [type(x).__name__ for x in la]
    names_b = [type(x).__name__ for x in lb]
    if [type(x) for x in la] != [type(x) for x in lb]:
        return f"{path}: layers {names_a} != {names_b}"
    for i, (x, y) in enumerate(zip(la, lb, strict=True)):
        where = f"{path}/{names_a[i]}"
        for slot in sorted(type(x).__all_slots__ - _SKIP_SLOTS):
            hx, hy = hasattr(x, slot), hasattr(y, slot)
            if hx != hy:
                return f"{where}.{slot}: set {hx} != {hy}"
            if not hx:
                continue
            vx, vy = getattr(x, slot), getattr(y, slot)
            if slot in ("fields", "raw_packet_cache_fields"):
                if (vx is None) != (vy is None):
                    return f"{where}.{slot}: {vx!r} != {vy!r}"
                if vx is None:
                    continue
                if list(vx) != list(vy):
                    return f"{where}.{slot} keys {list(vx)} != {list(vy)}"
                for k in vx:
                    d = _same_value(vx[k], vy[k], f"{where}.{slot}[{k}]")
                    if d:
                        return d
            elif slot == "default_fields":
                if vx is not vy and _stable(vx) != _stable(vy):
                    return f"{where}.{slot} differs"
            elif slot in ("fieldtype", "packetfields", "overload_fields"):
                if vx is not vy and vx != vy:
                    return f"{where}.{slot} differs"
            elif type(vx) is not type(vy) or (vx != vy and repr(vx) != repr(vy)):
                return f"{where}.{slot}: {vx!r:.80} != {vy!r:.80}"
        if _instance_dict(x) != _instance_dict(y):
            return f"{where}.__dict__ {x.__dict__} != {y.__dict__}"
        if i and (x.underlayer is not la[i - 1] or y.underlayer is not lb[i - 1]):
            return f"{where}: underlayer link"
        if (x.parent is None) != (y.parent is None):
            return f"{where}: parent"
        if (x.time == 0.0) != (y.time == 0.0):
            return f"{where}: time set on one side only"
    return None


def _both(data: bytes, cls: type[Packet] = Ether) -> tuple[Any, Any]:
    """(Scapy's result or exception type, fast result or exception type)."""
    results: list[Any] = []
    for use_scapy in (True, False):
        try:
            if use_scapy:
                with fast.scapy_only():
                    results.append(cls(data))
            else:
                results.append(fast.dissect(data, cls))
        except Exception as e:  # noqa: BLE001 -- the exception type is compared
            results.append(type(e))
    return results[0], results[1]


def _assert_same(data: bytes, cls: type[Packet] = Ether) -> None:
    ref, got = _both(data, cls)
    if isinstance(ref, type) or isinstance(got, type):
        assert ref == got, (ref, got)
        return
    assert differences(ref, got) is None, differences(ref, got)
    assert bytes(ref) == bytes(got)
    assert ref.summary() == got.summary()
    assert ref.show2(dump=True) == got.show2(dump=True)


def _frames() -> list[tuple[str, int, type[Packet], bytes]]:
    out = []
    for path in sorted(PCAPS.rglob("*.pcap*")):
        reader = PcapNgReader if path.suffix == ".pcapng" else PcapReader
        with reader(str(path)) as rd:  # type: ignore[operator]
            for n, pkt in enumerate(rd, 1):
                out.append((str(path.relative_to(PCAPS)), n, type(pkt), bytes(pkt)))
    return out


_FRAMES = _frames()


def test_the_sample_captures_are_many_and_varied() -> None:
    names = {f[0].split("/")[0] for f in _FRAMES}
    assert len(_FRAMES) > 500 and {"esp", "tls"} <= names


@pytest.mark.parametrize("path", sorted({f[0] for f in _FRAMES}))
def test_every_frame_of_every_sample_capture(path: str) -> None:
    for _, _, cls, data in (f for f in _FRAMES if f[0] == path):
        _assert_same(data, cls)


@pytest.mark.parametrize("path", sorted({f[0] for f in _FRAMES if f[0].startswith("esp")}))
def test_scapy_s_own_layers_too(path: str) -> None:
    """Without netsec's bindings (Scapy's ESP/AH and plain TCP payloads)."""
    unbind_netsec_layers()
    try:
        import scapy.layers.ipsec  # noqa: F401 -- Scapy's own ESP/AH bindings

        for _, _, cls, data in (f for f in _FRAMES if f[0] == path):
            _assert_same(data, cls)
    finally:
        bind_netsec_layers()


# -- random frames ---------------------------------------------------------------------------
_u8, _u16, _u32 = st.integers(0, 255), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
_blob = st.binary(max_size=80)


@st.composite
def _tls(draw: Any) -> bytes:
    ct = draw(st.sampled_from([20, 21, 22, 23, 24, 25, 99]))
    body = draw(_blob)
    if ct == 22 and draw(st.booleans()):
        body = (
            bytes([draw(st.sampled_from([1, 2, 4, 11, 14, 20]))])
            + len(body).to_bytes(3, "big")
            + body
        )
    n = len(body) if draw(st.booleans()) else draw(_u16)
    rec = bytes([ct, 3, draw(st.sampled_from([0, 1, 3, 4]))]) + n.to_bytes(2, "big") + body
    return rec * draw(st.integers(1, 3))


@st.composite
def _l4(draw: Any) -> Packet:
    kind = draw(st.sampled_from(["tcp", "udp", "esp", "ah", "icmp", "raw", "natt"]))
    if kind == "tcp":
        opts = draw(st.sampled_from([[], [("MSS", 1460)], [("NOP", None), ("WScale", 7)]]))
        tcp = TCP(
            sport=draw(st.sampled_from([443, 80, draw(_u16)])),
            dport=draw(_u16),
            seq=draw(_u32),
            flags=draw(st.integers(0, 0x1FF)),
            options=opts,
        )
        return tcp / Raw(draw(st.one_of(_tls(), _blob)))
    if kind == "udp":
        return UDP(sport=draw(_u16), dport=draw(st.sampled_from([53, 500, draw(_u16)]))) / Raw(
            draw(_blob)
        )
    if kind == "natt":
        return UDP(sport=4500, dport=4500) / Raw(
            draw(st.sampled_from([b"\xff", b"\x00\x00\x00\x00" + draw(_blob), draw(_blob)]))
        )
    if kind == "esp":
        return ESP(spi=draw(_u32), seq=draw(_u32), data=draw(_blob))
    if kind == "ah":
        return (
            AH(spi=draw(_u32), seq=draw(_u32), icv=draw(st.binary(min_size=12, max_size=12)))
            / UDP()
        )
    if kind == "icmp":
        return ICMP(type=draw(_u8), code=draw(_u8)) / Raw(draw(_blob))
    return Raw(draw(_blob))


@st.composite
def _frame(draw: Any) -> bytes:
    l4 = draw(_l4())
    if draw(st.booleans()):
        net: Packet = IP(
            src=draw(st.sampled_from(["10.0.0.1", "192.168.1.2"])),
            ttl=draw(_u8),
            flags=draw(st.integers(0, 7)),
            frag=draw(st.sampled_from([0, 0, draw(st.integers(0, 8191))])),
            options=draw(st.sampled_from([[], b"\x01\x01\x01\x00"])),
        )
    else:
        net = IPv6(hlim=draw(_u8))
        for ext in draw(st.lists(st.sampled_from(["hbh", "frag", "rt"]), max_size=2)):
            net = (
                net
                / {
                    "hbh": IPv6ExtHdrHopByHop(),
                    "frag": IPv6ExtHdrFragment(m=draw(st.integers(0, 1))),
                    "rt": IPv6ExtHdrRouting(),
                }[ext]
            )
    link: Packet = Ether(src="02:00:00:00:00:01")
    if draw(st.booleans()):
        link = link / Dot1Q(vlan=draw(st.integers(0, 4095)))
    data = bytes(link / net / l4)
    cut = draw(st.sampled_from([None, None, draw(st.integers(0, len(data)))]))
    data = data if cut is None else data[:cut]
    if draw(st.booleans()) and data:  # flip one byte
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
    return data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_frame())
def test_random_frames(data: bytes) -> None:
    _assert_same(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120), st.sampled_from([Ether, IP, IPv6, TCP, UDP, ESP, TLSRecord]))
def test_random_bytes(data: bytes, cls: type[Packet]) -> None:
    _assert_same(data, cls)


# -- behaviour after dissection ---------------------------------------------------------------
def _sample(prefix: str) -> bytes:
    return next(f[3] for f in _FRAMES if f[0].startswith(prefix) and len(f[3]) > 100)


@pytest.mark.parametrize("prefix", ["esp/", "tls/"])
def test_edits_copies_and_pickles_behave_alike(prefix: str) -> None:
    data = _sample(prefix)
    ref, got = _both(data)
    for p in (ref, got):
        if IP in p:
            p[IP].ttl = 7
        else:
            p[IPv6].hlim = 7
    assert bytes(ref) == bytes(got) != data
    assert differences(ref.copy(), got.copy()) is None
    assert bytes(pickle.loads(pickle.dumps(got))) == bytes(ref)
    assert ref.payload.payload.summary() == got.payload.payload.summary()


def test_flag_values_are_independent_objects() -> None:
    data = bytes(Ether() / IP(flags="DF") / TCP(flags="SA"))
    p = fast.dissect(data)
    assert p[IP].flags == "DF" and p[TCP].flags == "SA"
    cached = p[TCP].raw_packet_cache_fields["flags"]
    assert cached == "SA" and cached is not p[TCP].flags  # Scapy keeps a copy, to see edits
    p[TCP].flags.value = 4  # an in-place edit (FlagValue is mutable): the cache sees it
    assert bytes(p) != data
    p[TCP].flags = "R"
    ref = Ether(data)
    ref[TCP].flags = "R"
    assert bytes(p) == bytes(ref)


def test_bindings_made_after_a_dissection_are_followed() -> None:
    """The payload-class memo is dropped when bind_layers/split_layers replace a list."""
    data = bytes(Ether() / IP() / UDP(sport=1, dport=47_123) / b"\x17\x03\x03\x00\x01x")
    assert type(fast.dissect(data)[UDP].payload) is Raw
    bind_layers(UDP, TLSRecord, dport=47_123)
    try:
        _assert_same(data)
        assert isinstance(fast.dissect(data)[UDP].payload, TLSRecord)
    finally:
        split_layers(UDP, TLSRecord, dport=47_123)
    assert type(fast.dissect(data)[UDP].payload) is Raw


def test_payload_guessing_patched_at_run_time_is_followed() -> None:
    """netsec's TLS binding replaces TCP.guess_payload_class; the fast path asks the class."""
    from netsec_layers.layers.tls.bind import bind_tls, unbind_tls

    data = bytes(
        Ether() / IP() / TCP(sport=5, dport=6) / TLSRecord() / TLSApplicationData(data=b"x")
    )
    assert TLSRecord in fast.dissect(data)
    unbind_tls()
    try:
        assert TLSRecord not in fast.dissect(data)
        _assert_same(data)
    finally:
        bind_tls()
    assert TLSRecord in fast.dissect(data)


def test_classes_the_fast_path_cannot_build_are_built_by_scapy() -> None:
    class _Custom(Packet):
        fields_desc = Raw.fields_desc

        def do_dissect(self, s: bytes) -> bytes:
            self.fields["load"] = s[::-1]
            return b""

    assert fast.plan_summary(_Custom) == "scapy"
    assert fast.make(_Custom, b"abc", internal=False).load == b"cba"
    assert fast.plan_summary(IP) != "scapy"


def test_payload_class_may_be_a_factory_scapy_calls() -> None:
    """guess_payload_class may return any callable Scapy calls like a class (the IKE layers
    return a factory that builds their undecoded layer with a reason): built the same way."""

    class _Leaf(Packet):
        fields_desc = [*Raw.fields_desc, StrField("why", b"")]

    class _Factory:
        def __call__(self, _pkt: bytes = b"", **kw: Any) -> Packet:
            p = _Leaf(_pkt, **kw)
            p.why = b"made by a factory"
            return p

    class _Head(Packet):
        fields_desc = [ByteField("kind", 0)]

        def guess_payload_class(self, payload: bytes) -> Any:
            return _Factory()

    ref, got = _both(b"\x01rest", _Head)
    assert type(got.payload) is _Leaf and got.payload.why == b"made by a factory"
    assert differences(ref, got) is None, differences(ref, got)


def test_debug_dissector_raises_like_scapy() -> None:
    data = bytes(Ether() / IP(proto=6) / b"\x00")  # one byte where TCP needs 20
    saved = conf.debug_dissector
    conf.debug_dissector = True
    try:
        ref, got = _both(data)
    finally:
        conf.debug_dissector = saved
    assert isinstance(ref, type) and ref is got


# -- capture files ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", sorted(str(p.relative_to(PCAPS)) for p in PCAPS.rglob("*.pcap*")), ids=str
)
def test_fast_rdpcap_is_rdpcap(path: str) -> None:
    from scapy.utils import rdpcap

    from netsec_layers import fast_rdpcap
    from netsec_layers.layers.fast import iter_packets

    with fast.scapy_only():
        ref = rdpcap(str(PCAPS / path))
    got = fast_rdpcap(str(PCAPS / path))
    streamed = list(iter_packets(str(PCAPS / path), count=3))
    assert len(ref) == len(got) > 0 and repr(ref) == repr(got)
    for a, b in zip(ref, got, strict=True):
        assert differences(a, b) is None, differences(a, b)
        for attr in ("time", "wirelen", "comments", "direction", "sniffed_on"):
            assert getattr(a, attr) == getattr(b, attr), attr
        assert a.process_information == b.process_information
    assert [bytes(p) for p in streamed] == [bytes(p) for p in ref[:3]]
    assert [p.time for p in streamed] == [p.time for p in ref[:3]]


# -- copies ------------------------------------------------------------------------------------
def _scapy_copy_before(pkt: Packet, stop: Packet) -> Packet:
    """Scapy's ``copy`` of the layers before ``stop``: detach, copy, reattach."""
    under = stop.underlayer
    saved = under.payload, under.overloaded_fields
    under.payload, under.overloaded_fields = NoPayload(), {}
    try:
        return pkt.copy()
    finally:
        under.payload, under.overloaded_fields = saved


@pytest.mark.parametrize("path", sorted({f[0] for f in _FRAMES}))
def test_copy_layers_is_packet_copy(path: str) -> None:
    for _, _, cls, data in (f for f in _FRAMES if f[0] == path):
        pkt = fast.dissect(data, cls)
        whole = fast.copy_layers(pkt)
        assert differences(pkt.copy(), whole) is None, differences(pkt.copy(), whole)
        assert bytes(whole) == bytes(pkt)
        chain = _chain(pkt)
        for k in range(1, len(chain)):
            part = fast.copy_layers(pkt, stop=chain[k])
            ref = _scapy_copy_before(pkt, chain[k])
            assert differences(ref, part) is None, (k, differences(ref, part))
            assert bytes(part) == bytes(ref)
        assert differences(pkt, fast.dissect(data, cls)) is None  # the original is untouched


def test_copies_are_independent() -> None:
    data = next(f[3] for f in _FRAMES if f[0].startswith("esp/") and len(f[3]) > 100)
    pkt = fast.dissect(data)
    clone = fast.copy_layers(pkt)
    clone[IP].ttl = 1
    clone[IP].flags.value = 2
    clone[Ether].fields["src"] = "02:00:00:00:00:99"
    assert bytes(pkt) == data and pkt[IP].ttl != 1 and pkt[Ether].src != "02:00:00:00:00:99"


@pytest.mark.parametrize("path", sorted({f[0] for f in _FRAMES if f[0].startswith("tls/")}))
def test_dissect_tls_and_dissect_handshake_on_every_tcp_payload(path: str) -> None:
    from netsec_layers.layers.tls import dissect_handshake, dissect_tls

    for _, _, cls, data in (f for f in _FRAMES if f[0] == path):
        with fast.scapy_only():
            pkt = cls(data)
        if TCP not in pkt or not bytes(pkt[TCP].payload):
            continue
        payload = bytes(pkt[TCP].payload)
        for fn, kw in (
            (dissect_tls, {}),
            (dissect_tls, {"version": 0x0304}),
            (dissect_handshake, {}),
        ):
            body = payload if fn is dissect_tls else payload[5:]
            with fast.scapy_only():
                ref = fn(body, **kw)
            got = fn(body, **kw)
            assert differences(ref, got) is None, differences(ref, got)
            assert bytes(got) == bytes(ref)


def test_fast_rdpcap_restores_the_gc_thresholds() -> None:
    import gc

    from netsec_layers import fast_rdpcap

    before = gc.get_threshold()
    assert len(fast_rdpcap(str(PCAPS / _FRAMES[0][0]))) > 0
    assert gc.get_threshold() == before


# -- every Scapy layer class -------------------------------------------------------------------
def _build_or_exception(p: Packet) -> Any:
    try:
        return bytes(p)
    except Exception as e:  # noqa: BLE001 -- some Scapy layers cannot rebuild what they read
        return type(e)


def _builds_differ(ref: Packet, got: Packet, again: Any) -> bool:
    """``bytes()`` of both differ, for layers whose build is reproducible: ``again()`` makes
    a second reference (some of Scapy's own TLS layers build with random bytes per object)."""
    first = _build_or_exception(ref)
    if first == _build_or_exception(got):
        return False
    return first == _build_or_exception(again())


def _copies_differ(p: Packet) -> str | None:
    """None if ``copy_layers(p)`` is what ``p.copy()`` gives."""
    try:
        ref: Any = p.copy()
    except Exception as e:  # noqa: BLE001 -- compared by type
        ref = type(e)
    try:
        got: Any = fast.copy_layers(p)
    except Exception as e:  # noqa: BLE001
        got = type(e)
    if isinstance(ref, type) or isinstance(got, type):
        return None if ref is got else f"copy: {ref!r} vs {got!r}"
    d = differences(ref, got, "copy")
    if d and "default_fields" in d and Packet.class_dont_cache.get(type(p)):
        return None
    if d is None and _builds_differ(ref, got, p.copy):
        return "copy: built bytes differ"
    return d


def test_every_scapy_layer_class() -> None:
    """Every class Scapy registers (2,000+), on its default bytes, those bytes with a tail,
    one-byte changes and random bytes: the fast builder and Scapy's constructors agree, and
    so do ``copy_layers`` and ``Packet.copy`` on the result."""
    import random

    import scapy.all  # noqa: F401 -- registers Scapy's layers

    rng = random.Random(20261124)
    layers = sorted(conf.layers, key=lambda c: (c.__module__, c.__name__))
    assert len(layers) > 1000
    bad: dict[str, str] = {}
    for cls in layers:
        try:
            base = bytes(cls())
        except Exception:  # noqa: BLE001 -- no default build: random inputs only
            base = b""
        inputs = [base, base + rng.randbytes(20)]
        inputs += [rng.randbytes(rng.randrange(1, 60)) for _ in range(4)]
        for _ in range(3 if base else 0):
            i = rng.randrange(len(base))
            inputs.append(base[:i] + bytes([base[i] ^ rng.randrange(1, 256)]) + base[i + 1 :])
        for data in inputs:
            ref, got = _both(data, cls)
            if isinstance(ref, type) or isinstance(got, type):
                d = None if ref is got else f"{ref!r} vs {got!r}"
            else:
                d = differences(ref, got)
                if d and "default_fields" in d and Packet.class_dont_cache.get(cls):
                    d = None  # defaults made afresh per packet (time or random based)
                again = functools.partial(lambda d_, c_: _both(d_, c_)[0], data, cls)
                if d is None and _builds_differ(ref, got, again):
                    d = "built bytes differ"
                if d is None:
                    d = _copies_differ(got)
            if d:
                bad.setdefault(f"{cls.__module__}.{cls.__name__}", f"{data.hex()}: {d}")
    assert not bad, list(bad.items())[:10]


def test_copy_layers_of_ether_ip_builds_no_packet_through_init(monkeypatch: Any) -> None:
    """The fast copy is taken for the usual headers (Ether has a dispatch hook that gives
    Ether itself): no Packet.__init__ call at all."""
    data = next(f[3] for f in _FRAMES if f[0].startswith("esp/") and len(f[3]) > 100)
    pkt = fast.dissect(data)
    calls = []
    real = Packet.__init__

    def counting(self: Packet, *a: Any, **k: Any) -> None:
        calls.append(type(self).__name__)
        real(self, *a, **k)

    monkeypatch.setattr(Packet, "__init__", counting)
    part = fast.copy_layers(pkt, stop=pkt[IP].payload)
    monkeypatch.undo()
    assert calls == [] and [type(x) for x in _chain(part)] == [Ether, IP]
