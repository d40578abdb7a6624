"""Several captures, many processes or machines: ``decrypt``, ``dissect``, ``stats`` and
``report`` as units of work.

The work is cut in two steps, both deterministic (the same inputs give the same units, and the
merged output does not depend on which worker ran what, or when):

1. **Files that share state stay together.**  Every file is scanned once (a unit of its own:
   its first frame's time, its last frame number, the unordered outer *host pairs* it carries).
   Files that share a host pair are *chained*: read one after the other, in time order, through
   one engine, as :mod:`netsec_layers.io.multicapture` reads them in one process.  A host pair
   carries everything whose state crosses a file boundary: a TCP connection (and the TLS, SSH
   or mail session on it), an ESP/AH SA and its replay window/ESN counter, the IKE exchange
   that derived it (IKE and its ESP run between the same two gateways), a DTLS association.
   Rotated captures of one link (``tcpdump -G``/``-C``) share connections from one file to the
   next, so they form one chain; independent captures (one per site, per day...) do not.
2. **A chain is split by host pair** when there are fewer chains than workers: every part
   reads the chain's files and runs the pipeline only on the datagrams whose host pair hashes
   to it (:func:`netsec_layers.io.parallel.owner_of`, the ``--jobs`` rule), so each part holds
   the whole state of what it owns.

State that no host pair captures forces everything into one chain, unsplit (the caller says
so with ``together=True``): TLS session resumption decrypted with ``--rsa-key`` (the resuming
client may come from another address than the full handshake), and CHILD_SAs derived from
``--ike-keys`` (the ESP may run between other addresses than the IKE SA, e.g. behind NAT).

Merging: every output frame is keyed by the (continued) number of the input frame whose
processing emitted it and its rank among that frame's outputs; frames still held at the end
are ordered by (time, frame number), as :meth:`PlaintextRewriter.finish` orders them.  Each
frame is processed by exactly one part, so the merged ``decrypt -w`` output is the one-process
output byte for byte.  What can differ, as with ``--jobs``: the resource limits (connections
tracked, TCP buffers) apply per part.

Executors: a Dask scheduler (``distributed.Client(address)``), an embedded ``LocalCluster``,
or, without Dask, a pool of forked processes (``decrypt --jobs N`` on several files).  Workers
read the capture files by path: on a real cluster they must see the same paths (a shared file
system).  Each part's output travels back to the client in memory (plaintext is never written
to temporary files); the client holds the parts' outputs until it has merged them.
"""

from __future__ import annotations

import heapq
import os
import shutil
import socket
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from netsec_layers.errors import NetsecError, UsageError
from netsec_layers.io.parallel import add_stats, owner_of
from netsec_layers.io.pcap import open_capture
from netsec_layers.session.engine import CaptureEngine, EngineStats, FrameResult
from netsec_layers.session.netstack import IPDecoder
from netsec_layers.session.plaintext import OutFrame, PlaintextRewriter, RewriteStats
from netsec_layers.session.tcp import DEFAULT_MAX_CLOSED, closed_past
from netsec_layers.session.trackers import ConnectionReleased

__all__ = [
    "FileInfo",
    "Unit",
    "DecryptResult",
    "DissectResult",
    "scan_file",
    "plan_units",
    "decrypt_unit",
    "dissect_unit",
    "merge_decrypt",
    "add_stats",
    "Executor",
    "dask_executor",
    "process_executor",
    "partition_name",
    "unit_frames",
    "Numbering",
    "StreamWatch",
    "global_streams",
    "pool_releases",
    "ike_order",
    "cut_short",
]

