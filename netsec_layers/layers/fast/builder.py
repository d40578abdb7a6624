"""Scapy packets built from bytes without Scapy's per-layer constructor overhead.

``dissect(frame)`` returns the very objects ``Ether(frame)`` returns -- same classes, same
``fields``, caches, payload/underlayer links and overloaded fields, so ``show()``, ``raw()``,
``summary()``, field edits and rebuilds behave identically -- in a fraction of the time.

Scapy spends most of a dissection outside the fields: the metaclass ``__call__``,
``Packet.__init__`` (about 25 attribute stores through ``object.__setattr__``, the field
caches, keyword handling), one generic ``getfield`` call per field, and a linear scan of every
``payload_guess`` binding per layer.  Here, per class, a *plan* is compiled once:

- runs of fixed-size struct fields become one ``struct.unpack_from``; runs of bit fields that
  fill whole bytes become one integer read; every other field goes through its own
  ``getfield`` exactly as :meth:`Packet.do_dissect` calls it (conditional fields, length
  callbacks, packet lists...);
- the attributes ``Packet.__init__`` gives a packet are stored directly, into a blank
  object of the same memory layout whose class is then set (``Packet`` routes every
  attribute store through a Python ``__setattr__``, 5x slower than a plain store);
- the payload class is looked up in a memo keyed by the values of the fields the bindings
  test, rebuilt whenever ``bind_layers``/``split_layers`` replace a ``payload_guess`` list.

A class whose construction cannot be reproduced this way -- it overrides ``__init__`` (unless
registered with :func:`register_init`), ``__new__``, ``__setattr__``, ``dissect``,
``do_dissect`` or ``init_fields``, or uses a ``MultipleTypeField`` -- is built by Scapy
itself, from that layer down.  Methods that refine dissection (``dispatch_hook``,
``pre_dissect``, ``post_dissect``, ``extract_padding``, ``do_dissect_payload``,
``guess_payload_class``, ``default_payload_class``, ``add_payload``, ``add_underlayer``,
``dissection_done``) are called when a class defines them, where Scapy calls them.
:func:`copy_layers` is ``Packet.copy`` built the same way.

``tests/layers/test_fast_dissect.py`` checks every result against Scapy's own constructors
(``scapy_only()`` switches netsec's layers back to them), layer by layer and attribute by
attribute, on every sample capture and on random and damaged frames.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from scapy.base_classes import Packet_metaclass
from scapy.config import conf
from scapy.fields import Emph, Field, FlagsField, FlagValue, IP6Field, IPField, MACField
from scapy.fields import _BitField as BitField
from scapy.layers.inet import IP
from scapy.packet import NoPayload, Packet, Raw
from scapy.utils import inet_ntoa

__all__ = ["copy_layers", "dissect", "make", "register_init", "scapy_only"]

_P = TypeVar("_P", bound=Packet)
_osa = object.__setattr__
_FV_COPY = FlagValue.copy
_NEW = object.__new__

# classes whose __init__ only consumes keyword arguments that make() does not pass
_INIT_OK: set[type] = {Packet, Raw}
_SLOW_METHODS = (
    "__new__",
    "dissect",
    "do_dissect",
    "init_fields",
    "do_init_cached_fields",
    "__setattr__",
)
# Packet's own versions of the methods a class may refine; looked up on the class at every
# use, since bind_layers & co. may patch them at run time (netsec's TLS binding does)
_P_PRE = Packet.pre_dissect
_P_POST = Packet.post_dissect
_P_PAD = Packet.extract_padding
_P_GUESS = Packet.guess_payload_class
_P_DDP = Packet.do_dissect_payload
_P_ADD = Packet.add_payload
_P_UNDER = Packet.add_underlayer
_P_COPY = Packet.copy
_P_DONE = Packet.dissection_done
_P_POSTD = Packet.post_dissection
_IP_PAD = IP.extract_padding
_HOOK_NAMES = frozenset(
    (
        "post_dissect",
        "extract_padding",
        "do_dissect_payload",
        "guess_payload_class",
        "default_payload_class",
        "add_payload",
    )
)
_IMMUTABLE = frozenset((int, str, bytes, float, bool, type(None)))


def register_init(cls: type[Packet]) -> type[Packet]:
    """Declare that ``cls.__init__`` adds nothing to ``Packet.__init__`` for bytes input.

    Its own keyword arguments may instead be given to :func:`make` as ``attrs`` (stored
    before the dissection starts, as such an ``__init__`` stores them).  Usable as a class
    decorator; invalidates compiled plans.
    """
    _INIT_OK.add(cls)
    _PLANS.clear()
    return cls


class _Plan:
    __slots__ = (
        "cls",
        "fields_desc",
        "name",
        "steps",
        "default_fields",
        "fieldtype",
        "packetfields",
        "aliastypes",
        "guess_keys",
        "guess_lists",
        "guess_memo",
        "blank",
        "name_in_dict",
        "plain_copy",
    )
    cls: type[Packet]
    fields_desc: list[Any]
    name: str
    # (kind, size, reader, names, converters, copiers, fields, may-end, flags, ordered)
    steps: list[tuple[Any, ...]]
    default_fields: dict[str, Any]
    fieldtype: dict[str, Any]
    packetfields: list[Any]
    aliastypes: tuple[type[Packet], ...]
    guess_keys: tuple[str, ...]
    guess_lists: tuple[list[tuple[dict[str, Any], type[Packet]]], ...] | None
    guess_memo: dict[tuple[Any, ...], Any]
    blank: type[Packet]
    name_in_dict: bool
    plain_copy: frozenset[str]


_PLANS: dict[type, _Plan | None] = {}

# step kinds
_STRUCT, _BITS, _FIELD = 0, 1, 2


def _overrides(cls: type, name: str) -> bool:
    """True if a class between ``cls`` and Packet (both included for cls) defines ``name``."""
    for k in cls.__mro__:
        if k is Packet:
            return False
        if name in k.__dict__:
            return True
    return False


def _init_ok(cls: type) -> bool:
    for k in cls.__mro__:
        if k is Packet:
            return True
        if "__init__" in k.__dict__ and k not in _INIT_OK:
            return False
    return True


class _BlankFlags(FlagValue):
    """:class:`_Blank` for ``FlagValue`` (which also defines ``__setattr__``)."""

    __slots__: list[str] = []
    # plain slot stores on purpose: the whole point of a blank (see _Blank)
    __setattr__ = object.__setattr__  # type: ignore[assignment]
    __delattr__ = object.__delattr__


def _flag_value(value: int, names: Any) -> FlagValue:
    """``FlagValue(value, names)`` for an int ``value``."""
    fv: FlagValue = _NEW(_BlankFlags)
    fv.multi = isinstance(names, list)
    fv.names = names
    fv.value = value
    fv.__class__ = FlagValue
    return fv


def _converter(f: Any) -> Callable[[Packet, Any], Any] | None:
    """``f.m2i`` as a ``(pkt, value)`` callable; None when it is the identity.

    Scapy's converters of the commonest fields are replaced by equal, cheaper ones."""
    m2i = type(f).m2i
    if m2i is Field.m2i:
        return None
    if m2i is MACField.m2i:  # str2mac of 6 bytes
        return lambda p, v: v.hex(":")
    if m2i is IPField.m2i:
        return lambda p, v: inet_ntoa(v)
    if m2i is FlagsField.m2i and type(f)._fixup_val is FlagsField._fixup_val:
        names = f.names
        return lambda p, v: _flag_value(int(v), names)
    own: Callable[[Packet, Any], Any] = f.m2i
    return own


