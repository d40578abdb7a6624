"""``netsec dissect``: summary lines, ``-V`` layer trees, or ``--json`` JSON Lines."""

from __future__ import annotations

import argparse
import sys

from netsec_layers.cli import status
from netsec_layers.cli.common import (
    Progress,
    build_trackers,
    engine_limits,
    load_sadb,
    load_tls_keys,
    plural,
    warn,
    warn_limits,
)
from netsec_layers.cli.json_lines import unit_line_writer
from netsec_layers.cli.summaries import Formatter, record_summary
from netsec_layers.cli.verbose import frame_tree
from netsec_layers.io.capture import iter_capture
from netsec_layers.session.engine import CaptureEngine
from netsec_layers.session.tls import TLSRecordInfo


def run_dissect(args: argparse.Namespace) -> int:
    fmt = getattr(args, "format", None)
    if (
        getattr(args, "cluster", None)
        or getattr(args, "dask_workers", None)
        or (getattr(args, "jobs", None) or 1) > 1
    ):
        from netsec_layers.cli.cluster import run_dissect_cluster

        return run_dissect_cluster(args)
    if fmt == "json":
        args.json = True
    elif fmt is not None or getattr(args, "write", None):
        from netsec_layers.cli.columnar import run_dissect_columnar

        return run_dissect_columnar(args)
    keys = load_tls_keys(args)
    sadb = load_sadb(args)
    engine = CaptureEngine(
        tls_keys=keys,
        sadb=sadb,
        check_replay=not args.no_replay_check,
        trackers=build_trackers(args, keys),
        **engine_limits(args),
    )
    if args.show_keys:
        from netsec_layers.cli.keys import collect_keylog_lines

        key_lines = collect_keylog_lines(engine)
    out = sys.stdout
    progress = Progress.for_args(args)
    fmt = Formatter(engine, out)
    source = sys.stdin.buffer if args.capture == "-" else args.capture
    json_line = unit_line_writer()
    lines: list[str] = []  # written in batches: one write per line dominated the JSON path
    add = lines.append
    try:
        for res in iter_capture(source, engine, progress=progress):
            if args.json:
                for u in res.units:
                    text = json_line(u)
                    if text is not None:
                        add(text)
            elif args.verbose:
                add(frame_tree(res, engine, fmt))
            else:
                add(fmt.line(res))
            if len(lines) >= 512:
                lines.append("")
                out.write("\n".join(lines))
                lines.clear()
        for rec in engine.flush():
            if args.json:
                text = json_line(rec)
                if text is not None:
                    add(text)
            elif isinstance(rec, TLSRecordInfo):
                add(f"{'':>7} {'(end)':>11} {record_summary(rec, fmt._version(rec))}")
            elif rec.summary():
                add(f"{'':>7} {'(end)':>11} {rec.summary()}")
        if lines:
            lines.append("")
            out.write("\n".join(lines))
    finally:
        progress.close()
    out.flush()
    if args.show_keys:
        engine.tls.release_all()
    return _finish(engine, args, key_lines if args.show_keys else [])


def _finish(engine: CaptureEngine, args: argparse.Namespace, key_lines: list[str]) -> int:
    """Warnings, the summary and ``--show-keys`` lines on stderr; the exit status."""
    if engine.truncated and not args.quiet:
        warn(f"capture ends early: {engine.truncated}")
    warn_limits(engine, args)
    if not args.quiet:
        _summary(engine)
    for line in key_lines:
        print(line, file=sys.stderr)
    return status.INCOMPLETE if engine.truncated else status.DONE


#: How the summary names the units of each protocol tracker (``EngineStats.units``).
_TRACKER_LABELS = {"ssh": "SSH", "ike": "IKE", "dtls": "DTLS", "mail": "mail"}


def _summary(engine: CaptureEngine) -> None:
    st = engine.stats
    parts = [plural(st.frames, "frame"), plural(st.tls_records, "TLS record")]
    if st.tls_decrypted or st.tls_failed:
        parts.append(f"{st.tls_decrypted} decrypted, {st.tls_failed} failed")
    if st.esp_packets:
        failed = sum(st.esp_failed.values())
        parts.append(
            f"{st.esp_packets} ESP ({st.esp_decrypted} decrypted, {failed} failed, {st.esp_no_key} no SA)"
        )
    for name, n in st.units.items():  # the other trackers' units (SSH packets, IKE messages, …)
        label = _TRACKER_LABELS.get(name, name)
        dec = st.units_decrypted.get(name)
        parts.append(f"{n} {label}" + (f" ({dec} decrypted)" if dec else ""))
    print("netsec: " + ", ".join(parts), file=sys.stderr)
