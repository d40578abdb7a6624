"""``netsec decrypt IN -w OUT``: a capture that tools without keys read as plaintext."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING

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
from netsec_layers.io.atomic import atomic_output, check_output_path
from netsec_layers.session.engine import CaptureEngine, EngineStats
from netsec_layers.session.plaintext import OutFrame, PlaintextRewriter, RewriteStats

if TYPE_CHECKING:
    from netsec_layers.io.pcap import CaptureReader


def _one_process(
    reader: CaptureReader,
    engine: CaptureEngine,
    rewriter: PlaintextRewriter,
    progress: Progress,
    first: list[int],
) -> Iterator[OutFrame]:
    for frame in reader:
        progress(reader.bytes_read, reader.size)
        if not first:
            first.append(frame.linktype)  # the first frame's link type is the file's default
        yield from rewriter.process(engine.process(frame))
    yield from rewriter.finish()


def run_decrypt(args: argparse.Namespace) -> int:
    from netsec_layers.io.pcap import CaptureWriter, open_capture

    check_output_path(args.write)  # fail before any work if the output cannot be written
    keys = load_tls_keys(args)
    sadb = load_sadb(args)

    def make() -> tuple[CaptureEngine, PlaintextRewriter]:
        engine = CaptureEngine(
            tls_keys=keys,
            sadb=sadb,
            check_replay=not args.no_replay_check,
            inner_packets=False,
            trackers=build_trackers(args, keys),
            **engine_limits(args),
        )
        return engine, PlaintextRewriter(engine)

    jobs = args.jobs
    if args.ike_keys:
        jobs = 1  # CHILD_SAs derived from IKE feed the ESP after them: one process sees both
    if jobs is None:
        from netsec_layers.io.parallel import auto_jobs

        jobs = auto_jobs(args.input, rsa_keys=bool(args.rsa_key))
    elif jobs > 1 and args.input == "-":
        warn("--jobs needs a file (every worker reads it); standard input uses one process")
        jobs = 1
    engine, rewriter = make()
    progress = Progress(enabled=not args.quiet)
    par = None
    with ExitStack() as stack:
        reader = stack.enter_context(open_capture(args.input))
        stack.callback(progress.close)
        reader.on_secrets = engine.on_secrets
        fmt = args.format or ("pcapng" if str(args.write).endswith(".pcapng") else reader.format)
        first: list[int] = []
        frames: Iterator[OutFrame]
        if jobs > 1:
            from netsec_layers.io.parallel import ParallelDecrypt

            f0 = next(iter(reader), None)
            if f0 is not None:
                first.append(f0.linktype)
            par = ParallelDecrypt(args.input, jobs, make, progress=progress)
            frames = iter(par)
        else:
            frames = _one_process(reader, engine, rewriter, progress, first)
        # Decrypted plaintext is as sensitive as the keys: the file is created 0600, and only
        # renamed into place once complete (nothing is left after an error or an interrupt).
        dest = stack.enter_context(atomic_output(args.write, secret=True))
        writer: CaptureWriter | None = None
        for out in frames:
            if writer is None:
                writer = stack.enter_context(
                    CaptureWriter(dest, format=fmt, linktype=first[0], nanosecond=True)
                )
            writer.write(out.data, ts_ns=out.ts_ns, linktype=out.linktype)
        if writer is None:
            kw = {"linktype": first[0], "nanosecond": True} if first else {}
            stack.enter_context(CaptureWriter(dest, format=fmt, **kw))  # type: ignore[arg-type]
    if par is None:
        truncated, st, es = reader.truncated, rewriter.stats, engine.stats
        counters = engine.limit_counters()
    else:
        truncated, st, es = par.truncated, par.rewrite_stats, par.engine_stats
        counters = par.limit_counters
    if truncated and not args.quiet:
        warn(f"capture ends early: {truncated}")
    warn_limits(engine, args, counters)
    if not args.quiet:
        _summary(st, es, jobs)
    nothing = not (
        st.tls_connections_decrypted
        or st.esp_replaced
        or st.esp_dummy_dropped
        or st.dtls_datagrams_written
        or st.ssh_channels_written
    )
    if nothing and not args.quiet:
        warn(
            "nothing decrypted (no key matched any TLS connection or ESP SA, or every "
            "decryption failed): the output holds the captured frames unchanged"
        )
    return status.INCOMPLETE if truncated or nothing else status.DONE


def _summary(st: RewriteStats, es: EngineStats, jobs: int) -> None:
    failed = ", ".join(f"{k} {v}" for k, v in sorted(es.esp_failed.items())) or "0"
    kept_no_key = st.tls_connections_kept - st.tls_connections_failed
    print(
        f"netsec: {plural(es.frames, 'frame')}; TLS: {plural(st.tls_connections_decrypted, 'connection')} "
        f"decrypted, {plural(st.tls_records_written, 'application-data record')} written, "
        f"{plural(es.tls_failed, 'record')} failed, {plural(st.tls_connections_failed, 'connection')} "
        f"kept as captured (records failed to decrypt), {plural(kept_no_key, 'connection')} kept "
        f"(no key); ESP: {st.esp_replaced} decrypted, {st.esp_dummy_dropped} dummy dropped, "
        f"failed: {failed}, {es.esp_no_key} no SA"
        + (
            f"; DTLS: {plural(st.dtls_datagrams_written, 'datagram')} written"
            if st.dtls_datagrams_written
            else ""
        )
        + (
            f"; SSH: {plural(st.ssh_connections_decrypted, 'connection')} decrypted, "
            f"{plural(st.ssh_channels_written, 'channel')} written"
            if st.ssh_connections_decrypted
            else ""
        )
        + (f"; {jobs} worker processes" if jobs > 1 else ""),
        file=sys.stderr,
    )
