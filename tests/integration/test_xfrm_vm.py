"""Interop with the Linux kernel's IPsec (xfrm), run in a qemu VM (tools/xfrm_vm.py).

One VM boot runs every case (tools/xfrm_vm/cases.py, scenario.py):

(1) kernel → netsec: the kernel encrypts known UDP payloads (ESP transport/tunnel, IPv4/IPv6,
    IPv4-in-IPv6, ESN across 2^32, TFC padding, NAT-T, GCM/CCM/GMAC/ChaCha20-Poly1305,
    CBC/CTR/3DES/NULL with HMAC/XCBC/CMAC; AH over IPv4/IPv6 incl. ESN) and ``netsec dissect
    --esp-sa <the VM's ip xfrm state output>`` must authenticate every packet and give back
    exactly the bytes that were sent;
(2) netsec → kernel: ESP from ``netsec encrypt`` and AH from ``SADatabase.build_ah``, injected on
    the veth, must reach a UDP socket in the VM; a replayed copy and a flipped ICV byte must be
    dropped, visible in ``/proc/net/xfrm_stat``;
(3) keys move both ways: the kernel's states are read from ``ip xfrm state`` output, and the
    inbound states in (2) are installed in the VM from ``netsec keys convert --to xfrm``.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
sys.path.insert(0, str(TOOLS / "xfrm_vm"))
sys.path.insert(0, str(TOOLS))
import cases  # noqa: E402  (tools/xfrm_vm/cases.py)
import scenario as sc  # noqa: E402
import xfrm_vm  # noqa: E402

from netsec_layers.io.pcap import open_capture  # noqa: E402
from netsec_layers.keys.sa_files import parse_xfrm_state  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "pcaps" / "xfrm"


def _vm_test(f):  # the tests that boot the VM (the sample test below needs nothing)
    return pytest.mark.integration(pytest.mark.root(pytest.mark.slow(f)))


M32 = 0xFFFFFFFF


def _params(items: list, bugs: dict[str, pytest.MarkDecorator]) -> list:
    return [
        pytest.param(c, id=c.name, marks=[bugs[c.name]] if c.name in bugs else []) for c in items
    ]


KCASES = _params(cases.kernel_cases(), {})
ICASES = _params(cases.inject_cases(), {})


@pytest.fixture(scope="module")
def vm(tmp_path_factory) -> cases.Results:
    assert os.geteuid() == 0, "the xfrm VM tests need root (apt-get, qemu)"
    xfrm_vm.ensure_packages()  # raises (test fails) if packages are missing and cannot be installed
    reuse = os.environ.get("XFRM_VM_REUSE")  # development only: checks on an earlier run
    if reuse:
        res = cases.run_all(Path(reuse), reuse=True)
    else:
        res = cases.run_all(tmp_path_factory.mktemp("xfrmvm") / "share")
    assert "scenario-complete" in res.guest_log, res.guest_log[-3000:]
    return res


def _frames(path: Path) -> list[bytes]:
    with open_capture(path) as r:
        return [f.data for f in r]


def _esp_bytes(frame: bytes) -> bytes:
    """ESP from the SPI to the end of the IP payload (Ethernet padding removed)."""
    ip = frame[14:]
    if ip[0] >> 4 == 4:
        ip, off = ip[: struct.unpack_from("!H", ip, 2)[0]], (ip[0] & 15) * 4
        proto = ip[9]
    else:
        ip, off, proto = ip[: 40 + struct.unpack_from("!H", ip, 4)[0]], 40, ip[6]
    return ip[off + 8 :] if proto == 17 else ip[off:]


def _udp_payload(inner: bytes, tunnel: bool, sel: tuple[str, str]) -> bytes:
    """The UDP payload of the decrypted data, checking addresses, ports and lengths."""
    import ipaddress

    if tunnel:
        if inner[0] >> 4 == 4:
            ihl, total = (inner[0] & 15) * 4, struct.unpack_from("!H", inner, 2)[0]
            assert total == len(inner), "inner IPv4 length"
            assert inner[9] == 17
            addrs = (
                str(ipaddress.ip_address(inner[12:16])),
                str(ipaddress.ip_address(inner[16:20])),
            )
            inner = inner[ihl:]
        else:
            assert 40 + struct.unpack_from("!H", inner, 4)[0] == len(inner), "inner IPv6 length"
            assert inner[6] == 17
            addrs = (
                str(ipaddress.ip_address(inner[8:24])),
                str(ipaddress.ip_address(inner[24:40])),
            )
            inner = inner[40:]
        assert addrs == sel
    dport, ulen = struct.unpack_from("!HH", inner, 2)
    assert dport == sc.SINK_PORT and ulen == len(inner)
    return inner[8:]


# ESP cipher text alignment (RFC 4303 §2.4): Linux pads to ALIGN(cipher block size, 4)
_ALIGN = {"cbc(aes)": 16, "cbc(des3_ede)": 8}


@_vm_test
@pytest.mark.parametrize("case", KCASES)
def test_kernel_to_netsec(vm: cases.Results, case: sc.KernelCase) -> None:
    assert f"FAILED state add {case.name}" not in vm.guest_log
    pcap = vm.share / f"k_{case.name}.pcap"
    state = vm.share / f"k_{case.name}.state"
    sent = sc.payloads(case.name, case.count)
    records = sc.dissect(pcap, state)
    assert len(records) == case.count, records
    frames = _frames(pcap)
    outer, sel = case.addresses()
    wire_seqs = []
    for rec, payload, frame in zip(records, sent, frames, strict=True):
        assert rec["proto"] == case.proto
        assert rec["spi"] == case.spi
        assert rec["decrypted"] is True and rec["error"] is None, rec
        inner = bytes.fromhex(rec["inner"])
        assert _udp_payload(inner, case.mode == "tunnel", sel) == payload  # byte-exact
        wire_seqs.append(rec["seq"])
        if case.proto == "esp":
            esp = _esp_bytes(frame)
            iv, icv = bytes.fromhex(rec["iv"] or ""), bytes.fromhex(rec["icv"] or "")
            ct_len = len(esp) - 8 - len(iv) - len(icv)
            align = next((a for k, a in _ALIGN.items() if k in case.alg), 4)
            assert ct_len % align == 0
            if "tfcpad" in case.out_extra:
                # TFC padding (RFC 4303 §2.7): the kernel pads the inner packet to tfcpad bytes
                assert ct_len - 2 - rec["pad_length"] >= 200 > len(inner)
            else:  # minimal padding, 1, 2, 3, ... (netsec reports non-monotonic padding)
                assert ct_len - 2 - rec["pad_length"] == len(inner)
                assert rec["pad_length"] < align
    if case.hbh:  # the option data really was non-zero on the wire (zeroed only for the ICV)
        assert all(b"\x3e\x04\xde\xad\xbe\xef" in f for f in frames)
    if "esn" in case.both_extra:
        # the kernel's oseq was 0xfffffffd: the wire numbers wrap, the ICVs cover the high half
        assert wire_seqs == [(0xFFFFFFFE + i) & M32 for i in range(case.count)]
    else:
        assert wire_seqs == list(range(1, case.count + 1))
    # the kernel's own inbound SA accepted the same packets (sanity of the setup)
    for payload in sent:
        assert vm.sink.count(payload) == 1, case.name


@_vm_test
@pytest.mark.parametrize("case", KCASES)
def test_kernel_state_read_back(vm: cases.Results, case: sc.KernelCase) -> None:
    """netsec reads the VM's `ip xfrm state` output: one SA, the kernel's SPI/mode/protocol."""
    sas = parse_xfrm_state((vm.share / f"k_{case.name}.state").read_text())
    assert len(sas) == 1
    sa = sas[0]
    outer, _ = case.addresses()
    assert (sa.spi, sa.mode, sa.protocol, sa.src, sa.dst) == (
        case.spi,
        case.mode,
        case.proto,
        *outer,
    )
    assert sa.esn == ("flag esn" in case.both_extra)
    if "espinudp" in case.both_extra:
        assert sa.udp_encap == (4500, 4500)


@_vm_test
@pytest.mark.parametrize("case", ICASES)
def test_netsec_to_kernel(vm: cases.Results, case: sc.InjectCase) -> None:
    case = next(c for c in vm.icases if c.name == case.name)  # the one filled in by run_all
    # the commands from `netsec keys convert --to xfrm` were accepted by the kernel ...
    assert f"FAILED state add {case.name}" not in vm.guest_log
    assert case.state_cmds and all(c.startswith("ip xfrm state add") for c in case.state_cmds)
    # ... and the kernel's view of that state reads back to the SA we crafted
    back = parse_xfrm_state((vm.share / f"i_{case.name}.state").read_text())
    assert len(back) == 1
    b, sa = back[0], case.sa
    assert (b.spi, b.protocol, b.mode, b.src, b.dst, b.esn) == (
        sa.spi,
        sa.protocol,
        sa.mode,
        sa.src,
        sa.dst,
        sa.esn,
    )
    assert (b.encryption, b.enc_key, b.integrity, b.auth_key) == (
        sa.encryption,
        sa.enc_key,
        sa.integrity,
        sa.auth_key,
    )
    assert b.udp_encap == sa.udp_encap
    # every good packet reached the UDP socket exactly once (a replayed copy did not)
    for payload in case.sent:
        assert vm.sink.count(payload) == 1, (case.name, payload)
    for payload in case.dropped:
        assert payload not in vm.sink
    delta = vm.stat_delta("i", case.name)
    assert delta.get("XfrmInStateSeqError", 0) == (1 if case.replay else 0), delta
    assert delta.get("XfrmInStateProtoError", 0) == (1 if case.bad_icv else 0), delta
    assert not {k for k in delta if k not in ("XfrmInStateSeqError", "XfrmInStateProtoError")}


@_vm_test
def test_injected_packets_on_the_wire(vm: cases.Results) -> None:
    """What the VM's tcpdump saw on vethb is exactly what we injected (nothing re-encrypted)."""
    for case in vm.icases:
        seen = _frames(vm.share / f"i_{case.name}.seen.pcap")
        assert seen == _frames(vm.share / f"i_{case.name}.pcap"), case.name