Factory = Callable[[], tuple[CaptureEngine, PlaintextRewriter]]
EngineFactory = Callable[[], CaptureEngine]
MAX_PAIRS = 1 << 16  # host pairs remembered per file; beyond, the file is chained with all
CONNECT_TIMEOUT = 10  # seconds to reach a Dask scheduler


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What the plan needs to know about one capture file (from :func:`scan_file`)."""

    path: str
    first_ts: int | None  # None: no frame (or not a readable capture)
    last_number: int  # the last frame number (frame numbers continue after it)
    linktype: int | None  # the first frame's link type
    format: str  # "pcap" or "pcapng"
    pairs: frozenset[str] | None  # unordered host pairs; None: too many to list
    size: int = 0


@dataclass(frozen=True, slots=True)
class Unit:
    """One piece of work: the files of a chain (in time order, with the frame-number offset
    of each) and which host-pair part of it (``part`` of ``parts``) to process."""

    files: tuple[tuple[int, str, int], ...]  # (file index in time order, path, offset)
    part: int = 0
    parts: int = 1


@dataclass(slots=True)
class DecryptResult:
    # per input file (index in time order): (frame, rank, ts_ns, linktype, data) in that order
    outputs: dict[int, list[tuple[int, int, int, int, bytes]]]
    held: list[tuple[int, int, int, bytes]]  # (ts_ns, frame, linktype, data)
    engine_stats: EngineStats
    rewrite_stats: RewriteStats
    limit_counters: dict[str, int]
    truncated: list[tuple[int, str]] = field(default_factory=list)  # (file index, reason)


@dataclass(slots=True)
class DissectResult:
    rows: dict[int, int]  # file index -> rows written
    engine_stats: EngineStats
    limit_counters: dict[str, int]
    truncated: list[tuple[int, str]] = field(default_factory=list)


def _pair(src: Any, dst: Any) -> str:
    a, b = (src, dst) if src <= dst else (dst, src)
    return f"{a}|{b}"


def scan_file(path: str) -> FileInfo:
    """First time, last frame number, link type, format and host pairs of one capture."""
    decoder = IPDecoder()
    pairs: set[str] | None = set()
    first_ts: int | None = None
    linktype: int | None = None
    last = 0
    seen: set[tuple[Any, Any]] = set()
    raw_seen: set[bytes] = set()  # untagged Ethernet + IPv4: the 8 address bytes
    with open_capture(path) as reader:
        fmt = reader.format
        for frame in reader:
            if first_ts is None:
                first_ts, linktype = frame.ts_ns, frame.linktype
            last = frame.number
            if pairs is None:
                continue
            d = frame.data
            # the bulk of most captures, without building an IPPacket (the scan only needs the
            # outer addresses, which every fragment of a datagram carries)
            if frame.linktype == 1 and d[12:14] == b"\x08\x00" and len(d) >= 34 and d[14] >> 4 == 4:
                raw = d[26:34]
                if raw in raw_seen:
                    continue
                raw_seen.add(raw)
                src, dst = socket.inet_ntoa(raw[:4]), socket.inet_ntoa(raw[4:])
            else:
                ip = decoder.feed(frame)
                if ip is None:
                    continue
                src, dst = ip.src, ip.dst
            key = (src, dst)
            if key in seen:
                continue
            seen.add(key)
            pairs.add(_pair(src, dst))
            if len(pairs) > MAX_PAIRS:
                pairs = None
    size = os.path.getsize(path) if os.path.isfile(path) else 0
    return FileInfo(
        path, first_ts, last, linktype, fmt, None if pairs is None else frozenset(pairs), size
    )


def order_files(infos: Sequence[FileInfo]) -> list[FileInfo]:
    """Time order, as :func:`netsec_layers.io.multicapture.capture_files` orders them."""
    return sorted(infos, key=lambda i: (i.first_ts is None, i.first_ts or 0, i.path))


def _chains(infos: Sequence[FileInfo], together: bool) -> list[list[int]]:
    """Indices of files (in time order) that must be read through one engine."""
    n = len(infos)
    if together or any(info.pairs is None for info in infos):
        return [list(range(n))] if n else []
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    owner: dict[str, int] = {}
    for i, info in enumerate(infos):
        for p in info.pairs or ():
            if p in owner:
                union(owner[p], i)
            else:
                owner[p] = i
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def plan_units(
    infos: Sequence[FileInfo], workers: int, *, together: bool = False, split: bool = True
) -> list[Unit]:
    """The units of work over files already in time order (see the module docstring).

    ``together``: one chain of every file, never split (state no host pair captures);
    ``split``: split chains by host pair when there are fewer chains than ``workers``."""
    offsets: list[int] = []
    off = 0
    for info in infos:
        offsets.append(off)
        off += info.last_number
    chains = _chains(infos, together)
    parts = 1
    if split and not together and len(chains) < workers:
        parts = -(-workers // len(chains))  # ceil: every worker gets a part
    units = []
    for chain in chains:
        files = tuple((i, infos[i].path, offsets[i]) for i in chain)
        units += [Unit(files, k, parts) for k in range(parts)]
    return units


def _frames(unit: Unit, engine: CaptureEngine, truncated: list[tuple[int, str]]) -> Iterator[Any]:
    """(file index, frame, decoded IP or None, owned?) for every frame of the unit's files."""
    decode = engine.ip.feed
    cache: dict[Any, int] = {}
    for index, path, offset in unit.files:
        with open_capture(path) as reader:
            reader.on_secrets = engine.on_secrets
            for frame in reader:
                frame.number += offset
                ip = decode(frame)
                mine = unit.parts == 1 or owner_of(ip, frame.number, unit.parts, cache) == unit.part
                yield index, frame, ip, mine
            if reader.truncated:
                truncated.append((index, f"{path}: {reader.truncated}"))


