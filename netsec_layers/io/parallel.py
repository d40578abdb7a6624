"""``netsec decrypt`` over several worker processes, with the one-process output, byte for byte.

How the work is split:

- When hashing host pairs spreads a sample of the first frames well (many hosts), each
  datagram goes to the worker its unordered *host pair* (outer source and destination address)
  hashes to: a host pair carries whole connections, whole SAs and what they tunnel.
- Otherwise (one host pair, or a few), when the sample holds TLS connections, the parent reads
  the capture once first (:mod:`netsec_layers.io.parallel_plan`) and splits it into groups:
  each TLS connection on its own — also between the same two hosts — except that a TLS ≤ 1.2
  connection resuming a session joins the connection that made the session (the master secret
  comes from there); everything else by its host pair.  Groups go to workers largest first,
  each to the least loaded.
- Without TLS connections in the sample, groups are given out while reading (every worker makes
  the same choices: :class:`~netsec_layers.io.parallel_plan.StreamingSplit`), each to the
  worker with the fewest datagrams so far: host pairs, or ESP SAs by SPI when nothing ESP
  carries can be decrypted and no keys can arrive later (no TLS/SSH/mail/IKE keys, not pcapng:
  :func:`esp_state_stays_in_sa`, asked by each worker of its engine) — an SA's only state is
  then its replay window and ESN inference, and the two SAs of a tunnel go to two workers.
- One process does it all when the sample shows nothing to split.
- A frame without an IP datagram (not IP, or a fragment still held) belongs to ``frame number
  mod jobs``.
- Every worker reads the whole capture and decodes every frame's IP layer (IP fragments are
  reassembled, so a datagram is judged whole); only the owner runs the rest of the pipeline
  (TCP, TLS, ESP, plaintext rewriting) on it, so each worker holds the complete state of
  everything it owns.  What can differ from one process: a resumption whose origin connection is
  between other hosts (a client at a different address) with ``--rsa-key`` and no key log, and
  the resource limits, which apply per worker.  :func:`auto_jobs` therefore picks one process
  when RSA keys are given.
- Each output frame is keyed by the number of the input frame whose processing emitted it (and
  its rank among that frame's outputs).  Workers stream their outputs in that order, with a
  watermark after every batch; the parent merges the streams by key.  Every frame is processed
  by exactly one worker, so the merged order is the one-process order.  Frames still held at
  the end are merged by (timestamp, frame number), as :meth:`PlaintextRewriter.finish` sorts.

Workers are forked (POSIX), so key material loaded once in the parent — and the split plan — is
shared; nothing is written to temporary files (plaintext travels only through pipes).
"""

from __future__ import annotations

import heapq
import itertools
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import fields
from multiprocessing.connection import Connection
from typing import Any

from netsec_layers.errors import NetsecError
from netsec_layers.frame import Frame
from netsec_layers.io.parallel_plan import (
    SplitPlan,
    StreamingSplit,
    hash_pair,
    host_pairs_suffice,
    make_plan,
)
from netsec_layers.io.pcap import open_capture
from netsec_layers.keys.ike_keys import IKEKeys
from netsec_layers.session.engine import CaptureEngine, EngineStats
from netsec_layers.session.fastlane import FastLane, rewrite
from netsec_layers.session.fastlane import enabled as fastlane_enabled
from netsec_layers.session.netstack import IPPacket
from netsec_layers.session.plaintext import OutFrame, PlaintextRewriter, RewriteStats

__all__ = [
    "ParallelDecrypt",
    "SplitPlan",
    "add_stats",
    "auto_jobs",
    "esp_state_stays_in_sa",
    "make_plan",
    "owner_of",
]

Factory = Callable[[], tuple[CaptureEngine, PlaintextRewriter]]

BATCH_ITEMS = 256  # output frames per message
WATERMARK_EVERY = 2048  # input frames between messages even when a worker emits nothing
_DONE = 1 << 62  # watermark rank: after every real output of the same input frame
_PAIR_CACHE = 1 << 16
SAMPLE_FRAMES = 4000  # frames that show whether hashing host pairs spreads the work


