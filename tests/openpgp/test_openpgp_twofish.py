"""Twofish (our own: pyca has none) against the known answers of the Twofish paper
(Schneier et al. 1998, "Twofish: A 128-Bit Block Cipher", ECB tables, zero key and plaintext,
and the first iterations of the 128-bit table); gpg's TWOFISH messages are in test_openpgp_gpg."""

from __future__ import annotations

import pytest

from netsec_layers.crypto.openpgp_twofish import Twofish, cfb
from netsec_layers.errors import UsageError

KAT = [
    (bytes(16), bytes(16), "9f589f5cf6122c32b6bfec2f2ae8c35a"),
    (bytes(24), bytes(16), "efa71f788965bd4453f860178fc19101"),
    (bytes(32), bytes(16), "57ff739d4dc92c1bd7fc01700cc8216f"),
]


@pytest.mark.parametrize(("key", "pt", "ct"), KAT, ids=["128", "192", "256"])
def test_known_answers(key: bytes, pt: bytes, ct: str) -> None:
    assert Twofish(key).encrypt_block(pt).hex() == ct


def test_iterated_128_bit_table() -> None:
    """ECB_TBL.TXT 128-bit: each step encrypts the last ciphertext under the previous one."""
    key, pt = bytes(16), bytes(16)
    want = [
        "9f589f5cf6122c32b6bfec2f2ae8c35a",
        "d491db16e7b1c39e86cb086b789f5419",
        "019f9809de1711858faac3a3ba20fbc3",
    ]
    for expected in want:
        ct = Twofish(key).encrypt_block(pt)
        assert ct.hex() == expected
        key, pt = pt, ct


def test_cfb_round_trip_and_key_sizes() -> None:
    data = bytes(range(200))
    enc = cfb(b"k" * 32, bytes(16), data, decrypt=False)
    assert cfb(b"k" * 32, bytes(16), enc, decrypt=True) == data and enc != data
    with pytest.raises(UsageError):
        Twofish(b"short")
