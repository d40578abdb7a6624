"""Shared helpers of the robustness tests: the fuzz harness targets and sample streams."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tools import fuzz

REPO = Path(__file__).resolve().parents[2]
PCAPS = REPO / "pcaps"
TLS = PCAPS / "tls"
CRASHES = Path(__file__).resolve().parent / "crashes"


def check_target(target: str, data: bytes) -> None:
    """Run ``data`` through a fuzz target; fail with the traceback on a disallowed exception."""
    exc = fuzz.run_one(target, data)
    if exc is not None:
        raise AssertionError(f"{target}: {fuzz.signature(exc)}: {exc!r}") from exc


@contextmanager
def peak_memory() -> Iterator[Callable[[], int]]:
    """Peak bytes allocated by Python inside the block (tracemalloc)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def record_events(pcap: Path) -> list[tuple[bool, bytes]]:
    """``(from_client, record)`` of a sample capture in arrival order, one complete TLS record
    each (TCP reassembly by the library; the record split is done here with the RFC 5246 §6.2
    header, so each record can be fed, or mutated, on its own)."""
    bufs = {True: b"", False: b""}
    out: list[tuple[bool, bytes]] = []
    for c, data in fuzz.tcp_streams(pcap):
        buf = bufs[c] + data
        while len(buf) >= 5:
            end = 5 + int.from_bytes(buf[3:5], "big")
            if len(buf) < end:
                break
            out.append((c, buf[:end]))
            buf = buf[end:]
        bufs[c] = buf
    return out


def feed_records(tracker: Any, events: list[tuple[bool, bytes]], start: int = 0) -> list[Any]:
    from netsec_layers.session.tcp import StreamChunk

    conn = fuzz._fake_conn()
    out = []
    for i, (c, rec) in enumerate(events, start):
        out.extend(tracker.feed(StreamChunk(conn, c, rec, i + 1, i)))
    return out