unit_frames = _frames  # public name: the stats/report units (cli/stats.py, cli/report.py)


def decrypt_unit(unit: Unit, factory: Factory) -> DecryptResult:
    """``decrypt`` of one unit: its output frames keyed for :func:`merge_decrypt`."""
    engine, rewriter = factory()
    process, rewrite = engine.process_decoded, rewriter.process
    outputs: dict[int, list[tuple[int, int, int, int, bytes]]] = {}
    truncated: list[tuple[int, str]] = []
    current, out = -1, outputs.setdefault(-1, [])
    for index, frame, ip, mine in _frames(unit, engine, truncated):
        if index != current:
            current, out = index, outputs.setdefault(index, [])
        if mine:
            number = frame.number
            for k, o in enumerate(rewrite(process(frame, ip))):
                out.append((number, k, o.ts_ns, o.linktype, o.data))
    del outputs[-1]
    held = [(o.ts_ns, o.frame, o.linktype, o.data) for o in rewriter.finish()]
    return DecryptResult(
        outputs, held, engine.stats, rewriter.stats, engine.limit_counters(), truncated
    )


def merge_decrypt(
    units: Sequence[Unit],
    completed: Iterable[tuple[int, DecryptResult]],
    results: list[DecryptResult] | None = None,
    on_done: Callable[[], None] | None = None,
) -> Iterator[OutFrame]:
    """The one-process order of the units' outputs (see the module docstring), written as
    soon as it can be: the output of input file i is merged (from every unit that read it) and
    yielded once those units are done and every earlier file was; its frames are then dropped,
    so the caller holds only what is waiting for an earlier file.

    ``completed``: ``(unit index, result)`` in any order; ``results`` collects the results
    (their stats); ``on_done`` is called per result."""
    owners: dict[int, list[int]] = {}
    for u_index, unit in enumerate(units):
        for f_index, _path, _offset in unit.files:
            owners.setdefault(f_index, []).append(u_index)
    order = sorted(owners)
    done: dict[int, DecryptResult] = {}
    upto = 0
    for u_index, result in completed:
        done[u_index] = result
        if results is not None:
            results.append(result)
        if on_done is not None:
            on_done()
        while upto < len(order) and all(u in done for u in owners[order[upto]]):
            f_index = order[upto]
            parts = [done[u].outputs.pop(f_index, []) for u in owners[f_index]]
            for _n, _k, ts_ns, linktype, data in heapq.merge(*parts):
                yield OutFrame(ts_ns, linktype, data)
            upto += 1
    if upto < len(order):  # pragma: no cover - every unit reports or raises
        raise NetsecError("a unit of work ended without a result")
    held = sorted((h for r in done.values() for h in r.held), key=lambda h: (h[0], h[1]))
    for ts_ns, number, linktype, data in held:
        yield OutFrame(ts_ns, linktype, data, number)


