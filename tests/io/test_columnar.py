"""``netsec dissect --format parquet|arrow``: every row equals its ``--json`` object.

The files are read back by pyarrow's own Parquet and Arrow IPC readers (not by our code) and by
DuckDB (an independent Parquet reader, C++ of its own): each row, turned back into JSON by the
rules docs/columnar.md states (column = key, IKE ``fragments`` in ``ike_fragments``, hex keys as
binary, absent keys per ``json_keys``), must equal the object ``--json`` printed for it, field
by field and type by type.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsec_layers.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
PCAPS = ROOT / "pcaps"
HEX = {"app_data", "cid", "iv", "icv", "inner", "spi_i", "spi_r", "payload", "sha256"}
_KEY_FILES = (
    (".keys", "--keylog"),
    (".esp_sa", "--esp-sa"),
    (".xfrm_state", "--esp-sa"),
    (".ikev2_decryption_table", "--ike-keys"),
    (".ikev1_decryption_table", "--ike-keys"),
)


def key_args(pcap: Path) -> list[str]:
    """The key files shipped next to a sample (pcaps/README.md), as dissect options."""
    out: list[str] = []
    for ext, opt in _KEY_FILES:
        f = pcap.with_suffix(ext)
        if f.exists():
            out += ["--ssh-keylog" if pcap.parent.name == "ssh" and ext == ".keys" else opt, str(f)]
    return out


SAMPLES = sorted(p for p in PCAPS.glob("*/*.pcap*") if p.suffix in (".pcap", ".pcapng"))
# a browser's real ECH connections (Zeek's trace): the ech struct column
SAMPLES.append(ROOT / "tests" / "ech" / "vectors" / "zeek-tls13-ech.pcap")


def dissect_json(pcap: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["dissect", "--json", "-q", str(pcap), *key_args(pcap)]) in (0, 3)
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def row_to_json(row: dict[str, Any]) -> dict[str, Any]:
    """docs/columnar.md's rules, written here independently of netsec_layers.io.columnar."""
    extra = json.loads(row["extra"]) if row["extra"] is not None else {}
    out: dict[str, Any] = {}
    for key in row["json_keys"].split(","):
        if key in extra:
            out[key] = extra[key]
            continue
        column = "ike_fragments" if (key, row["proto"]) == ("fragments", "ike") else key
        value = row[column]
        if key in HEX and value is not None:
            assert isinstance(value, bytes), (key, value)
            value = value.hex()
        out[key] = value
    return out


def same(a: Any, b: Any) -> bool:
    """Equal and of the same JSON type all the way down (True is not 1 here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("pcap", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_rows_equal_json(pcap: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = dissect_json(pcap, capsys)
    out = tmp_path / "out.parquet"
    assert main(
        ["dissect", "-q", str(pcap), *key_args(pcap), "--format", "parquet", "-w", str(out)]
    ) in (0, 3)
    table = pq.read_table(out)
    rows = table.to_pylist()
    assert len(rows) == len(expected)
    for i, (row, obj) in enumerate(zip(rows, expected, strict=True)):
        assert same(row_to_json(row), obj), (i, row_to_json(row), obj)
        assert row["extra"] is None, f"row {i}: key not in the schema: {row['extra']}"
    # typed columns, not text
    assert table.schema.field("frame").type == pa.int64()
    assert table.schema.field("decrypted").type == pa.bool_()
    assert table.schema.field("handshake_types").type == pa.list_(pa.int64())
    if expected:
        # DuckDB reads the same file: row count, per-protocol counts, lengths and decrypted rows
        con = duckdb.connect()
        got = con.execute(
            "SELECT proto, count(*), sum(coalesce(length, 0)), count(*) FILTER (WHERE decrypted),"
            ' sum(coalesce(octet_length(app_data), 0) + coalesce(octet_length("inner"), 0))'
            " FROM read_parquet(?) GROUP BY proto ORDER BY proto",
            [str(out)],
        ).fetchall()
        want: dict[str, list[int]] = {}
        for o in expected:
            w = want.setdefault(o["proto"], [0, 0, 0, 0])
            w[0] += 1
            w[1] += o.get("length", 0) if isinstance(o.get("length"), int) else 0
            w[2] += o.get("decrypted") is True
            w[3] += sum(len(o.get(k) or "") // 2 for k in ("app_data", "inner"))
        assert [(p, *v) for p, v in sorted(want.items())] == [tuple(r) for r in got]


def test_arrow_ipc_and_extra(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The Arrow IPC file holds the same rows; a key the schema does not know is kept in
    ``extra`` and a value of the wrong type too, so the row still equals its JSON."""
    pcap = PCAPS / "tls" / "tls13-keyupdate.pcap"
    expected = dissect_json(pcap, capsys)
    out = tmp_path / "out.arrow"
    assert (
        main(["dissect", "-q", str(pcap), *key_args(pcap), "--format", "arrow", "-w", str(out)])
        == 0
    )
    with pa.ipc.open_file(out) as reader:
        rows = reader.read_all().to_pylist()
    assert [row_to_json(r) for r in rows] == expected

    from netsec_layers.io.columnar import batches_from_units

    odd = [
        ({"proto": "new", "frame": 1, "brand_new": {"a": [1]}, "length": "12"}, None),
        ({"proto": "tls", "frame": 2, "decrypted": 1, "app_data": "zz", "seq": 2**70}, 5),
        ({"proto": "ike", "frame": 3, "fragments": 2}, None),
        ({"proto": "dtls", "frame": 4, "fragments": [[1, 2, 3, 4, 5]]}, None),
    ]
    batches = list(batches_from_units(odd, batch_size=3))
    assert [b.num_rows for b in batches] == [3, 1]
    rows = pa.Table.from_batches(batches).to_pylist()
    for row, (obj, _) in zip(rows, odd, strict=True):
        assert same(row_to_json(row), obj), (row, obj)
    assert rows[1]["decrypted"] is None and rows[1]["seq"] is None  # moved to extra
    assert rows[2]["ike_fragments"] == 2 and rows[2]["fragments"] is None
    assert rows[3]["fragments"] == [[1, 2, 3, 4, 5]]


