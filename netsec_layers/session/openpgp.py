"""OpenPGP messages end to end: unwrap armor, open encrypted layers, decompress, verify.

Sans-I/O: bytes and key material in, a :class:`MessageResult` out (the JSON contract of
``netsec pgp`` / ``netsec message`` with ``"kind": "openpgp"``).  Nothing unauthenticated leaves:
an encrypted packet whose MDC or AEAD tag fails yields an error, ``decrypted: false``, no content
and no children.  Decompression and nesting are bounded.  Section numbers are RFC 9580.
"""

from __future__ import annotations

import bz2
import enum
import zlib
from dataclasses import dataclass, field
from typing import Any

from netsec_layers.constants.openpgp import (
    AEADAlgo,
    CompressionAlgo,
    PacketTag,
    PubKeyAlgo,
    SignatureType,
    SubpacketType,
    SymAlgo,
    describe_subpacket,
    enum_name,
)
from netsec_layers.crypto import openpgp_armor as armor
from netsec_layers.crypto.openpgp_pk import (
    parse_pkesk,
    parse_secret_key,
    pkesk_decrypt,
    verify_signature,
)
from netsec_layers.crypto.openpgp_sym import (
    SessionKey,
    ocb_packet_decrypt,
    seipd1_decrypt,
    seipd2_decrypt,
    skesk_decrypt,
)
from netsec_layers.crypto.openpgp_wire import (
    PublicKey,
    RawPacket,
    Reader,
    Signature,
    key_hash_prefix,
    parse_literal,
    parse_one_pass,
    parse_public_key,
    parse_signature,
    read_packets,
)
from netsec_layers.errors import IntegrityError, NetsecError
from netsec_layers.keys.openpgp_keys import KeyEntry, Keyring

MAX_DEPTH = 8
MAX_DECOMPRESSED = 256 << 20  # the default bound; open_message(max_decompressed=...)
MAX_ESKS = 16


class OpenVerdict(enum.Enum):
    """What happened to an encrypted packet."""

    OPENED = "opened"
    NO_KEY = "no usable key"
    INTEGRITY_FAILED = "integrity check failed"
    UNPROTECTED = "unprotected (SED, tag 9) not opened"
    UNSUPPORTED = "unsupported"


@dataclass
class SignatureResult:
    signer: str
    valid: bool | None
    error: str | None
    sig_type: int = 0
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"signer": self.signer, "valid": self.valid, "error": self.error}


@dataclass
class MessageResult:
    tree: list[dict[str, Any]] = field(default_factory=list)
    decrypted: bool = False
    signatures: list[SignatureResult] = field(default_factory=list)
    content: bytes | None = None
    error: str | None = None
    verdict: OpenVerdict | None = None
    session_key: SessionKey | None = None

    def to_json(self) -> dict[str, Any]:
        ok = self.error is None
        return {
            "kind": "openpgp",
            "tree": self.tree,
            "decrypted": self.decrypted and ok,
            "signatures": [s.to_json() for s in self.signatures],
            "content": self.content.hex() if self.content is not None and ok else None,
            "error": self.error,
        }


@dataclass
class _State:
    keyring: Keyring
    certs: Keyring
    passphrases: list[bytes]
    session_keys: list[SessionKey]
    result: MessageResult
    literal: bytes | None = None
    literal_sigs: list[tuple[Signature, dict[str, Any]]] = field(default_factory=list)
    encrypted_seen: bool = False
    failed: bool = False
    max_decompressed: int = MAX_DECOMPRESSED


