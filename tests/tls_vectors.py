"""The one loader of the TLS vectors under tests/vectors/tls/ (RFC 8448 traces, PRF vectors).

RFC 8448 is transcribed once, one file per section: ``rfc8448_s3.json`` (Simple 1-RTT),
``rfc8448_s4.json`` (Resumed 0-RTT), ``rfc8448_s5.json`` (HelloRetryRequest); hex may contain
spaces. ``rfc8448_messages.json`` holds only the expected fields of handshake messages and
names their bytes in those files (``"s4:server_hello_record"``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parent / "vectors" / "tls"


@cache
def _load(name: str) -> str:
    return (VECTORS / name).read_text(encoding="utf-8")


def load_vectors(name: str) -> dict[str, Any]:
    """A JSON file from tests/vectors/tls/ (a fresh copy each call)."""
    data: dict[str, Any] = json.loads(_load(name))
    return data


def unhex(text: str) -> bytes:
    """Hex as transcribed (spaces and line breaks allowed)."""
    return bytes.fromhex("".join(text.split()))


def rfc8448(section: str) -> dict[str, Any]:
    """The RFC 8448 trace of ``section`` ("s3", "s4" or "s5")."""
    return load_vectors(f"rfc8448_{section}.json")


def rfc8448_value(section: str, name: str) -> bytes:
    """One value of an RFC 8448 trace, as bytes."""
    return unhex(rfc8448(section)[name])


def rfc8448_message(ref: str) -> bytes:
    """The handshake message a ``"section:name"`` reference names; a ``*_record`` value is a
    whole record, whose message follows the 5-byte record header."""
    section, name = ref.split(":")
    data = rfc8448_value(section, name)
    return data[5:] if name.endswith("_record") else data
