"""``netsec stats CAPTURE [keys]``: one line per TLS connection and per ESP/AH SA."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netsec_layers.cli import status
from netsec_layers.cli.common import (
    Progress,
    build_trackers,
    engine_limits,
    load_sadb,
    load_tls_keys,
    warn,
    warn_limits,
)
from netsec_layers.cli.summaries import _name
from netsec_layers.constants.tls import VERSION_NAMES
from netsec_layers.io.capture import iter_capture
from netsec_layers.session.engine import CaptureEngine, IPsecInfo
from netsec_layers.session.tls import DirState, TLSConnection
from netsec_layers.session.verdicts import IPsecFailure

if TYPE_CHECKING:  # io/cluster is imported by the distributed run only (start-up time)
    from netsec_layers.io.cluster import Numbering, Unit

MAX_SA_ROWS = 65_536  # distinct (protocol, SPI, destination) rows kept


@dataclass(slots=True)
class SAStats:
    proto: str
    spi: int
    src: str
    dst: str
    udp_encap: bool
    packets: int = 0
    decrypted: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    replayed: int = 0
    seq_gaps: int = 0
    last_seq: int | None = None
    algorithm: str | None = None

    def add(self, u: IPsecInfo) -> None:
        self.packets += 1
        if u.decrypted:
            self.decrypted += 1
            if u.opened is not None and self.algorithm is None:
                sa = u.opened.sa
                self.algorithm = sa.encryption + (
                    "" if sa.integrity == "NONE" else f"/{sa.integrity}"
                )
        elif u.error:
            reason = u.error.split(":")[0]  # the row's key: the error's first words, as before
            if u.failure is IPsecFailure.REPLAY:
                self.replayed += 1
            self.failed[reason] = self.failed.get(reason, 0) + 1
        if self.last_seq is not None and u.seq > self.last_seq + 1:
            self.seq_gaps += 1
        if self.last_seq is None or u.seq > self.last_seq:
            self.last_seq = u.seq


def _subject(der: bytes | None) -> str | None:
    if not der:
        return None
    try:
        from cryptography import x509

        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except Exception:  # noqa: BLE001 - any undecodable certificate is just "unknown"
        return "(undecodable certificate)"


def tls_row(c: TLSConnection) -> dict[str, Any]:
    client, server = c.tcp.client, c.tcp.server
    if not c.client_is_tcp_client:
        client, server = server, client
    return {
        "proto": "tls",
        "stream": c.index,
        "client": f"{client[0]}:{client[1]}",
        "server": f"{server[0]}:{server[1]}",
        "version": VERSION_NAMES.get(c.version or 0) if c.version else None,
        "cipher_suite": _name("CipherSuite", c.suite) if c.suite is not None else None,
        "sni": c.sni,
        "alpn": (c.server_hello.alpn() or c.client_hello.alpn() if c.client_hello else [])
        if c.server_hello
        else [],
        "certificate_subject": _subject(c.certificate),
        "resumed": c.resumed,
        "hello_retry": c.hrr,
        "records": c.records,
        "decrypted": c.decrypted,
        "failed": c.failed,
        "key_source": c.key_source,
        "finished_ok": dict(c.finished_ok),
        # issue #20: fingerprints of the first ClientHello / the ServerHello, warnings by code
        **_fingerprints(c),
        "warnings": dict(sorted(c.warning_counts.items())),
        "certificate_chain": c.certificate_chain or [],
    }


def _fingerprints(c: TLSConnection) -> dict[str, str | None]:
    cf, sf = c.client_fingerprint, c.server_fingerprint
    return {
        "ja3": cf.ja3 if cf else None,
        "ja3_string": cf.ja3_string if cf else None,
        "ja4": cf.ja4 if cf else None,
        "ja3s": sf.ja3s if sf else None,
        "ja3s_string": sf.ja3s_string if sf else None,
    }


def stats_engine(args: argparse.Namespace) -> tuple[CaptureEngine, list[Any]]:
    """The engine of a stats run and its protocol trackers, in the order their rows print
    (module level: the workers of a distributed run build theirs with it)."""
    keys = load_tls_keys(args)
    trackers = build_trackers(args, keys)
    engine = CaptureEngine(
        tls_keys=keys,
        trackers=trackers,
        sadb=load_sadb(args),
        check_replay=not args.no_replay_check,
        **engine_limits(args),
    )
    return engine, trackers


def _printed(c: TLSConnection) -> bool:
    """Whether a released connection gets a row (it carried TLS records)."""
    return bool(
        c.records
        and (c.client.state is DirState.TLS or c.server.state is DirState.TLS or c.client_hello)
    )


def _count_sa(sas: dict[tuple[str, int, str], SAStats], u: IPsecInfo) -> bool:
    """Count ``u`` in its SA's row; False when the row is new (or refused: too many)."""
    key = (u.proto, u.spi, u.dst)
    st = sas.get(key)
    new = st is None
    if st is None:
        if len(sas) >= MAX_SA_ROWS:
            return False  # hostile SPI floods: counted in the warning below
        st = sas[key] = SAStats(u.proto, u.spi, u.src, u.dst, u.udp_encap)
    st.add(u)
    return new