def open_message(
    data: bytes,
    *,
    keyring: Keyring | None = None,
    certs: Keyring | None = None,
    passphrases: list[bytes] | None = None,
    session_keys: list[SessionKey] | None = None,
    detached: bytes | None = None,
    max_decompressed: int = MAX_DECOMPRESSED,
) -> MessageResult:
    """Analyse an OpenPGP message (armored or binary).

    ``detached``: ``data`` is then a detached signature and ``detached`` the signed bytes.
    """
    keyring = keyring or Keyring()
    extra = [p for p in passphrases or [] if p not in keyring.passphrases]
    if extra:  # --passphrase also unlocks secret keys (a copy: the caller's ring is unchanged)
        keyring = Keyring(keyring.entries, keyring.passphrases + extra)
    certs = certs or Keyring()
    res = MessageResult()
    st = _State(keyring, certs, list(passphrases or []), list(session_keys or []), res)
    st.max_decompressed = max_decompressed
    st.passphrases += [p for p in keyring.passphrases if p not in st.passphrases]
    try:
        if armor.is_armored(data):
            for block in armor.decode(data):
                if isinstance(block, armor.ClearSigned):
                    res.tree.append(_clearsigned(block, st))
                else:
                    node: dict[str, Any] = {"armor": block.label, "headers": block.headers}
                    node["children"] = _walk(read_packets(block.data), st, 0)
                    res.tree.append(node)
        else:
            res.tree = _walk(read_packets(data), st, 0)
    except NetsecError as exc:
        res.error = res.error or f"malformed: {exc}"
    if detached is not None:
        st.literal = detached
        res.content = detached
    _verify_literal_sigs(st)
    if st.failed:
        res.content = None
    return res


def _clearsigned(cs: armor.ClearSigned, st: _State) -> dict[str, Any]:
    sig_node: dict[str, Any] = {"armor": "SIGNATURE", "headers": cs.signature.headers}
    sub = _State(st.keyring, st.certs, st.passphrases, st.session_keys, st.result)
    sig_node["children"] = _walk(read_packets(cs.signature.data), sub, 0)
    st.result.content = cs.text
    for sig, _node in sub.literal_sigs:
        data = armor.canonical_cleartext(cs.text) if sig.sig_type == 1 else cs.text
        st.result.signatures.append(_check(sig, data, st))
    return {"cleartext": True, "hash": cs.hash_headers, "children": [sig_node]}


def _walk(packets: list[RawPacket], st: _State, depth: int) -> list[dict[str, Any]]:
    if depth > MAX_DEPTH:
        raise IntegrityError(f"nesting deeper than {MAX_DEPTH}")
    nodes: list[dict[str, Any]] = []
    esks: list[RawPacket] = []
    key_ctx: dict[str, Any] = {}
    for pkt in packets:
        node: dict[str, Any] = {"tag": pkt.tag, "name": enum_name(PacketTag, pkt.tag)}
        node["new_format"] = pkt.new_format
        if pkt.partial:
            node["partial"] = True
        node["length"] = len(pkt.body)
        nodes.append(node)
        try:
            _describe(pkt, node, st, key_ctx)
        except NetsecError as exc:
            node["error"] = f"malformed: {exc}"
            continue
        if pkt.tag in (PacketTag.PKESK, PacketTag.SKESK):
            esks.append(pkt)
        elif pkt.tag == PacketTag.COMPRESSED_DATA:
            inner = _decompress(pkt.body, st.max_decompressed)
            node["children"] = _walk(read_packets(inner), st, depth + 1)
        elif pkt.tag in (PacketTag.SEIPD, PacketTag.SED, PacketTag.GNUPG_OCB):
            st.encrypted_seen = True
            inner_b = _open_encrypted(pkt, esks, st, node)
            if inner_b is not None:
                node["children"] = _walk(read_packets(inner_b), st, depth + 1)
    return nodes


