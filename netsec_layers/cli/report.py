"""``netsec report CAPTURE [key options] -o report.html``: one self-contained HTML page."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netsec_layers.cli import status
from netsec_layers.cli.columnar import engine_for
from netsec_layers.cli.common import Progress, warn, warn_limits

if TYPE_CHECKING:
    from netsec_layers.io.cluster import Numbering, Unit
    from netsec_layers.io.report import ReportModel
    from netsec_layers.session.engine import CaptureEngine


def add_parser(
    sub: Any,
    key_options: Callable[[argparse.ArgumentParser], None],
    limit_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    r = sub.add_parser(
        "report",
        help="one self-contained HTML page: summary, handshake ladders, ESP/AH sequence plots",
        description="A summary (protocols, connections, SAs, decrypted/failed, warnings), a "
        "handshake ladder per TLS/DTLS/SSH connection, a sequence-number plot per ESP/AH SA "
        "(replays, gaps, ESN wraps marked) and the exchanges of each IKE SA; inline SVG, no "
        "script, nothing loaded from the network (docs/report.md).",
        epilog=status.epilog(status.CUT_SHORT),
    )
    r.add_argument(
        "capture",
        nargs="+",
        help="pcap or pcapng file ('-' for standard input); several files or a directory are "
        "read as one capture in time order",
    )
    r.add_argument("-o", "--output", required=True, metavar="HTML", help="the page to write")
    r.add_argument("--title", help="page title (default: the capture's file name)")
    r.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar, no summary on stderr"
    )
    from netsec_layers.cli.cluster import add_cluster_options, add_progress_option, positive

    r.add_argument(
        "-j",
        "--jobs",
        type=positive,
        metavar="N",
        help="N forked worker processes, by file chain and host pair, as --cluster does; the "
        "page is the one-process page, byte for byte (docs/columnar.md)",
    )
    add_cluster_options(r)
    add_progress_option(r)
    key_options(r)
    limit_options(r)


def _title(args: argparse.Namespace) -> str:
    cap = args.capture
    if isinstance(cap, list):
        return str(args.title or ", ".join(os.path.basename(c) for c in cap))
    return str(args.title or ("standard input" if cap == "-" else os.path.basename(cap)))


def run_report(args: argparse.Namespace) -> int:
    from netsec_layers.cli.cluster import wants_cluster
    from netsec_layers.cli.stats import tls_row
    from netsec_layers.io.capture import iter_capture
    from netsec_layers.io.report import ReportModel
    from netsec_layers.session.engine import IPsecInfo

    if wants_cluster(args) or (getattr(args, "jobs", None) or 1) > 1:
        return _run_units(args)
    engine = engine_for(args)
    model = ReportModel(_title(args))
    engine.tls.on_release = lambda c: model.add_info(tls_row(c)) if c.records else None
    source = sys.stdin.buffer if args.capture == "-" else args.capture
    progress = Progress.for_args(args)
    try:
        for res in iter_capture(source, engine, progress=progress):
            model.frames += 1
            ts = res.frame.ts_ns
            for u in res.units:
                obj = u.to_json()
                if obj is None:
                    continue
                ends = (u.src, u.dst) if isinstance(u, IPsecInfo) else None
                model.add_unit(obj, ts, ends)
        for u in engine.flush():
            obj = u.to_json()
            if obj is not None:
                model.add_unit(obj, None)
    finally:
        progress.close()
    engine.tls.release_all()
    for t in [*engine.stream_trackers, *engine.datagram_trackers]:
        for row in t.stats_rows() if hasattr(t, "stats_rows") else []:
            model.add_info(row)
    if engine.truncated:
        model.warnings.append(f"capture ends early: {engine.truncated}")
        if not args.quiet:
            warn(f"capture ends early: {engine.truncated}")
    model.warnings += engine.limit_notes(None)
    warn_limits(engine, args)
    _write(args, model)
    return status.INCOMPLETE if engine.truncated else status.DONE


def _write(args: argparse.Namespace, model: ReportModel) -> None:
    from netsec_layers.io.atomic import atomic_output

    text = model.render()
    with atomic_output(args.output, secret=False) as fh:
        fh.write(text.encode("utf-8"))
    if not args.quiet:
        print(
            f"netsec: report written to {args.output} ({len(model.convs)} connections, "
            f"{len(model.sas)} ESP/AH SAs, {len(model.ike)} IKE SAs)",
            file=sys.stderr,
        )


# -- several processes or a Dask cluster (--jobs N, --cluster, --dask-workers) ----------------


@dataclass(slots=True)
class ReportPart:
    """What one unit of work returns: its model (plain data: dicts, lists and the dataclasses
    of io/report_svg) and what its engine numbered."""

    model: ReportModel
    numbering: Numbering
    limit_counters: dict[str, int]
    truncated: list[tuple[int, str]]


def report_unit(unit: Unit, factory: Callable[[], CaptureEngine]) -> ReportPart:
    """``report`` of one unit of work: a model of what it owns, every unit placed by the frame
    (continued number) and rank one process would have added it at."""
    from netsec_layers.cli.stats import tls_row
    from netsec_layers.io.cluster import StreamWatch, unit_frames
    from netsec_layers.io.report import ReportModel
    from netsec_layers.session.engine import IPsecInfo

    engine = factory()
    model = ReportModel("")
    engine.tls.on_release = lambda c: model.add_info(tls_row(c)) if c.records else None
    watch = StreamWatch(engine)
    truncated: list[tuple[int, str]] = []
    process = engine.process_decoded
    for _index, frame, ip, mine in unit_frames(unit, engine, truncated):
        if not mine:
            continue
        res = process(frame, ip)
        model.frames += 1
        ts, number = frame.ts_ns, frame.number
        for rank, u in enumerate(res.units):
            obj = u.to_json()
            if obj is None:
                continue
            model.at = (0, number, rank)
            model.add_unit(obj, ts, (u.src, u.dst) if isinstance(u, IPsecInfo) else None)
        watch.after(number, res)
    for rank, u in enumerate(engine.flush()):  # after every frame of every unit
        obj = u.to_json()
        if obj is not None:
            model.at = (1, unit.files[0][0], unit.part, rank)
            model.add_unit(obj, None)
    engine.tls.release_all()
    for t in [*engine.stream_trackers, *engine.datagram_trackers]:
        for row in t.stats_rows() if hasattr(t, "stats_rows") else []:
            model.add_info(row)
    return ReportPart(model, watch.log, engine.limit_counters(), truncated)


def _run_units(args: argparse.Namespace) -> int:
    """The units' models merged into the one-process model; one page."""
    from netsec_layers.cli.cluster import file_sources, map_units
    from netsec_layers.cli.stats import shown_paths
    from netsec_layers.io.atomic import check_output_path
    from netsec_layers.io.cluster import cut_short, global_streams
    from netsec_layers.io.report import merge_models

    sources = file_sources(args)
    check_output_path(args.output)  # fail before any work if the page cannot be written
    engine = engine_for(args)  # key files checked (their warnings shown) once, here
    infos, units, results = map_units(args, sources, report_unit, engine_for)
    parts: list[ReportPart] = results
    tcp, dtls = global_streams([p.numbering for p in parts])

    def renumbering(u: int) -> Callable[[str, int], int]:
        def renumber(proto: str, stream: int) -> int:
            table = dtls[u] if proto == "dtls" else tcp[u]
            return table[stream] if 0 <= stream < len(table) else stream

        return renumber

    model = merge_models(_title(args), [(p.model, renumbering(u)) for u, p in enumerate(parts)])
    counters: dict[str, int] = {}
    for p in parts:
        for k, v in p.limit_counters.items():
            counters[k] = counters.get(k, 0) + v
    cut = cut_short(infos, (t for p in parts for t in p.truncated), shown_paths(args.capture))
    if cut:
        model.warnings.append(f"capture ends early: {cut}")
        if not args.quiet:
            warn(f"capture ends early: {cut}")
    model.warnings += engine.limit_notes(counters)
    warn_limits(engine, args, counters)
    _write(args, model)
    return status.INCOMPLETE if cut else status.DONE
