"""IKEv1 / ISAKMP messages in the IKE tracker: header and payload chain reported.

Encrypted IKEv1 messages (E flag) are reported with ``decrypted`` false: decryption with
``ikev1_decryption_table`` keys (RFC 2409 Appendix B IV chain, in
:mod:`netsec_layers.crypto.ike`) is not wired into the tracker yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netsec_layers.errors import ParseError
from netsec_layers.session.ike_wire import HEADER_LEN, IKEHeader, parse_payloads

if TYPE_CHECKING:
    from netsec_layers.session.ike import IKEMessage, IKETracker

__all__ = ["feed_ikev1"]


def feed_ikev1(tracker: IKETracker, hdr: IKEHeader, msg: bytes, ev: IKEMessage) -> list[Any]:
    """One IKEv1 message -> its event (payload chain of a cleartext message)."""
    from netsec_layers.session.ike import IKEVerdict

    if hdr.flags & 1:
        ev.payloads = [hdr.next_payload]
        ev.verdict = IKEVerdict.UNSUPPORTED
        ev.error = "IKEv1 decryption not implemented in the tracker"
        if hdr.spi_i in tracker.keys.v1:
            ev.error += " (key present)"
        return [ev]
    try:
        chain = parse_payloads(msg, hdr.next_payload, HEADER_LEN, hdr.length)
    except ParseError as e:
        ev.verdict, ev.error = IKEVerdict.MALFORMED, str(e)
        return [ev]
    ev.payloads = [p.ptype for p in chain]
    return [ev]