def run_stats(args: argparse.Namespace) -> int:
    from netsec_layers.cli.cluster import wants_cluster

    if wants_cluster(args) or (getattr(args, "jobs", None) or 1) > 1:
        return _run_units(args)
    engine, trackers = stats_engine(args)
    out = sys.stdout

    def write(row: dict[str, Any]) -> None:
        out.write(json.dumps(row) + "\n" if args.json else _line(row))

    def released(c: TLSConnection) -> None:
        # Rows are written as connections leave the tracker (closed ones past its pool, or
        # evicted), then the rest by stream index: memory does not grow with their number.
        if _printed(c):
            write(tls_row(c))

    engine.tls.on_release = released
    sas: dict[tuple[str, int, str], SAStats] = {}
    progress = Progress.for_args(args)
    for res in iter_capture(args.capture, engine, progress=progress):
        for u in res.units:
            if isinstance(u, IPsecInfo):
                _count_sa(sas, u)
    engine.flush()
    progress.close()
    if engine.truncated and not args.quiet:
        warn(f"capture ends early: {engine.truncated}")
    warn_limits(engine, args)
    if len(sas) >= MAX_SA_ROWS:
        warn(f"more than {MAX_SA_ROWS} ESP/AH SPIs: the others are not listed")
    engine.tls.release_all()
    for st in sas.values():
        write(sa_row(st))
    for t in trackers:  # rows of the other protocol trackers (DTLS associations, ...)
        for row in t.stats_rows() if hasattr(t, "stats_rows") else []:
            write(row)
    return status.INCOMPLETE if engine.truncated else status.DONE


def sa_row(st: SAStats) -> dict[str, Any]:
    return {
        "proto": st.proto,
        "spi": f"0x{st.spi & 0xFFFFFFFF:08x}",
        "src": st.src,
        "dst": st.dst,
        "udp_encap": st.udp_encap,
        "algorithm": st.algorithm,
        "packets": st.packets,
        "decrypted": st.decrypted,
        "failed": st.failed,
        "replayed": st.replayed,
        "seq_gaps": st.seq_gaps,
    }


# -- several processes or a Dask cluster (--jobs N, --cluster, --dask-workers) ----------------

Key = tuple[int, ...]


@dataclass(slots=True)
class StatsPart:
    """What one unit of work (io/cluster.py) returns: its rows with what orders them."""

    # TLS rows: (when the connection table released it: (frame, 0, k), None at the end,
    # local stream, row)
    tls: list[tuple[Key | None, int, dict[str, Any]]]
    sas: list[tuple[Key, SAStats]]  # ESP/AH rows with the (frame, rank) that opened them
    trackers: list[list[dict[str, Any]]]  # each tracker's rows, in build_trackers order
    numbering: Numbering
    limit_counters: dict[str, int]
    truncated: list[tuple[int, str]]