def partition_name(infos: Sequence[FileInfo], index: int) -> str:
    """The Hive-style partition directory of input file ``index``: ``file=<name>``; when two
    inputs share a base name, every name gets its time-order index (``file=003-r.pcap``)."""
    names = [os.path.basename(i.path) for i in infos]
    name = names[index]
    if len(set(names)) != len(names):
        name = f"{index:03d}-{name}"
    return "file=" + name.replace("/", "_")


def dissect_unit(
    unit: Unit,
    factory: EngineFactory,
    out_dir: str,
    names: dict[int, str],
    fmt: str,
    *,
    index: int = 0,
    units: int = 1,
) -> DissectResult:
    """``dissect --format parquet|arrow`` of one unit into ``out_dir/<partition>/part-K.<ext>``
    (K: the unit's host-pair part), one partition per input file; rows in capture order within
    a part file.  The units still buffered at the end go to the chain's last file.

    ``stream`` numbers are counted by each unit's engine; to stay unique in the dataset they
    become ``stream × units + index`` (``index``: this unit's place among ``units``)."""
    from netsec_layers.io.columnar import write_columnar

    engine = factory()
    unit_index = index
    truncated: list[tuple[int, str]] = []
    rows: dict[int, int] = {}
    ext = "parquet" if fmt == "parquet" else "arrow"
    last = unit.files[-1][0]
    # One writer per file: the files of a chain are read one after the other, so the rows of
    # file i are all produced before those of file i+1; each file's rows are streamed into its
    # own part file by a generator that ends when the next file starts.
    stream = _frames(unit, engine, truncated)
    pending: list[Any] = []

    def units_of(index: int) -> Iterator[tuple[dict[str, Any], int | None]]:
        while True:
            item = pending.pop() if pending else next(stream, None)
            if item is None:
                break
            i, frame, ip, mine = item
            if i != index:
                pending.append(item)
                break
            if not mine:
                continue
            res = engine.process_decoded(frame, ip)
            for u in res.units:
                obj = u.to_json()
                if obj is not None:
                    yield renumber(obj), frame.ts_ns
        if index == last:
            for u in engine.flush():
                obj = u.to_json()
                if obj is not None:
                    yield renumber(obj), None

    def renumber(obj: dict[str, Any]) -> dict[str, Any]:
        s = obj.get("stream")
        if units > 1 and type(s) is int:
            obj["stream"] = s * units + unit_index
        return obj

    for file_index, _path, _offset in unit.files:
        part_dir = os.path.join(out_dir, names[file_index])
        os.makedirs(part_dir, exist_ok=True)
        target = os.path.join(part_dir, f"part-{unit.part}.{ext}")
        rows[file_index] = write_columnar(target, fmt, units_of(file_index))
    return DissectResult(rows, engine.stats, engine.limit_counters(), truncated)


# -- stats and report: numbering and release order as one process ----------------------------
#
# ``stats`` and ``report`` print stream numbers and list connections in an order that one
# process decides as it reads: TCP streams (and DTLS streams, IKE SAs) are numbered by first
# appearance over the whole capture, and ``stats`` prints a TLS connection when the connection
# table releases it (more than ``DEFAULT_MAX_CLOSED`` closed, a port reused, evicted), the
# rest at the end by stream number.  Each unit notes, by (continued) frame number, when its
# engine created a stream and when a TCP connection closed (:class:`StreamWatch`); the lead
# ranks the creations over every unit (:func:`global_streams`: every frame is processed by
# exactly one unit, so the ranks are one process's numbers) and replays the closed-connection
# pool over every unit's closings (:func:`pool_releases`).


