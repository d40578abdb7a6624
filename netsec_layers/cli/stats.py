"""``netsec stats CAPTURE [keys]``: one line per TLS connection and per ESP/AH SA."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any

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
from netsec_layers.cli.summaries import VERSION_NAMES, _name
from netsec_layers.io.capture import iter_capture
from netsec_layers.session.engine import CaptureEngine, IPsecInfo
from netsec_layers.session.tls import DirState, TLSConnection
from netsec_layers.session.verdicts import IPsecFailure

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


def run_stats(args: argparse.Namespace) -> int:
    keys = load_tls_keys(args)
    trackers = build_trackers(args, keys)
    engine = CaptureEngine(
        tls_keys=keys,
        trackers=trackers,
        sadb=load_sadb(args),
        check_replay=not args.no_replay_check,
        **engine_limits(args),
    )
    out = sys.stdout

    def write(row: dict[str, Any]) -> None:
        out.write(json.dumps(row) + "\n" if args.json else _line(row))

    def released(c: TLSConnection) -> None:
        # Rows are written as connections leave the tracker (closed ones past its pool, or
        # evicted), then the rest by stream index: memory does not grow with their number.
        if c.records and (
            c.client.state is DirState.TLS or c.server.state is DirState.TLS or c.client_hello
        ):
            write(tls_row(c))

    engine.tls.on_release = released
    sas: dict[tuple[str, int, str], SAStats] = {}
    progress = Progress.for_args(args)
    for res in iter_capture(args.capture, engine, progress=progress):
        for u in res.units:
            if isinstance(u, IPsecInfo):
                key = (u.proto, u.spi, u.dst)
                st = sas.get(key)
                if st is None:
                    if len(sas) >= MAX_SA_ROWS:
                        continue  # hostile SPI floods: counted in the warning below
                    st = sas[key] = SAStats(u.proto, u.spi, u.src, u.dst, u.udp_encap)
                st.add(u)
    engine.flush()
    progress.close()
    if engine.truncated and not args.quiet:
        warn(f"capture ends early: {engine.truncated}")
    warn_limits(engine, args)
    if len(sas) >= MAX_SA_ROWS:
        warn(f"more than {MAX_SA_ROWS} ESP/AH SPIs: the others are not listed")
    engine.tls.release_all()
    for st in sas.values():
        write(
            {
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
        )
    for t in trackers:  # rows of the other protocol trackers (DTLS associations, ...)
        for row in t.stats_rows() if hasattr(t, "stats_rows") else []:
            write(row)
    return status.INCOMPLETE if engine.truncated else status.DONE


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


def _line(row: dict[str, Any]) -> str:
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