# m2i functions that read nothing but their value: a run of fields using only these is
# converted after one batched store
_PURE_M2I = frozenset((Field.m2i, MACField.m2i, IPField.m2i, FlagsField.m2i, IP6Field.m2i))


def _copier(f: Any) -> Callable[[Packet, Any], Any] | None:
    """What ``Packet.do_dissect`` keeps in ``raw_packet_cache_fields`` for ``f`` (None if
    nothing): ``p._raw_packet_cache_field_value(f, v, copy=True)``."""
    if not _tracked(f):
        return None
    if (
        isinstance(f, FlagsField)
        and not f.holds_packets
        and type(f).do_copy is Field.do_copy
        and FlagValue.copy is _FV_COPY
    ):
        return lambda p, v: _flag_value(v.value, v.names)
    return lambda p, v: p._raw_packet_cache_field_value(f, v, True)


def _tracked(f: Any) -> bool:
    return bool(f.islist or f.holds_packets or f.ismutable)


def _compile(cls: type[Packet]) -> _Plan | None:
    if not issubclass(cls, Packet) or issubclass(cls, NoPayload):
        return None
    if not _init_ok(cls) or any(_overrides(cls, m) for m in _SLOW_METHODS):
        return None
    if Packet.class_dont_cache.get(cls, False):
        return None
    if Packet.class_default_fields.get(cls) is None:
        try:
            cls()  # fills Scapy's per-class field caches
        except Exception:
            return None
        if Packet.class_dont_cache.get(cls, False) or cls not in Packet.class_default_fields:
            return None
    plan = _Plan()
    plan.cls = cls
    plan.fields_desc = cls.fields_desc
    plan.name = cls.__name__ if cls._name is None else cls._name
    plan.default_fields = Packet.class_default_fields[cls]
    plan.fieldtype = Packet.class_fieldtype[cls]
    plan.packetfields = Packet.class_packetfields[cls]
    plan.aliastypes = tuple(cls.aliastypes)
    try:
        plan.steps = _steps(cls.fields_desc)
    except Exception:  # a field this module does not understand: Scapy builds the class
        return None
    plan.guess_lists = None
    plan.guess_keys = ()
    plan.guess_memo = {}
    blank = _blank_for(cls)
    if blank is None:  # a layout no blank matches (1 of Scapy's 2,061 classes): Scapy builds it
        return None
    plan.blank = blank
    plan.name_in_dict = _in_dict(cls, "name")
    plan.plain_copy = frozenset(
        f.name for f in cls.fields_desc if getattr(type(f), "do_copy", None) is Field.do_copy
    )
    return plan


