"""RFC 5322 messages and MIME entities that keep every byte (see docs/mail.md)."""

from netsec_layers.layers.mail.entity import (
    MAX_DEPTH,
    MAX_PARTS,
    MIMEEntity,
    Multipart,
    parse_entity,
)
from netsec_layers.layers.mail.headers import ContentType, HeaderField

__all__ = [
    "MAX_DEPTH",
    "MAX_PARTS",
    "ContentType",
    "HeaderField",
    "MIMEEntity",
    "Multipart",
    "parse_entity",
]
