"""``netsec mail``: RFC 5322 / MIME / S-MIME / CMS message files.

- ``netsec mail dissect FILE [--key FILE[:PASSWORD]]… [--passphrase P]… [--cert FILE]…
  [--ca FILE]… [--kek KEYID:KEY]… [--json]``: the MIME tree, S/MIME and CMS layers opened and
  verified where the keys allow; ``--json`` prints the one object of the ``message`` contract
  (docs/mail.md).  Exit 0 whenever the input was dissected (bad signatures and missing keys are
  in the output), 2 for unreadable input.
- ``netsec mail sign FILE -w OUT --key K --cert C [--opaque] [--pss] [--digest D] [--tamper T]``:
  clear-signed (multipart/signed) or opaque (application/pkcs7-mime) message.
- ``netsec mail encrypt FILE -w OUT --to CERT… [--cipher C] [--oaep] [--tamper T]``: S/MIME
  enveloped (or authEnveloped for the GCM ciphers) message.
- ``netsec mail extract CAPTURE -o DIR [--json]``: every message carried over SMTP, POP3 or
  IMAP, written as ``DIR/mail/NNNN.eml``.
- ``netsec message FILE [same key options] [--json]``: the contract command of issues 18/19:
  MIME/S-MIME/CMS here, OpenPGP handed to the OpenPGP part (``session/openpgp.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netsec_layers.cli import status
from netsec_layers.errors import ParseError, UsageError

MAX_INPUT = 256 << 20


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("mail", help="dissect, verify, decrypt and craft mail (MIME, S/MIME, CMS)")
    ms = p.add_subparsers(dest="mail_command", metavar="ACTION", required=True)
    d = ms.add_parser(
        "dissect",
        help="MIME tree and S/MIME/CMS layers of a message file",
        epilog="exit status: 0 dissected (signature and key verdicts are in the output); "
        "2 unreadable input or key file.",
    )
    d.add_argument("file", help="RFC 5322 message, MIME entity or CMS object ('-' = stdin)")
    _key_args(d)
    d.add_argument("--json", action="store_true", help="one JSON object (message contract)")

    s = ms.add_parser("sign", help="S/MIME-sign a MIME entity (clear-signed by default)")
    s.add_argument("file")
    s.add_argument("-w", "--write", required=True, metavar="OUT")
    s.add_argument("--key", required=True, metavar="FILE[:PASSWORD]")
    s.add_argument("--cert", required=True, metavar="FILE")
    s.add_argument("--opaque", action="store_true", help="application/pkcs7-mime signed-data")
    s.add_argument("--pss", action="store_true", help="RSASSA-PSS instead of PKCS#1 v1.5")
    s.add_argument("--digest", default="sha256", choices=("sha256", "sha384", "sha512"))
    s.add_argument(
        "--tamper",
        choices=("signature", "digest"),
        help="break the result on purpose (a signature bit, or the messageDigest attribute)",
    )

    e = ms.add_parser("encrypt", help="S/MIME-encrypt a MIME entity to certificates")
    e.add_argument("file")
    e.add_argument("-w", "--write", required=True, metavar="OUT")
    e.add_argument("--to", action="append", required=True, metavar="CERT")
    e.add_argument(
        "--cipher",
        default="aes256_cbc",
        choices=(
            "aes128_cbc",
            "aes192_cbc",
            "aes256_cbc",
            "tripledes_3key",
            "aes128_gcm",
            "aes256_gcm",
        ),
    )
    e.add_argument("--oaep", action="store_true", help="RSA-OAEP (SHA-256) key transport")
    e.add_argument(
        "--tamper",
        choices=("tag", "ciphertext"),
        help="break the result on purpose (a GCM tag bit, or a ciphertext bit)",
    )

    x = ms.add_parser(
        "extract",
        help="write every SMTP/POP3/IMAP message of a capture to DIR/mail/NNNN.eml",
        epilog=status.epilog(status.CUT_SHORT),
    )
    x.add_argument("capture")
    x.add_argument("-o", "--output", required=True, metavar="DIR")
    x.add_argument("--json", action="store_true", help="one JSON line per file written")


def add_message_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``netsec message``: the issue 18/19 contract command, whatever the kind of FILE."""
    if "message" in sub.choices:  # registered by another part already
        return
    m = sub.add_parser(
        "message",
        help="dissect a message file: RFC 5322/MIME, S/MIME, CMS or OpenPGP (by content)",
        epilog="exit status: 0 dissected (signature and key verdicts are in the output); "
        "2 unreadable input.",
    )
    m.add_argument("file", help="message, MIME entity, CMS (DER/PEM) or OpenPGP ('-' = stdin)")
    _key_args(m)
    m.add_argument(
        "--signature",
        metavar="SIG",
        help="a detached OpenPGP signature over FILE (FILE is then the signed data: content is "
        "its bytes, tree the signature's packets)",
    )
    m.add_argument("--json", action="store_true", help="one JSON object (message contract)")


