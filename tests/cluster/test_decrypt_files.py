"""``decrypt`` of several files (issue 21): one output, the same bytes as decrypting their
concatenation made by Wireshark's ``mergecap -a``; connections and SAs continue across files.

The parts are cut by ``editcap -c`` (Wireshark) and the reference is built by ``mergecap``, so
neither the cutting nor the gluing is ours.  Each test also shows the parts read one by one
lose decryptions, so it can fail: the state has to carry over the file boundaries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from netsec_layers.cli.main import main
from netsec_layers.io.cluster import FileInfo, order_files, plan_units, scan_file
from tests.cluster.conftest import PCAPS, editcap_split, mergecap

TLS = PCAPS / "tls" / "tls13-keyupdate.pcap"
TLS_KEYS = ["--keylog", str(TLS.with_suffix(".keys"))]
ESN = PCAPS / "xfrm" / "esp4_esn_wrap_gcm.pcap"
ESN_KEYS = ["--esp-sa", str(ESN.with_suffix(".xfrm_state"))]
IKE = PCAPS / "ike" / "strongswan_ikev2.pcap"
IKE_KEYS = ["--ike-keys", str(IKE.with_suffix(".ike.json"))]

pytestmark = pytest.mark.integration  # editcap, mergecap


def decrypt(capsys: pytest.CaptureFixture[str], out: Path, *args: str) -> tuple[bytes, str]:
    capsys.readouterr()
    assert main(["decrypt", *args, "-w", str(out), "--format", "pcap"]) in (0, 1)
    return out.read_bytes(), capsys.readouterr().err


def count(summary: str, what: str) -> int:
    m = re.search(rf"{what}(\d+)" if what.endswith(" ") else rf"(\d+) {what}", summary)
    assert m, summary
    return int(m.group(1))


def test_tls_connection_split_by_editcap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = editcap_split(TLS, tmp_path / "rot", 7)  # the handshake and the records apart
    ref, _ = decrypt(capsys, tmp_path / "ref.pcap", str(mergecap(parts, tmp_path / "m.pcap")),
                     *TLS_KEYS)  # fmt: skip
    got, err = decrypt(capsys, tmp_path / "a.pcap", *map(str, reversed(parts)), *TLS_KEYS)
    assert got == ref
    assert count(err, "application-data record") == 3
    assert decrypt(capsys, tmp_path / "b.pcap", str(tmp_path / "rot"), *TLS_KEYS)[0] == ref
    assert decrypt(capsys, tmp_path / "c.pcap", *map(str, parts), "-j", "2", *TLS_KEYS)[0] == ref
    alone = sum(
        count(decrypt(capsys, tmp_path / f"p{i}.pcap", str(p), *TLS_KEYS)[1],
              "application-data record")
        for i, p in enumerate(parts)
    )  # fmt: skip
    assert alone < 3


def test_esp_sa_split_across_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An ESN SA cut every 2 packets: the replay window and the ESN high bits carry over."""
    parts = editcap_split(ESN, tmp_path / "rot", 2)
    ref, ref_err = decrypt(capsys, tmp_path / "ref.pcap", str(mergecap(parts, tmp_path / "m.pcap")),
                           *ESN_KEYS)  # fmt: skip
    got, err = decrypt(capsys, tmp_path / "a.pcap", *map(str, parts), *ESN_KEYS)
    assert got == ref and count(err, "ESP: ") == count(ref_err, "ESP: ") > 0
    assert decrypt(capsys, tmp_path / "j.pcap", *map(str, parts), "-j", "2", *ESN_KEYS)[0] == ref


def test_esp_keys_from_ike_in_an_earlier_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """IKE_AUTH in the first file, its CHILD_SA's ESP in the next ones (--ike-keys)."""
    parts = editcap_split(IKE, tmp_path / "rot", 7)  # frame 7: IKE_AUTH response; 8: ESP
    ref, ref_err = decrypt(capsys, tmp_path / "ref.pcap", str(mergecap(parts, tmp_path / "m.pcap")),
                           *IKE_KEYS)  # fmt: skip
    got, err = decrypt(capsys, tmp_path / "a.pcap", *map(str, parts), *IKE_KEYS)
    assert got == ref
    assert count(err, "ESP: ") == 30 == count(ref_err, "ESP: ")
    second = decrypt(capsys, tmp_path / "p1.pcap", str(parts[1]), *IKE_KEYS)[1]
    assert count(second, "ESP: ") == 0  # its CHILD_SA came from the first file's IKE_AUTH
    # --jobs on these files: IKE keys keep every file in one unit (docs/columnar.md)
    got_j, err_j = decrypt(capsys, tmp_path / "j.pcap", *map(str, parts), "-j", "2", *IKE_KEYS)
    assert got_j == ref and "1 unit on 2 worker processes" in err_j


