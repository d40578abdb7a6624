"""``netsec decrypt`` over several worker processes, with the one-process output, byte for byte.

How the work is split:

- Every worker reads the whole capture and decodes every frame's IP layer (IP fragments are
  reassembled, so a datagram is judged whole).  A datagram belongs to the worker that its
  unordered *host pair* (outer source and destination address) hashes to; a frame without an IP
  datagram (not IP, or a fragment still held) belongs to ``frame number mod jobs``.  Only the
  owner runs the rest of the pipeline (TCP, TLS, ESP, plaintext rewriting) on it.
- A host pair carries whole TCP connections, whole SAs (an SA is bound to its addresses) and
  what they tunnel, so each worker holds the complete state of everything it owns.  Key-log
  decryption needs nothing from other connections.  What can differ from one process:
  connections that need state from another host pair's connection (TLS session resumption by a
  client at a different address, with ``--rsa-key`` and no key log), and the resource limits,
  which apply per worker.  :func:`auto_jobs` therefore picks one process when RSA keys are given.
- Each output frame is keyed by the number of the input frame whose processing emitted it (and
  its rank among that frame's outputs).  Workers stream their outputs in that order, with a
  watermark after every batch; the parent merges the streams by key.  Every frame is processed
  by exactly one worker, so the merged order is the one-process order.  Frames still held at
  the end are merged by (timestamp, frame number), as :meth:`PlaintextRewriter.finish` sorts.

Workers are forked (POSIX), so key material loaded once in the parent is shared; nothing is
written to temporary files (plaintext travels only through pipes).
"""

from __future__ import annotations

import heapq
import multiprocessing
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import fields
from multiprocessing.connection import Connection
from typing import Any

from netsec_layers.errors import NetsecError
from netsec_layers.io.pcap import open_capture
from netsec_layers.session.engine import CaptureEngine, EngineStats
from netsec_layers.session.netstack import IPDecoder, IPPacket
from netsec_layers.session.plaintext import OutFrame, PlaintextRewriter, RewriteStats

__all__ = ["ParallelDecrypt", "auto_jobs", "owner_of"]

Factory = Callable[[], tuple[CaptureEngine, PlaintextRewriter]]

BATCH_ITEMS = 256  # output frames per message
WATERMARK_EVERY = 2048  # input frames between messages even when a worker emits nothing
_DONE = 1 << 62  # watermark rank: after every real output of the same input frame
_PAIR_CACHE = 1 << 16


def owner_of(ip: IPPacket | None, frame_number: int, jobs: int, cache: dict[Any, int]) -> int:
    """The worker (0-based) that processes this frame (see the module docstring)."""
    if ip is None:
        return frame_number % jobs
    key = (ip.src, ip.dst)
    w = cache.get(key)
    if w is None:
        a, b = (ip.src, ip.dst) if ip.src <= ip.dst else (ip.dst, ip.src)
        w = zlib.crc32(f"{a}|{b}".encode()) % jobs  # stable across processes (unlike hash())
        if len(cache) < _PAIR_CACHE:
            cache[key] = w
    return w


def auto_jobs(
    path: str, *, rsa_keys: bool, sample_frames: int = 4000, min_size: int = 8 << 20
) -> int:
    """Workers to use when the user did not say: 1 unless it pays and gives identical output.

    One process for standard input or small files (< 8 MiB), with ``--rsa-key`` (resumption
    across host pairs), on one CPU, or when a sample of the first frames shows one host pair
    carrying more than 80 % of them (nothing to split).
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
    decoder = IPDecoder()
    counts = [0] * jobs
    cache: dict[Any, int] = {}
    with open_capture(path) as reader:
        for i, frame in enumerate(reader):
            if i >= sample_frames:
                break
            ip = decoder.feed(frame)
            if ip is not None:
                counts[owner_of(ip, frame.number, jobs, cache)] += 1
    total = sum(counts)
    if not total or max(counts) > 0.8 * total:
        return 1
    return jobs


def _add(into: Any, other: Any) -> None:
    """Field-wise sum of two stats dataclasses (ints add, dicts of ints add per key)."""
    for f in fields(into):
        a, b = getattr(into, f.name), getattr(other, f.name)
        if isinstance(a, dict):
            for k, v in b.items():
                a[k] = a.get(k, 0) + v
        else:
            setattr(into, f.name, a + b)


def _worker(index: int, jobs: int, path: str, factory: Factory, conn: Connection) -> None:
    send = conn.send
    try:
        engine, rewriter = factory()
        decode = engine.ip.feed
        process, rewrite = engine.process_decoded, rewriter.process
        cache: dict[Any, int] = {}
        batch: list[tuple[int, int, int, int, bytes]] = []
        number = 0
        with open_capture(path) as reader:
            reader.on_secrets = engine.on_secrets
            for frame in reader:
                number = frame.number
                ip = decode(frame)
                if owner_of(ip, number, jobs, cache) == index:
                    for k, o in enumerate(rewrite(process(frame, ip))):
                        batch.append((number, k, o.ts_ns, o.linktype, o.data))
                if len(batch) >= BATCH_ITEMS or number % WATERMARK_EVERY == 0:
                    send(("batch", number, reader.bytes_read, reader.size, batch))
                    batch = []
            truncated = reader.truncated
        send(("batch", number, reader.bytes_read, reader.size, batch))
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
                _add(self.engine_stats, estats)
                _add(self.rewrite_stats, rstats)
                for k, v in limits.items():
                    self.limit_counters[k] = self.limit_counters.get(k, 0) + v
                self.truncated = self.truncated or truncated
                return
            else:
                _, ours, text = msg
                if ours:
                    raise NetsecError(text.partition(": ")[2])
                raise RuntimeError(f"parallel worker {index}: {text}")

    def __iter__(self) -> Iterator[OutFrame]:
        ctx = multiprocessing.get_context("fork")
        procs, pipes = [], []
        for i in range(self.jobs):
            r, w = ctx.Pipe(duplex=False)
            p = ctx.Process(
                target=_worker, args=(i, self.jobs, self.path, self.factory, w), daemon=True
            )
            p.start()
            w.close()  # the child holds the write end; EOF when it exits
            procs.append(p)
            pipes.append(r)
        held: list[Any] = []
        try:
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
