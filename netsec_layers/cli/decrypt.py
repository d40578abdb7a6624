"""``netsec decrypt IN -w OUT``: a capture that tools without keys read as plaintext."""

from __future__ import annotations

import argparse
import functools
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
from netsec_layers.errors import UsageError
from netsec_layers.io.atomic import atomic_output, check_output_path
from netsec_layers.session.engine import CaptureEngine, EngineStats
from netsec_layers.session.plaintext import OutFrame, PlaintextRewriter, RewriteStats

if TYPE_CHECKING:
    from netsec_layers.frame import Frame
    from netsec_layers.io.pcap import CaptureReader


def _one_process(
    reader: CaptureReader,
    engine: CaptureEngine,
    rewriter: PlaintextRewriter,
    progress: Progress,
    first: list[int],
) -> Iterator[OutFrame]:
    from netsec_layers.session.fastlane import FastLane, rewrite

    def frames() -> Iterator[Frame]:
        for frame in reader:
            progress(reader.bytes_read, reader.size)
            if not first:
                first.append(frame.linktype)  # the first frame's link type is the file's default
            yield frame

    # issue #22: the native lane takes the steady state of TLS connections (session/fastlane.py)
    yield from rewrite(frames(), engine, rewriter, FastLane.create(engine, rewriter))


def make_pair(args: argparse.Namespace) -> tuple[CaptureEngine, PlaintextRewriter]:
    """The engine and rewriter of one decrypt run (module level: Dask workers import it)."""
    keys = load_tls_keys(args)
    engine = CaptureEngine(
        tls_keys=keys,
        sadb=load_sadb(args),
        check_replay=not args.no_replay_check,
        inner_packets=False,
        trackers=build_trackers(args, keys),
        **engine_limits(args),
    )
    return engine, PlaintextRewriter(engine)


def _multi_process(
    source: list[str], engine: CaptureEngine, rewriter: PlaintextRewriter, progress: Progress,
    first: list[int],
) -> Iterator[OutFrame]:  # fmt: skip
    """Several files through one engine, in time order (io/multicapture), as one capture."""
    from netsec_layers.io.capture import iter_capture

    for res in iter_capture(source, engine, progress=progress):
        if not first:
            first.append(res.frame.linktype)
        yield from rewriter.process(res)
    yield from rewriter.finish()


def run_decrypt(args: argparse.Namespace) -> int:
    from netsec_layers.cli.cluster import wants_cluster
    from netsec_layers.io.multicapture import is_multi
    from netsec_layers.io.pcap import open_capture

    if isinstance(args.input, list) and len(args.input) == 1:
        args.input = args.input[0]
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

    multi = is_multi(args.input)
    if multi and isinstance(args.input, list) and "-" in args.input:
        raise UsageError("standard input ('-') cannot be one of several captures")
    if wants_cluster(args) or (multi and (args.jobs or 1) > 1):
        return _run_units(args, wants_cluster(args))
    jobs = args.jobs
    if args.ike_keys:
        jobs = 1  # CHILD_SAs derived from IKE feed the ESP after them: one process sees both
    if jobs is None:
        from netsec_layers.io.parallel import auto_jobs

        jobs = 1 if multi else auto_jobs(args.input, rsa_keys=bool(args.rsa_key))
    elif jobs > 1 and args.input == "-":
        warn("--jobs needs a file (every worker reads it); standard input uses one process")
        jobs = 1
    engine, rewriter = make()
    progress = Progress.for_args(args)
    par = None
    with ExitStack() as stack:
        stack.callback(progress.close)
        first: list[int] = []
        frames: Iterator[OutFrame]
        if multi:
            from netsec_layers.io.multicapture import capture_files

            with open_capture(capture_files(args.input)[0]) as head:
                in_format = head.format
            frames = _multi_process(args.input, engine, rewriter, progress, first)
        else:
            reader = stack.enter_context(open_capture(args.input))
            reader.on_secrets = engine.on_secrets
            in_format = reader.format
            if jobs > 1:
                from netsec_layers.io.parallel import ParallelDecrypt

                f0 = next(iter(reader), None)
                if f0 is not None:
                    first.append(f0.linktype)
                par = ParallelDecrypt(args.input, jobs, make, progress=progress)
                frames = iter(par)
            else:
                frames = _one_process(reader, engine, rewriter, progress, first)
        fmt = args.format or ("pcapng" if str(args.write).endswith(".pcapng") else in_format)
        _write(stack, args.write, fmt, frames, first)
    if par is None:
        truncated = engine.truncated if multi else reader.truncated
        st, es = rewriter.stats, engine.stats
        counters = engine.limit_counters()
    else:
        truncated, st, es = par.truncated, par.rewrite_stats, par.engine_stats
        counters = par.limit_counters
    note = f"; {jobs} worker processes" if jobs > 1 else ""
    return _finish(args, engine, truncated, st, es, counters, note)


