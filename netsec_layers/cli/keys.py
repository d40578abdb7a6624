"""``netsec keys``: inspect and convert key material.

- ``netsec keys convert FILE --to esp_sa|json|xfrm``: SA files between Wireshark ``esp_sa``, the
  netsec JSON format and ``ip xfrm state add …`` commands (input format detected).
- ``netsec keys check FILE``: validate a key log (bad lines reported with their numbers).
- ``netsec keys inject IN -w OUT.pcapng [--keylog F]… [--esp-sa F]…``: put the secrets into a
  pcapng Decryption Secrets Block (like ``editcap --inject-secrets``), before the first packet.
- ``netsec keys export CAPTURE -w keys.log [--keylog F]… [--rsa-key F]…``: the TLS secrets
  used or derived for a capture (e.g. master secrets recovered with an RSA key) as a key log;
  with ``--ike-keys F [--to esp_sa|json|xfrm]`` the CHILD_SAs derived from the capture's IKE.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from netsec_layers.cli import status
from netsec_layers.cli.common import load_sadb, load_tls_keys, plural, warn
from netsec_layers.errors import KeyFileError, UsageError
from netsec_layers.io.atomic import atomic_output, check_output_path

if TYPE_CHECKING:
    from netsec_layers.session.engine import CaptureEngine
    from netsec_layers.session.tls import TLSConnection

SECRETS_TLS = 0x544C534B
SECRETS_ESP = 0x45535053


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    k = sub.add_parser("keys", help="inspect, convert and inject key material")
    ks = k.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    c = ks.add_parser(
        "convert",
        help="convert an SA file (esp_sa / JSON / ip xfrm state)",
        epilog=status.epilog("the file holds no SA (no output is written)"),
    )
    c.add_argument(
        "file", help="SA file: Wireshark esp_sa, `ip xfrm state` output or netsec JSON (detected)"
    )
    c.add_argument(
        "--to",
        choices=("esp_sa", "json", "xfrm"),
        required=True,
        help="output format: Wireshark esp_sa lines, netsec JSON, or `ip xfrm state add` commands",
    )
    c.add_argument(
        "-w",
        "--write",
        metavar="OUT",
        help="write to OUT (mode 0600: it holds the SAs' keys) instead of standard output",
    )
    ch = ks.add_parser(
        "check",
        help="validate an NSS key log",
        epilog=status.epilog("the key log has bad lines or unknown labels, or no usable entry"),
    )
    ch.add_argument("file", help="NSS key log (SSLKEYLOGFILE) to validate")
    i = ks.add_parser(
        "inject",
        help="write a pcapng with Decryption Secrets Blocks",
        epilog=status.epilog(status.CUT_SHORT),
    )
    i.add_argument("input", help="pcap or pcapng capture to copy")
    i.add_argument(
        "-w",
        "--write",
        required=True,
        metavar="OUT",
        help="output pcapng (mode 0600: it holds the secrets)",
    )
    i.add_argument(
        "--keylog",
        action="append",
        default=[],
        metavar="FILE",
        help="NSS key log to embed as a TLS secrets block (bytes as they are); repeatable",
    )
    i.add_argument(
        "--esp-sa",
        action="append",
        default=[],
        metavar="FILE",
        help="SA file (esp_sa, ip xfrm state, netsec JSON) to embed as an ESP secrets block in "
        "Wireshark esp_sa form; repeatable",
    )
    e = ks.add_parser(
        "export",
        help="write the TLS secrets used/derived for a capture as a key log",
        epilog=status.epilog(
            status.CUT_SHORT + ", or no TLS secret was found for any connection (then no file "
            "is written)"
        ),
    )
    e.add_argument("capture", help="pcap or pcapng capture whose TLS connections to follow")
    e.add_argument(
        "-w",
        "--write",
        required=True,
        metavar="OUT",
        help="output key log (mode 0600); not written when no secret is found",
    )
    e.add_argument(
        "--keylog",
        action="append",
        default=[],
        metavar="FILE",
        help="NSS key log whose secrets are used (and exported for the connections they "
        "match); repeatable",
    )
    e.add_argument(
        "--rsa-key",
        action="append",
        default=[],
        metavar="FILE[:PASSWORD]",
        help="server RSA private key (PEM or DER): the master secrets of static-RSA "
        "connections are recovered and exported; repeatable",
    )
    e.add_argument(
        "--esp-sa",
        action="append",
        default=[],
        metavar="FILE",
        help="ESP/AH SAs, to follow TLS carried inside ESP; repeatable",
    )
    e.add_argument(
        "--no-replay-check",
        action="store_true",
        help="do not apply the ESP/AH anti-replay window",
    )
    e.add_argument(
        "--ike-keys",
        action="append",
        default=[],
        metavar="FILE",
        help="IKE keys (netsec JSON with sk_d or g_ir, or Wireshark tables): write the CHILD_SAs "
        "derived from the capture's IKE instead of TLS secrets; repeatable",
    )
    e.add_argument(
        "--to",
        choices=["esp_sa", "json", "xfrm"],
        default="esp_sa",
        help="format of the derived CHILD_SAs (with --ike-keys; default esp_sa)",
    )
    for p in (c, ch, i, e):
        p.add_argument(
            "-q", "--quiet", action="store_true", help="no summary or warnings on stderr"
        )


def run_keys(args: argparse.Namespace) -> int:
    return {"convert": _convert, "check": _check, "inject": _inject, "export": _export}[
        args.keys_command
    ](args)


def _convert(args: argparse.Namespace) -> int:
    from netsec_layers.keys import sa_files

    if args.write:
        check_output_path(args.write)
    sas = sa_files.load_sa_file(args.file)
    if not sas:
        if not args.quiet:
            warn(f"{args.file}: no SA in the file; nothing written")
        return status.INCOMPLETE
    if args.to == "esp_sa":
        text = sa_files.format_esp_sa(sas)
    elif args.to == "json":
        text = sa_files.format_project(sas)
    else:
        text = "".join(sa_files.format_xfrm_add(sa) + "\n" for sa in sas)
    if not args.write:
        sys.stdout.write(text)
        return status.DONE
    with atomic_output(args.write, secret=True) as fh:  # the SAs' keys: 0600
        fh.write(text.encode())
    return status.DONE


def _check(args: argparse.Namespace) -> int:
    from netsec_layers.keys.keylog import load_keylog

    kl = load_keylog(args.file)
    for err in kl.errors:  # each bad line once, by number; unknown labels named in the reason
        print(f"{args.file}:{err.line}: {err.reason}", file=sys.stderr)
    unknown = sum(1 for err in kl.errors if err.unknown_label)
    print(
        f"{args.file}: {plural(len(kl), 'usable entry', 'usable entries')}, "
        f"{plural(len(kl.errors), 'bad line')}"
        + (f" ({unknown} with an unknown label)" if unknown else "")
    )
    for label, n in sorted(kl.label_counts().items()):  # usable entries only
        print(f"  {label}: {n}")
    return status.INCOMPLETE if kl.errors or not len(kl) else status.DONE


def _inject(args: argparse.Namespace) -> int:
    from netsec_layers.io.pcap import CaptureWriter, open_capture

    check_output_path(args.write)
    blobs: list[tuple[int, bytes]] = []
    for path in args.keylog:
        data = _read(path)
        from netsec_layers.keys.keylog import parse_keylog

        kl = parse_keylog(data)
        if kl.errors and not args.quiet:
            warn(f"{path}: {plural(len(kl.errors), 'bad line')} (kept as they are)")
        blobs.append((SECRETS_TLS, data))
    for path in args.esp_sa:
        from netsec_layers.keys.sa_files import format_esp_sa, load_sa_file

        blobs.append((SECRETS_ESP, format_esp_sa(load_sa_file(path)).encode()))
    if not blobs:
        raise UsageError("nothing to inject: give --keylog and/or --esp-sa")
    with ExitStack() as stack:
        reader = stack.enter_context(open_capture(args.input))
        # The output carries secrets: 0600 from the start, renamed into place when complete.
        dest = stack.enter_context(atomic_output(args.write, secret=True))
        writer: CaptureWriter | None = None
        n = 0
        for frame in reader:
            if writer is None:  # secrets go before the first packet that needs them
                writer = stack.enter_context(
                    CaptureWriter(dest, format="pcapng", linktype=frame.linktype, nanosecond=True)
                )
                for stype, data in [*reader.secrets, *blobs]:
                    writer.write_secrets(stype, data)
            writer.write(
                frame.data, ts_ns=frame.ts_ns, linktype=frame.linktype, orig_len=frame.orig_len
            )
            n += 1
        if writer is None:
            writer = stack.enter_context(CaptureWriter(dest, format="pcapng"))
            for stype, data in blobs:
                writer.write_secrets(stype, data)
    if not args.quiet:
        print(
            f"netsec: {plural(n, 'frame')} and {plural(len(blobs), 'secrets block')} written "
            f"to {args.write}",
            file=sys.stderr,
        )
    if reader.truncated and not args.quiet:
        warn(f"capture ends early: {reader.truncated}")
    return status.INCOMPLETE if reader.truncated else status.DONE


def _export(args: argparse.Namespace) -> int:
    from netsec_layers.io.capture import iter_capture
    from netsec_layers.session.engine import CaptureEngine

    if getattr(args, "ike_keys", None):
        return _export_child_sas(args)
    check_output_path(args.write)
    engine = CaptureEngine(tls_keys=load_tls_keys(args), sadb=load_sadb(args))
    lines = collect_keylog_lines(engine)
    for _ in iter_capture(args.capture, engine):
        pass
    engine.flush()
    engine.tls.release_all()
    if engine.truncated and not args.quiet:
        warn(f"capture ends early: {engine.truncated}")
    if not lines:
        # An empty key log would only look like success: write nothing, say why.
        if not args.quiet:
            warn("no TLS secret for any connection (give --keylog or --rsa-key); nothing written")
        return status.INCOMPLETE
    with atomic_output(args.write, secret=True) as fh:
        fh.write("".join(line.rstrip("\n") + "\n" for line in lines).encode())
    if not args.quiet:
        print(
            f"netsec: {plural(len(lines), 'key log line')} written to {args.write}",
            file=sys.stderr,
        )
    return status.INCOMPLETE if engine.truncated else status.DONE


def _export_child_sas(args: argparse.Namespace) -> int:
    """``keys export --ike-keys``: the CHILD_SAs derived from the capture's IKE (RFC 7296
    §2.17) written as Wireshark esp_sa, netsec JSON or ``ip xfrm state add`` lines."""
    from netsec_layers.cli.common import build_trackers
    from netsec_layers.io.capture import iter_capture
    from netsec_layers.keys import sa_files
    from netsec_layers.session.engine import CaptureEngine
    from netsec_layers.session.trackers import SADerived

    check_output_path(args.write)
    engine = CaptureEngine(trackers=build_trackers(args), sadb=load_sadb(args))
    sas = [
        ev.sa
        for res in iter_capture(args.capture, engine)
        for ev in res.events
        if isinstance(ev, SADerived)
    ]
    if not sas:
        if not args.quiet:
            warn("no CHILD_SA could be derived (the keys need sk_d or g_ir); nothing written")
        return status.INCOMPLETE
    if args.to == "json":
        text = sa_files.format_project(sas)
    elif args.to == "xfrm":
        text = "".join(sa_files.format_xfrm_add(sa) + "\n" for sa in sas)
    else:
        text = sa_files.format_esp_sa(sas)
    with atomic_output(args.write, secret=True) as fh:
        fh.write(text.encode())
    if not args.quiet:
        print(f"netsec: {plural(len(sas), 'CHILD_SA')} written to {args.write}", file=sys.stderr)
    return status.INCOMPLETE if engine.truncated else status.DONE


def collect_keylog_lines(engine: CaptureEngine) -> list[str]:
    """A list that fills with NSS key log lines for the TLS secrets the run used or derived
    (master secrets recovered with an RSA key included) as connections leave the tracker;
    call ``engine.tls.release_all()`` at the end for the rest."""
    from netsec_layers.keys.keylog import format_keylog_line

    lines: list[str] = []
    chained = engine.tls.on_release

    def on_release(c: TLSConnection) -> None:
        if c.client_hello is not None:
            cr = c.client_hello.random
            if c.master_secret is not None and not c.is13:
                lines.append(format_keylog_line("CLIENT_RANDOM", cr, c.master_secret).rstrip("\n"))
            for label, secret in sorted(c.secrets13.items()):
                lines.append(format_keylog_line(label, cr, secret).rstrip("\n"))
        if chained is not None:
            chained(c)

    engine.tls.on_release = on_release
    return lines


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc.strerror}") from None
