"""The cases run in the xfrm VM and the host-side work around one boot (see scenario.py).

:func:`run_all` prepares the injected packets (``netsec keys convert`` / ``netsec encrypt`` /
``SADatabase.build_ah``), boots the VM once, splits the capture per SPI and returns a
:class:`Results` the tests and :func:`write_samples` read.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import scenario as sc
from scenario import IN4, IN6, MAC_A, MAC_B, OUT4, OUT6, InjectCase, KernelCase, key

ESN_OUT = "replay-oseq 0xfffffffd"  # the next packet is 0xfffffffe: it crosses 2^32 at #3
ESN_IN = "replay-seq 0xfffffff0"
ESN_BOTH = "replay-window 128 flag esn"


def _hex(name: str, n: int) -> str:
    return "0x" + key(name, n).hex()


def _gcm(name: str, klen: int = 16, icv: int = 128) -> str:
    return f"aead 'rfc4106(gcm(aes))' {_hex(name, klen + 4)} {icv}"


def _cbc(name: str, klen: int, auth: str, alen: int, bits: int, enc: str = "cbc(aes)") -> str:
    return (
        f"enc '{enc}' {_hex(name + 'e', klen)} auth-trunc '{auth}' {_hex(name + 'a', alen)} {bits}"
    )


def kernel_cases() -> list[KernelCase]:
    K = KernelCase
    return [
        K("esp4_transport_gcm", 0x1001, _gcm("k1")),
        K("esp4_tunnel_cbc_sha256", 0x1002, _cbc("k2", 16, "hmac(sha256)", 32, 128), mode="tunnel"),
        K("esp6_transport_cbc256_sha1", 0x1003, _cbc("k3", 32, "hmac(sha1)", 20, 96), outer=6),
        K(
            "esp6_tunnel_chacha20poly1305",
            0x1004,
            f"aead 'rfc7539esp(chacha20,poly1305)' {_hex('k4', 36)} 128",
            mode="tunnel",
            outer=6,
            inner=6,
        ),
        # an IPv6 state carries IPv4 only with an IPv4 selector (else "sel src ::/0" and the
        # kernel finds no state for the IPv4 flow: XfrmOutNoStates)
        K(
            "esp_4in6_tunnel_gcm256",
            0x1005,
            _gcm("k5", 32),
            mode="tunnel",
            outer=6,
            inner=4,
            both_extra=f"sel src {IN4[0]}/32 dst {IN4[1]}/32",
        ),
        K(
            "esp4_esn_wrap_gcm",
            0x1006,
            _gcm("k6"),
            mode="tunnel",
            both_extra=ESN_BOTH,
            out_extra=ESN_OUT,
            in_extra=ESN_IN,
            count=5,
        ),
        K(
            "esp4_esn_wrap_cbc_sha256",
            0x1007,
            _cbc("k7", 16, "hmac(sha256)", 32, 128),
            both_extra=ESN_BOTH,
            out_extra=ESN_OUT,
            in_extra=ESN_IN,
            count=5,
        ),
        K("esp4_tfcpad_gcm", 0x1008, _gcm("k8"), mode="tunnel", out_extra="tfcpad 200"),
        K(
            "esp4_natt_gcm",
            0x1009,
            _gcm("k9"),
            mode="tunnel",
            both_extra="encap espinudp 4500 4500 0.0.0.0",
        ),
        K("esp4_ccm", 0x100A, f"aead 'rfc4309(ccm(aes))' {_hex('k10', 19)} 128"),
        K("esp4_gmac", 0x100B, f"aead 'rfc4543(gcm(aes))' {_hex('k11', 20)} 128"),
        K(
            "esp4_ctr_sha512",
            0x100C,
            _cbc("k12", 20, "hmac(sha512)", 64, 256, enc="rfc3686(ctr(aes))"),
            mode="tunnel",
        ),
        K("esp4_3des_md5", 0x100D, _cbc("k13", 24, "hmac(md5)", 16, 96, enc="cbc(des3_ede)")),
        K(
            "esp4_null_sha256",
            0x100E,
            f"enc 'ecb(cipher_null)' \"\" auth-trunc 'hmac(sha256)' {_hex('k14', 32)} 128",
        ),
        K("esp4_gcm_icv8", 0x100F, _gcm("k15", 16, 64)),
        K("esp6_cbc_xcbc", 0x1010, _cbc("k16", 16, "xcbc(aes)", 16, 96), outer=6),
        K("esp4_cbc_cmac", 0x1011, _cbc("k17", 16, "cmac(aes)", 16, 96)),
        K(
            "ah4_transport_sha256",
            0x1012,
            f"auth-trunc 'hmac(sha256)' {_hex('k18', 32)} 128",
            proto="ah",
        ),
        K(
            "ah6_transport_esn_sha1",
            0x1013,
            f"auth-trunc 'hmac(sha1)' {_hex('k19', 20)} 96",
            proto="ah",
            outer=6,
            both_extra=ESN_BOTH,
            out_extra=ESN_OUT,
            in_extra=ESN_IN,
            count=5,
        ),
        # AH over IPv6 with a hop-by-hop option whose data may change en route: the ICV is
        # computed with the option data zeroed (RFC 4302 §3.3.3.1.2.1, RFC 8200 §4.2)
        K(
            "ah6_hbh_mutable_sha256",
            0x1015,
            f"auth-trunc 'hmac(sha256)' {_hex('k21', 32)} 128",
            proto="ah",
            outer=6,
            hbh=True,
        ),
        K(
            "ah4_tunnel_sha384",
            0x1014,
            f"auth-trunc 'hmac(sha384)' {_hex('k20', 48)} 192",
            proto="ah",
            mode="tunnel",
        ),
    ]


def inject_cases() -> list[InjectCase]:
    from netsec_layers.keys.sa import SecurityAssociation as SA

    def sa(
        spi: int,
        enc: str,
        ek: int,
        integ: str = "NONE",
        ak: int = 0,
        v6: bool = False,
        **kw: object,
    ) -> SA:
        src, dst = OUT6 if v6 else OUT4
        return SA(
            spi=spi,
            encryption=enc,
            enc_key=key(f"i{spi}e", ek),
            integrity=integ,
            auth_key=key(f"i{spi}a", ak),
            src=src,
            dst=dst,
            replay_window=kw.pop("replay_window", 32),
            **kw,
        )

    I = InjectCase  # noqa: E741
    return [
        I(
            "inj4_tunnel_gcm",
            sa(0x2001, "AES-GCM-16", 20, mode="tunnel"),
            replay=True,
            bad_icv=True,
        ),
        I(
            "inj4_transport_cbc_sha256",
            sa(0x2002, "AES-CBC", 16, "HMAC-SHA2-256-128", 32, mode="transport"),
            replay=True,
            bad_icv=True,
        ),
        I(
            "inj6_transport_chacha20poly1305",
            sa(0x2003, "CHACHA20-POLY1305", 36, v6=True, mode="transport"),
            bad_icv=True,
        ),
        I(
            "inj6_tunnel_ctr_sha1",
            sa(0x2004, "AES-CTR", 20, "HMAC-SHA1-96", 20, v6=True, mode="tunnel"),
            inner=6,
        ),
        # IPv4 inside an IPv6 SA: the kernel decapsulates per the state's selector family, and
        # an SA file has no inner family, so the converted command needs an IPv4 `sel`
        # (without it: XfrmInStateMismatch, nothing delivered)
        I(
            "inj_4in6_tunnel_ccm",
            sa(0x2005, "AES-CCM-16", 19, v6=True, mode="tunnel"),
            inner=4,
            in_extra=f"sel src {IN4[0]}/32 dst {IN4[1]}/32",
        ),
        # ESN: the kernel's window sits at 0xfffffff0 (high 0); packets 0xfffffffe ..
        # 0x1_00000001 carry only the low 32 bits, the kernel infers the high half.
        I(
            "inj4_esn_wrap_gcm",
            sa(0x2006, "AES-GCM-16", 20, mode="tunnel", esn=True, replay_window=128),
            first_seq=0xFFFFFFFE,
            count=4,
            replay=True,
            bad_icv=True,
            in_extra=ESN_IN,
        ),
        I(
            "inj4_esn_wrap_cbc_sha256",
            sa(
                0x2007,
                "AES-CBC",
                32,
                "HMAC-SHA2-256-128",
                32,
                mode="transport",
                esn=True,
                replay_window=128,
            ),
            first_seq=0xFFFFFFFE,
            count=4,
            in_extra=ESN_IN,
        ),
        # ESN high bits from the SA itself (netsec keys convert emits replay-seq-hi 1)
        I(
            "inj4_esn_hi1_gmac",
            sa(0x2008, "AES-GMAC", 20, mode="transport", esn=True, esn_high=1, replay_window=64),
            first_seq=(1 << 32) + 1,
            count=3,
        ),
        I(
            "inj4_natt_gcm",
            sa(0x2009, "AES-GCM-16", 20, mode="tunnel", udp_encap=(4500, 4500)),
            bad_icv=True,
        ),
        I("inj4_3des_md5", sa(0x200A, "3DES-CBC", 24, "HMAC-MD5-96", 16, mode="transport")),
        I("inj4_null_sha512", sa(0x200B, "NULL", 0, "HMAC-SHA2-512-256", 64, mode="transport")),
        # Linux checks AH length against 64-bit alignment also on IPv4 unless the state has
        # `flag align4`; build_ah pads IPv4 AH to 32 bits (RFC 4302 §3.3.3.2.1)
        I(
            "inj_ah4_sha256",
            sa(0x200C, "NULL", 0, "HMAC-SHA2-256-128", 32, protocol="ah", mode="transport"),
            replay=True,
            bad_icv=True,
        ),
        I(
            "inj_ah4_align4_sha256",
            sa(0x200E, "NULL", 0, "HMAC-SHA2-256-128", 32, protocol="ah", mode="transport"),
            replay=True,
            bad_icv=True,
            in_extra="flag align4",
        ),
        I(
            "inj_ah6_hbh_sha256",
            sa(
                0x200F, "NULL", 0, "HMAC-SHA2-256-128", 32, v6=True, protocol="ah", mode="transport"
            ),
            hbh=True,
            bad_icv=True,
        ),
        # TFC padding (RFC 4303 §2.7) from the library (netsec encrypt has no option for it)
        I(
            "inj4_tfc_gcm",
            sa(0x2010, "AES-GCM-16", 20, mode="tunnel"),
            tfc_pad=150,
            bad_icv=True,
        ),
        I(
            "inj_ah6_esn_sha1",
            sa(
                0x200D,
                "NULL",
                0,
                "HMAC-SHA1-96",
                20,
                v6=True,
                protocol="ah",
                mode="transport",
                esn=True,
                esn_high=1,
                replay_window=64,
            ),
            first_seq=(1 << 32) + 5,
            bad_icv=True,
        ),
    ]


def _plain_frame(c: InjectCase, payload: bytes, sport: int) -> bytes:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    sa = c.sa
    if sa.mode == "tunnel":
        src, dst = IN4 if c.inner == 4 else IN6
    else:
        src, dst = sa.src, sa.dst
    ip = IP(src=src, dst=dst) if ":" not in src else IPv6(src=src, dst=dst)
    if c.hbh:
        from scapy.layers.inet6 import HBHOptUnknown, IPv6ExtHdrHopByHop

        ip = ip / IPv6ExtHdrHopByHop(
            options=[HBHOptUnknown(otype=0x3E, optdata=b"\xde\xad\xbe\xef")]
        )
    return bytes(Ether(src=MAC_A, dst=MAC_B) / ip / UDP(sport=sport, dport=sc.SINK_PORT) / payload)


def _fill(c: InjectCase, share: Path) -> None:
    cmds = (share / f"i_{c.name}.cmds").read_text()
    c.state_cmds = [ln for ln in cmds.splitlines() if ln.startswith("ip xfrm state")]
    pls = sc.payloads(c.name, c.count + (1 if c.bad_icv else 0))
    c.sent, c.dropped = pls[: c.count], pls[c.count :]


def _outer_frame(src: str, dst: str, esp: bytes) -> bytes:
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    ip = IP(src=src, dst=dst, proto=50) if ":" not in src else IPv6(src=src, dst=dst, nh=50)
    return bytes(Ether(src=MAC_A, dst=MAC_B) / ip / Raw(esp))


def prepare_inject(c: InjectCase, share: Path, sport: int) -> None:
    """Write ``i_<name>.pcap`` (what vmtool injects) and fill in state_cmds/sent/dropped."""
    from netsec_layers.io.pcap import CaptureWriter, open_capture
    from netsec_layers.keys.sa_files import format_project
    from netsec_layers.session.ipsec import SADatabase

    safile = share / f"i_{c.name}.sa.json"
    safile.write_text(format_project([c.sa]))
    cmds = sc.netsec("keys", "convert", str(safile), "--to", "xfrm")
    (share / f"i_{c.name}.cmds").write_text(cmds)
    _fill(c, share)
    plain = [_plain_frame(c, p, sport) for p in c.sent + c.dropped]
    frames: list[bytes]
    if c.sa.protocol == "ah":
        db = SADatabase([c.sa])
        frames = []
        for i, f in enumerate(plain):
            fault = "bad-icv" if c.bad_icv and i == c.count else None
            frames.append(f[:14] + db.build_ah(f[14:], sa=c.sa, seq=c.first_seq + i, fault=fault))
    elif c.tfc_pad:
        db = SADatabase([c.sa])
        frames = []
        for i, f in enumerate(plain):
            fault = "bad-icv" if c.bad_icv and i == c.count else None
            esp = db.encrypt(
                f[14:],
                sa=c.sa,
                next_header=4 if c.inner == 4 else 41,
                seq=c.first_seq + i,
                tfc_pad=c.tfc_pad,
                fault=fault,
            )
            frames.append(_outer_frame(c.sa.src, c.sa.dst, esp))
    else:
        plain_pcap = share / f"i_{c.name}.plain.pcap"
        with CaptureWriter(plain_pcap, linktype=1) as w:
            for i, f in enumerate(plain):
                w.write(f, ts_ns=(i + 1) * 1000)
        out = share / f"i_{c.name}.esp.pcap"
        sc.netsec(
            "encrypt",
            str(plain_pcap),
            "-w",
            str(out),
            "--esp-sa",
            str(safile),
            "--seq",
            str(c.first_seq),
            "-q",
        )
        with open_capture(out) as r:
            frames = [fr.data for fr in r]
        if c.bad_icv:
            frames[-1] = frames[-1][:-1] + bytes([frames[-1][-1] ^ 0x80])
    if c.replay:
        frames.append(frames[0])
    with CaptureWriter(share / f"i_{c.name}.pcap", linktype=1) as w:
        for i, f in enumerate(frames):
            w.write(f, ts_ns=(i + 1) * 1000)


@dataclass
class Results:
    share: Path
    kcases: list[KernelCase]
    icases: list[InjectCase]
    console: str
    guest_log: str
    sink: list[bytes]
    seconds: float
    kernel: str

    def stat_delta(self, prefix: str, name: str) -> dict[str, int]:
        a = sc.read_stat(self.share / f"{prefix}_{name}.stat0")
        b = sc.read_stat(self.share / f"{prefix}_{name}.stat1")
        return {k: b[k] - a.get(k, 0) for k in b if b[k] != a.get(k, 0)}


def run_all(share: Path, *, timeout: float = 420, reuse: bool = False) -> Results:
    """Prepare, boot once, collect.  ``share`` must be empty or not exist.

    ``reuse=True`` reads the results of an earlier run in ``share`` without booting (for
    working on the checks; set ``XFRM_VM_REUSE=<share>`` for the tests)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import xfrm_vm

    share.mkdir(parents=True, exist_ok=True)
    kcases, icases = kernel_cases(), inject_cases()
    if reuse:
        for c in icases:
            _fill(c, share)
        console, seconds = "(reused)", 0.0
    else:
        for n, c in enumerate(icases):
            prepare_inject(c, share, 41000 + n)
        script = sc.guest_script(kcases, icases)
        t0 = time.monotonic()
        console = xfrm_vm.run_vm(script, share, timeout=timeout)
        seconds = time.monotonic() - t0
    spis = {c.spi: share / f"k_{c.name}.pcap" for c in kcases}
    spis.update({c.sa.spi: share / f"i_{c.name}.seen.pcap" for c in icases})
    sc.split_capture(share / "capture.pcap", spis)
    log = (share / "guest.log").read_text(errors="replace")
    return Results(
        share,
        kcases,
        icases,
        console,
        log,
        sc.read_sink(share),
        seconds,
        (share / "uname.txt").read_text().strip(),
    )


def write_samples(out: Path) -> None:
    """Small kernel-made captures + the kernel's ``ip xfrm state`` for each, into ``out``."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        res = run_all(Path(tmp) / "share")
        out.mkdir(parents=True, exist_ok=True)
        for c in res.kcases:
            shutil.copy(res.share / f"k_{c.name}.pcap", out / f"{c.name}.pcap")
            shutil.copy(res.share / f"k_{c.name}.state", out / f"{c.name}.xfrm_state")
        (out / "KERNEL").write_text(res.kernel + "\n")
        sent = {c.name: [p.hex() for p in sc.payloads(c.name, c.count)] for c in res.kcases}
        import json

        (out / "payloads.json").write_text(json.dumps(sent, indent=1) + "\n")


__all__ = ["Results", "dataclasses", "inject_cases", "kernel_cases", "run_all", "write_samples"]