@_vm_test
def test_kernel_version_recorded(vm: cases.Results) -> None:
    assert vm.kernel.startswith("6.")
    # No bound on vm.seconds here: qemu emulates (TCG), so the run's wall-clock time follows the
    # machine's load (about a minute under stress-ng --cpu 2), and run_all's timeout bounds it.


@pytest.mark.parametrize("case", KCASES)
def test_committed_kernel_samples(case: sc.KernelCase, capsys: pytest.CaptureFixture) -> None:
    """pcaps/xfrm/: captures the VM's kernel made (tools/xfrm_vm.py samples), decrypted with the
    kernel's own `ip xfrm state` output, give back the payloads recorded in payloads.json."""
    import json

    from netsec_layers.cli.main import main

    sent = json.loads((SAMPLES / "payloads.json").read_text())[case.name]
    pcap, state = SAMPLES / f"{case.name}.pcap", SAMPLES / f"{case.name}.xfrm_state"
    assert main(["dissect", str(pcap), "--esp-sa", str(state), "--json", "-q"]) == 0
    records = [json.loads(ln) for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    _, sel = case.addresses()
    assert len(records) == len(sent) == case.count
    for rec, payload in zip(records, sent, strict=True):
        assert rec["decrypted"] is True and rec["error"] is None, rec
        got = _udp_payload(bytes.fromhex(rec["inner"]), case.mode == "tunnel", sel)
        assert got.hex() == payload