def _describe(pkt: RawPacket, node: dict[str, Any], st: _State, ctx: dict[str, Any]) -> None:
    """Per-type fields of a tree node (no secret or plaintext data)."""
    tag, body = pkt.tag, pkt.body
    if tag == PacketTag.LITERAL_DATA:
        lit = parse_literal(body)
        node.update(format=chr(lit.format), filename=lit.filename.decode("utf-8", "replace"))
        node["date"] = lit.date
        if st.literal is None:
            st.literal = lit.data
            st.result.content = lit.data
    elif tag == PacketTag.SIGNATURE:
        _signature_node(parse_signature(body), node, st, ctx)
    elif tag == PacketTag.ONE_PASS_SIGNATURE:
        ops = parse_one_pass(body)
        node.update(version=ops["version"], sig_type=ops["sig_type"], nested=ops["nested"])
    elif tag in (PacketTag.PUBLIC_KEY, PacketTag.PUBLIC_SUBKEY):
        pub = parse_public_key(body)[0]
        _key_node(pub, node, ctx, tag == PacketTag.PUBLIC_KEY)
    elif tag in (PacketTag.SECRET_KEY, PacketTag.SECRET_SUBKEY):
        sk = parse_secret_key(body, tag)
        _key_node(sk.public, node, ctx, tag == PacketTag.SECRET_KEY)
        node["s2k_usage"] = sk.usage
    elif tag in (PacketTag.USER_ID, PacketTag.USER_ATTRIBUTE):
        if tag == PacketTag.USER_ID:
            node["user_id"] = body.decode("utf-8", "replace")
        ctx["uid"] = (0xB4 if tag == PacketTag.USER_ID else 0xD1, body)
    elif tag == PacketTag.PKESK:
        pk = parse_pkesk(body)
        node.update(version=pk.version, pk_algo=pk.algo, key_id=pk.key_id.hex().upper())
        if pk.fingerprint:
            node["fingerprint"] = pk.fingerprint.hex().upper()
    elif tag == PacketTag.SKESK:
        r = Reader(body)
        node["version"] = r.u8()
        if node["version"] == 6:
            r.u8()
        node["sym_algo"] = r.u8()
        if node["version"] == 6:
            node["aead_algo"] = r.u8()
    elif tag == PacketTag.COMPRESSED_DATA:
        node["algo"] = body[0] if body else None
        node["algo_name"] = enum_name(CompressionAlgo, body[0]) if body else None
    elif tag in (PacketTag.SEIPD, PacketTag.GNUPG_OCB) and body:
        node["version"] = body[0]
        if body[0] == 2 and len(body) >= 4:
            node.update(sym_algo=body[1], aead_algo=body[2])
            node["aead_algo_name"] = enum_name(AEADAlgo, body[2])


def _signature_node(sig: Signature, node: dict[str, Any], st: _State, ctx: dict[str, Any]) -> None:
    node.update(version=sig.version, sig_type=sig.sig_type, pk_algo=sig.pk_algo)
    node["hash_algo"] = sig.hash_algo
    node["sig_type_name"] = enum_name(SignatureType, sig.sig_type)
    for where, subs in (("hashed", sig.hashed), ("unhashed", sig.unhashed)):
        if subs:
            node[f"{where}_subpackets"] = [
                {
                    "type": sp.type,
                    "name": enum_name(SubpacketType, sp.type),
                    "critical": sp.critical,
                    "value": describe_subpacket(sp.type, sp.data),
                }
                for sp in subs
            ]
    if sig.sig_type in (SignatureType.BINARY, SignatureType.TEXT):
        st.literal_sigs.append((sig, node))
    elif "primary" in ctx:
        _check_key_sig(sig, ctx, st)
    elif sig.sig_type == SignatureType.KEY_REVOCATION:
        _check_standalone_revocation(sig, st)


def _key_node(pub: PublicKey, node: dict[str, Any], ctx: dict[str, Any], primary: bool) -> None:
    node.update(version=pub.version, pk_algo=pub.algo)
    node["pk_algo_name"] = enum_name(PubKeyAlgo, pub.algo)
    node["fingerprint"] = pub.fingerprint.hex().upper()
    node["key_id"] = pub.key_id.hex().upper()
    if primary:
        ctx.clear()
        ctx["primary"] = pub
    else:
        ctx["subkey"] = pub
        ctx.pop("uid", None)
    ring = ctx.setdefault("ring", Keyring())
    ring.entries.append(KeyEntry(pub, ctx.get("primary", pub)))


