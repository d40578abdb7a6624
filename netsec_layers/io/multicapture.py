"""Several capture files (or a directory of them) read as one capture, in time order.

Rotated captures (``tcpdump -G``/``-C``, ``editcap -c``/``-i``, dumpcap ring buffers) cut
connections and SAs at arbitrary frames.  Feeding the files one after the other through **one**
engine continues them: TCP reassembly, TLS keys, ESP replay windows and ESN counters, IKE SAs
carry over a file boundary exactly as inside one file.  Files are ordered by the timestamp of
their first frame (then by name), so the order they are given in does not matter; frame numbers
continue across files (the first frame of the second file is one past the last of the first),
as if the files had been concatenated with ``mergecap -a``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from netsec_layers.errors import NetsecError, UsageError
from netsec_layers.io.pcap import open_capture

if TYPE_CHECKING:
    from netsec_layers.session.engine import CaptureEngine, FrameResult

__all__ = ["capture_files", "is_multi", "iter_captures"]

_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz")


def is_multi(source: Any) -> bool:
    """Whether ``source`` names several captures: a list/tuple of paths or a directory."""
    if isinstance(source, list | tuple):
        return True
    return isinstance(source, str | os.PathLike) and os.path.isdir(source)


def _expand(sources: list[Any] | tuple[Any, ...] | str | os.PathLike[str]) -> list[str]:
    items = list(sources) if isinstance(sources, list | tuple) else [sources]
    out: list[str] = []
    for item in items:
        path = os.fspath(item)
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.endswith(_SUFFIXES) or ".pcap" in n)
            out += [os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n))]
        else:
            out.append(path)
    if not out:
        raise UsageError(f"no capture files in {', '.join(os.fspath(i) for i in items)}")
    return out


def _first_ts(path: str) -> int | None:
    """Timestamp of the file's first frame (None: no frame, or not readable as a capture)."""
    try:
        with open_capture(path) as reader:
            for frame in reader:
                return frame.ts_ns
    except (NetsecError, OSError):
        return None
    return None


def capture_files(sources: list[Any] | tuple[Any, ...] | str | os.PathLike[str]) -> list[str]:
    """The capture files ``sources`` name, in the order they are read: by first-frame time,
    then name; files without a readable frame last (reading them reports why)."""
    paths = _expand(sources)
    keyed = [(_first_ts(p), p) for p in paths]
    return [p for _, p in sorted(keyed, key=lambda k: (k[0] is None, k[0] or 0, k[1]))]


def iter_captures(
    sources: list[Any] | tuple[Any, ...] | str | os.PathLike[str],
    engine: CaptureEngine,
    *,
    progress: Any = None,
) -> Iterator[FrameResult]:
    """Every frame of every file through ``engine``, files in time order, frame numbers
    continued; constant memory (one file open at a time)."""
    offset = 0
    paths = capture_files(sources)
    start_file = getattr(progress, "start_file", None)  # per-file progress (cli.common.Progress)
    for index, path in enumerate(paths):
        if start_file is not None:
            start_file(path, index, paths)
        with open_capture(path) as reader:
            reader.on_secrets = engine.on_secrets
            last = 0
            for frame in reader:
                last = frame.number
                frame.number += offset
                yield engine.process(frame)
                if progress is not None:
                    progress(reader.bytes_read, reader.size)
            offset += last
            if reader.truncated and not engine.truncated:
                engine.truncated = f"{path}: {reader.truncated}"