def _run_step(kind: int, size: int, reader: Any, run: list[Any]) -> tuple[Any, ...]:
    """A batched step: ``(kind, size, reader, names, converters, copiers, fields, last field
    may end the layer, per-field flags for the one-at-a-time fallback, ordered converters or
    None)``; ``reader`` is a Struct or the bit layout."""
    names = tuple(g.name for g in run)
    convs = tuple((i, c) for i, g in enumerate(run) if (c := _converter(g)) is not None)
    cps = tuple((i, g.name, c) for i, g in enumerate(run) if (c := _copier(g)) is not None)
    # A field's own m2i may read the fields before it (IGMPv3's mrcode reads type): then each
    # value is converted and stored in turn, as Packet.do_dissect does.
    ordered = (
        tuple((g.name, c) for g in run for c in [_converter(g)])
        if any(type(g).m2i not in _PURE_M2I for g in run)
        else None
    )
    return (
        kind, size, reader, names, convs, cps, run, bool(run[-1].ismayend), _flags(run), ordered
    )  # fmt: skip


def _flags(run: list[Any]) -> tuple[tuple[Any, str, bool, bool], ...]:
    """Per field, what the one-at-a-time loop needs: (field, name, tracked, conditional)."""
    return tuple((f, f.name, _tracked(f), bool(f.isconditional)) for f in run)


