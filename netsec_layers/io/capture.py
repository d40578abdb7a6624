"""Stream a capture file through the Sans-I/O :class:`~netsec_layers.session.engine.CaptureEngine`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from netsec_layers.io.multicapture import is_multi, iter_captures
from netsec_layers.io.pcap import open_capture
from netsec_layers.session.engine import CaptureEngine, FrameResult

__all__ = ["iter_capture"]


def iter_capture(
    source: Any, engine: CaptureEngine, *, progress: Any = None
) -> Iterator[FrameResult]:
    """Stream a capture file through ``engine``; constant memory whatever the file size.

    ``source`` may also be a list of files or a directory: they are read as one capture, in
    time order (:mod:`netsec_layers.io.multicapture`)."""
    if is_multi(source):
        yield from iter_captures(source, engine, progress=progress)
        return
    with open_capture(source) as reader:
        reader.on_secrets = engine.on_secrets
        for frame in reader:
            yield engine.process(frame)
            if progress is not None:
                progress(reader.bytes_read, reader.size)
        engine.truncated = reader.truncated