def add_extract_parser(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    key_options: Callable[[argparse.ArgumentParser], None],
    limit_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    """``netsec extract``: mail messages and TLS certificates of a capture, as files."""
    if "extract" in sub.choices:
        return
    x = sub.add_parser(
        "extract",
        help="write every mail message (SMTP/POP3/IMAP) and TLS certificate of a capture",
        description="DIR/mail/NNNN.eml per message as transferred (partial fetches and POP3 "
        "TOP are not messages); DIR/certs/NNNN.der per distinct TLS certificate (TLS 1.3 "
        "ones with a key log); DIR/sftp/NNNN-put-NAME / NNNN-get-NAME per file written or read "
        "over SFTP in decrypted SSH (--ssh-keylog).",
        epilog=status.epilog(status.CUT_SHORT),
    )
    x.add_argument("capture", help="pcap or pcapng ('-' for standard input)")
    x.add_argument("-o", "--output", required=True, metavar="DIR")
    x.add_argument("--json", action="store_true", help="one JSON line per file written")
    x.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    key_options(x)
    limit_options(x)


def _key_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("keys (all repeatable)")
    g.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="FILE[:PASSWORD]",
        help="private key: PEM/DER/PKCS#8/PKCS#12",
    )
    g.add_argument(
        "--passphrase",
        action="append",
        default=[],
        metavar="P",
        help="password of a password recipient (PWRI)",
    )
    g.add_argument(
        "--cert",
        action="append",
        default=[],
        metavar="FILE",
        help="certificate: matches a recipient to a --key, supplies signer certificates",
    )
    g.add_argument(
        "--ca",
        action="append",
        default=[],
        metavar="FILE",
        help="trust anchor for the signer's chain (reported as 'chain')",
    )
    g.add_argument(
        "--kek",
        action="append",
        default=[],
        metavar="KEYID:KEY",
        help="pre-shared key-encryption key for a KEK recipient (both hex)",
    )


def _read(path: str) -> bytes:
    if path == "-":
        data = sys.stdin.buffer.read(MAX_INPUT + 1)
    else:
        with open(path, "rb") as fh:
            data = fh.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        raise UsageError(f"{path}: larger than {MAX_INPUT} bytes")
    return data


def _ring(args: argparse.Namespace, *, lenient: bool = False) -> Any:
    """The S/MIME keyring.  ``lenient``: key and certificate files that exist but are not
    S/MIME material (e.g. OpenPGP keys given to ``netsec message``) are skipped with a
    warning instead of failing."""
    from netsec_layers.errors import KeyFileError
    from netsec_layers.keys.smime_keys import SMIMEKeyring

    ring = SMIMEKeyring()
    loads = [(True, spec) for spec in args.key] + [(False, path) for path in args.cert]
    for is_key, spec in loads:
        try:
            if is_key:
                ring.add_key_file(spec)
            else:
                ring.add_cert_file(spec)
        except KeyFileError as exc:
            if not lenient or not Path(spec.partition(":")[0] if ":" in spec else spec).exists():
                raise
            print(f"netsec: warning: {exc} (skipped)", file=sys.stderr)
    for path in args.ca:
        ring.add_cert_file(path, anchor=True)
    ring.passwords += [p.encode() for p in args.passphrase]
    for spec in args.kek:
        kid, _, key = spec.partition(":")
        try:
            ring.keks[bytes.fromhex(kid)] = bytes.fromhex(key)
        except ValueError:
            raise UsageError(f"--kek {spec!r}: expected KEYID:KEY in hex") from None
    return ring


