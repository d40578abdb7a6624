"""``netsec report CAPTURE [key options] -o report.html``: one self-contained HTML page."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from netsec_layers.cli import status
from netsec_layers.cli.columnar import engine_for
from netsec_layers.cli.common import Progress, warn, warn_limits


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
    from netsec_layers.cli.cluster import add_progress_option

    add_progress_option(r)
    key_options(r)
    limit_options(r)


def run_report(args: argparse.Namespace) -> int:
    from netsec_layers.cli.stats import tls_row
    from netsec_layers.io.atomic import atomic_output
    from netsec_layers.io.capture import iter_capture
    from netsec_layers.io.report import ReportModel
    from netsec_layers.session.engine import IPsecInfo

    engine = engine_for(args)
    cap = args.capture
    if isinstance(cap, list):
        title = args.title or ", ".join(os.path.basename(c) for c in cap)
    else:
        title = args.title or ("standard input" if cap == "-" else os.path.basename(cap))
    model = ReportModel(title)
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
    text = model.render()
    with atomic_output(args.output, secret=False) as fh:
        fh.write(text.encode("utf-8"))
    if not args.quiet:
        print(
            f"netsec: report written to {args.output} ({len(model.convs)} connections, "
            f"{len(model.sas)} ESP/AH SAs, {len(model.ike)} IKE SAs)",
            file=sys.stderr,
        )
    return status.INCOMPLETE if engine.truncated else status.DONE