def owner_of(ip: IPPacket | None, frame_number: int, jobs: int, cache: dict[Any, int]) -> int:
    """The worker (0-based) of a frame when splitting by host pair alone (the split before
    :class:`SplitPlan`; kept for callers that have no first pass)."""
    if ip is None:
        return frame_number % jobs
    key = (ip.src, ip.dst)
    w = cache.get(key)
    if w is None:
        w = hash_pair((ip.src, ip.dst) if ip.src <= ip.dst else (ip.dst, ip.src), jobs)
        if len(cache) < _PAIR_CACHE:
            cache[key] = w
    return w


def auto_jobs(
    path: str, *, rsa_keys: bool, sample_frames: int = 4000, min_size: int = 8 << 20
) -> int:
    """Workers to use when the user did not say: 1 unless it pays and gives identical output.

    One process for standard input or small files (< 8 MiB), with ``--rsa-key`` (resumption
    across host pairs), on one CPU, when most of a sample of the first frames is TCP that the
    native lane takes (:func:`_mostly_lane_tcp`), or when hashing the host pairs of the sample
    gives one worker more than 80 % of them.  Captures of one host pair (or a few) are
    split by connection or by SA only when ``--jobs`` asks: on the shared two-core machine of
    issue 22, two workers were slower than one process on both of its one-pair shapes (every
    worker reads the whole capture, the parent merges their outputs).
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    if path == "-" or rsa_keys or cpus < 2:
        return 1
    try:
        if not os.path.isfile(path) or os.path.getsize(path) < min_size:
            return 1
    except OSError:
        return 1
    jobs = min(cpus, 4)
    with open_capture(path) as reader:
        sample = list(itertools.islice(reader, sample_frames))
    if fastlane_enabled() and _mostly_lane_tcp(sample):
        return 1
    if not host_pairs_suffice(sample, jobs, share=0.8):
        return 1
    return jobs


def _mostly_lane_tcp(sample: list[Frame]) -> bool:
    """Whether most of a sample's frames are TCP over untagged Ethernet and IPv4 or IPv6, the
    frames the native lane takes (issue 22).  With the lane, TLS decryption in one process costs
    less than the reading and decoding each worker repeats for the whole capture: on the
    100-connection synth captures, 0.66 CPU s in one process against 1.4-1.5 in two workers,
    and less wall time on the shared two-core machine (docs/benchmarks.md, run L)."""
    tcp = sum(
        1
        for f in sample
        if f.linktype == 1
        and (
            (f.data[12:14] == b"\x08\x00" and f.data[23:24] == b"\x06")
            or (f.data[12:14] == b"\x86\xdd" and f.data[20:21] == b"\x06")
        )
    )
    return tcp * 2 > len(sample)


def esp_state_stays_in_sa(engine: CaptureEngine) -> bool:
    """Whether ESP may be split by SA for this engine's keys: nothing inside ESP can be
    decrypted (no TLS/DTLS key log or RSA key, no SSH or mail keys: a tunnel's inner TCP
    connections cross both SAs of a host pair) and no IKE keys (CHILD_SAs derived from IKE feed
    the ESP after them).  Then an SA's only state is its replay window and ESN inference."""
    if not engine.tls_keys.empty or any(t.has_keys() for t in engine.stream_trackers):
        return False
    for tracker in [*engine.stream_trackers, *engine.datagram_trackers]:
        for holder in (tracker, getattr(tracker, "ike", None)):  # IKE over TCP: its IKE tracker
            keys = getattr(holder, "keys", None)
            if isinstance(keys, IKEKeys):
                if keys.v1 or keys.v2:
                    return False
            elif keys is not None and keys is not engine.tls_keys:
                if not getattr(keys, "empty", False):
                    return False
    return True


def add_stats(into: Any, other: Any) -> None:
    """Field-wise sum of two stats dataclasses (ints add, dicts of ints add per key)."""
    for f in fields(into):
        a, b = getattr(into, f.name), getattr(other, f.name)
        if isinstance(a, dict):
            for k, v in b.items():
                a[k] = a.get(k, 0) + v
        else:
            setattr(into, f.name, a + b)