def stats_unit(unit: Unit, factory: Callable[[], tuple[CaptureEngine, list[Any]]]) -> StatsPart:
    """``stats`` of one unit of work: the one-process rows of what it owns, in its order."""
    from netsec_layers.io.cluster import StreamWatch, unit_frames

    engine, trackers = factory()
    watch = StreamWatch(engine)
    tls: list[tuple[Key | None, int, dict[str, Any]]] = []
    now: list[int] = [0, 0]  # the frame being processed, releases during it so far
    at_end = False

    def released(c: TLSConnection) -> None:
        if _printed(c):
            key = None if at_end else (now[0], 0, now[1])
            now[1] += 1
            tls.append((key, c.index, tls_row(c)))

    engine.tls.on_release = released
    sas: dict[tuple[str, int, str], SAStats] = {}
    opened: list[Key] = []
    truncated: list[tuple[int, str]] = []
    process = engine.process_decoded
    for _index, frame, ip, mine in unit_frames(unit, engine, truncated):
        if not mine:
            continue
        now[0], now[1] = frame.number, 0
        res = process(frame, ip)
        for rank, u in enumerate(res.units):
            if isinstance(u, IPsecInfo) and _count_sa(sas, u):
                opened.append((frame.number, rank))
        watch.after(frame.number, res)
    engine.flush()
    at_end = True
    engine.tls.release_all()
    rows = [t.stats_rows() if hasattr(t, "stats_rows") else [] for t in trackers]
    return StatsPart(
        tls,
        list(zip(opened, sas.values(), strict=True)),
        rows,
        watch.log,
        engine.limit_counters(),
        truncated,
    )


def _run_units(args: argparse.Namespace) -> int:
    """The units' rows merged into the one-process output (same lines, same order)."""
    from netsec_layers.cli.cluster import file_sources, map_units
    from netsec_layers.io.cluster import cut_short

    sources = file_sources(args)
    engine, _ = stats_engine(args)  # key files checked (their warnings shown) once, here
    infos, units, results = map_units(args, sources, stats_unit, stats_engine)
    parts: list[StatsPart] = results
    counters: dict[str, int] = {}
    for p in parts:
        for k, v in p.limit_counters.items():
            counters[k] = counters.get(k, 0) + v
    cut = cut_short(infos, (t for p in parts for t in p.truncated), shown_paths(args.capture))
    if cut and not args.quiet:
        warn(f"capture ends early: {cut}")
    warn_limits(engine, args, counters)
    rows = merge_stats(parts)
    if rows.sa_overflow:
        warn(f"more than {MAX_SA_ROWS} ESP/AH SPIs: the others are not listed")
    out = sys.stdout
    for row in rows.rows:
        out.write(json.dumps(row) + "\n" if args.json else _line(row))
    return status.INCOMPLETE if cut else status.DONE


@dataclass(slots=True)
class MergedStats:
    rows: list[dict[str, Any]]
    sa_overflow: bool


