"""``netsec pgp``: OpenPGP messages, keys and signatures.

- ``netsec pgp dissect FILE [--key FILE[:PASSWORD]]… [--passphrase P]… [--cert FILE]…
  [--signature SIG] [--session-key ALGO:HEX]… [--json] [-V]``: the packet tree, decrypted and
  verified where the keys allow; ``--json`` prints the ``"kind": "openpgp"`` object of the
  message contract; ``-V`` the Scapy layers of every packet.
- ``netsec pgp encrypt FILE -w OUT [--passphrase P | --cert FILE]… [--v6] [--armor]``
- ``netsec pgp sign FILE -w OUT --key FILE[:PASSWORD] [--detached] [--armor]``
- ``netsec pgp genkey USER_ID -w OUT [--kind ed25519|rsa|p256] [--v6] [--passphrase P]``
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from netsec_layers.cli import status
from netsec_layers.errors import UsageError
from netsec_layers.io.atomic import atomic_output

MAX_INPUT = 256 << 20


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("pgp", help="dissect, decrypt, verify and craft OpenPGP messages")
    ps = p.add_subparsers(dest="pgp_command", metavar="ACTION", required=True)
    d = ps.add_parser(
        "dissect",
        help="packet tree of an OpenPGP message, key or signature",
        epilog=status.epilog(
            "the output has an error: no encrypted layer opened, an integrity "
            "check failed, or the input is malformed"
        ),
    )
    d.add_argument("file", help="armored or binary OpenPGP data ('-' for standard input)")
    _key_args(d)
    d.add_argument("--signature", metavar="SIG", help="detached signature: FILE is the signed data")
    d.add_argument(
        "--session-key",
        action="append",
        default=[],
        metavar="ALGO:HEX",
        help="session key as `gpg --show-session-key` prints it; repeatable",
    )
    d.add_argument("--json", action="store_true", help="one JSON object (kind openpgp)")
    d.add_argument("-V", "--verbose", action="store_true", help="Scapy layers of every packet")
    e = ps.add_parser(
        "encrypt",
        help="encrypt FILE to passphrases and/or certificates",
        epilog=status.epilog("never (it writes OUT or fails)"),
    )
    e.add_argument("file")
    e.add_argument("-w", "--write", required=True, metavar="OUT")
    e.add_argument("--passphrase", action="append", default=[], metavar="P")
    e.add_argument("--cert", action="append", default=[], metavar="FILE")
    e.add_argument("--v6", action="store_true", help="v6 ESKs and SEIPD v2 (AEAD OCB)")
    e.add_argument("--armor", action="store_true")
    k = ps.add_parser(
        "genkey",
        help="generate a key: OUT (secret, mode 0600) and OUT.pub (certificate)",
        epilog=status.epilog("never (it writes OUT or fails)"),
    )
    k.add_argument("user_id")
    k.add_argument("-w", "--write", required=True, metavar="OUT")
    k.add_argument("--kind", choices=("ed25519", "ed448", "rsa", "p256"), default="ed25519")
    k.add_argument("--v6", action="store_true", help="an RFC 9580 v6 key (default v4)")
    k.add_argument("--passphrase", metavar="P", help="protect the secret key")
    k.add_argument("--armor", action="store_true")
    s = ps.add_parser(
        "sign",
        help="sign FILE (inline one-pass, or --detached)",
        epilog=status.epilog("never (it writes OUT or fails)"),
    )
    s.add_argument("file")
    s.add_argument("-w", "--write", required=True, metavar="OUT")
    s.add_argument("--key", required=True, metavar="FILE[:PASSWORD]")
    s.add_argument("--passphrase", action="append", default=[], metavar="P")
    s.add_argument("--detached", action="store_true")
    s.add_argument("--text", action="store_true", help="text-mode (0x01) signature")
    s.add_argument("--armor", action="store_true")


def _key_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="FILE[:PASSWORD]",
        help="secret key (armored or binary); its passphrase after the first colon",
    )
    p.add_argument(
        "--passphrase",
        action="append",
        default=[],
        metavar="P",
        help="passphrase for SKESK and for the secret keys; repeatable",
    )
    p.add_argument(
        "--cert", action="append", default=[], metavar="FILE", help="public key for verification"
    )


def _read(path: str) -> bytes:
    if path == "-":
        data = sys.stdin.buffer.read(MAX_INPUT + 1)
    else:
        with open(path, "rb") as fh:
            data = fh.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        raise UsageError(f"{path}: larger than {MAX_INPUT} octets")
    return data


def _keyrings(args: argparse.Namespace) -> tuple[Any, Any, list[bytes]]:
    from netsec_layers.keys.openpgp_keys import Keyring, load_key_file, split_key_argument

    keyring, certs = Keyring(), Keyring()
    passphrases = [p.encode() for p in args.passphrase]
    keyring.passphrases.extend(passphrases)
    for arg in getattr(args, "key", []) or []:
        path, pw = split_key_argument(arg)
        load_key_file(path, keyring, pw)
    for path in args.cert:
        load_key_file(path, certs)
    return keyring, certs, passphrases


def run_pgp(args: argparse.Namespace) -> int:
    if args.pgp_command == "dissect":
        return _dissect(args)
    if args.pgp_command == "encrypt":
        return _encrypt(args)
    if args.pgp_command == "sign":
        return _sign(args)
    if args.pgp_command == "genkey":
        return _genkey(args)
    raise UsageError(f"unknown pgp action {args.pgp_command}")


def _dissect(args: argparse.Namespace) -> int:
    from netsec_layers.keys.openpgp_keys import parse_session_key
    from netsec_layers.session.openpgp import open_message

    keyring, certs, passphrases = _keyrings(args)
    sks = [parse_session_key(s) for s in args.session_key]
    data = _read(args.file)
    detached = None
    if args.signature:
        detached, data = data, _read(args.signature)
    res = open_message(
        data,
        keyring=keyring,
        certs=certs,
        passphrases=passphrases,
        session_keys=sks,
        detached=detached,
    )
    out = res.to_json()
    if args.json:
        print(json.dumps(out))
    else:
        _print_tree(out["tree"], 0)
        for s in out["signatures"]:
            state = {True: "good", False: "BAD", None: "unknown signer"}[s["valid"]]
            why = f" ({s['error']})" if s["error"] and s["valid"] is not True else ""
            print(f"signature: {state} by {s['signer']}{why}")
        if out["decrypted"]:
            print("decrypted: yes")
        if out["content"] is not None:
            print(f"content: {len(out['content']) // 2} octets")
        if out["error"]:
            print(f"error: {out['error']}")
        if args.verbose:
            _print_layers(data if detached is None else data)
    return status.DONE if out["error"] is None else status.INCOMPLETE


def _print_tree(nodes: list[dict[str, Any]], depth: int) -> None:
    pad = "  " * depth
    for n in nodes:
        if "tag" in n:
            extra = " ".join(
                f"{k}={v}"
                for k, v in n.items()
                if k not in ("tag", "name", "children", "new_format") and not isinstance(v, list)
            )
            print(f"{pad}:{n['tag']} {n['name']} {extra}".rstrip())
        elif "armor" in n:
            print(f"{pad}[armor {n['armor']}]")
        else:
            print(f"{pad}[cleartext signed message]")
        _print_tree(n.get("children", []), depth + 1)


def _print_layers(data: bytes) -> None:
    from netsec_layers.crypto import openpgp_armor as armor
    from netsec_layers.layers.openpgp import dissect_packets

    blobs = [data]
    if armor.is_armored(data):
        blobs = []
        for b in armor.decode(data):
            blobs.append(b.data if isinstance(b, armor.ArmorBlock) else b.signature.data)
    for blob in blobs:
        for p in dissect_packets(blob):
            p.show()


def _encrypt(args: argparse.Namespace) -> int:
    from netsec_layers.crypto import openpgp_armor as armor
    from netsec_layers.session.openpgp_craft import encrypt_message

    _, certs, passphrases = _keyrings(args)
    if not passphrases and not certs.entries:
        raise UsageError("give --passphrase and/or --cert")
    msg = encrypt_message(_read(args.file), passphrases=passphrases, certs=certs, v6=args.v6)
    if args.armor:
        msg = armor.encode(msg, "MESSAGE", crc=not args.v6)
    with atomic_output(args.write, secret=False) as fh:
        fh.write(msg)
    return 0


def _sign(args: argparse.Namespace) -> int:
    from netsec_layers.crypto import openpgp_armor as armor
    from netsec_layers.keys.openpgp_keys import Keyring, load_key_file, split_key_argument
    from netsec_layers.session.openpgp_craft import sign_message

    keyring = Keyring()
    keyring.passphrases.extend(p.encode() for p in args.passphrase)
    path, pw = split_key_argument(args.key)
    load_key_file(path, keyring, pw)
    out = sign_message(_read(args.file), keyring, detached=args.detached, text=args.text)
    if args.armor:
        out = armor.encode(out, "SIGNATURE" if args.detached else "MESSAGE")
    with atomic_output(args.write, secret=False) as fh:
        fh.write(out)
    return 0


def _genkey(args: argparse.Namespace) -> int:
    from netsec_layers.crypto import openpgp_armor as armor
    from netsec_layers.crypto.openpgp_keygen import generate_key

    pw = args.passphrase.encode() if args.passphrase is not None else None
    key = generate_key(args.user_id, kind=args.kind, version=6 if args.v6 else 4, passphrase=pw)
    sec, pub = key.secret, key.public
    if args.armor:
        sec = armor.encode(sec, "PRIVATE KEY BLOCK", crc=not args.v6)
        pub = armor.encode(pub, "PUBLIC KEY BLOCK", crc=not args.v6)
    with atomic_output(args.write, secret=True) as fh:  # the secret key: 0600
        fh.write(sec)
    with atomic_output(args.write + ".pub", secret=False) as fh:
        fh.write(pub)
    print(key.fingerprint)
    return 0