def test_to_pandas_and_import_stays_light() -> None:
    import netsec_layers

    df = netsec_layers.to_pandas(
        PCAPS / "esp" / "esp-transport-gcm.pcap",
        esp_sa=str(PCAPS / "esp" / "esp-transport-gcm.esp_sa"),
    )
    assert len(df) > 0 and set(df["proto"]) == {"esp"}
    assert df["decrypted"].all()
    assert str(df["seq"].dtype) == "int64[pyarrow]"
    code = "import sys, netsec_layers; print(sorted(m for m in ('scapy', 'pyarrow', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pcap = str(PCAPS / "esp" / "esp-transport-gcm.pcap")
    assert main(["dissect", pcap, "--format", "parquet"]) == 2
    assert "-w OUT" in capsys.readouterr().err
    assert main(["dissect", pcap, "-w", str(tmp_path / "x.txt")]) == 2
    assert main(["dissect", pcap, "-q", "-w", str(tmp_path / "x.parquet")]) == 0
    assert pq.read_table(tmp_path / "x.parquet").num_rows > 0


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
_KEYS = st.sampled_from(
    ["frame", "seq", "spi", "decrypted", "app_data", "inner", "fragments", "alert", "warnings",
     "handshake_types", "rcpt_to", "error", "extra", "json_keys", "frame_time", "new_key"]
)  # fmt: skip
_HEXISH = st.binary(max_size=6).map(bytes.hex)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["tls", "dtls", "esp", "ike", "ssh", "smtp", "other"]),
            st.dictionaries(_KEYS, _JSON | _HEXISH, max_size=8),
            st.none() | st.integers(0, 2**62),
        ),
        max_size=12,
    ),
    st.integers(1, 5),
)
def test_any_objects_round_trip(
    objs: list[tuple[str, dict[str, Any], int | None]], size: int
) -> None:
    """Whatever the keys, values and types: each row, read back, is exactly its object (typed
    columns where the value fits, ``extra`` where not), and ``frame_time`` is the unit's time."""
    units = [({"proto": p, **d}, ts) for p, d, ts in objs]
    from netsec_layers.io.columnar import batches_from_units

    batches = list(batches_from_units(units, batch_size=size))
    rows = pa.Table.from_batches(batches).to_pylist() if batches else []
    assert len(rows) == len(units)
    for row, (obj, ts) in zip(rows, units, strict=True):
        assert same(row_to_json(row), obj), (row, obj)
        got_ts = row["frame_time"]
        assert (got_ts is None) if ts is None else got_ts.value == ts
