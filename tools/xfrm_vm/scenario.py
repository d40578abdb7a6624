"""The interop scenario run in the xfrm VM (tools/xfrm_vm.py): one boot, all cases batched.

Inside the VM: netns ``nsa`` and ``nsb`` joined by a veth pair (``vetha``/``vethb``, fixed MACs,
static neighbours so no ARP/ND is needed), outer addresses 192.0.2.1/2 and 2001:db8::1/2, inner
(tunnel-mode) addresses on ``lo``: 10.1.0.1 / fd00:1::1 in nsa, 10.2.0.1 / fd00:2::1 in nsb.
One ``tcpdump -i vethb`` captures the whole run; a UDP sink in nsb (port 5000) logs every
datagram that reaches a socket; a UDP_ENCAP_ESPINUDP socket on 4500 takes NAT-T.

* :class:`KernelCase` — the kernel encrypts: states + ``dir out`` policy in nsa (and the
  matching inbound state + ``dir in`` policy in nsb), then ``vmtool send`` sends known UDP
  payloads from nsa to nsb.  ``k_<name>.state`` is nsa's ``ip xfrm state`` after the traffic.
* :class:`InjectCase` — we encrypt: nsb's inbound state comes from ``netsec keys convert
  --to xfrm`` (or explicit ``ip xfrm`` arguments), the packets from ``netsec encrypt`` / the
  library's ``build_ah``; ``vmtool inject`` writes them on vetha; nsb's ``/proc/net/xfrm_stat``
  is saved before and after.

The case lists are data here; the test (tests/integration/test_xfrm_vm.py) checks the results.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

IP = "/usr/sbin/ip"
TCPDUMP = "/usr/sbin/tcpdump"
MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
OUT4 = ("192.0.2.1", "192.0.2.2")
OUT6 = ("2001:db8::1", "2001:db8::2")
IN4 = ("10.1.0.1", "10.2.0.1")
IN6 = ("fd00:1::1", "fd00:2::1")
SINK_PORT = 5000


def key(name: str, n: int) -> bytes:
    """Deterministic key bytes (so the sample captures are reproducible)."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{name}/{i}".encode()).digest()
        i += 1
    return out[:n]


def payloads(name: str, count: int) -> list[bytes]:
    """Distinct UDP payloads of varied lengths (exercise every pad length mod the block)."""
    return [f"{name} #{i} ".encode() + key(f"{name}-p{i}", 5 + 7 * i) for i in range(count)]


@dataclass
class KernelCase:
    """The kernel encrypts; ``alg`` is the algorithm part of ``ip xfrm state add``."""

    name: str
    spi: int
    alg: str
    mode: str = "transport"
    outer: int = 4  # 4 | 6
    inner: int = 4  # tunnel mode only
    proto: str = "esp"
    out_extra: str = ""  # only on the sender's state (tfcpad, replay-oseq …)
    in_extra: str = ""  # only on the receiver's state (replay-seq …)
    both_extra: str = ""  # on both (flag esn, replay-window, encap …)
    count: int = 4
    hbh: bool = False  # IPv6 hop-by-hop header with a mutable option (vmtool sendhbh)

    def addresses(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """(outer src/dst, selector src/dst)."""
        outer = OUT4 if self.outer == 4 else OUT6
        if self.mode == "tunnel":
            return outer, IN4 if self.inner == 4 else IN6
        return outer, outer


@dataclass
class InjectCase:
    """We encrypt; nsb gets ``state_cmds`` (from ``netsec keys convert --to xfrm``)."""

    name: str
    sa: object  # netsec_layers.keys.sa.SecurityAssociation
    first_seq: int = 1
    count: int = 3
    replay: bool = False  # append a copy of the first packet
    bad_icv: bool = False  # append one more packet with its last ICV byte flipped
    in_extra: str = ""  # appended to the converted command (e.g. replay-seq for ESN)
    inner: int = 4
    hbh: bool = False  # IPv6 hop-by-hop header with a mutable option in the plaintext
    tfc_pad: int = 0  # TFC bytes (built with SADatabase.encrypt instead of the CLI)
    state_cmds: list[str] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)  # payloads that must arrive
    dropped: list[bytes] = field(default_factory=list)  # payloads that must not


