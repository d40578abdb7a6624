"""Columnar output: the ``netsec dissect --json`` objects as Arrow record batches.

One table for every protocol (a union of columns; docs/columnar.md): each JSON key is a column
of one Arrow type, so ``proto == "esp"`` rows have ``spi``/``seq``/``icv`` and null TLS columns.
Values keep their JSON types (ints as ``int64``, booleans as ``bool``, lists as Arrow lists,
``null`` as null); the fields the JSON contract gives as hex are stored as ``binary`` (the
bytes themselves).  Two columns are not JSON keys: ``frame_time`` (the capture time of the frame
that completed the unit) and ``json_keys`` (the unit's JSON keys, in order, comma-separated), so
that a key that was absent and one that was ``null`` stay apart and every row can be turned
back into exactly its JSON object.  A key the schema does not know yet (trackers only ever add
keys) or a value of an unexpected type goes to ``extra``: a JSON object text, null when empty.

Batches are built and written one at a time (``batch_size`` rows), so writing a capture of any
size holds one batch in memory.  pyarrow is imported when a function here runs, never when
``netsec_layers`` is imported: ``pip install 'netsec-layers[columnar]'``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netsec_layers.errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

    from netsec_layers.session.engine import CaptureEngine, FrameResult

__all__ = [
    "COLUMNS",
    "FORMATS",
    "HEX_KEYS",
    "batches_from_units",
    "column_of",
    "iter_units",
    "json_from_row",
    "schema",
    "table_from_capture",
    "write_columnar",
]

FORMATS = ("parquet", "arrow")
BATCH_ROWS = 16384

# (column, Arrow type name): the JSON keys of every tracker's contract (README, docs/<proto>.md).
# Types are spelled as text so that this table is readable without pyarrow.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("proto", "string"),
    ("frame", "int64"),
    ("stream", "int64"),
    ("dir", "string"),
    # TLS / DTLS records
    ("content_type", "int64"),
    ("version", "int64"),
    ("epoch", "int64"),
    ("seq", "int64"),
    ("length", "int64"),
    ("decrypted", "bool"),
    ("inner_content_type", "int64"),
    ("handshake_types", "list<int64>"),
    ("alert", "list<int64>"),
    ("app_data", "binary"),
    ("error", "string"),
    ("warnings", "list<struct<code,text>>"),
    ("ja3", "string"),
    ("ja3_string", "string"),
    ("ja3s", "string"),
    ("ja3s_string", "string"),
    ("ja4", "string"),
    ("ech", "struct<ech>"),  # RFC 9849 (docs/cli-contract.md): ClientHello/ServerHello records
    ("cid", "binary"),
    ("fragments", "list<list<int64>>"),
    ("retransmission", "bool"),
    # ESP / AH
    ("spi", "int64"),
    ("iv", "binary"),
    ("pad_length", "int64"),
    ("next_header", "int64"),
    ("icv", "binary"),
    ("inner", "binary"),
    # IKE
    ("spi_i", "binary"),
    ("spi_r", "binary"),
    ("exchange_type", "int64"),
    ("message_id", "int64"),
    ("flags", "int64"),
    ("payloads", "list<int64>"),
    ("inner_payloads", "list<int64>"),
    ("src", "string"),
    ("dst", "string"),
    ("ike_fragments", "int64"),  # IKE's "fragments" (a count; DTLS's is a list)
    ("authenticated", "bool"),
    ("auth_method", "int64"),
    ("auth_verdict", "string"),
    # SSH
    ("banner", "string"),
    ("msg_type", "int64"),
    ("payload", "binary"),
    # SMTP / POP3 / IMAP
    ("event", "string"),
    ("command", "string"),
    ("sha256", "binary"),
    ("mail_from", "string"),
    ("rcpt_to", "list<string>"),
    ("note", "string"),
)
# JSON keys whose values are hex text in the JSON contract and bytes here.
HEX_KEYS = frozenset(
    {"app_data", "cid", "iv", "icv", "inner", "spi_i", "spi_r", "payload", "sha256"}
)
# Columns that are not JSON keys; a JSON key of one of these names goes to ``extra``.
_NOT_KEYS = frozenset({"ike_fragments", "frame_time", "json_keys", "extra"})
_KNOWN = frozenset(name for name, _ in COLUMNS) - _NOT_KEYS
_SPECS = dict(COLUMNS)


def column_of(proto: str, key: str) -> str | None:
    """The column that holds JSON key ``key`` of a ``proto`` unit (None: it goes to ``extra``)."""
    if key == "fragments" and proto == "ike":
        return "ike_fragments"
    return key if key in _KNOWN else None


def _pa() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise UsageError(
            "columnar output needs pyarrow: pip install 'netsec-layers[columnar]'"
        ) from None
    return pyarrow


def _arrow_type(pa: Any, spec: str) -> Any:
    simple = {"string": pa.string(), "int64": pa.int64(), "bool": pa.bool_(), "binary": pa.binary()}
    if spec in simple:
        return simple[spec]
    if spec == "list<struct<code,text>>":
        return pa.list_(pa.struct([("code", pa.string()), ("text", pa.string())]))
    if spec == "struct<ech>":  # the keys of session.tls_ech.ECHInfo.to_json, in its order
        suite = pa.struct([("kdf_id", pa.int64()), ("aead_id", pa.int64())])
        return pa.struct(
            [("type", pa.string()), ("config_id", pa.int64()), ("cipher_suite", suite),
             ("enc", pa.string()), ("payload_length", pa.int64()), ("decrypted", pa.bool_()),
             ("status", pa.string()), ("error", pa.string()), ("inner_sni", pa.string()),
             ("inner_random", pa.string()), ("accepted", pa.bool_()), ("used", pa.string())]
        )  # fmt: skip
    assert spec.startswith("list<") and spec.endswith(">"), spec
    return pa.list_(_arrow_type(pa, spec[5:-1]))


def schema() -> pa.Schema:
    """The Arrow schema of every file and table this module writes."""
    pa = _pa()
    fields = [pa.field(name, _arrow_type(pa, spec)) for name, spec in COLUMNS]
    fields.insert(2, pa.field("frame_time", pa.timestamp("ns", tz="UTC")))
    fields += [pa.field("extra", pa.string()), pa.field("json_keys", pa.string())]
    return pa.schema(fields)


@dataclass(slots=True)
class _Shape:
    """What one (proto, key tuple) means for the columns; cached, as shapes are few."""

    json_keys: str
    unknown: tuple[str, ...]  # keys that go to ``extra``
    columns: frozenset[str]  # the columns its keys go to


def iter_units(
    results: Iterable[FrameResult], engine: CaptureEngine
) -> Iterator[tuple[dict[str, Any], int | None]]:
    """``(JSON object, frame time in ns)`` of every unit, in the order ``dissect --json``
    prints them (the units still buffered at the end come last, with no time)."""
    for res in results:
        ts = res.frame.ts_ns
        for u in res.units:
            obj = u.to_json()
            if obj is not None:
                yield obj, ts
    for u in engine.flush():
        obj = u.to_json()
        if obj is not None:
            yield obj, None


def batches_from_units(
    units: Iterable[tuple[dict[str, Any], int | None]], *, batch_size: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Arrow record batches of at most ``batch_size`` rows, in unit order."""
    pa = _pa()
    sch = schema()
    shapes: dict[tuple[Any, ...], _Shape] = {}
    rows: list[dict[str, Any]] = []
    times: list[int | None] = []
    for obj, ts in units:
        rows.append(obj)
        times.append(ts)
        if len(rows) >= batch_size:
            yield _batch(pa, sch, rows, times, shapes)
            rows, times = [], []
    if rows:
        yield _batch(pa, sch, rows, times, shapes)


