"""``netsec message FILE --signature SIG`` (issue 19's contract): a detached signature made by
gpg 2.2 over FILE verifies with the signer's certificate, ``content`` is FILE's bytes, ``tree`` the
signature's packets; a changed FILE gives ``valid: false`` with an error, the message ``error``
staying null."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.openpgp.openpgp_util import KEYS, flat_tags, gpg_home


def _message(*argv: str) -> dict[str, object]:
    p = subprocess.run(
        [sys.executable, "-m", "netsec_layers", "message", *argv, "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    out: dict[str, object] = json.loads(p.stdout)
    return out


@pytest.mark.integration
def test_gpg_detached_signature_through_netsec_message(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_bytes(b"signed by gpg, detached\r\nsecond line\n")
    sig = tmp_path / "data.sig"
    with gpg_home() as g:
        g.import_keys("gpg-rsa.sec.asc", passphrase="rsa pass")
        sig.write_bytes(g.run("--passphrase", "rsa pass", "--detach-sign", "-o", "-", str(data)))
    cert = str(KEYS / "gpg-rsa.pub.asc")
    out = _message(str(data), "--signature", str(sig), "--cert", cert)
    assert out["kind"] == "openpgp" and out["error"] is None
    sigs = out["signatures"]
    assert isinstance(sigs, list) and sigs[0]["valid"] is True and sigs[0]["error"] is None
    assert bytes.fromhex(str(out["content"])) == data.read_bytes()
    assert flat_tags(out["tree"]) == [2]  # type: ignore[arg-type]
    data.write_bytes(b"signed by gpg, detached\r\nsecond linE\n")
    out = _message(str(data), "--signature", str(sig), "--cert", cert)
    sigs = out["signatures"]
    assert isinstance(sigs, list) and sigs[0]["valid"] is False and sigs[0]["error"]
    assert out["error"] is None