def _worker(
    index: int,
    plan: SplitPlan,
    path: str,
    factory: Factory,
    conn: Connection,
    parent_ends: tuple[Connection, ...] = (),
) -> None:
    # forked while the parent held SIGTERM back (ParallelDecrypt.__iter__): take it from now on
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    # The read ends of the pipes, inherited at the fork, are the parent's: with a copy open
    # here, a worker whose parent died would block forever on a full pipe instead of failing
    # with EPIPE (one did, for a quarter of an hour, in a run of the suite under load).
    for end in parent_ends:
        end.close()
    send = conn.send
    try:
        engine, rewriter = factory()
        if isinstance(plan, StreamingSplit) and plan.esp_by_spi:
            plan.esp_by_spi = esp_state_stays_in_sa(engine)
        decode = engine.ip.feed
        process, rewrite = engine.process_decoded, rewriter.process
        owner = plan.owner
        # the native lane (issue 22) for this worker's TLS connections; every frame is still
        # decoded and given to the plan, whose assignment of new host pairs counts them all
        lane = FastLane.create(engine, rewriter)
        batch: list[tuple[int, int, int, int, bytes]] = []
        number = 0
        with open_capture(path) as reader:
            reader.on_secrets = engine.on_secrets
            for frame in reader:
                number = frame.number
                ip = decode(frame)
                if owner(ip, number) == index:
                    packets = None
                    if lane is not None and frame.linktype == 1:
                        packets = lane.process(frame.data, number, frame.ts_ns)
                    if packets is not None:
                        ts = frame.ts_ns
                        for k, p in enumerate(packets):
                            batch.append((number, k, ts, 1, p))
                    else:
                        res = process(frame, ip)
                        for k, o in enumerate(rewrite(res)):
                            batch.append((number, k, o.ts_ns, o.linktype, o.data))
                        if lane is not None:
                            lane.after(res)
                if len(batch) >= BATCH_ITEMS or number % WATERMARK_EVERY == 0:
                    send(("batch", number, reader.bytes_read, reader.size, batch))
                    batch = []
            truncated = reader.truncated
        send(("batch", number, reader.bytes_read, reader.size, batch))
        if lane is not None:
            lane.finish()
        held = [(o.ts_ns, o.frame, o.linktype, o.data) for o in rewriter.finish()]
        send(
            (
                "end",
                held,
                engine.stats,
                rewriter.stats,
                engine.limit_counters(),
                truncated,
            )
        )
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        send(("error", isinstance(exc, NetsecError), f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class ParallelDecrypt:
    """Iterate the plaintext capture's frames, computed by ``jobs`` forked workers.

    After iteration: ``engine_stats``, ``rewrite_stats``, ``limit_counters`` (summed over the
    workers) and ``truncated`` describe the run as one process would.
    """

    def __init__(
        self,
        path: str,
        jobs: int,
        factory: Factory,
        *,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        if jobs < 2:
            raise ValueError("ParallelDecrypt needs at least 2 jobs")
        self.path, self.jobs, self.factory, self.progress = path, jobs, factory, progress
        self.engine_stats = EngineStats()
        self.rewrite_stats = RewriteStats()
        self.limit_counters: dict[str, int] = {}
        self.truncated: str | None = None
        self.plan: SplitPlan | None = None  # the split, once iteration has started

    def _stream(self, index: int, conn: Connection, held: list[Any]) -> Iterator[Any]:
        progress = self.progress if index == 0 else None
        while True:
            try:
                msg = conn.recv()
            except EOFError:
                raise NetsecError(f"parallel worker {index} stopped without a result") from None
            kind = msg[0]
            if kind == "batch":
                _, upto, done, size, items = msg
                yield from items
                yield (upto, _DONE + index, 0, 0, None)  # watermark (ranks unique per worker)
                if progress is not None:
                    progress(done, size)
            elif kind == "end":
                _, fin, estats, rstats, limits, truncated = msg
                held.extend(fin)
                add_stats(self.engine_stats, estats)
                add_stats(self.rewrite_stats, rstats)
                for k, v in limits.items():
                    self.limit_counters[k] = self.limit_counters.get(k, 0) + v
                self.truncated = self.truncated or truncated
                return
            else:
                _, ours, text = msg
                if ours:
                    raise NetsecError(text.partition(": ")[2])
                raise RuntimeError(f"parallel worker {index}: {text}")

    def _make_plan(self) -> tuple[SplitPlan, bool]:
        """The split, and whether one process does it all (nothing to split)."""
        with open_capture(self.path) as reader:
            sample = list(itertools.islice(reader, SAMPLE_FRAMES))
            pcapng = reader.format == "pcapng"
        if host_pairs_suffice(sample, self.jobs):
            return SplitPlan.by_host_pair(self.jobs), False
        probe = make_plan(sample, self.jobs, esp_by_spi=not pcapng)
        if not probe.tls_connections:
            # No TLS connection to split (none in the sample): groups are given out while
            # reading, no first pass.  ESP by SA unless pcapng (whose Decryption Secrets Blocks
            # may bring keys for what ESP carries anywhere in the file); each worker also asks
            # its engine's keys (esp_state_stays_in_sa), and all get the same answer.
            split = StreamingSplit(self.jobs, esp_by_spi=not pcapng)
            return split, max(probe.load) >= sum(probe.load)
        with open_capture(self.path) as reader:  # the first pass: TLS connections, resumption
            plan = make_plan(reader, self.jobs)
        return plan, max(plan.load) >= sum(plan.load)

    def _one_process(self) -> Iterator[OutFrame]:
        """What ``decrypt --jobs 1`` does: for a plan that leaves all the work to one worker."""
        engine, rewriter = self.factory()
        with open_capture(self.path) as reader:
            reader.on_secrets = engine.on_secrets

            def frames() -> Iterator[Frame]:
                for frame in reader:
                    if self.progress is not None:
                        self.progress(reader.bytes_read, reader.size)
                    yield frame

            yield from rewrite(frames(), engine, rewriter, FastLane.create(engine, rewriter))
            self.truncated = reader.truncated
        self.engine_stats, self.rewrite_stats = engine.stats, rewriter.stats
        self.limit_counters = engine.limit_counters()

    def __iter__(self) -> Iterator[OutFrame]:
        self.plan, alone = self._make_plan()
        if alone:
            yield from self._one_process()  # nothing to split: no worker processes
            return
        ctx = multiprocessing.get_context("fork")
        procs: list[Any] = []
        pipes: list[Connection] = []
        held: list[Any] = []
        # SIGTERM (raised as an exception by the CLI) is held back while the workers start: one
        # landing between a fork and the bookkeeping after it would leave a worker that nobody
        # terminates, holding the caller's pipes open until it has read the whole capture (a
        # run of the suite under load waited 120 s for stderr's EOF).  Released in the try:
        # the finally then terminates every worker started.
        mask: set[int | signal.Signals] | None = signal.pthread_sigmask(
            signal.SIG_BLOCK, {signal.SIGTERM}
        )
        try:
            for i in range(self.jobs):
                r, w = ctx.Pipe(duplex=False)
                p = ctx.Process(
                    target=_worker,
                    args=(i, self.plan, self.path, self.factory, w, (*pipes, r)),
                    daemon=True,
                )
                p.start()
                w.close()  # the child holds the write end; EOF when it exits
                procs.append(p)
                pipes.append(r)
            assert mask is not None
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a held SIGTERM is raised here
            mask = None
            streams = [self._stream(i, c, held) for i, c in enumerate(pipes)]
            for _number, _rank, ts_ns, linktype, data in heapq.merge(*streams):
                if data is not None:
                    yield OutFrame(ts_ns, linktype, data)
            held.sort(key=lambda h: (h[0], h[1]))
            for ts_ns, number, linktype, data in held:
                yield OutFrame(ts_ns, linktype, data, number)
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
                p.join()
            for c in pipes:
                c.close()
            if mask is not None:  # start-up failed: workers gone, then a held SIGTERM raised
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
