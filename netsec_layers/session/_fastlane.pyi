# The native fast lane (_fastlane.c); used only through session/fastlane.py.
from collections.abc import Callable
from typing import Any

MODE_GCM12: int
MODE_XOR12: int
MODE_XOR13: int
CIPHER_AES128GCM: int
CIPHER_AES256GCM: int
CIPHER_CHACHA: int

# (mode, cipher, key, iv, record seq, TCP seq expected next, held record start, output side)
_Direction = tuple[int, int, bytes, bytes, int, int, bytes, int]
# (link header, IPv4 or IPv6 header template, ports, sequence number & 0xFFFFFFFF)
_Side = tuple[bytes, bytes, bytes, int]
# (TCP bytes taken c2s, s2c; record seq c2s, s2c; held c2s, s2c; records c2s, s2c;
#  output sequence numbers used by the TLS client's side, the server's; plaintext segments
#  written (one IP ident each); the frame and time of the last bytes taken, valid if any were)
_State = tuple[int, int, int, int, bytes, bytes, int, int, int, int, int, int, int]

class Lane:
    frames: int
    held: int
    def __init__(
        self,
        touch: Callable[[int], Any],
        frags: dict[Any, Any],
        tls_conns: dict[Any, Any],
        tls_touch: Callable[[int], Any],
    ) -> None: ...
    def add(
        self,
        index: int,
        key: bytes,
        from_client: _Direction,
        from_server: _Direction,
        tls_client_side: _Side,
        tls_server_side: _Side,
        ident: int,
    ) -> None: ...
    def remove(self, key: bytes) -> _State | None: ...
    def process(self, data: bytes, frame_number: int, ts_ns: int) -> tuple[bytes, ...] | None: ...