def run_message(args: argparse.Namespace) -> int:
    from netsec_layers.session.mail_message import detect_kind

    data = _read(args.file)
    signature = getattr(args, "signature", None)
    if signature is not None:  # FILE is the signed data, SIG a detached OpenPGP signature
        sig = _read(signature)
        if not sig:
            raise ParseError(f"{signature}: empty input")
        out = _openpgp(args, sig, detached=data)
        if args.json:
            print(json.dumps(out))
        else:
            _print_summary(out)
        return status.DONE
    if not data:
        raise ParseError(f"{args.file}: empty input")
    if detect_kind(data) == "openpgp":
        out = _openpgp(args, data)
        if args.json:
            print(json.dumps(out))
        else:
            _print_summary(out)
        return status.DONE
    return _dissect(args, data=data, lenient=True)


def _openpgp(
    args: argparse.Namespace, data: bytes, detached: bytes | None = None
) -> dict[str, Any]:
    """The ``openpgp`` object from the OpenPGP part (issue 19), keys it can read."""
    try:
        from netsec_layers.keys.openpgp_keys import Keyring, load_key_file, split_key_argument
        from netsec_layers.session.openpgp import open_message
    except ImportError:
        return {
            "kind": "openpgp",
            "tree": [],
            "decrypted": False,
            "signatures": [],
            "content": None,
            "error": "OpenPGP support is not available",
        }
    from netsec_layers.errors import NetsecError

    keyring, certs = Keyring(), Keyring()
    for spec in args.key:
        path, pw = split_key_argument(spec)
        try:
            load_key_file(path, keyring, pw)
        except NetsecError as exc:
            print(f"netsec: warning: {exc} (skipped)", file=sys.stderr)
    for path in args.cert:
        try:
            load_key_file(path, certs)
        except NetsecError as exc:
            print(f"netsec: warning: {exc} (skipped)", file=sys.stderr)
    res = open_message(
        data,
        keyring=keyring,
        certs=certs,
        passphrases=[p.encode() for p in args.passphrase],
        detached=detached,
    )
    out: dict[str, Any] = res.to_json()
    return out


def _print_summary(out: dict[str, Any]) -> None:
    for s in out["signatures"]:
        state = {True: "good", False: "BAD", None: "unknown signer"}[s["valid"]]
        why = f" ({s['error']})" if s["error"] else ""
        chain = f"; chain: {s['chain']}" if "chain" in s else ""
        print(f"signature: {state} by {s['signer']}{why}{chain}")
    print(f"decrypted: {'yes' if out['decrypted'] else 'no'}")
    if out["content"] is not None:
        print(f"content: {len(out['content']) // 2} bytes")
    if out["error"]:
        print(f"error: {out['error']}")


def run_mail(args: argparse.Namespace) -> int:
    if args.mail_command == "dissect":
        return _dissect(args)
    if args.mail_command == "sign":
        return _sign(args)
    if args.mail_command == "encrypt":
        return _encrypt(args)
    if args.mail_command == "extract":
        return _extract(args)
    raise UsageError(f"unknown mail action {args.mail_command}")


def _dissect(args: argparse.Namespace, *, data: bytes | None = None, lenient: bool = False) -> int:
    from netsec_layers.session.mail_message import dissect_message

    if data is None:
        data = _read(args.file)
    if not data:
        raise ParseError(f"{args.file}: empty input")
    report = dissect_message(data, _ring(args, lenient=lenient))
    out = report.to_json()
    if args.json:
        print(json.dumps(out))
        return status.DONE
    for ent in report.entities[:1]:
        print("\n".join(ent.tree_lines()))
    for node in out["tree"]:
        if "cms" in node:
            extra = ", ".join(f"{k}={v}" for k, v in node.items() if k != "cms")
            print(f"CMS {node['cms']}" + (f" ({extra})" if extra else ""))
    _print_summary(out)
    return status.DONE


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _sign(args: argparse.Namespace) -> int:
    from netsec_layers.keys.smime_keys import SMIMEKeyring
    from netsec_layers.session.mail_smime import smime_sign

    ring = SMIMEKeyring()
    ring.add_key_file(args.key)
    ring.add_cert_file(args.cert)
    pairs = [(k, c) for k, c in ring.pairs() if c is not None]
    if not pairs:
        raise UsageError("--key does not match --cert")
    out = smime_sign(
        _read(args.file),
        signer=pairs[0],
        opaque=args.opaque,
        pss=args.pss,
        digest=args.digest,
        tamper=args.tamper,
    )
    _write(args.write, out)
    return status.DONE