def _check_key_sig(sig: Signature, ctx: dict[str, Any], st: _State) -> None:
    """Self-signatures and certifications inside a key block (§5.2.4)."""
    primary: PublicKey = ctx["primary"]
    data = key_hash_prefix(primary.version, primary.body) + primary.body
    t = sig.sig_type
    if 0x10 <= t <= 0x13 or t == 0x30:
        if "uid" not in ctx:
            return
        kind, uid = ctx["uid"]
        data += uid if sig.version < 4 else bytes([kind]) + len(uid).to_bytes(4, "big") + uid
    elif t in (0x18, 0x19, 0x28):
        if "subkey" not in ctx:
            return
        sub: PublicKey = ctx["subkey"]
        data += key_hash_prefix(sub.version, sub.body) + sub.body
    elif t not in (0x1F, 0x20):
        return
    st.result.signatures.append(_check(sig, data, st, extra=ctx.get("ring")))


def _check_standalone_revocation(sig: Signature, st: _State) -> None:
    """A revocation certificate alone (what gpg stores in openpgp-revocs.d): the signature is
    over the revoked primary key, which must come from the given certificates (§5.2.1.11)."""
    fpr, kid = sig.issuer_fingerprint, sig.issuer_key_id
    for ring in (st.certs, st.keyring):
        found = [ring.by_fingerprint(fpr)] if fpr else ring.by_key_id(kid) if kid else []
        entry = next((e for e in found if e is not None), None)
        if entry is not None:
            key = entry.primary
            data = key_hash_prefix(key.version, key.body) + key.body
            st.result.signatures.append(_check(sig, data, st))
            return
    st.result.signatures.append(
        SignatureResult(_signer_guess(sig), None, "no certificate holds the signing key", 0x20)
    )


def _check(
    sig: Signature, data: bytes, st: _State, extra: Keyring | None = None
) -> SignatureResult:
    fpr = sig.issuer_fingerprint
    kid = sig.issuer_key_id
    entry = None
    for ring in (st.certs, st.keyring, extra):
        if ring is None:
            continue
        if fpr is not None:
            entry = ring.by_fingerprint(fpr)
        elif kid is not None:
            found = ring.by_key_id(kid)
            entry = found[0] if found else None
        if entry is not None:
            break
    if entry is None:
        signer = fpr.hex().upper() if fpr else kid.hex().upper() if kid else ""
        return SignatureResult(signer, None, "no certificate holds the signing key", sig.sig_type)
    reason = verify_signature(sig, entry.public, data)
    return SignatureResult(entry.fingerprint_hex, reason is None, reason, sig.sig_type, sig.version)


def _verify_literal_sigs(st: _State) -> None:
    for sig, _node in st.literal_sigs:
        if st.literal is None:
            st.result.signatures.append(
                SignatureResult(_signer_guess(sig), False, "no signed data", sig.sig_type)
            )
            continue
        data = armor.canonical_text(st.literal) if sig.sig_type == 1 else st.literal
        st.result.signatures.append(_check(sig, data, st))


def _signer_guess(sig: Signature) -> str:
    fpr, kid = sig.issuer_fingerprint, sig.issuer_key_id
    return fpr.hex().upper() if fpr else kid.hex().upper() if kid else ""