def _policy(
    ns: str,
    direction: str,
    c_outer: tuple[str, str],
    sel: tuple[str, str],
    proto: str,
    mode: str,
    reqid: int | None,
) -> str:
    plen = 32 if ":" not in sel[0] else 128
    rq = f" reqid {reqid}" if reqid is not None else ""
    return (
        f"{IP} -n {ns} xfrm policy add src {sel[0]}/{plen} dst {sel[1]}/{plen} proto 17 "
        f"dir {direction} tmpl src {c_outer[0]} dst {c_outer[1]} proto {proto} mode {mode}{rq}"
    )


SETUP = f"""set -u
IP={IP}
$IP netns add nsa; $IP netns add nsb
$IP link add vetha netns nsa address {MAC_A} type veth peer name vethb netns nsb address {MAC_B}
for ns in nsa nsb; do $IP -n $ns link set lo up; done
$IP -n nsa link set vetha up; $IP -n nsb link set vethb up
$IP -n nsa addr add {OUT4[0]}/24 dev vetha; $IP -n nsb addr add {OUT4[1]}/24 dev vethb
$IP -n nsa addr add {OUT6[0]}/64 dev vetha nodad; $IP -n nsb addr add {OUT6[1]}/64 dev vethb nodad
$IP -n nsa addr add {IN4[0]}/32 dev lo; $IP -n nsb addr add {IN4[1]}/32 dev lo
$IP -n nsa addr add {IN6[0]}/128 dev lo nodad; $IP -n nsb addr add {IN6[1]}/128 dev lo nodad
$IP -n nsa route add {IN4[1]}/32 dev vetha src {IN4[0]}
$IP -n nsa route add {IN6[1]}/128 dev vetha src {IN6[0]}
for a in {OUT4[1]} {OUT6[1]} {IN4[1]} {IN6[1]}; do
  $IP -n nsa neigh replace $a lladdr {MAC_B} dev vetha nud permanent; done
for a in {OUT4[0]} {OUT6[0]} {IN4[0]} {IN6[0]}; do
  $IP -n nsb neigh replace $a lladdr {MAC_A} dev vethb nud permanent; done
nsenter --net=/run/netns/nsb vmtool sink {SINK_PORT} sink.txt 100000 &
SINK=$!
nsenter --net=/run/netns/nsb vmtool natt 4500 100000 &
NATT=$!
$IP netns exec nsb {TCPDUMP} -i vethb -U --immediate-mode -Z root -s 0 -w capture.pcap \
    ip or ip6 2> tcpdump.err &
TCPD=$!
n=0; while [ ! -s capture.pcap ] && [ $n -lt 100 ]; do usleep 100000; n=$((n+1)); done
sleep 1
# nsenter (a busybox applet) is much cheaper than `ip netns exec` under TCG
NSA() {{ nsenter --net=/run/netns/nsa "$@"; }}
NSB() {{ nsenter --net=/run/netns/nsb "$@"; }}
flush() {{
  for ns in nsa nsb; do $IP -n $ns xfrm policy flush; $IP -n $ns xfrm state flush; done
}}
"""

TEARDOWN = """echo "== end $(cut -d' ' -f1 /proc/uptime)"
usleep 300000
kill -INT $TCPD; wait $TCPD
kill $SINK $NATT
cat tcpdump.err
echo scenario-complete
"""


def kernel_case_script(c: KernelCase, reqid: int) -> str:
    outer, sel = c.addresses()
    state = (
        f"{IP} -n {{ns}} xfrm state add src {outer[0]} dst {outer[1]} proto {c.proto} "
        f"spi 0x{c.spi:08x} reqid {reqid} mode {c.mode} {c.both_extra} {{extra}} {c.alg}"
    )
    hexes = " ".join(p.hex() for p in payloads(c.name, c.count))
    sport = 40000 + reqid
    lines = [
        f"echo \"== kernel case {c.name} $(cut -d' ' -f1 /proc/uptime)\"",
        state.format(ns="nsa", extra=c.out_extra) + f" || echo 'FAILED state add {c.name}'",
        state.format(ns="nsb", extra=c.in_extra) + f" || echo 'FAILED state add {c.name} (b)'",
        _policy("nsa", "out", outer, sel, c.proto, c.mode, reqid),
        _policy("nsb", "in", outer, sel, c.proto, c.mode, reqid),
        f"NSB cat /proc/net/xfrm_stat > k_{c.name}.stat0",
        f"NSA vmtool {'sendhbh' if c.hbh else 'send'} {sel[0]} {sel[1]} {SINK_PORT} {sport} {hexes}",
        "usleep 100000",
        f"$IP -n nsa xfrm state > k_{c.name}.state",
        f"$IP -n nsb -s xfrm state > k_{c.name}.state_b",
        f"NSB cat /proc/net/xfrm_stat > k_{c.name}.stat1",
        "flush",
    ]
    return "\n".join(lines) + "\n"