def _steps(flist: list[Any]) -> list[tuple[Any, ...]]:
    """Group ``flist`` into struct runs, whole-byte bit runs and single fields."""
    steps: list[tuple[Any, ...]] = []
    # Emph (emphasised in show()) only forwards to the field it wraps
    flist = [f.fld if isinstance(f, Emph) else f for f in flist]
    i, n = 0, len(flist)
    while i < n:
        f = flist[i]
        if _is_struct(f):
            order = f.fmt[0]
            run = [f]
            while i + len(run) < n and _is_struct(flist[i + len(run)]):
                g = flist[i + len(run)]
                if g.fmt[0] != order:
                    break
                run.append(g)
            st = struct.Struct(order + "".join(g.fmt[1:] for g in run))
            steps.append(_run_step(_STRUCT, st.size, st, run))
            i += len(run)
            continue
        if _is_bit(f):
            run, bits = [], 0
            j = i
            while j < n and _is_bit(flist[j]):
                run.append(flist[j])
                bits += flist[j].size
                j += 1
                if bits % 8 == 0:
                    break
            if bits % 8 == 0:
                layout = []
                shift = bits
                for g in run:
                    shift -= g.size
                    layout.append((shift, (1 << g.size) - 1))
                steps.append(_run_step(_BITS, bits // 8, tuple(layout), run))
                i = j
                continue
        steps.append((_FIELD, 0, None, (), (), (), [f], False, _flags([f]), None))
        i += 1
    return steps


def _is_struct(f: Any) -> bool:
    return (
        type(f).getfield is Field.getfield
        and not f.isconditional
        and isinstance(getattr(f, "fmt", None), str)
        and f.fmt[:1] in "!<>="
        and getattr(f, "sz", 0) == struct.calcsize(f.fmt) > 0
    )


def _is_bit(f: Any) -> bool:
    return (
        isinstance(f, BitField)
        and type(f).getfield is BitField.getfield
        and not f.isconditional
        and not f.rev
    )


def _plan(cls: type[Packet]) -> _Plan | None:
    try:
        plan = _PLANS[cls]
    except KeyError:
        plan = _PLANS[cls] = _compile(cls)
    if plan is not None and plan.fields_desc is not cls.fields_desc:
        plan = _PLANS[cls] = _compile(cls)
    return plan


def _do_dissect(p: Packet, plan: _Plan, s: bytes) -> bytes:
    """:meth:`Packet.do_dissect` with the plan's batched steps."""
    raw = s
    fields = p.fields
    rpcf: dict[str, Any] = {}
    _osa(p, "raw_packet_cache_fields", rpcf)
    for step in plan.steps:
        kind = step[0]
        if kind != _FIELD and type(s) is bytes and len(s) >= step[1]:
            n = step[1]
            if kind == _STRUCT:
                vals = step[2].unpack_from(s)
            else:
                word = int.from_bytes(s[:n], "big")
                vals = [(word >> shift) & mask for shift, mask in step[2]]
            s = s[n:]
            if step[9] is not None:
                for (name, conv), v in zip(step[9], vals, strict=True):
                    fields[name] = v if conv is None else conv(p, v)
                vals = [fields[name] for name in step[3]]
            else:
                if step[4]:
                    vals = list(vals)
                    for i, conv in step[4]:
                        vals[i] = conv(p, vals[i])
                fields.update(zip(step[3], vals, strict=True))
            for i, name, cp in step[5]:
                v = vals[i]
                if v is not None:
                    rpcf[name] = cp(p, v)
            if not s and step[7]:
                break
            continue
        # one field at a time, exactly as Packet.do_dissect
        stop = False
        for f, name, tracked, conditional in step[8]:
            s, fval = f.getfield(p, s)
            if conditional and fval is None:
                continue
            if tracked and fval is not None:
                rpcf[name] = p._raw_packet_cache_field_value(f, fval, copy=True)
            fields[name] = fval
            if not s and (f.ismayend or (fval is not None and conditional and f.fld.ismayend)):
                stop = True
                break
        if stop:
            break
    _osa(p, "raw_packet_cache", raw[: -len(s)] if s else raw)
    _osa(p, "explicit", 1)
    return s


_NO_MATCH = object()
_MEMO_TYPES = frozenset((int, str, bytes, type(None)))


def _guess(p: Packet, plan: _Plan, payload: bytes) -> type[Packet]:
    """:meth:`Packet.guess_payload_class` (bindings scan) through a memo.

    The memo maps the values of every field the bindings test to the first matching
    binding, or to "none matched" (then ``default_payload_class``, which may look at the
    payload bytes, is called every time).  It is dropped when a ``payload_guess`` list is
    replaced, which is what ``bind_layers``/``split_layers`` do.
    """
    lists = plan.guess_lists
    stale = lists is None
    if not stale:
        for t, lst in zip(plan.aliastypes, lists, strict=True):  # type: ignore[arg-type]
            if t.payload_guess is not lst:
                stale = True
                break
    if stale:
        lists = tuple([t.payload_guess for t in plan.aliastypes])
        keys: dict[str, None] = {}
        for lst in lists:
            for fval, _ in lst:
                keys.update(dict.fromkeys(fval))
        plan.guess_lists = lists
        plan.guess_keys = tuple(keys)
        plan.guess_memo = {}
    getv = p.getfieldval
    key: tuple[Any, ...] | None
    fields = p.fields
    try:
        # what getfieldval returns for dissected fields, without its method calls
        key = tuple([fields[k] for k in plan.guess_keys])
    except KeyError:
        try:
            key = tuple([getv(k) for k in plan.guess_keys])
        except AttributeError:
            key = None
    found: Any = None
    if key is not None:
        for v in key:
            if type(v) not in _MEMO_TYPES:  # e.g. a FlagValue: equal to ints, not to names
                key = None
                break
        else:
            found = plan.guess_memo.get(key)
    if found is None:
        found = _NO_MATCH
        assert lists is not None
        for lst in lists:
            for fval, c in lst:
                try:
                    if all(v == getv(k) for k, v in fval.items()):
                        found = c
                        break
                except AttributeError:
                    pass
            if found is not _NO_MATCH:
                break
        if key is not None:
            plan.guess_memo[key] = found
    if found is _NO_MATCH:
        return p.default_payload_class(payload)
    return found  # type: ignore[no-any-return]


class _Blank(Packet):
    """Same memory layout as every Packet class that adds no slots, with plain attribute
    stores: a new packet is filled in as a ``_Blank`` and then given its real class.

    ``Packet`` defines ``__setattr__``/``__delattr__`` in Python, which makes every slot
    store go through a function call (about 5x slower than a plain store); CPython checks
    on ``__class__`` assignment that both layouts are the same (see :func:`_blank_for`).  The
    leading underscore keeps it out of Scapy's layer registry.
    """

    __slots__: list[str] = []
    # plain slot stores on purpose: what makes filling a blank fast
    __setattr__ = object.__setattr__  # type: ignore[assignment]
    __delattr__ = object.__delattr__


_STORED = (
    "time sent_time name default_fields overload_fields overloaded_fields fields fieldtype "
    "packetfields payload underlayer parent original explicit raw_packet_cache "
    "raw_packet_cache_fields wirelen direction sniffed_on comments process_information "
    "stop_dissection_after post_transforms"
).split()


def _type_lookup(cls: type, name: str) -> Any:
    for k in cls.__mro__:
        if name in k.__dict__:
            return k.__dict__[name]
    return None


_BLANKS: dict[tuple[str, ...], type[Packet]] = {(): _Blank}


def _adds_slots(k: type) -> bool:
    """True if class ``k`` (a strict subclass of Packet) makes its instances bigger."""
    base = k.__base__
    return (
        bool(k.__dict__.get("__slots__"))
        and base is not None
        and k.__basicsize__ != base.__basicsize__
    )


def _blank_for(cls: type[Packet]) -> type[Packet] | None:
    """The ``_Blank`` class a new ``cls`` packet can be filled in as, or None.

    A class adding slots of its own (Ether adds one) needs a blank with the same extra
    slots, directly under Packet, as CPython compares layouts level by level: only classes
    with at most one slot-adding class between them and Packet qualify.  Every attribute
    stored must also resolve to the same slot in both classes (a mixin's class attribute,
    such as IPv6's ``name``, sends Scapy's store to the instance dict instead)."""
    adders = [k for k in cls.__mro__[: cls.__mro__.index(Packet)] if _adds_slots(k)]
    if len(adders) > 1:
        return None
    extra = tuple(adders[0].__dict__["__slots__"]) if adders else ()
    blank = _BLANKS.get(extra)
    if blank is None:
        blank = _BLANKS[extra] = Packet_metaclass(
            "_Blank_" + "_".join(extra),
            (Packet,),
            {
                "__slots__": list(extra),
                "__setattr__": object.__setattr__,
                "__delattr__": object.__delattr__,
                "__module__": __name__,
            },
        )
    for n in _STORED:
        mine = _type_lookup(cls, n)
        if mine is not _type_lookup(blank, n) and not (n == "name" and _in_dict(cls, n)):
            return None
    try:
        q = _NEW(blank)
        q.__class__ = cls
    except TypeError:
        return None
    return blank


def _in_dict(cls: type, name: str) -> bool:
    """True if Scapy's store of ``name`` lands in the instance dict: a plain class attribute
    (no ``__set__``) shadows the slot, and instances have a dict."""
    attr = _type_lookup(cls, name)
    return not hasattr(type(attr), "__set__") and cls.__dictoffset__ != 0


def _fill(
    plan: _Plan,
    time_: Any,
    original: bytes,
    underlayer: Packet | None,
    parent: Packet | None,
    default_fields: dict[str, Any],
    overloaded_fields: dict[str, Any],
    fields: dict[str, Any],
    explicit: int,
    cache: bytes | None,
    cache_fields: dict[str, Any] | None,
    wirelen: int | None,
    direction: Any,
    sniffed_on: Any,
    comments: Any,
    post_transforms: list[Any],
) -> Packet:
    """A ``plan.cls`` packet with every attribute ``Packet.__init__`` (and ``copy``) sets,
    stored into the plan's blank object, which then gets its real class."""
    p = _NEW(plan.blank)
    p.time = time_
    p.sent_time = None
    p.name = plan.name
    p.default_fields = default_fields
    p.overload_fields = plan.cls._overload_fields  # bind_top_down replaces it
    p.overloaded_fields = overloaded_fields
    p.fields = fields
    p.fieldtype = plan.fieldtype
    p.packetfields = plan.packetfields
    p.payload = _NOPAYLOAD
    p.underlayer = underlayer
    p.parent = parent
    p.original = original
    p.explicit = explicit
    p.raw_packet_cache = cache
    p.raw_packet_cache_fields = cache_fields
    p.wirelen = wirelen
    p.direction = direction
    p.sniffed_on = sniffed_on
    p.comments = comments
    p.process_information = None
    p.stop_dissection_after = None
    p.post_transforms = post_transforms
    p.__class__ = plan.cls
    if plan.name_in_dict:
        p.__dict__["name"] = plan.name
    return p


def _new(plan: _Plan, s: bytes, underlayer: Packet | None, parent: Packet | None) -> Packet:
    """The attributes ``Packet.__init__`` gives a packet about to dissect ``s``."""
    return _fill(
        plan, 0.0, s, underlayer, parent, plan.default_fields, {}, {}, 0, None, None,
        None, None, None, None, [],
    )  # fmt: skip


_NOPAYLOAD = NoPayload()


def _layer(
    cls: type[Packet],
    data: bytes | bytearray,
    underlayer: Packet | None,
    parent: Packet | None,
    attrs: dict[str, Any] | None,
    top: bool = False,
) -> Packet:
    """One layer and, recursively, its payload: ``cls(data, _internal=1, ...)``."""
    s = bytes(data) if isinstance(data, bytearray) else data  # as Packet.__init__
    if "dispatch_hook" in cls.__dict__:
        # the keyword arguments Scapy's own call would give it
        kw: dict[str, Any] = {}
        if not top:
            if parent is None:
                kw["stop_dissection_after"] = None
            kw["_internal"] = 1
        if underlayer is not None:
            kw["_underlayer"] = underlayer
        if parent is not None:
            kw["_parent"] = parent
        if attrs:
            kw.update(attrs)
        try:
            cls = cls.dispatch_hook(s, **kw)
        except Exception:
            if conf.debug_dissector:
                raise
            cls = conf.raw_layer
    plan = _plan(cls)
    if plan is None:
        # built by Scapy itself (not through the metaclass: dispatch is done)
        p = cls.__new__(cls)
        kw = {"_internal": 1, "_underlayer": underlayer, "_parent": parent}
        if attrs:
            kw.update(attrs)
        cls.__init__(p, s, **kw)
        return p
    p = _new(plan, s, underlayer, parent)
    if attrs:
        for k, v in attrs.items():
            _osa(p, k, v)
    # Packet.dissect, step by step.  A hook may also be an instance attribute: a field's
    # getfield can patch its packet (TrailerField sets ``post_dissect``), so Scapy's methods
    # are called whenever the instance dict names one.
    inst = p.__dict__
    if cls.pre_dissect is not _P_PRE or (inst and "pre_dissect" in inst):
        s = p.pre_dissect(s)
    s = _do_dissect(p, plan, s)
    patched = bool(inst) and not _HOOK_NAMES.isdisjoint(inst)
    if patched or cls.post_dissect is not _P_POST:
        s = p.post_dissect(s)
    pad = None
    ep = cls.extract_padding
    if ep is _IP_PAD and not patched:
        # IP.extract_padding (scapy.layers.inet) without its two __getattr__ calls
        f = p.fields
        if "len" in f and "ihl" in f and not p.deprecated_fields:
            n = f["len"] - (f["ihl"] << 2)
            s, pad = (s, b"") if n < 0 else (s[:n], s[n:])
        else:
            s, pad = p.extract_padding(s)
    elif patched or ep is not _P_PAD:
        s, pad = p.extract_padding(s)
    if patched or cls.do_dissect_payload is not _P_DDP:
        p.do_dissect_payload(s)
    elif s:
        # Packet.do_dissect_payload
        if cls.guess_payload_class is _P_GUESS:
            ocls = _guess(p, plan, s)
        else:
            ocls = p.guess_payload_class(s)
        try:
            if isinstance(ocls, type):
                pl = _layer(ocls, s, p, None, None)
            else:  # a factory Scapy calls like a class (the IKE layers' undecoded payload)
                pl = ocls(s, _internal=1, _underlayer=p)
        except KeyboardInterrupt:
            raise
        except Exception:
            if conf.debug_dissector:
                raise
            pl = conf.raw_layer(s, _internal=1, _underlayer=p)
        if cls.add_payload is _P_ADD:
            _attach(p, plan, pl)
        else:
            p.add_payload(pl)
    if pad and conf.padding:
        p.add_payload(conf.padding_layer(pad))
    return p


def _attach(p: Packet, plan: _Plan, pl: Packet) -> None:
    """``p.add_payload(pl)`` for a packet without payload yet."""
    _osa(p, "payload", pl)
    if type(pl).add_underlayer is _P_UNDER:
        _osa(pl, "underlayer", p)
    else:
        pl.add_underlayer(p)
    ov = pl.overload_fields
    if ov:
        for t in plan.aliastypes:
            if t in ov:
                _osa(p, "overloaded_fields", ov[t])
                break


def make(
    cls: type[_P],
    data: bytes,
    *,
    underlayer: Packet | None = None,
    parent: Packet | None = None,
    attrs: dict[str, Any] | None = None,
    internal: bool = True,
) -> _P:
    """``cls(data, _internal=1, _underlayer=underlayer, _parent=parent)``, built fast.

    Exceptions propagate as from Scapy's constructor.  With ``internal=False`` the packet is a
    top-level one (``time`` set, ``dissection_done`` called), like ``cls(data)``.
    """
    if isinstance(data, bytearray | memoryview):
        data = bytes(data)
    if _state["scapy"] or not data:  # no bytes: Scapy makes a default packet, not a dissection
        kw: dict[str, Any] = dict(attrs or {})
        if internal:
            kw["_internal"] = 1
        if underlayer is not None:
            kw["_underlayer"] = underlayer
        if parent is not None:
            kw["_parent"] = parent
        return cls(data, **kw)
    p = _layer(cls, data, underlayer, parent, attrs, not internal)
    if not internal:
        _osa(p, "time", time.time())
        _dissection_done(p)
    # typed as Scapy types its own constructor (Packet_metaclass.__call__ gives the class
    # asked for), although a dispatch hook may pick another class, as in Scapy
    return cast(_P, p)


def _dissection_done(top: Packet) -> None:
    """``top.dissection_done(top)``: each layer's ``post_dissection(top)``, down the chain,
    calling only what a class (or instance) defines."""
    layer = top
    while not isinstance(layer, NoPayload):
        cls = type(layer)
        inst = layer.__dict__
        if cls.dissection_done is not _P_DONE or (inst and "dissection_done" in inst):
            layer.dissection_done(top)  # its own way down the rest of the chain
            return
        if cls.post_dissection is not _P_POSTD or (inst and "post_dissection" in inst):
            layer.post_dissection(top)
        layer = layer.payload


def copy_layers(pkt: Packet, stop: Packet | None = None) -> Packet:
    """``pkt.copy()`` -- or, with ``stop``, a copy of the layers of ``pkt`` before ``stop``
    (``stop`` and what follows it left out, as by ``remove_payload()``) -- built without
    ``Packet.__init__``.

    Each layer gets exactly what :meth:`Packet.copy` gives it; a class with its own ``copy``
    or ``__init__`` (unless registered) is copied by Scapy, with everything after it.
    """
    if isinstance(pkt, NoPayload):
        return pkt.copy()  # the singleton itself
    first: Packet | None = None
    prev: Packet | None = None
    layer = pkt
    while not isinstance(layer, NoPayload) and layer is not stop:
        cls = type(layer)
        # Packet.copy makes its clone with ``cls()``, which goes through a dispatch hook: when
        # that gives another class (Dot11Encrypted), Scapy copies the layer
        plain = cls.copy is _P_COPY and (
            "dispatch_hook" not in cls.__dict__ or _dispatches_to_itself(cls)
        )
        plan = _plan(cls) if plain and not _state["scapy"] else None
        if plan is None:
            if stop is None:
                clone = layer.copy()
            else:  # Scapy copies whole chains: detach ``stop`` for the time of the copy
                clone = _copy_detached(layer, stop)
            done = True
        else:
            clone = _copy_one(layer, plan)
            done = False
            if stop is not None and layer.payload is stop:
                _osa(clone, "overloaded_fields", {})  # as after remove_payload()
        if prev is None:
            first = clone
        else:
            _osa(prev, "payload", clone)
            clone.add_underlayer(prev)
        prev = clone
        if done:
            break
        layer = layer.payload
    if first is None:
        raise ValueError("nothing to copy before the stop layer")
    return first


def _dispatches_to_itself(cls: type[Packet]) -> bool:
    """What ``cls()`` (no bytes) is built as is ``cls`` itself (Ether's hook: yes)."""
    try:
        return cls.dispatch_hook() is cls
    except Exception:  # noqa: BLE001 -- Scapy would build a Raw: let Scapy copy it
        return False


def _copy_one(p: Packet, plan: _Plan) -> Packet:
    """One layer of :meth:`Packet.copy` (its payload left empty): ``cls()``'s attributes,
    then what ``copy`` assigns."""
    ft = p.fieldtype
    plain = plan.plain_copy

    def cp(d: dict[str, Any]) -> dict[str, Any]:
        # Field.do_copy returns immutable values themselves
        return {
            k: v if k in plain and type(v) in _IMMUTABLE else ft[k].do_copy(v) for k, v in d.items()
        }

    rpcf = p.raw_packet_cache_fields
    return _fill(
        plan, p.time, b"", p.underlayer, p.parent, cp(p.default_fields),
        p.overloaded_fields.copy(), cp(p.fields), p.explicit, p.raw_packet_cache,
        None if rpcf is None else cp(rpcf), p.wirelen, p.direction, p.sniffed_on,
        p.comments, p.post_transforms[:],
    )  # fmt: skip


def _copy_detached(layer: Packet, stop: Packet) -> Packet:
    under = stop.underlayer
    assert under is not None
    saved = under.payload, under.overloaded_fields
    _osa(under, "payload", NoPayload())
    _osa(under, "overloaded_fields", {})
    try:
        return layer.copy()
    finally:
        _osa(under, "payload", saved[0])
        _osa(under, "overloaded_fields", saved[1])


_state = {"scapy": False}


@contextmanager
def scapy_only() -> Iterator[None]:
    """Within this block :func:`make` and :func:`dissect` call Scapy's own constructors
    (the reference the fast path is tested against)."""
    saved = _state["scapy"]
    _state["scapy"] = True
    try:
        yield
    finally:
        _state["scapy"] = saved


def dissect(data: bytes, cls: type[Packet] | None = None) -> Packet:
    """``cls(data)`` (default: Ethernet), the same packet objects, built fast."""
    if cls is None:
        from scapy.layers.l2 import Ether

        cls = Ether
    return make(cls, data, internal=False)


def plan_summary(cls: type[Packet]) -> str:
    """How ``cls`` is built: ``"scapy"`` or the step kinds (for tests and curiosity)."""
    plan = _plan(cls)
    if plan is None:
        return "scapy"
    kinds = {_STRUCT: "struct", _BITS: "bits", _FIELD: "field"}
    return " ".join(kinds[s[0]] for s in plan.steps)
