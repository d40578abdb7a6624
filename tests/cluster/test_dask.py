"""Dask runs (issue 21): ``decrypt -w`` gives the same bytes in one process, with ``--jobs``
and on a Dask cluster (an embedded LocalCluster, and a separate ``dask scheduler`` with two
``dask worker`` processes started here); ``dissect --cluster`` writes a Parquet dataset
partitioned by input file whose rows are the one-process rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from netsec_layers.cli.main import main
from tests.cluster.conftest import editcap_split, mergecap

pytest.importorskip("distributed")
pytestmark = pytest.mark.integration  # editcap, mergecap, dask processes


def decrypt(capsys: pytest.CaptureFixture[str], out: Path, *args: str) -> tuple[bytes, str]:
    capsys.readouterr()
    assert main(["decrypt", *args, "-w", str(out), "--format", "pcap"]) == 0
    return out.read_bytes(), capsys.readouterr().err


def test_local_cluster_and_scheduler_same_bytes(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    synth_tls: tuple[Path, Path],
    dask_scheduler: str,
) -> None:
    cap, keys = synth_tls
    k = ["--keylog", str(keys)]
    parts = editcap_split(cap, tmp_path / "rot", 70)
    one, _ = decrypt(capsys, tmp_path / "one.pcap", str(cap), *k, "-j", "1")
    assert decrypt(capsys, tmp_path / "m.pcap", str(mergecap(parts, tmp_path / "m_in.pcap")),
                   *k)[0] == one  # fmt: skip
    assert decrypt(capsys, tmp_path / "jobs.pcap", str(cap), *k, "-j", "2")[0] == one
    local, err = decrypt(capsys, tmp_path / "local.pcap", *map(str, parts), *k,
                         "--dask-workers", "2")  # fmt: skip
    assert local == one and "2 units on 2 Dask workers" in err
    remote, err = decrypt(capsys, tmp_path / "remote.pcap", *map(str, parts), *k,
                          "--cluster", dask_scheduler)  # fmt: skip
    assert remote == one and "2 units on 2 Dask workers" in err
    # one file on the cluster: split by host pair as well
    assert (
        decrypt(capsys, tmp_path / "r1.pcap", str(cap), *k, "--cluster", dask_scheduler)[0] == one
    )
    assert b"\x17\x03\x03" in cap.read_bytes() and len(one) > 0


def test_dissect_dataset_partitioned_by_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    synth_tls: tuple[Path, Path],
    dask_scheduler: str,
) -> None:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    cap, keys = synth_tls
    k = ["--keylog", str(keys)]
    parts = editcap_split(cap, tmp_path / "rot", 70)
    whole = tmp_path / "whole.parquet"
    assert main(["dissect", "-q", str(cap), *k, "--format", "parquet", "-w", str(whole)]) == 0
    out = tmp_path / "ds"
    argv = ["dissect", "-q", *map(str, parts), *k, "--format", "parquet", "-w", str(out)]
    assert main([*argv, "--cluster", dask_scheduler]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"file={p.name}" for p in parts]
    assert all(sorted(f.name for f in (out / n).iterdir()) == ["part-0.parquet",
               "part-1.parquet"] for n in names)  # fmt: skip
    dataset = ds.dataset(str(out), format="parquet", partitioning="hive")
    table = dataset.to_table()
    assert sorted(set(table.column("file").to_pylist())) == [p.name for p in parts]
    ref = pq.read_table(whole)
    # one process order: by frame (each frame's rows come from one part file, in order)
    got = table.drop_columns(["file"]).to_pylist()
    got.sort(key=lambda r: r["frame"])
    want = ref.to_pylist()
    assert (
        len(got) == len(want) and sum(r["decrypted"] for r in got) == 240 + 12
    )  # app data + Finished
    # stream numbers are the units' own, made unique (stream x units + unit): a bijection
    pairs = {(g.pop("stream"), w.pop("stream")) for g, w in zip(got, want, strict=True)}
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}) == 6
    assert got == want
    # each partition holds exactly the frames of its file
    first = 1
    for p in parts:
        rows = table.filter(ds.field("file") == p.name).column("frame").to_pylist()
        frames = sum(1 for _ in _frames(p))
        assert all(first <= f < first + frames for f in rows)
        first += frames
    # the same command again replaces the dataset, deterministically
    assert main([*argv, "--cluster", dask_scheduler]) == 0
    again = ds.dataset(str(out), format="parquet", partitioning="hive").to_table()
    assert again.equals(table)
    # forked processes (--jobs 2, no Dask) write the same dataset
    argv[argv.index(str(out))] = str(tmp_path / "ds_jobs")
    assert main([*argv, "--jobs", "2"]) == 0
    forked = ds.dataset(str(tmp_path / "ds_jobs"), format="parquet", partitioning="hive")
    assert forked.to_table().equals(table)


def _frames(path: Path) -> list[int]:
    from netsec_layers.io.pcap import open_capture

    with open_capture(str(path)) as r:
        return [f.number for f in r]


def test_failed_unit_leaves_no_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dask_scheduler: str
) -> None:
    """A file that is not a capture fails on a worker: status 2, one message, no dataset and
    no temporary directory left; decrypt leaves no output either."""
    from tests.cluster.conftest import PCAPS

    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture at all" * 10)
    good = PCAPS / "tls" / "tls13-keyupdate.pcap"
    out = tmp_path / "ds"
    argv = ["dissect", "-q", str(good), str(junk), "--format", "parquet", "-w", str(out)]
    capsys.readouterr()
    assert main([*argv, "--cluster", dask_scheduler]) == 2
    err = capsys.readouterr().err
    assert err.startswith("netsec: ") and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.pcap"]
    argv = ["decrypt", "-q", str(good), str(junk), "-w", str(tmp_path / "o.pcap")]
    assert main([*argv, "--cluster", dask_scheduler]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.pcap"]
