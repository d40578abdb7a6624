"""One name for an opened ESP packet (#13): ``ESPPlaintext``, as bytes (session) and as Scapy
layers (layers); the session's former name ``ESPOpened`` stays importable."""

from __future__ import annotations

from netsec_layers.keys.sa import SecurityAssociation
from netsec_layers.layers import ipsec as layers_ipsec
from netsec_layers.session import ipsec as session_ipsec
from netsec_layers.session.ipsec import ESPOpened, ESPPlaintext, SADatabase
from netsec_layers.session.ipsec_scapy import plaintext_layer


def test_decrypt_returns_esp_plaintext_and_the_old_name_is_an_alias() -> None:
    sa = SecurityAssociation(spi=7, encryption="AES-GCM-16", enc_key=bytes(20))
    wire = SADatabase([sa]).encrypt(b"\x45" + bytes(19), sa=sa, next_header=4, seq=1)
    opened = SADatabase([sa]).decrypt(wire)
    assert type(opened) is ESPPlaintext
    assert ESPOpened is ESPPlaintext
    assert "ESPPlaintext" in session_ipsec.__all__ and "ESPOpened" in session_ipsec.__all__
    layer = plaintext_layer(opened)
    assert isinstance(layer, layers_ipsec.ESPPlaintext)
    assert type(layer).__name__ == type(opened).__name__ == "ESPPlaintext"
    assert (layer.spi, layer.seq, layer.next_header) == (7, 1, 4)


def test_no_other_name_for_the_opened_packet() -> None:
    names = {n for n in dir(session_ipsec) if "Opened" in n or n.startswith("ESPPlain")}
    assert names == {"ESPOpened", "ESPPlaintext"}