def _write(
    stack: ExitStack, path: str, fmt: str, frames: Iterator[OutFrame], first: list[int]
) -> None:
    """The plaintext capture: created 0600 (decrypted plaintext is as sensitive as the keys)
    and renamed into place only once complete (nothing is left after an error or an
    interrupt).  ``first``: the first input frame's link type (the file's default), filled
    in while ``frames`` runs."""
    from netsec_layers.io.pcap import CaptureWriter

    dest = stack.enter_context(atomic_output(path, secret=True))
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


def _run_units(args: argparse.Namespace, dask: bool) -> int:
    """Several files with ``--jobs N``, or any input with ``--cluster``: units of work
    (io/cluster.py), merged into the one-process output."""
    from netsec_layers.cli.cluster import describe, executor_for, plan, together, worker_namespace
    from netsec_layers.io.cluster import DecryptResult, add_stats, decrypt_unit, merge_decrypt

    sources = args.input if isinstance(args.input, list) else [args.input]
    if "-" in sources:
        raise UsageError("--cluster and --jobs read files by path: not standard input")
    progress = Progress.for_args(args)
    engine, _ = make_pair(argparse.Namespace(**{**vars(args), "quiet": True}))
    es, st = EngineStats(), RewriteStats()
    with ExitStack() as stack:
        stack.callback(progress.close)
        ex = stack.enter_context(executor_for(args))
        infos, units = plan(ex, sources, progress, together=together(args))
        work = functools.partial(
            decrypt_unit, factory=functools.partial(make_pair, worker_namespace(args))
        )
        progress.units(len(units), f"{plural(len(infos), 'file')}, {plural(len(units), 'unit')}")
        results: list[DecryptResult] = []
        merged = merge_decrypt(units, ex.completed(work, units), results, progress.unit_done)
        workers = ex.workers
        in_format = infos[0].format if infos else "pcap"
        first = [next((i.linktype for i in infos if i.linktype is not None), 1)]
        if all(i.linktype is None for i in infos):
            first = []
        fmt = args.format or ("pcapng" if str(args.write).endswith(".pcapng") else in_format)
        _write(stack, args.write, fmt, merged, first)
    counters: dict[str, int] = {}
    cuts: list[tuple[int, str]] = []
    for r in results:
        add_stats(es, r.engine_stats)
        add_stats(st, r.rewrite_stats)
        for k, v in r.limit_counters.items():
            counters[k] = counters.get(k, 0) + v
        cuts += r.truncated
    truncated = sorted(cuts)[0][1] if cuts else None
    return _finish(args, engine, truncated, st, es, counters, "; " + describe(units, workers, dask))


def _finish(
    args: argparse.Namespace,
    engine: CaptureEngine,
    truncated: str | None,
    st: RewriteStats,
    es: EngineStats,
    counters: dict[str, int],
    note: str,
) -> int:
    if truncated and not args.quiet:
        warn(f"capture ends early: {truncated}")
    warn_limits(engine, args, counters)
    if not args.quiet:
        _summary(st, es, note)
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


def _summary(st: RewriteStats, es: EngineStats, note: str) -> None:
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
        + note,
        file=sys.stderr,
    )
