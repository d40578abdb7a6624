"""decrypt_tls(): TLS decryption of packets in memory with a key log equals tshark 4.0's
decryption of the same capture with the same key log, record by record."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import TCP
from scapy.utils import rdpcap

from netsec_layers.errors import UsageError
from netsec_layers.interactive import decrypt_tls
from netsec_layers.keys.keylog import load_keylog
from tests.tshark_util import tshark_tls_records

TLS = Path(__file__).resolve().parents[2] / "pcaps" / "tls"
SAMPLES = [("python-tls13-port50443", 50443), ("python-openssl-tls12", 443)]


@pytest.mark.parametrize(("name", "port"), SAMPLES)
def test_plaintext_equals_tshark(name: str, port: int) -> None:
    pcap, keys = TLS / f"{name}.pcap", TLS / f"{name}.keys"
    out = decrypt_tls(rdpcap(str(pcap)), keys)
    ours = [bytes(p[TCP].payload).hex() for p in out if p.haslayer(TCP) and len(p[TCP].payload)]
    theirs = [r["app_data"] for r in tshark_tls_records(pcap, keylog=keys, ports=[port])]
    theirs = [d for d in theirs if d]
    assert theirs and ours == theirs


def test_keylog_forms_agree_and_no_key_keeps_the_capture() -> None:
    pcap, keys = TLS / "python-tls13-port50443.pcap", TLS / "python-tls13-port50443.keys"
    packets = rdpcap(str(pcap))
    by_path = [bytes(p) for p in decrypt_tls(packets, str(keys))]
    assert by_path == [bytes(p) for p in decrypt_tls(packets, keys.read_bytes())]
    assert by_path == [bytes(p) for p in decrypt_tls(packets, load_keylog(keys))]
    assert [bytes(p) for p in decrypt_tls(packets)] == [bytes(p) for p in packets]
    with pytest.raises(UsageError):
        decrypt_tls(packets, 42)  # type: ignore[arg-type]
