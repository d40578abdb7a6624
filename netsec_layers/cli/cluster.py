"""``--cluster ADDRESS`` / ``--dask-workers N`` / ``--jobs N``: ``decrypt``, ``dissect --format
parquet|arrow``, ``stats`` and ``report`` as units of work on a Dask cluster or forked processes
(``netsec_layers/io/cluster.py`` cuts the work; each command merges its units' results)."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from netsec_layers.cli import status
from netsec_layers.cli.common import Progress, plural, warn
from netsec_layers.errors import UsageError

if TYPE_CHECKING:
    from netsec_layers.io.cluster import Executor, FileInfo, Unit


def positive(text: str) -> int:
    try:
        n = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return n


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("distributed runs (docs/columnar.md; needs the 'cluster' extra)")
    g.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="send the work, per file chain or host pair, to the Dask scheduler at ADDRESS "
        "(tcp://host:8786; workers must see the same paths), or 'local' for an embedded "
        "LocalCluster",
    )
    g.add_argument(
        "--dask-workers",
        type=positive,
        metavar="N",
        help="worker processes of the embedded LocalCluster (implies --cluster local; "
        "default: --jobs, else the CPUs up to 4)",
    )


def add_progress_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress",
        action="store_true",
        help="draw the progress bars on stderr even when it is not a terminal (-q wins)",
    )


def wants_cluster(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "cluster", None) or getattr(args, "dask_workers", None))


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def executor_for(args: argparse.Namespace) -> AbstractContextManager[Executor]:
    """Dask (``--cluster``/``--dask-workers``), else forked processes (``--jobs N``)."""
    from netsec_layers.io.cluster import dask_executor, process_executor

    if wants_cluster(args):
        workers = args.dask_workers or getattr(args, "jobs", None) or min(_cpus(), 4)
        address = args.cluster if args.cluster not in (None, "local") else None
        if address is not None and args.dask_workers:
            raise UsageError(
                "--dask-workers sizes the embedded cluster: not with --cluster ADDRESS"
            )
        return dask_executor(address, workers)
    return process_executor(args.jobs or 1)


def plan(
    executor: Executor,
    sources: list[str],
    progress: Progress,
    *,
    together: bool,
    split: bool = True,
) -> tuple[list[FileInfo], list[Unit]]:
    """Scan the files (one unit each, on the workers) and cut the work into units."""
    from netsec_layers.io.cluster import order_files, plan_units, scan_file
    from netsec_layers.io.multicapture import capture_files

    paths = [os.path.abspath(p) for p in capture_files(sources)]
    progress.units(len(paths), "scanning files")
    infos = order_files(executor.map(scan_file, paths, progress.unit_done))
    units = plan_units(infos, executor.workers, together=together, split=split)
    return infos, units


def file_sources(args: argparse.Namespace) -> list[str]:
    """The capture paths of a run on units (workers read files by path, never standard input)."""
    sources = args.capture if isinstance(args.capture, list) else [args.capture]
    if "-" in sources:
        raise UsageError("--cluster and --jobs read files by path: not standard input")
    return sources


def map_units(
    args: argparse.Namespace,
    sources: list[str],
    unit_work: Callable[..., Any],
    factory: Callable[[argparse.Namespace], Any],
) -> tuple[list[FileInfo], list[Unit], list[Any]]:
    """``stats``/``report`` on units: plan the files, run ``unit_work(unit, factory=…)`` on each
    (the workers build their engines with ``factory`` from the run's options), return the
    files, the units and the units' results in unit order."""
    progress = Progress.for_args(args)
    try:
        with executor_for(args) as ex:
            infos, units = plan(ex, sources, progress, together=together(args))
            work = functools.partial(
                unit_work, factory=functools.partial(factory, worker_namespace(args))
            )
            progress.units(
                len(units), f"{plural(len(infos), 'file')}, {plural(len(units), 'unit')}"
            )
            parts = ex.map(work, units, progress.unit_done)
    finally:
        progress.close()
    return infos, units, parts


def worker_namespace(args: argparse.Namespace) -> argparse.Namespace:
    """The options a worker rebuilds its engine from (quiet: warnings were shown here)."""
    ns = argparse.Namespace(**vars(args))
    ns.quiet = True
    for name in ("func",):
        if hasattr(ns, name):
            delattr(ns, name)
    return ns


def run_dissect_cluster(args: argparse.Namespace) -> int:
    """``dissect --format parquet|arrow -w DIR --cluster …``: a dataset partitioned by input
    file (``DIR/file=<name>/part-K.parquet``)."""
    from netsec_layers.cli.columnar import engine_for
    from netsec_layers.io.cluster import add_stats, atomic_dir, dissect_unit, partition_name
    from netsec_layers.session.engine import EngineStats

    fmt = args.format
    how = "--cluster" if wants_cluster(args) else "--jobs"
    if fmt not in ("parquet", "arrow") or not args.write:
        raise UsageError(f"{how} writes a dataset: give --format parquet|arrow and -w DIRECTORY")
    if args.verbose or args.json:
        raise UsageError(f"--format {fmt} -w writes a dataset; --json and -V print lines")
    sources = args.capture if isinstance(args.capture, list) else [args.capture]
    if "-" in sources:
        raise UsageError("--cluster reads files by path: standard input cannot be shared")
    engine_for(args)  # key files checked (and their warnings shown) once, before any work
    progress = Progress.for_args(args)
    stats, rows = EngineStats(), 0
    limits: dict[str, int] = {}
    truncated: list[tuple[int, str]] = []
    try:
        with executor_for(args) as ex, atomic_dir(args.write) as tmp:
            infos, units = plan(ex, sources, progress, together=_together(args))
            names = {i: partition_name(infos, i) for i in range(len(infos))}
            work = functools.partial(
                dissect_unit,
                factory=functools.partial(engine_for, worker_namespace(args)),
                out_dir=tmp,
                names=names,
                fmt=fmt,
                units=len(units),
            )
            progress.units(len(units), f"{len(infos)} files, {len(units)} units")
            jobs = [(work, i, u) for i, u in enumerate(units)]
            for r in ex.map(_call, jobs, progress.unit_done):
                add_stats(stats, r.engine_stats)
                for k, v in r.limit_counters.items():
                    limits[k] = limits.get(k, 0) + v
                truncated += r.truncated
                rows += sum(r.rows.values())
            workers = ex.workers
    finally:
        progress.close()
    cut = sorted(truncated)[0][1] if truncated else None
    if cut and not args.quiet:
        warn(f"capture ends early: {cut}")
    if not args.quiet:
        print(
            f"netsec: {rows} rows written to {args.write}/ ({fmt} dataset, "
            f"{plural(len(infos), 'file partition')}, "
            f"{describe(units, workers, wants_cluster(args))})",
            file=sys.stderr,
        )
    return status.INCOMPLETE if cut else status.DONE


def _call(job: tuple[Any, int, Unit]) -> Any:
    """One dissect unit with its place among the units (for unique stream numbers)."""
    work, index, unit = job
    return work(unit, index=index)


def _together(args: argparse.Namespace) -> bool:
    """State no host pair captures: resumption with RSA keys, CHILD_SAs from IKE keys."""
    return bool(getattr(args, "rsa_key", None) or getattr(args, "ike_keys", None))


together = _together


def describe(units: list[Unit], workers: int, dask: bool) -> str:
    kind = "Dask workers" if dask else "worker processes"
    return f"{plural(len(units), 'unit')} on {workers} {kind}"


def summary_limits(results: list[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in results:
        for k, v in r.limit_counters.items():
            out[k] = out.get(k, 0) + v
    return out