def _encrypt(args: argparse.Namespace) -> int:
    from netsec_layers.keys.smime_keys import SMIMEKeyring
    from netsec_layers.session.mail_smime import smime_encrypt

    ring = SMIMEKeyring()
    for path in args.to:
        ring.add_cert_file(path)
    out = smime_encrypt(
        _read(args.file),
        recipients=ring.certificates,
        cipher=args.cipher,
        oaep=args.oaep,
        tamper=args.tamper,
    )
    _write(args.write, out)
    return status.DONE


def _safe_name(name: str) -> str:
    """A remote file name as a local base name: no path separators, no leading dots."""
    cleaned = "".join(c if c.isalnum() or c in "._-+" else "_" for c in name).lstrip(".")
    return cleaned[:100] or "file"


def run_extract(args: argparse.Namespace) -> int:
    """``netsec extract``: the engine with every tracker and the given keys."""
    from netsec_layers.cli.common import build_trackers, engine_limits, load_sadb, load_tls_keys
    from netsec_layers.io.capture import iter_capture
    from netsec_layers.session.engine import CaptureEngine
    from netsec_layers.session.mail_extract import ExtractedObject, ObjectExtractor

    keys = load_tls_keys(args)
    engine = CaptureEngine(
        tls_keys=keys,
        sadb=load_sadb(args),
        trackers=build_trackers(args, keys),
        check_replay=not getattr(args, "no_replay_check", False),
        **engine_limits(args),
    )
    out = Path(args.output)
    if not out.is_dir():
        raise UsageError(f"{out}: no such output directory")
    counts = {"mail": 0, "cert": 0, "sftp": 0}

    def write(objs: list[ExtractedObject]) -> None:
        for o in objs:
            counts[o.kind] += 1
            if o.kind == "sftp":  # DIR/sftp/NNNN-put-NAME or NNNN-get-NAME (the base name only)
                how, _, remote = (o.name or "get:file").partition(":")
                base = _safe_name(remote.rsplit("/", 1)[-1])
                sub, leaf = "sftp", f"{counts['sftp']:04d}-{how}-{base}"
            else:
                sub, ext = ("mail", "eml") if o.kind == "mail" else ("certs", "der")
                leaf = f"{counts[o.kind]:04d}.{ext}"
            (out / sub).mkdir(exist_ok=True)
            path = out / sub / leaf
            _write(str(path), o.data)
            if args.json:
                line = {"kind": o.kind, "path": str(path), "frame": o.frame, "stream": o.stream}
                print(json.dumps(line))

    ex = ObjectExtractor()
    for res in iter_capture(args.capture, engine):
        write(ex.feed(res.units))
    write(ex.feed(engine.flush()))
    write(ex.finish())
    if not args.quiet:
        print(
            f"netsec: {counts['mail']} mail messages, {counts['cert']} certificates, "
            f"{counts['sftp']} SFTP files",
            file=sys.stderr,
        )
    return status.INCOMPLETE if engine.truncated else status.DONE


def _extract(args: argparse.Namespace) -> int:
    from netsec_layers.io.capture import iter_capture
    from netsec_layers.session.engine import CaptureEngine
    from netsec_layers.session.mail import MailMessage, MailTracker

    outdir = Path(args.output) / "mail"
    outdir.mkdir(parents=True, exist_ok=True)
    tracker = MailTracker()
    engine = CaptureEngine(trackers=[tracker])
    n = 0

    def emit(units: list[Any]) -> None:
        nonlocal n
        for u in units:
            if isinstance(u, MailMessage):
                n += 1
                path = outdir / f"{n:04d}.eml"
                _write(str(path), u.data)
                if args.json:
                    line = {"kind": "mail", "path": str(path), "frame": u.frame, "stream": u.stream}
                    print(json.dumps(line))

    for res in iter_capture(args.capture, engine):
        emit(res.units)
    emit(engine.flush())
    return status.INCOMPLETE if engine.truncated else status.DONE