def _shape(shapes: dict[tuple[Any, ...], _Shape], obj: dict[str, Any]) -> _Shape:
    proto = obj.get("proto")
    key = (proto, *obj)
    found = shapes.get(key)
    if found is None:
        p = proto if isinstance(proto, str) else ""
        unknown = tuple(k for k in obj if column_of(p, k) is None)
        columns = frozenset(c for c in (column_of(p, k) for k in obj) if c is not None)
        found = shapes[key] = _Shape(",".join(obj), unknown, columns)
    return found


def _batch(
    pa: Any,
    sch: Any,
    rows: list[dict[str, Any]],
    times: list[int | None],
    shapes: dict[tuple[Any, ...], _Shape],
) -> Any:
    row_shapes = [_shape(shapes, o) for o in rows]
    extra: list[dict[str, Any] | None] = [
        {k: o[k] for k in s.unknown} if s.unknown else None
        for o, s in zip(rows, row_shapes, strict=True)
    ]
    present = frozenset[str]().union(*{s.columns for s in row_shapes})
    arrays: list[Any] = []
    for field in sch:
        name = field.name
        if name == "frame_time":
            arrays.append(pa.array(times, type=field.type))
            continue
        if name in ("extra", "json_keys"):
            continue
        if name not in present:  # no row of the batch has this key: no Python loop
            arrays.append(pa.nulls(len(rows), type=field.type))
            continue
        if name == "fragments":
            values = [o.get("fragments") if o.get("proto") != "ike" else None for o in rows]
        elif name == "ike_fragments":
            values = [o.get("fragments") if o.get("proto") == "ike" else None for o in rows]
        else:
            values = [o.get(name) for o in rows]
        arrays.append(_column(pa, field.type, name, values, rows, extra))
    arrays.append(
        pa.array(
            [None if e is None else json.dumps(e, separators=(", ", ": ")) for e in extra],
            type=pa.string(),
        )
    )
    arrays.append(pa.array([s.json_keys for s in row_shapes], type=pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=sch)


_SCALAR = {"int64": int, "bool": bool, "string": str}
_HEX_DIGITS = re.compile(r"[0-9a-f]*")


def _hex_text(v: Any) -> bool:
    """What ``bytes.hex()`` writes, nothing else (``bytes.fromhex`` also takes spaces and
    upper case, which would not round-trip)."""
    return type(v) is str and not len(v) & 1 and _HEX_DIGITS.fullmatch(v) is not None


def _column(
    pa: Any,
    typ: Any,
    name: str,
    values: list[Any],
    rows: list[dict[str, Any]],
    extra: list[dict[str, Any] | None],
) -> Any:
    key = "fragments" if name == "ike_fragments" else name
    if name in HEX_KEYS:
        try:
            raw = [bytes.fromhex(v) if v is not None else None for v in values]
        except (TypeError, ValueError):
            return _column_slow(pa, typ, key, values, rows, extra, hexed=True)
        # fromhex also takes spaces and upper case, which would not come back the same
        if not all(b is None or b.hex() == v for b, v in zip(raw, values, strict=True)):
            return _column_slow(pa, typ, key, values, rows, extra, hexed=True)
        values = raw
    else:
        # pyarrow is lenient where JSON types are not ("" into a list, 1.0 into an int):
        # only exact types take the fast path; exact type(), as bool is an int subclass
        want = _SCALAR.get(_SPECS[name])
        if want is not None:
            if not all(v is None or type(v) is want for v in values):
                return _column_slow(pa, typ, key, values, rows, extra, hexed=False)
        elif not all(_fits(v, typ) for v in values):
            return _column_slow(pa, typ, key, values, rows, extra, hexed=False)
    try:
        return pa.array(values, type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        return _column_slow(pa, typ, key, values, rows, extra, hexed=False)


def _column_slow(
    pa: Any,
    typ: Any,
    key: str,
    values: list[Any],
    rows: list[dict[str, Any]],
    extra: list[dict[str, Any] | None],
    *,
    hexed: bool,
) -> Any:
    """Value by value: whatever does not fit the column's type moves to the row's ``extra``."""
    out: list[Any] = []
    for i, v in enumerate(values):
        if v is not None:
            try:
                if hexed:
                    v = bytes.fromhex(v) if _hex_text(v) else _Misfit
                if v is _Misfit or not _fits(v, typ):
                    raise ValueError
                pa.array([v], type=typ)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
                row_extra = extra[i]
                if row_extra is None:
                    row_extra = extra[i] = {}
                row_extra[key] = rows[i][key]
                v = None
        out.append(v)
    return pa.array(out, type=typ)


class _Misfit:
    pass


def _fits(value: Any, typ: Any) -> bool:
    """Strict JSON-type check (pyarrow would take ``b"x"`` for a string, ``"x"`` for binary)."""
    import pyarrow.types as t

    if value is None:
        return True
    if t.is_boolean(typ):
        return isinstance(value, bool)
    if t.is_integer(typ):
        return isinstance(value, int) and not isinstance(value, bool)
    if t.is_string(typ):
        return isinstance(value, str)
    if t.is_binary(typ):
        return isinstance(value, bytes)
    if t.is_list(typ):
        return isinstance(value, list) and all(_fits(x, typ.value_type) for x in value)
    if t.is_struct(typ):
        names = [typ.field(i).name for i in range(typ.num_fields)]
        return (
            isinstance(value, dict)
            and list(value) == names
            and all(_fits(value[n], typ.field(i).type) for i, n in enumerate(names))
        )
    return False


def json_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """The ``dissect --json`` object of one row (as ``pyarrow.Table.to_pylist()`` gives it)."""
    extra = json.loads(row["extra"]) if row.get("extra") else {}
    proto = row.get("proto") or ""
    out: dict[str, Any] = {}
    for key in row["json_keys"].split(",") if row["json_keys"] else []:
        if key in extra:
            out[key] = extra[key]
            continue
        value = row[column_of(proto, key) or key]
        if key in HEX_KEYS and value is not None:
            value = value.hex()
        out[key] = value
    return out


def write_columnar(
    path: str,
    fmt: str,
    units: Iterable[tuple[dict[str, Any], int | None]],
    *,
    batch_size: int = BATCH_ROWS,
) -> int:
    """Write ``units`` to ``path`` as one Parquet or Arrow IPC file (atomically, mode 0600: it
    holds decrypted data); return the number of rows."""
    from netsec_layers.io.atomic import atomic_output

    if fmt not in FORMATS:
        raise UsageError(f"unknown columnar format {fmt!r} (one of {', '.join(FORMATS)})")
    pa = _pa()
    sch = schema()
    rows = 0
    with atomic_output(path, secret=True) as fh:
        # pyarrow writes to the file object and leaves closing it to atomic_output
        if fmt == "parquet":
            import pyarrow.parquet as pq

            writer: Any = pq.ParquetWriter(fh, sch, compression="zstd")
        else:
            writer = pa.ipc.new_file(fh, sch)
        with writer:
            for batch in batches_from_units(units, batch_size=batch_size):
                writer.write_batch(batch)
                rows += batch.num_rows
    return rows


def table_from_capture(
    source: Any, engine: CaptureEngine, *, batch_size: int = BATCH_ROWS
) -> pa.Table:
    """Every unit of a capture file as one Arrow table (``netsec_layers.to_arrow``)."""
    from netsec_layers.io.capture import iter_capture

    pa = _pa()
    units = iter_units(iter_capture(source, engine), engine)
    batches = list(batches_from_units(units, batch_size=batch_size))
    return pa.Table.from_batches(batches, schema=schema())