@dataclass(slots=True)
class Numbering:
    """What one unit's engine numbered, by the frame number that made it (frame numbers
    continue across files, so they are the one-process numbers)."""

    tcp: list[int] = field(default_factory=list)  # frame that created local TCP stream k
    dtls: list[int] = field(default_factory=list)  # frame that created local DTLS stream k
    ike: list[int] = field(default_factory=list)  # frame that created the k-th IKE SA
    closed: list[tuple[int, int]] = field(default_factory=list)  # (frame, local TCP stream)


class StreamWatch:
    """Fills a :class:`Numbering` from an engine, one :meth:`after` call per processed frame."""

    def __init__(self, engine: CaptureEngine) -> None:
        from netsec_layers.session.dtls import DTLSTracker
        from netsec_layers.session.ike import IKETracker

        self.tcp = engine.tcp
        trackers = engine.datagram_trackers
        self.dtls = next((t for t in trackers if isinstance(t, DTLSTracker)), None)
        self.ike = next((t for t in trackers if isinstance(t, IKETracker)), None)
        self.log = Numbering()
        self._closed: set[int] = set()  # closed and still in the connection table

    def after(self, number: int, res: FrameResult) -> None:
        log = self.log
        # the counters the engine numbers streams with (both only grow)
        while len(log.tcp) < self.tcp.streams_numbered:
            log.tcp.append(number)
        if self.dtls is not None:
            while len(log.dtls) < self.dtls.streams_numbered:
                log.dtls.append(number)
        if self.ike is not None:
            while len(log.ike) < len(self.ike.sas):
                log.ike.append(number)
        conn = res.tcp_conn
        if conn is not None and conn.closed:
            self._close(number, conn.index)
        for level in res.inner:
            c = level.tcp_conn
            if c is not None and c.closed:
                self._close(number, c.index)
        for ev in res.events:
            if isinstance(ev, ConnectionReleased):
                self._closed.discard(ev.conn.index)

    def _close(self, number: int, index: int) -> None:
        if index not in self._closed:
            self._closed.add(index)
            self.log.closed.append((number, index))


def _ranks(created: Sequence[Sequence[int]]) -> list[list[int]]:
    order = sorted(
        (frame, local, u) for u, frames in enumerate(created) for local, frame in enumerate(frames)
    )
    out = [[0] * len(frames) for frames in created]
    for rank, (_frame, local, u) in enumerate(order):
        out[u][local] = rank
    return out


def global_streams(logs: Sequence[Numbering]) -> tuple[list[list[int]], list[list[int]]]:
    """Per unit, local stream -> the one-process stream number: TCP, DTLS."""
    return _ranks([log.tcp for log in logs]), _ranks([log.dtls for log in logs])


def ike_order(logs: Sequence[Numbering]) -> list[list[tuple[int, int, int]]]:
    """Per unit, its k-th IKE SA -> a key that orders every unit's IKE SAs as one process."""
    return [[(frame, u, k) for k, frame in enumerate(log.ike)] for u, log in enumerate(logs)]


def pool_releases(
    logs: Sequence[Numbering], tcp: Sequence[Sequence[int]], limit: int = DEFAULT_MAX_CLOSED
) -> dict[int, tuple[int, int, int]]:
    """One-process TCP stream -> (frame, 1, n): when one process's pool of closed connections
    (the oldest go past ``limit``) releases it.  A unit's own pool releases no connection
    earlier (it holds a subset of the closings); a port reused or an eviction may."""
    closings = sorted(
        (frame, u, k, local)
        for u, log in enumerate(logs)
        for k, (frame, local) in enumerate(log.closed)
    )
    pool: deque[int] = deque()
    out: dict[int, tuple[int, int, int]] = {}
    for n, (frame, u, _k, local) in enumerate(closings):
        for stream in closed_past(pool, tcp[u][local], limit):
            out.setdefault(stream, (frame, 1, n))
    return out


