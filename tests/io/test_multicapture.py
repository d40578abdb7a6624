"""Several captures (or a directory) read as one, in time order (issue 21, first slice).

A capture cut into rotated files must give what the whole capture gives: the same ``--json``
lines (frame numbers continued), the same Parquet rows, the same report.  Cutting is done two
ways: here frame by frame (pure Python, exact cut points), and by Wireshark's ``editcap -c``
(integration).  Each file read on its own decrypts fewer records, so the tests can fail: the
TLS keys, TCP reassembly and ESP state must carry over the file boundaries."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from netsec_layers.cli.main import main
from netsec_layers.io.multicapture import capture_files

ROOT = Path(__file__).resolve().parents[2]
TLS = ROOT / "pcaps" / "tls" / "tls13-keyupdate.pcap"
TLS_KEYS = ["--keylog", str(TLS.with_suffix(".keys"))]
ESN = ROOT / "pcaps" / "xfrm" / "esp4_esn_wrap_gcm.pcap"
ESN_KEYS = ["--esp-sa", str(ESN.with_suffix(".xfrm_state"))]


def split(pcap: Path, out: Path, every: int) -> list[Path]:
    """Cut a (little-endian, classic) pcap into files of ``every`` frames, like ``editcap -c``."""
    data = pcap.read_bytes()
    assert data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    frames, off = [], 24
    while off < len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        frames.append(data[off : off + 16 + incl])
        off += 16 + incl
    out.mkdir()
    paths = []
    for i in range(0, len(frames), every):
        p = out / f"part{i // every:03d}.pcap"
        p.write_bytes(data[:24] + b"".join(frames[i : i + every]))
        paths.append(p)
    return paths


def dissect(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["dissect", "--json", "-q", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_rotated_tls_continues(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    whole = dissect(capsys, str(TLS), *TLS_KEYS)
    parts = split(TLS, tmp_path / "parts", 5)
    assert len(parts) >= 5
    # given in any order (here reversed) or as a directory: the whole capture's lines
    assert dissect(capsys, *map(str, reversed(parts)), *TLS_KEYS) == whole
    assert dissect(capsys, str(tmp_path / "parts"), *TLS_KEYS) == whole
    assert [o["frame"] for o in whole] == sorted(o["frame"] for o in whole)
    # each part on its own loses the records whose connection began in an earlier part
    alone = [o for p in parts for o in dissect(capsys, str(p), *TLS_KEYS)]
    assert sum(o["decrypted"] for o in alone) < sum(o["decrypted"] for o in whole) == 14


def test_rotated_parquet_and_report(tmp_path: Path) -> None:
    parts = split(ESN, tmp_path / "parts", 1)  # one frame per file, across the ESN wrap
    assert capture_files([str(p) for p in reversed(parts)]) == [str(p) for p in parts]
    a, b = tmp_path / "whole.parquet", tmp_path / "parts.parquet"
    assert main(["dissect", "-q", str(ESN), *ESN_KEYS, "--format", "parquet", "-w", str(a)]) == 0
    assert main(["dissect", "-q", str(tmp_path / "parts"), *ESN_KEYS, "-w", str(b)]) == 0
    assert pq.read_table(a).equals(pq.read_table(b))
    html = tmp_path / "r.html"
    assert main(["report", "-q", *map(str, parts), *ESN_KEYS, "-o", str(html)]) == 0
    text = html.read_text()
    assert text.count('class="sa"') == 1 and text.count('<line class="wrap"') == 1
    assert text.count('data-mark="ok"') == 5


def test_no_captures_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["dissect", "-q", str(tmp_path / "empty")]) == 2
    assert "no capture files" in capsys.readouterr().err


@pytest.mark.integration
def test_editcap_rotation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Files cut by Wireshark's editcap (installed with tshark) read back as the whole."""
    exe = shutil.which("editcap")
    assert exe, "editcap is needed (Debian wireshark-common, installed with tshark)"
    (tmp_path / "rot").mkdir()
    subprocess.run([exe, "-c", "7", str(TLS), str(tmp_path / "rot" / "r.pcap")], check=True)
    assert len(list((tmp_path / "rot").iterdir())) >= 3
    whole = dissect(capsys, str(TLS), *TLS_KEYS)
    assert dissect(capsys, str(tmp_path / "rot"), *TLS_KEYS) == whole


def test_to_arrow_of_rotated_files(tmp_path: Path) -> None:
    import netsec_layers

    parts = split(TLS, tmp_path / "parts", 4)
    keys = str(TLS.with_suffix(".keys"))
    whole = netsec_layers.to_arrow(TLS, keylog=keys)
    assert netsec_layers.to_arrow(list(reversed(parts)), keylog=keys).equals(whole)
    assert netsec_layers.to_arrow(tmp_path / "parts", keylog=keys).equals(whole)
