"""The ``netsec`` command: a thin shell over the library.

This is the only place that prints or exits. Sub-commands import what they need when they run, so
``netsec --help`` starts without loading Scapy.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

from netsec_layers.cli import status
from netsec_layers.cli.cluster import add_cluster_options, add_progress_option, positive
from netsec_layers.errors import NetsecError
from netsec_layers.gcpolicy import fewer_gc_passes


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _key_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("key material (all may be given together)")
    g.add_argument(
        "--keylog",
        action="append",
        default=[],
        metavar="FILE",
        help="NSS key log (SSLKEYLOGFILE, RFC 9850); repeatable",
    )
    g.add_argument(
        "--rsa-key",
        action="append",
        default=[],
        metavar="FILE[:PASSWORD]",
        help="server RSA private key (PEM or DER) for static-RSA key exchange; repeatable",
    )
    g.add_argument(
        "--ech-key",
        action="append",
        default=[],
        metavar="FILE",
        help="a TLS server's ECH key file (PEM: PRIVATE KEY + ECHCONFIG, as OpenSSL, nginx and "
        "HAProxy use): opens the ClientHelloOuter of its configs without ECH_SECRET lines; "
        "repeatable",
    )
    g.add_argument(
        "--esp-sa",
        action="append",
        default=[],
        metavar="FILE",
        help="ESP/AH security associations: Wireshark esp_sa, `ip xfrm state` output or "
        "netsec JSON; repeatable",
    )
    g.add_argument(
        "--ssh-keylog",
        action="append",
        default=[],
        metavar="FILE",
        help="SSH key log (Wireshark format: '<cookie> SHARED_SECRET|PRIVATE_KEY <hex>' or "
        "'<cookie> <private key hex>'); repeatable",
    )
    g.add_argument(
        "--ike-keys",
        action="append",
        default=[],
        metavar="FILE",
        help="IKE keys: Wireshark ikev2_decryption_table / ikev1_decryption_table lines or "
        "netsec JSON (SK_* or g_ir per IKE SA); with SK_d or g_ir the CHILD_SAs are derived "
        "and the capture's ESP decrypts; repeatable",
    )
    g.add_argument(
        "--no-replay-check", action="store_true", help="do not apply the ESP/AH anti-replay window"
    )


def _limit_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("resource limits (reaching one is reported on stderr)")
    g.add_argument(
        "--max-connections",
        type=positive,
        metavar="N",
        help="TCP/TLS connections tracked at once; past it the least recently used is "
        "dropped (default 100000)",
    )
    g.add_argument(
        "--max-tcp-buffer",
        type=positive,
        metavar="MIB",
        help="out-of-order TCP bytes held over all connections, in MiB; past it the fullest "
        "buffers are delivered past their holes (default 32; at most 16 per direction)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netsec",
        description="Dissect, decrypt, craft and encrypt IPsec and SSL/TLS traffic.",
    )
    parser.add_argument("--version", action="version", version="netsec_layers 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser(
        "dissect",
        help="show every TLS record and ESP/AH packet of a capture",
        description="One summary line per packet (tshark-like); -V for the full "
        "layer tree; --json for JSON Lines (one object per TLS record "
        "and per ESP/AH packet).",
        epilog=status.epilog(status.CUT_SHORT),
    )
    d.add_argument(
        "capture",
        nargs="+",
        help="pcap or pcapng file ('-' for standard input); several files or a directory are "
        "read as one capture in time order (rotated captures: connections continue)",
    )
    d.add_argument(
        "--json", action="store_true", help="JSON Lines on stdout (see README: JSON contract)"
    )
    d.add_argument(
        "--format",
        choices=("json", "parquet", "arrow"),
        help="json: as --json; parquet/arrow: the same fields as typed columns in the file "
        "given by -w (docs/columnar.md; needs the 'columnar' extra)",
    )
    d.add_argument(
        "-w",
        "--write",
        metavar="OUT",
        help="output file of --format parquet/arrow (with --cluster: a dataset directory)",
    )
    d.add_argument("-V", "--verbose", action="store_true", help="full layer tree of each packet")
    d.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar, no summary on stderr"
    )
    d.add_argument(
        "--show-keys",
        action="store_true",
        help="print the TLS secrets used or derived (key log lines) on stderr at the end; "
        "secrets are never printed otherwise",
    )
    d.add_argument(
        "-j",
        "--jobs",
        type=positive,
        metavar="N",
        help="with --format parquet|arrow -w DIR: N forked worker processes writing a dataset "
        "partitioned by input file, as --cluster does (docs/columnar.md)",
    )
    add_cluster_options(d)
    add_progress_option(d)
    _key_options(d)
    _limit_options(d)

    e = sub.add_parser(
        "encrypt",
        help="turn every IP packet of a capture into ESP under an SA",
        epilog=status.epilog(status.CUT_SHORT + " or it held no IP packet to encrypt"),
    )
    e.add_argument("input", help="pcap or pcapng with the plaintext IP packets")
    e.add_argument("-w", "--write", required=True, metavar="OUT", help="output capture")
    e.add_argument(
        "--esp-sa",
        action="append",
        required=True,
        metavar="FILE",
        help="SA file (Wireshark esp_sa, ip xfrm state, netsec JSON)",
    )
    e.add_argument("--spi", type=_int, help="use the SA with this SPI (default: the first ESP SA)")
    e.add_argument("--seq", type=_int, default=1, help="first sequence number (default 1)")
    e.add_argument("--mode", choices=("tunnel", "transport"), help="override the SA's mode")
    e.add_argument(
        "--udp-encap", type=_int, metavar="PORT", help="UDP-encapsulate (RFC 3948) on PORT"
    )
    e.add_argument(
        "--format", choices=("pcap", "pcapng"), help="output format (default: by extension)"
    )
    e.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar, no summary on stderr"
    )

    x = sub.add_parser(
        "decrypt",
        help="write a capture that tools without keys read as plaintext",
        description="ESP packets become their inner packets; decrypted TLS "
        "connections become plaintext TCP streams; the rest is kept.",
        epilog=status.epilog(
            status.CUT_SHORT + ", or nothing was decrypted (no key matched any TLS connection or "
            "ESP SA; the output, the input unchanged, is written all the same)"
        ),
    )
    x.add_argument(
        "input",
        nargs="+",
        help="pcap or pcapng; several files or a directory are read as one capture in time "
        "order (rotated captures: connections and SAs continue; one output)",
    )
    x.add_argument("-w", "--write", required=True, metavar="OUT", help="output capture")
    x.add_argument("--format", choices=("pcap", "pcapng"), help="output format (default: as input)")
    x.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar, no summary on stderr"
    )
    x.add_argument(
        "-j",
        "--jobs",
        type=positive,
        metavar="N",
        help="worker processes, split by host pair (default: as many as pay, up to 4, "
        "1 for small files, several files, standard input or --rsa-key; 1 = one process); "
        "several files: by file chain and host pair (docs/columnar.md)",
    )
    add_cluster_options(x)
    add_progress_option(x)
    _key_options(x)
    _limit_options(x)

    s = sub.add_parser(
        "stats",
        help="per TLS connection and per ESP/AH SA: endpoints, versions, counts",
        epilog=status.epilog(status.CUT_SHORT),
    )
    s.add_argument("capture", nargs="+", help="pcap or pcapng file(s) or a directory")
    s.add_argument("--json", action="store_true", help="one JSON object per connection/SA")
    s.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar, no warnings on stderr"
    )
    s.add_argument(
        "-j",
        "--jobs",
        type=positive,
        metavar="N",
        help="N forked worker processes, by file chain and host pair, as --cluster does; the "
        "lines are the one-process lines, in the same order (docs/columnar.md)",
    )
    add_cluster_options(s)
    add_progress_option(s)
    _key_options(s)
    _limit_options(s)

    from netsec_layers.cli.keys import add_parser as add_keys_parser

    add_keys_parser(sub)
    from netsec_layers.cli.pgp import add_parser as add_pgp_parser

    add_pgp_parser(sub)
    from netsec_layers.cli.mail import add_parser as add_mail_parser

    add_mail_parser(sub)
    from netsec_layers.cli.mail import add_message_parser

    add_message_parser(sub)  # `netsec message` (issues 18/19), unless registered already
    from netsec_layers.cli.mail import add_extract_parser

    add_extract_parser(sub, _key_options, _limit_options)  # `netsec extract` (issue 18)
    from netsec_layers.cli.report import add_parser as add_report_parser

    add_report_parser(sub, _key_options, _limit_options)  # `netsec report` (issue 21)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # one capture: a path as before; several or a directory: read as one (io/multicapture)
    if isinstance(getattr(args, "capture", None), list) and len(args.capture) == 1:
        args.capture = args.capture[0]
    if args.command is None:
        parser.print_help()
        return 2
    streaming = args.command in ("decrypt", "encrypt", "stats") or (
        args.command == "dissect" and not args.verbose
    )
    # not for -V, which builds Scapy packets (their underlayer links are cycles)
    with fewer_gc_passes(streaming), _sigterm_unwinds():
        return _run(parser, args)


class _Terminated(BaseException):
    """SIGTERM (``timeout``, ``kill``): raised where the program is, so that outputs under way
    are removed as after Ctrl-C (io/atomic.py) instead of the process dying mid-write."""


class _sigterm_unwinds:  # noqa: N801 - used as a context manager, like contextlib's
    def __enter__(self) -> None:
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.pid = os.getpid()
            self.old = signal.signal(signal.SIGTERM, self._handler)

    def _handler(self, signum: int, frame: object) -> None:
        if os.getpid() != self.pid:
            # A forked worker (decrypt --jobs) inherited the handler: die as before, at once
            # (unwinding there could block on a pipe its parent no longer reads).
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise _Terminated

    def __exit__(self, *exc: object) -> None:
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        if args.command == "dissect":
            from netsec_layers.cli.dissect import run_dissect

            return run_dissect(args)
        if args.command == "decrypt":
            from netsec_layers.cli.decrypt import run_decrypt

            return run_decrypt(args)
        if args.command == "stats":
            from netsec_layers.cli.stats import run_stats

            return run_stats(args)
        if args.command == "keys":
            from netsec_layers.cli.keys import run_keys

            return run_keys(args)
        if args.command == "pgp":
            from netsec_layers.cli.pgp import run_pgp

            return run_pgp(args)
        if args.command == "mail":
            from netsec_layers.cli.mail import run_mail

            return run_mail(args)
        if args.command == "message":
            from netsec_layers.cli.mail import run_message

            return run_message(args)
        if args.command == "extract":
            from netsec_layers.cli.mail import run_extract

            return run_extract(args)
        if args.command == "report":
            from netsec_layers.cli.report import run_report

            return run_report(args)
        if args.command == "encrypt":
            from netsec_layers.cli.encrypt import run_encrypt

            return run_encrypt(args)
    except BrokenPipeError:
        # `netsec dissect big.pcap | head`: stop quietly like other Unix tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("netsec: interrupted", file=sys.stderr)
        return status.INTERRUPTED
    except _Terminated:
        print("netsec: terminated", file=sys.stderr)
        return status.TERMINATED
    except FileNotFoundError as exc:
        print(f"netsec: {exc.filename}: no such file", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"netsec: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except NetsecError as exc:
        print(f"netsec: {exc}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command}")
    return 2
