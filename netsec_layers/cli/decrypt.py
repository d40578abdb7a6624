"""``netsec decrypt IN -w OUT``: a capture that tools without keys read as plaintext."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack

from netsec_layers.cli.common import (
    Progress,
    engine_limits,
    load_sadb,
    load_tls_keys,
    warn,
    warn_limits,
)
from netsec_layers.session.engine import CaptureEngine
from netsec_layers.session.plaintext import PlaintextRewriter


def run_decrypt(args: argparse.Namespace) -> int:
    from netsec_layers.io.pcap import CaptureWriter, open_capture

    keys = load_tls_keys(args)
    sadb = load_sadb(args)
    engine = CaptureEngine(
        tls_keys=keys,
        sadb=sadb,
        check_replay=not args.no_replay_check,
        inner_packets=False,
        **engine_limits(args),
    )
    rewriter = PlaintextRewriter(engine)
    progress = Progress(enabled=not args.quiet)
    with ExitStack() as stack:
        reader = stack.enter_context(open_capture(args.input))
        stack.callback(progress.close)
        reader.on_secrets = engine.on_secrets
        fmt = args.format or ("pcapng" if str(args.write).endswith(".pcapng") else reader.format)
        writer: CaptureWriter | None = None
        for frame in reader:
            progress(reader.bytes_read, reader.size)
            if writer is None:  # the first frame's link type is the file's default
                writer = stack.enter_context(
                    CaptureWriter(args.write, format=fmt, linktype=frame.linktype, nanosecond=True)
                )
            for out in rewriter.process(engine.process(frame)):
                writer.write(out.data, ts_ns=out.ts_ns, linktype=out.linktype)
        if writer is None:
            writer = stack.enter_context(CaptureWriter(args.write, format=fmt))
        for out in rewriter.finish():
            writer.write(out.data, ts_ns=out.ts_ns, linktype=out.linktype)
        truncated = reader.truncated
    if truncated and not args.quiet:
        warn(f"capture ends early: {truncated}")
    warn_limits(engine, args)
    if not args.quiet:
        st, es = rewriter.stats, engine.stats
        failed = ", ".join(f"{k} {v}" for k, v in sorted(es.esp_failed.items())) or "0"
        print(
            f"netsec: {es.frames} frames; TLS: {st.tls_connections_decrypted} connections decrypted, "
            f"{st.tls_records_written} application-data records written, {es.tls_failed} records failed, "
            f"{st.tls_connections_kept} connections kept (no key); ESP: {st.esp_replaced} decrypted, "
            f"{st.esp_dummy_dropped} dummy dropped, failed: {failed}, {es.esp_no_key} no SA",
            file=sys.stderr,
        )
    return 0
