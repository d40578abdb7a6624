"""message/partial reassembly (RFC 2046 section 5.2.2).

A message too large for some transport is split into fragments, each a message of type
``message/partial; id=...; number=N; total=T``.  :func:`reassemble_partials` puts the pieces of
one ``id`` back together by the rules of RFC 2046 section 5.2.2.1:

1. the header fields of the *first* fragment's enclosing message are copied, in order, except
   those starting with ``Content-`` and ``Subject``, ``Message-ID``, ``Encrypted``,
   ``MIME-Version``;
2. from the header of the message enclosed in the first fragment, exactly those fields
   (``Content-*``, ``Subject``, ``Message-ID``, ``Encrypted``, ``MIME-Version``) are appended;
   its other fields are dropped;
3. the headers of later fragments are ignored; the body is the first fragment's enclosed body
   followed by the bodies of fragments 2..T, byte for byte.

Never raises: a set that is incomplete or inconsistent gives ``None`` and a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from netsec_layers.layers.mail.entity import MIMEEntity, parse_entity
from netsec_layers.layers.mail.headers import HeaderField

__all__ = ["PartialSet", "reassemble_partials"]

_KEEP_INNER = ("subject", "message-id", "encrypted", "mime-version")
MAX_FRAGMENTS = 10000


@dataclass(slots=True)
class PartialSet:
    """The result for one ``id``: the message bytes or ``None`` with ``reason``."""

    id: str
    message: bytes | None
    reason: str = ""


def _inner_field(f: HeaderField) -> bool:
    name = f.name.lower()
    return name.startswith("content-") or name in _KEEP_INNER


def reassemble_partials(fragments: list[MIMEEntity]) -> list[PartialSet]:
    """Group ``message/partial`` entities by ``id`` and reassemble each complete group."""
    groups: dict[str, dict[int, MIMEEntity]] = {}
    totals: dict[str, int] = {}
    bad: dict[str, str] = {}
    for ent in fragments[:MAX_FRAGMENTS]:
        if ent.mime_type != "message/partial":
            continue
        p = ent.content_type.params
        pid = p.get("id", "")
        try:
            number = int(p.get("number", ""))
        except ValueError:
            bad[pid] = "fragment without a valid number"
            continue
        if "total" in p:
            try:
                totals[pid] = int(p["total"])
            except ValueError:
                bad[pid] = "invalid total"
        if number in groups.setdefault(pid, {}):
            bad[pid] = f"fragment {number} twice"
        groups[pid][number] = ent
    out: list[PartialSet] = []
    for pid, parts in groups.items():
        total = totals.get(pid)
        if pid in bad:
            out.append(PartialSet(pid, None, bad[pid]))
        elif total is None:
            out.append(PartialSet(pid, None, "no fragment gives the total"))
        elif sorted(parts) != list(range(1, total + 1)):
            missing = sorted(set(range(1, total + 1)) - set(parts))[:10]
            out.append(PartialSet(pid, None, f"fragments missing: {missing}"))
        else:
            out.append(PartialSet(pid, _join([parts[n] for n in range(1, total + 1)])))
    return out


def _join(parts: list[MIMEEntity]) -> bytes:
    first = parts[0]
    outer = [f.raw for f in first.fields if not _inner_field(f)]
    enclosed = parse_entity(first.body)
    inner = [f.raw for f in enclosed.fields if _inner_field(f)]
    sep = enclosed.separator or b"\r\n"
    body = enclosed.body + b"".join(p.body for p in parts[1:])
    return b"".join(outer) + b"".join(inner) + sep + body