def _decompress(body: bytes, limit: int) -> bytes:
    """Decompress a Compressed Data body (§5.6) to at most ``limit`` octets (§13.14)."""
    if not body:
        raise IntegrityError("empty compressed data packet")
    algo, data = body[0], body[1:]
    if algo == CompressionAlgo.UNCOMPRESSED:
        return data
    try:
        if algo in (CompressionAlgo.ZIP, CompressionAlgo.ZLIB):
            d = zlib.decompressobj(-15 if algo == CompressionAlgo.ZIP else 15)
            out = d.decompress(data, limit + 1)
        elif algo == CompressionAlgo.BZIP2:
            b = bz2.BZ2Decompressor()
            out = b.decompress(data, limit + 1)
        else:
            raise IntegrityError(f"unknown compression algorithm {algo}")
    except (zlib.error, OSError, ValueError, EOFError) as exc:
        raise IntegrityError(f"decompression failed: {exc}") from None
    if len(out) > limit:
        raise IntegrityError(f"decompressed data larger than {limit} octets")
    return out


def _candidate_keys(esks: list[RawPacket], st: _State) -> list[SessionKey]:
    keys = list(st.session_keys)
    # hostile input: every SKESK costs an S2K run per passphrase; try only the first few
    for esk in esks[:MAX_ESKS]:
        try:
            if esk.tag == PacketTag.SKESK:
                for p in st.passphrases:
                    try:
                        keys.append(skesk_decrypt(esk.body, p))
                    except IntegrityError:
                        continue
            else:
                pk = parse_pkesk(esk.body)
                wildcard = pk.key_id == b"\x00" * 8
                for entry in st.keyring.secret_entries():
                    if not wildcard and entry.public.key_id != pk.key_id:
                        continue
                    if entry.public.algo != pk.algo:
                        continue
                    sec = st.keyring.unlocked_secret(entry)
                    if sec is None:
                        continue
                    try:
                        keys.append(pkesk_decrypt(pk, entry.public, sec))
                    except IntegrityError:
                        continue
        except NetsecError:
            continue
    return keys


def _open_encrypted(
    pkt: RawPacket, esks: list[RawPacket], st: _State, node: dict[str, Any]
) -> bytes | None:
    res = st.result
    if pkt.tag == PacketTag.SED:
        return _fail(
            st,
            node,
            OpenVerdict.UNPROTECTED,
            "symmetrically encrypted data (tag 9) has no integrity protection; not decrypted",
        )
    if not pkt.body or pkt.body[0] not in ((1,) if pkt.tag == PacketTag.GNUPG_OCB else (1, 2)):
        return _fail(st, node, OpenVerdict.UNSUPPORTED, "unsupported encrypted packet version")
    keys = _candidate_keys(esks, st)
    if not keys:
        return _fail(st, node, OpenVerdict.NO_KEY, "no usable key for the encrypted data")
    last: str | None = None
    for sk in keys:
        try:
            if pkt.tag == PacketTag.GNUPG_OCB:
                inner = ocb_packet_decrypt(sk.key, pkt.body)
            elif pkt.body[0] == 1:
                algos = (
                    [sk.algo]
                    if sk.algo is not None
                    else [a for a in (SymAlgo.AES256, SymAlgo.AES128, SymAlgo.AES192)]
                )
                for a in algos:
                    try:
                        inner = seipd1_decrypt(a, sk.key, pkt.body[1:])
                        break
                    except NetsecError as exc:
                        last = str(exc)
                else:
                    continue
            else:
                inner = seipd2_decrypt(sk.key, pkt.body)
        except NetsecError as exc:
            last = str(exc)
            continue
        res.decrypted = True
        res.verdict = OpenVerdict.OPENED
        res.session_key = sk
        node["decrypted"] = True
        return inner
    verdict = OpenVerdict.INTEGRITY_FAILED
    return _fail(st, node, verdict, f"decryption failed: {last}")


def _fail(st: _State, node: dict[str, Any], verdict: OpenVerdict, msg: str) -> bytes | None:
    st.failed = True
    st.result.verdict = st.result.verdict or verdict
    st.result.error = st.result.error or msg
    node["decrypted"] = False
    return None


__all__ = ["MessageResult", "OpenVerdict", "SignatureResult", "open_message"]