def inject_case_script(c: InjectCase) -> str:
    sa = c.sa
    sel = (sa.src, sa.dst) if sa.mode == "transport" else (IN4 if c.inner == 4 else IN6)
    lines = [f"echo \"== inject case {c.name} $(cut -d' ' -f1 /proc/uptime)\""]
    for cmd in c.state_cmds:
        args = shlex.split(cmd)
        assert args[:3] == ["ip", "xfrm", "state"], cmd
        lines.append(
            f"{IP} -n nsb {shlex.join(args[1:])} {c.in_extra} || echo 'FAILED state add {c.name}'"
        )
    lines += [
        _policy("nsb", "in", (sa.src, sa.dst), sel, sa.protocol, sa.mode, None),
        f"$IP -n nsb xfrm state > i_{c.name}.state",
        f"NSB cat /proc/net/xfrm_stat > i_{c.name}.stat0",
        f"NSA vmtool inject vetha i_{c.name}.pcap 20000",
        "usleep 200000",
        f"$IP -n nsb -s xfrm state > i_{c.name}.state_b",
        f"NSB cat /proc/net/xfrm_stat > i_{c.name}.stat1",
        "flush",
    ]
    return "\n".join(lines) + "\n"


def guest_script(kcases: list[KernelCase], icases: list[InjectCase]) -> str:
    parts = [SETUP, "uname -a; cat /proc/version > kernel_version.txt; cat /proc/uptime\n"]
    parts += [kernel_case_script(c, 100 + i) for i, c in enumerate(kcases)]
    parts += [inject_case_script(c) for c in icases]
    parts.append(TEARDOWN)
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# host side helpers
def read_stat(path: Path) -> dict[str, int]:
    out = {}
    for line in path.read_text().splitlines():
        k, _, v = line.partition(" ")
        if v.strip().isdigit():
            out[k] = int(v)
    return out


def read_sink(share: Path) -> list[bytes]:
    return [
        bytes.fromhex(line.split()[1])
        for line in (share / "sink.txt").read_text().split("\n")
        if len(line.split()) == 2
    ]


def ipsec_spi(frame: bytes) -> tuple[str, int] | None:
    """("esp"|"ah", SPI) of an Ethernet frame carrying ESP, AH or NAT-T ESP; else None."""
    et = frame[12:14]
    ip = frame[14:]
    if et == b"\x08\x00":
        proto, off = ip[9], (ip[0] & 15) * 4
    elif et == b"\x86\xdd":
        proto, off = ip[6], 40
        while proto in (0, 43, 60):  # hop-by-hop, routing, destination options
            proto, off = ip[off], off + (ip[off + 1] + 1) * 8
    else:
        return None
    if proto == 50:
        return "esp", struct.unpack_from("!I", ip, off)[0]
    if proto == 51:
        return "ah", struct.unpack_from("!I", ip, off + 4)[0]
    if proto == 17 and struct.unpack_from("!H", ip, off + 2)[0] == 4500:
        spi = struct.unpack_from("!I", ip, off + 8)[0]
        return ("esp", spi) if spi else None
    return None


def split_capture(capture: Path, spis: dict[int, Path]) -> None:
    """Write the frames of each SPI of ``spis`` to its own pcap."""
    from netsec_layers.io.pcap import CaptureWriter, open_capture

    frames: dict[int, list] = {spi: [] for spi in spis}
    with open_capture(capture) as reader:
        for f in reader:
            hit = ipsec_spi(f.data)
            if hit and hit[1] in frames:
                frames[hit[1]].append(f)
    for spi, path in spis.items():
        with CaptureWriter(path, linktype=1) as w:
            for f in frames[spi]:
                w.write(f.data, ts_ns=f.ts_ns)


def netsec(*args: str) -> str:
    """Run the ``netsec`` CLI (the one under test) and return stdout."""
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from netsec_layers.cli.main import main; sys.exit(main(sys.argv[1:]))",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if r.returncode != 0:
        raise RuntimeError(f"netsec {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def dissect(pcap: Path, sa_file: Path) -> list[dict]:
    out = netsec("dissect", str(pcap), "--esp-sa", str(sa_file), "--json", "-q")
    return [json.loads(line) for line in out.splitlines() if line.strip()]
