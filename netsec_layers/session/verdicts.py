"""Typed outcomes of the session layer.

Trackers and the engine record *why* a unit was not decrypted as one of these enums; the
strings users see (``error`` in ``netsec dissect --json``, the CLI's summaries) are made from them
at the edge, and no consumer matches on text.
"""

from __future__ import annotations

from enum import Enum

from netsec_layers.errors import ReplayVerdict

__all__ = ["UNREADABLE_TLS", "IPsecFailure", "ReplayVerdict", "TLSFailure"]


class TLSFailure(Enum):
    """Why a TLS record was not (or not fully) decrypted/understood."""

    NO_KEY = "no key"  # no key material for this connection
    DECRYPTION_FAILED = "decryption failed"  # MAC/tag/padding check failed (wrong key, damage)
    UNKNOWN_CONTENT_TYPE = "unknown content type"
    OVERSIZED = "oversized"  # record length past 2^14 + 2048 (RFC 5246 §6.2.3)
    MALFORMED = "malformed"  # a truncated alert, a handshake message that does not parse
    FINISHED_MISMATCH = "finished mismatch"  # verify_data differs: wrong keys or lost messages
    # The record authenticated, but its TLSCompressed fragment (RFC 3749 DEFLATE) did not
    # decompress: a bad stream, a method we lack, or a stream state lost at an earlier record.
    DECOMPRESSION_FAILED = "decompression failed"
    # ... or it would decompress past 2^14 bytes (RFC 5246 §6.2.2): a compression bomb.
    DECOMPRESSION_OVERSIZED = "decompression oversized"


#: Records that were sent protected but whose plaintext cannot be shown: counted as failed (the
#: summaries), a sequence hole in the plaintext connection (``decrypt -w``).  A tuple: ``in``
#: compares by identity first and never calls Enum's Python-level ``__hash__`` (per record).
UNREADABLE_TLS = (
    TLSFailure.DECRYPTION_FAILED,
    TLSFailure.DECOMPRESSION_FAILED,
    TLSFailure.DECOMPRESSION_OVERSIZED,
)


class IPsecFailure(Enum):
    """Why an ESP/AH packet was not decrypted/verified."""

    NO_SA = "no SA"
    REPLAY = "replay"
    ICV = "ICV mismatch"
    MALFORMED = "malformed"
    IMPLAUSIBLE = "implausible plaintext"  # ICV ok, but the plaintext cannot be what was sent