def merge_stats(parts: Sequence[StatsPart]) -> MergedStats:
    """The one-process rows, in the one-process order, from the units' parts."""
    from netsec_layers.io.cluster import global_streams, ike_order, pool_releases
    from netsec_layers.session.ike import MAX_SAS as IKE_MAX_SAS

    logs = [p.numbering for p in parts]
    tcp, dtls = global_streams(logs)
    pool = pool_releases(logs, tcp)
    # TLS: as the connection table releases them (when one process's pool would, or when the
    # unit's table did, whichever is first), then the rest by stream number
    tls: list[tuple[tuple[int, Key], dict[str, Any]]] = []
    for u, p in enumerate(parts):
        for released, local, row in p.tls:
            stream = row["stream"] = tcp[u][local]
            whens = [k for k in (released, pool.get(stream)) if k is not None]
            tls.append(((0, min(whens)) if whens else (1, (stream,)), row))
    tls.sort(key=lambda t: t[0])
    rows = [row for _, row in tls]
    # ESP/AH: by the frame that opened the row; an SPI seen in two parts is one row
    sas: dict[tuple[str, int, str], tuple[Key, SAStats]] = {}
    for p in parts:
        for opened, st in p.sas:
            sa_key = (st.proto, st.spi, st.dst)
            had = sas.get(sa_key)
            if had is None:
                sas[sa_key] = (opened, st)
            else:
                first, second = sorted((had, (opened, st)), key=lambda t: t[0])
                sas[sa_key] = (first[0], _merge_sa(first[1], second[1]))
    ordered = sorted(sas.values(), key=lambda t: t[0])
    rows += [sa_row(st) for _, st in ordered[:MAX_SA_ROWS]]
    # the trackers' rows: DTLS and SSH by stream number, IKE by first appearance
    ike = ike_order(logs)
    for t in range(max((len(p.trackers) for p in parts), default=0)):
        keyed: list[tuple[Key, dict[str, Any]]] = []
        ike_rows = 0
        for u, p in enumerate(parts):
            seen = 0
            for k, row in enumerate(p.trackers[t]):
                proto = row.get("proto")
                if proto in _TCP_STREAM_ROWS + ("dtls",) and type(row.get("stream")) is int:
                    row["stream"] = (dtls if proto == "dtls" else tcp)[u][row["stream"]]
                    keyed.append(((row["stream"],), row))
                elif proto == "ike" and seen < len(ike[u]):
                    keyed.append((ike[u][seen], row))  # the tracker lists them as they came
                    seen += 1
                else:
                    keyed.append(((1 << 62, u, k), row))
            ike_rows += seen
        keyed.sort(key=lambda kr: kr[0])
        if ike_rows > IKE_MAX_SAS:  # the one-process tracker stops at its first MAX_SAS
            keyed = keyed[:IKE_MAX_SAS]
        rows += [row for _, row in keyed]
    return MergedStats(rows, len(sas) >= MAX_SA_ROWS)


def _merge_sa(st: SAStats, other: SAStats) -> SAStats:
    """One row of an SA whose packets two parts counted (one SPI to one destination from two
    sources): counts summed; sequence gaps were counted per part."""
    st.packets += other.packets
    st.decrypted += other.decrypted
    for reason, n in other.failed.items():
        st.failed[reason] = st.failed.get(reason, 0) + n
    st.replayed += other.replayed
    st.seq_gaps += other.seq_gaps
    st.algorithm = st.algorithm or other.algorithm
    if other.last_seq is not None and (st.last_seq is None or other.last_seq > st.last_seq):
        st.last_seq = other.last_seq
    return st


def shown_paths(capture: Any) -> dict[str, str] | None:
    """Absolute path -> the path as one process names it in messages (None: one file, named
    by the reason alone)."""
    from netsec_layers.io.multicapture import _expand, is_multi

    if not is_multi(capture):
        return None
    return {os.path.abspath(p): p for p in _expand(capture)}


def _finished(checks: dict[str, bool]) -> str:
    """``client ok,server FAILED`` from the Finished verify_data checks; ``-`` if none ran."""
    return (
        ",".join(f"{side} {'ok' if ok else 'FAILED'}" for side, ok in sorted(checks.items())) or "-"
    )


def _dtls_line(row: dict[str, Any]) -> str:
    return (
        f"DTLS #{row['stream']:<4} {row['client']} → {row['server']}  {row['version'] or '?'} "
        f"{row['cipher_suite'] or '?'}  cookie={'yes' if row['cookie_exchange'] else 'no'} "
        f"retransmissions={row['retransmissions']} records={row['records']} "
        f"decrypted={row['decrypted']} failed={row['failed']} keys={row['key_source'] or '-'} "
        f"finished={_finished(row['finished_ok'])}{' resumed' if row['resumed'] else ''}\n"
    )


def _ssh_line(row: dict[str, Any]) -> str:
    chans = " ".join(
        f"{c['type']}{'(' + c['command'] + ')' if c['command'] else ''}:"
        f"{c['bytes_c2s']}/{c['bytes_s2c']}"
        for c in row["channels"]
    )
    return (
        f"SSH  #{row['stream']:<4} {row['client']} → {row['server']}  "
        f"{row['client_version'] or '?'} / {row['server_version'] or '?'}  kex={row['kex'] or '?'} "
        f"hostkey={row['host_key_type'] or '?'} {row['host_key_fingerprint'] or ''} "
        f"cipher={row['cipher_c2s'] or '?'},{row['cipher_s2c'] or '?'} "
        f"mac={row['mac_c2s'] or '-'},{row['mac_s2c'] or '-'} "
        f"user={row['user'] or '-'} auth={row['auth_method'] or '-'} packets={row['packets']} "
        f"decrypted={row['decrypted']} failed={row['failed']} channels={chans or '-'}\n"
    )