def cut_short(
    infos: Sequence[FileInfo], truncated: Iterable[tuple[int, str]], shown: dict[str, str] | None
) -> str | None:
    """The one-process ``capture ends early`` text of the first file cut short (time order):
    ``path: reason`` with the path as given (``shown``: absolute path -> as given), the reason
    alone for one file (``shown`` None)."""
    first = min(truncated, default=None)
    if first is None:
        return None
    index, text = first
    path = infos[index].path
    reason = text[len(path) + 2 :] if text.startswith(path + ": ") else text
    if shown is None:
        return reason
    return f"{shown.get(path, path)}: {reason}"


# -- executors --------------------------------------------------------------------------------


class Executor:
    """Runs a function over items on some workers; results in the items' order.

    ``on_done`` is called once per finished item (for progress), in completion order."""

    workers = 1

    def completed(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        """``(index, fn(items[index]))`` as each finishes (a failure raises here)."""
        raise NotImplementedError

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        on_done: Callable[[], None] | None = None,
    ) -> list[Any]:
        out: list[Any] = [None] * len(items)
        for index, result in self.completed(fn, items):
            out[index] = result
            if on_done is not None:
                on_done()
        return out


class _DaskExecutor(Executor):
    def __init__(self, client: Any) -> None:
        self.client = client
        info = client.scheduler_info()
        self.workers = max(1, len(info.get("workers", {})))

    def completed(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        if not items:
            return
        futures = self.client.map(fn, list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut, result in _distributed().as_completed(futures, with_results=True):
                yield index[fut.key], result
                fut.release()  # the worker may drop the result now
        finally:
            self.client.cancel([f for f in futures if not f.done()])


class _ProcessExecutor(Executor):
    def __init__(self, workers: int) -> None:
        self.workers = workers

    def completed(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        import concurrent.futures as cf
        import multiprocessing

        ctx = multiprocessing.get_context("fork")  # key material loaded once, shared
        with cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx) as pool:
            futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
            try:
                for fut in cf.as_completed(futures):
                    yield futures[fut], fut.result()
            finally:
                for fut in futures:
                    fut.cancel()


@contextmanager
def process_executor(workers: int) -> Iterator[Executor]:
    """Forked worker processes on this machine (no Dask needed)."""
    yield _ProcessExecutor(workers)


def _distributed() -> Any:
    """``distributed`` (the optional ``cluster`` extra), typed ``Any``: it ships no complete
    annotations."""
    import importlib

    try:
        return importlib.import_module("distributed")
    except ImportError:
        raise UsageError("--cluster needs Dask distributed: pip install '.[cluster]'") from None


def _dask_client(address: str | None, workers: int) -> AbstractContextManager[Any]:
    distributed = _distributed()

    @contextmanager
    def client() -> Iterator[Any]:
        import logging

        if address in (None, "", "local"):
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,  # the engine is pure Python: processes, not threads
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
                scheduler_kwargs={"dashboard": False},
                silence_logs=logging.CRITICAL,
            )
            with cluster, distributed.Client(cluster) as c:
                yield c
            return
        try:
            c = distributed.Client(address, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            raise NetsecError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        with c:
            yield c

    return client()


@contextmanager
def dask_executor(address: str | None, workers: int = 2) -> Iterator[Executor]:
    """A Dask executor: the scheduler at ``address``, or an embedded ``LocalCluster`` of
    ``workers`` single-threaded worker processes (``address`` None or ``"local"``)."""
    with _dask_client(address, workers) as client:
        yield _DaskExecutor(client)


def atomic_dir(path: str) -> AbstractContextManager[str]:
    """A temporary directory beside ``path`` (mode 0700), renamed to ``path`` when the block
    ends without error (an existing ``path`` directory is replaced), removed otherwise."""

    @contextmanager
    def cm() -> Iterator[str]:
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise UsageError(f"{path}: directory {parent} does not exist")
        if os.path.exists(path) and not os.path.isdir(path):
            raise UsageError(f"{path}: exists and is not a directory (a dataset is a directory)")
        tmp = tempfile.mkdtemp(
            prefix="." + os.path.basename(path) + ".", suffix=".part", dir=parent
        )
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.replace(tmp, path)

    return cm()