def test_host_pair_split_of_rotated_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], synth_tls: tuple[Path, Path]
) -> None:
    """Rotated files of one link share connections: one chain, split by host pair for --jobs;
    the output is the one-process output (and mergecap's) byte for byte."""
    cap, keys = synth_tls
    parts = editcap_split(cap, tmp_path / "rot", 70)
    k = ["--keylog", str(keys)]
    ref, _ = decrypt(capsys, tmp_path / "ref.pcap", str(mergecap(parts, tmp_path / "m.pcap")), *k)
    assert decrypt(capsys, tmp_path / "one.pcap", str(cap), *k)[0] == ref
    one, err = decrypt(capsys, tmp_path / "a.pcap", *map(str, parts), *k)
    assert one == ref and count(err, "application-data record") == 240
    got, err = decrypt(capsys, tmp_path / "j.pcap", *map(str, parts), "-j", "3", *k)
    assert got == ref and "3 units on 3 worker processes" in err


def test_plan_keeps_independent_captures_apart(synth_tls: tuple[Path, Path]) -> None:
    tls, esp, synth = scan_file(str(TLS)), scan_file(str(ESN)), scan_file(str(synth_tls[0]))
    infos = order_files([synth, esp, tls])
    assert [i.path for i in infos] == sorted(
        (str(TLS), str(ESN), str(synth_tls[0])),
        key=lambda p: next(i for i in (tls, esp, synth) if i.path == p).first_ts or 0,
    )
    units = plan_units(infos, 2)
    assert len(units) == 3 and all(u.parts == 1 and len(u.files) == 1 for u in units)
    # offsets continue the frame numbers in time order
    assert [u.files[0][2] for u in units] == [0, infos[0].last_number,
                                              infos[0].last_number + infos[1].last_number]  # fmt: skip
    # state no host pair captures (--rsa-key, --ike-keys): one unit of every file
    (only,) = plan_units(infos, 4, together=True)
    assert [f[1] for f in only.files] == [i.path for i in infos]
    # one file with many pairs is split in parts; a shared pair chains two files
    split = plan_units([synth], 4)
    assert [(u.part, u.parts) for u in split] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    a = FileInfo("a", 1, 5, 1, "pcap", frozenset({"x|y"}))
    b = FileInfo("b", 2, 5, 1, "pcap", frozenset({"y|z"}))
    c = FileInfo("c", 3, 5, 1, "pcap", frozenset({"x|y", "q|r"}))
    assert [[f[1] for f in u.files] for u in plan_units([a, b, c], 1)] == [["a", "c"], ["b"]]
    assert len(plan_units([a, FileInfo("n", 4, 1, 1, "pcap", None), b], 1)) == 1


def test_stdin_among_files_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["decrypt", "-", str(TLS), "-w", str(tmp_path / "o.pcap")]) == 2
    assert "standard input" in capsys.readouterr().err
    assert not (tmp_path / "o.pcap").exists()


def test_cluster_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = str(tmp_path / "o.pcap")
    assert main(["decrypt", str(TLS), "-w", out, "--cluster", "tcp://127.0.0.1:9",
                 "--dask-workers", "2"]) == 2  # fmt: skip
    assert "--dask-workers sizes the embedded cluster" in capsys.readouterr().err
    # without the cluster extra: one line naming it
    import importlib

    real = importlib.import_module

    def no_distributed(name: str, *a: object) -> object:
        if name == "distributed":
            raise ImportError(name)
        return real(name, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib, "import_module", no_distributed)
    assert main(["decrypt", str(TLS), "-w", out, "--cluster", "local"]) == 2
    assert capsys.readouterr().err == (
        "netsec: --cluster needs Dask distributed: pip install '.[cluster]'\n"
    )
    assert main(["dissect", str(TLS), "--format", "json", "--cluster", "local"]) == 2
    assert "dataset" in capsys.readouterr().err
    assert not (tmp_path / "o.pcap").exists()


def test_merge_writes_each_file_once_its_units_are_done() -> None:
    """Outputs are merged file by file as units finish (the client does not wait for all)."""
    from netsec_layers.io.cluster import DecryptResult, Unit, merge_decrypt
    from netsec_layers.session.engine import EngineStats
    from netsec_layers.session.plaintext import RewriteStats

    def result(outputs: dict[int, list[tuple[int, int, int, int, bytes]]]) -> DecryptResult:
        return DecryptResult(outputs, [], EngineStats(), RewriteStats(), {})

    # chain A = files 0 and 2, split in two parts; chain B = file 1
    units = [Unit(((0, "a0", 0), (2, "a2", 20)), 0, 2), Unit(((0, "a0", 0), (2, "a2", 20)), 1, 2),
             Unit(((1, "b1", 10),))]  # fmt: skip
    res = {
        0: result({0: [(1, 0, 1, 1, b"a"), (3, 0, 3, 1, b"c")], 2: [(21, 0, 21, 1, b"x")]}),
        1: result({0: [(2, 0, 2, 1, b"b"), (2, 1, 2, 1, b"b2")], 2: [(22, 0, 22, 1, b"y")]}),
        2: result({1: [(11, 0, 11, 1, b"m")]}),
    }
    asked: list[int] = []

    def completed() -> Iterator[tuple[int, DecryptResult]]:
        for u in (1, 0, 2):  # completion order
            asked.append(u)
            yield u, res[u]

    collected: list[DecryptResult] = []
    merged = merge_decrypt(units, completed(), collected)
    first = [next(merged).data for _ in range(4)]
    assert first == [b"a", b"b", b"b2", b"c"] and asked == [1, 0]  # file 0 before unit 2 ends
    assert [o.data for o in merged] == [b"m", b"x", b"y"] and len(collected) == 3