def _ike_line(row: dict[str, Any]) -> str:
    auth = ",".join(f"{a['method']}:{a['verdict']}" for a in row["auth"]) or "-"
    exch = ",".join(f"{k}:{v}" for k, v in row["exchanges"].items()) or "-"
    return (
        f"IKE  {row['spi_i']}/{row['spi_r']} {row['initiator']} → {row['responder']}  "
        f"{row['proposal'] or '?'}{' (rekeyed)' if row['rekey_of_sk_d'] else ''}  "
        f"exchanges={exch} messages={row['messages']} decrypted={row['decrypted']} "
        f"failed={row['failed']} auth={auth} child_sas={','.join(row['child_sas']) or '-'}\n"
    )


def _chain_text(chain: list[dict[str, Any]]) -> str:
    """`` chain=[subject (key, not_before..not_after) < issuer] …`` leaf first."""
    parts = [
        f"[{c['subject']} ({c['key']}, {(c['not_before'] or '?')[:10]}..{(c['not_after'] or '?')[:10]})"
        f" < {c['issuer']}]"
        for c in chain
    ]
    return (" chain=" + " ".join(parts)) if parts else ""


def _warnings_text(counts: dict[str, int]) -> str:
    return (" warnings=" + ",".join(f"{k}:{v}" for k, v in counts.items())) if counts else ""


#: Rows numbered by TCP stream (renumbered over every unit of a distributed run).
_TCP_STREAM_ROWS = ("ssh", "smtp", "imap", "pop3", "mail")


def _mail_line(row: dict[str, Any]) -> str:
    tls = ""
    if row["starttls"] or row["implicit_tls"]:
        tls = (
            f"  {'starttls' if row['starttls'] else 'implicit-tls'} "
            f"{row['tls_version'] or '?'} {row['tls_cipher_suite'] or '?'} "
            f"sni={row['tls_sni'] or '-'} records={row['tls_records']} "
            f"decrypted={row['tls_decrypted']} failed={row['tls_failed']}"
        )
    return (
        f"{row['proto'].upper():<4} #{row['stream']:<4} {row['client']} → {row['server']}  "
        f"messages={row['messages']}{tls}\n"
    )


def _line(row: dict[str, Any]) -> str:
    if row["proto"] in _TCP_STREAM_ROWS[1:]:  # smtp, imap, pop3, mail
        return _mail_line(row)
    if row["proto"] == "ike":
        return _ike_line(row)
    if row["proto"] == "dtls":
        return _dtls_line(row)
    if row["proto"] == "ssh":
        return _ssh_line(row)
    if row["proto"] == "tls":
        return (
            f"TLS  #{row['stream']:<4} {row['client']} → {row['server']}  {row['version'] or '?'} "
            f"{row['cipher_suite'] or '?'}  sni={row['sni'] or '-'} alpn={','.join(row['alpn']) or '-'} "
            f"cert={row['certificate_subject'] or '-'}  records={row['records']} "
            f"decrypted={row['decrypted']} failed={row['failed']} keys={row['key_source'] or '-'} "
            f"finished={_finished(row['finished_ok'])}"
            f"{' resumed' if row['resumed'] else ''}{' HRR' if row['hello_retry'] else ''}"
            f"  ja3={row['ja3'] or '-'} ja3s={row['ja3s'] or '-'} ja4={row['ja4'] or '-'}"
            f"{_warnings_text(row['warnings'])}{_chain_text(row['certificate_chain'])}\n"
        )
    return (
        f"{row['proto'].upper():<4} spi={row['spi']} {row['src']} → {row['dst']}"
        f"{' (UDP 4500)' if row['udp_encap'] else ''}  {row['algorithm'] or '?'}  "
        f"packets={row['packets']} decrypted={row['decrypted']} failed={sum(row['failed'].values())} "
        f"replayed={row['replayed']} seq_gaps={row['seq_gaps']}\n"
    )
