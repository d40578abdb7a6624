#!/usr/bin/env python3
"""Two real strongSwan (charon) IKEv2 peers in private network namespaces, for ESP tests.

Usage (root)::

    python3 tools/strongswan_peer.py up        # start both peers, bring up all CHILD_SAs, print SAs
    python3 tools/strongswan_peer.py down      # stop charons, delete namespaces (idempotent)
    python3 tools/strongswan_peer.py sample [--out pcaps/strongswan]
                                              # write strongswan_natt.pcap + strongswan_natt.esp_sa

Topology (nothing leaves the two namespaces)::

    netns nslss-a                                   netns nslss-b
    lo: 10.98.1.N/32 (inner)                        lo: 10.98.2.N/32 (inner)
    nslssa0 10.99.0.1/24  <------- veth ------->   nslssb0 10.99.0.2/24
    ipsec0 (TUN, kernel-libipsec)                   ipsec0 (TUN, kernel-libipsec)

Peer A initiates IKEv2 (PSK) to B with forced UDP encapsulation (RFC 3948, port 4500). One
CHILD_SA (tunnel mode) per entry of :data:`CHILDREN`, each between its own pair of inner host
addresses 10.98.1.N <-> 10.98.2.N: AES-GCM-16 (128-bit key) and AES-CBC-128 + HMAC-SHA2-256-128,
plus an identical spare pair for tests that inject packets (they move the peer's replay window).
The ESP keys are read from A's charon log (``chd = 4``) and written as Wireshark ``esp_sa``
lines, usable by tshark and by :func:`netsec_layers.keys.sa_files.load_sa_file`.

strongSwan quirks met here (strongSwan 5.9.8, Debian 12):

* The kernel has no XFRM (ESP) support, so ESP runs in user space: the ``kernel-libipsec``
  plugin (package libcharon-extra-plugins) processes ESP in charon and hands inner packets to a
  TUN device ``ipsec0``.  It only does UDP-encapsulated ESP, hence ``encap = yes`` on both sides.
  ``kernel-netlink`` must still be loaded (after kernel-libipsec) for addresses and routes
  (it installs ``10.98.2.N dev ipsec0 table 220``); its XFRM half is simply unused.
* A traffic selector equal to the IKE peer's address would route IKE itself into the TUN
  device (``kernel-libipsec.allow_peer_ts`` is off for that reason), so the inner traffic uses
  separate addresses on ``lo``.
* Two charons on one host collide on ``/run/charon.pid`` (charon refuses to start when another
  one's pid file exists) and on the default VICI socket.  Each charon therefore runs in its own
  mount namespace (``ip netns exec`` creates one) with a private directory bind-mounted on
  ``/run``; the VICI socket is moved to the work directory with
  ``charon.plugins.vici.socket`` so ``swanctl --uri`` reaches it from outside, and
  ``STRONGSWAN_CONF`` points each charon at its own strongswan.conf.
* The keys are only in the log: Debian's build has no ``save-keys`` plugin.  ``chd = 4`` logs
  "encryption initiator key => 20 bytes @ ..." followed by hex-dump lines; for AES-GCM the 20
  bytes are key || 4-byte salt (RFC 4106 §8.1).  From the initiator's side the *initiator* keys
  protect the outbound SA (A -> B) and the *responder* keys the inbound one.
* libipsec enforces anti-replay and logs ``ESP sequence number verification
  failed`` / ``ESP decryption or ICV verification failed`` (both at ``esp = 1``); the algorithm
  lines (``using encryption algorithm AES_GCM_16 with key size 160``) need ``esp = 2``.  The
  logs are ``<workdir>/<side>/charon.log`` (``append = no``, else a reused workdir mixes runs).
* tcpdump must run with ``--immediate-mode``: with the default TPACKET_V3 block buffering the
  packets still in the kernel ring when tcpdump gets SIGINT are counted ("received by filter")
  but never written, so a short capture came out empty.
* Debian 12 has no ``ping`` binary installed here: traffic is generated with small Python
  socket programs run via ``ip netns exec`` (no Scapy import, so each takes ~50 ms).

Everything is bounded in time (each external command has a timeout) and :meth:`Peers.stop`
kills only the charon/tcpdump processes this tool started (by pid) before deleting the
namespaces, also after a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHARON = "/usr/lib/ipsec/charon"
SWANCTL = "swanctl"
PSK = "netsec-layers-strongswan-test-psk"
NS = {"a": "nslss-a", "b": "nslss-b"}
VETH = {"a": "nslssa0", "b": "nslssb0"}
OUTER = {"a": "10.99.0.1", "b": "10.99.0.2"}
DEBIAN_PACKAGES = ["strongswan-charon", "strongswan-swanctl", "libcharon-extra-plugins"]

# child name -> (inner host number N, esp_proposals)
CHILDREN: dict[str, tuple[int, str]] = {
    "gcm": (1, "aes128gcm16"),
    "cbc": (2, "aes128-sha256"),
    "gcminj": (3, "aes128gcm16"),
    "cbcinj": (4, "aes128-sha256"),
}

# charon's algorithm names (log "using ... algorithm X") -> Wireshark esp_sa names
_ENC_NAMES = {
    "AES_GCM_16": "AES-GCM with 16 octet ICV [RFC4106]",
    "AES_CBC": "AES-CBC [RFC3602]",
}
_INTEG_NAMES = {
    "UNDEFINED": "NULL",
    "HMAC_SHA2_256_128": "HMAC-SHA-256-128 [RFC4868]",
    "HMAC_SHA1_96": "HMAC-SHA-1-96 [RFC2404]",
}


class PeerError(RuntimeError):
    """strongSwan could not be set up (message says which step and shows the output)."""


def inner_addr(side: str, n: int) -> str:
    """Inner (tunnelled) host address N on side a or b."""
    return f"10.98.{1 if side == 'a' else 2}.{n}"


@dataclass
class ChildSA:
    """One direction of a CHILD_SA as read from the initiator's log."""

    child: str
    spi: int
    src: str
    dst: str
    encryption: str  # Wireshark esp_sa name
    enc_key: bytes
    integrity: str  # Wireshark esp_sa name
    auth_key: bytes

    def esp_sa_line(self) -> str:
        """A Wireshark 4.0 ``esp_sa`` UAT line (8 quoted fields)."""
        fields = [
            "IPv4",
            self.src,
            self.dst,
            f"0x{self.spi:08x}",
            self.encryption,
            "0x" + self.enc_key.hex(),
            self.integrity,
            "0x" + self.auth_key.hex() if self.auth_key else "",
        ]
        return ",".join(f'"{f}"' for f in fields)


def _run(argv: list[str], *, timeout: float = 15.0, check: bool = True, **kw: object) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    except subprocess.TimeoutExpired as e:
        raise PeerError(f"timed out after {timeout}s: {' '.join(argv)}") from e
    if check and r.returncode != 0:
        raise PeerError(
            f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}"
        )
    return str(r.stdout)


def _ns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def _strongswan_conf(side_dir: Path) -> str:
    return f"""charon {{
  load = random nonce aes sha1 sha2 hmac gcm kdf openssl curve25519 pem pkcs1 x509 kernel-libipsec kernel-netlink socket-default vici
  retransmit_tries = 2
  retransmit_timeout = 1.0
  filelog {{
    log {{
      path = {side_dir}/charon.log
      append = no
      default = 1
      chd = 4
      ike = 2
      knl = 1
      esp = 2
      flush_line = yes
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
  plugins {{
    vici {{
      socket = unix://{side_dir}/charon.vici
    }}
  }}
}}
"""


def _swanctl_conf(side: str) -> str:
    peer = "b" if side == "a" else "a"
    children = []
    for name, (n, esp) in CHILDREN.items():
        children.append(
            f"""      {name} {{
        local_ts = {inner_addr(side, n)}/32
        remote_ts = {inner_addr(peer, n)}/32
        esp_proposals = {esp}
        mode = tunnel
      }}"""
        )
    kids = "\n".join(children)
    return f"""connections {{
  nsl {{
    version = 2
    local_addrs = {OUTER[side]}
    remote_addrs = {OUTER[peer]}
    encap = yes
    proposals = aes128-sha256-x25519
    local {{
      auth = psk
      id = {side}@netsec
    }}
    remote {{
      auth = psk
      id = {peer}@netsec
    }}
    children {{
{kids}
    }}
  }}
}}
secrets {{
  ike-nsl {{
    id-a = a@netsec
    id-b = b@netsec
    secret = "{PSK}"
  }}
}}
"""


_KEY_RE = re.compile(r"^\d+\[CHD\] (encryption|integrity) (initiator|responder) key => (\d+) bytes")
_HEX_RE = re.compile(r"^\d+\[CHD\]\s+\d+: ((?:[0-9A-F]{2} ?)+)")
_SAD_RE = re.compile(r"^\d+\[CHD\] adding (inbound|outbound) ESP SA")
_SPI_RE = re.compile(r"^\d+\[CHD\]\s+SPI 0x([0-9a-f]{8}), src (\S+) dst (\S+)")
_ALG_RE = re.compile(r"^\d+\[ESP\]\s+using (encryption|integrity) algorithm (\S+) with key size")
_EST_RE = re.compile(
    r"^\d+\[IKE\] CHILD_SA (\S+)\{\d+\} established with SPIs ([0-9a-f]{8})_i ([0-9a-f]{8})_o"
)


def parse_initiator_log(text: str) -> list[ChildSA]:
    """ChildSAs (both directions) from an initiator's charon log at ``chd = 4``."""
    out: list[ChildSA] = []
    keys: dict[tuple[str, str], bytearray] = {}
    current: bytearray | None = None
    pending: list[dict[str, object]] = []  # SAD entries of the CHILD_SA being set up
    sad: dict[str, object] | None = None
    for line in text.splitlines():
        m = _KEY_RE.match(line)
        if m:
            if not pending and sad is None and keys and (m[1], m[2]) in keys:
                keys = {}
            current = keys.setdefault((m[1], m[2]), bytearray())
            continue
        m = _HEX_RE.match(line)
        if m and current is not None:
            current += bytes.fromhex(m[1].replace(" ", ""))
            continue
        current = None
        m = _SAD_RE.match(line)
        if m:
            sad = {"dir": m[1]}
            pending.append(sad)
            continue
        m = _SPI_RE.match(line)
        if m and sad is not None and "spi" not in sad:
            sad.update(spi=int(m[1], 16), src=m[2], dst=m[3])
            continue
        m = _ALG_RE.match(line)
        if m and sad is not None:
            sad[m[1]] = m[2]
            continue
        m = _EST_RE.match(line)
        if m:
            for entry in pending:
                who = "responder" if entry["dir"] == "inbound" else "initiator"
                enc = str(entry.get("encryption", "UNDEFINED"))
                integ = str(entry.get("integrity", "UNDEFINED"))
                out.append(
                    ChildSA(
                        child=m[1],
                        spi=int(entry["spi"]),  # type: ignore[call-overload]
                        src=str(entry["src"]),
                        dst=str(entry["dst"]),
                        encryption=_ENC_NAMES.get(enc, enc),
                        enc_key=bytes(keys.get(("encryption", who), b"")),
                        integrity=_INTEG_NAMES.get(integ, integ),
                        auth_key=bytes(keys.get(("integrity", who), b"")),
                    )
                )
            pending, sad, keys = [], None, {}
    return out


class Peers:
    """Both charon peers; use as a context manager (``stop()`` always runs)."""

    def __init__(
        self, workdir: str | os.PathLike[str] | None = None, *, timeout: float = 20.0
    ) -> None:
        self.workdir = (
            Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="nsl-strongswan-"))
        )
        self.timeout = timeout
        self._procs: list[subprocess.Popen[bytes]] = []
        self.sas: list[ChildSA] = []

    # -- life cycle -----------------------------------------------------------------------
    def __enter__(self) -> Peers:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Namespaces, veth, addresses, both charons, connection loaded on both sides."""
        if os.geteuid() != 0:
            raise PeerError("root is needed (network namespaces)")
        missing = [
            p
            for p in (CHARON, shutil.which(SWANCTL) or "/nonexistent/swanctl")
            if not Path(p).exists()
        ]
        if missing or not Path("/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so").exists():
            raise PeerError(
                f"strongSwan not installed: apt-get install -y {' '.join(DEBIAN_PACKAGES)}"
            )
        cleanup(self.workdir)
        for side in "ab":
            _run(["ip", "netns", "add", NS[side]])
        _run(
            [
                "ip",
                "link",
                "add",
                VETH["a"],
                "netns",
                NS["a"],
                "type",
                "veth",
                "peer",
                "name",
                VETH["b"],
                "netns",
                NS["b"],
            ]
        )
        for side in "ab":
            ns = NS[side]
            _run(["ip", "-n", ns, "addr", "add", f"{OUTER[side]}/24", "dev", VETH[side]])
            _run(["ip", "-n", ns, "link", "set", VETH[side], "up"])
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
            for n, _ in CHILDREN.values():
                _run(["ip", "-n", ns, "addr", "add", f"{inner_addr(side, n)}/32", "dev", "lo"])
        for side in "ab":
            d = self.workdir / side
            (d / "run").mkdir(parents=True, exist_ok=True)
            for old in ("charon.log", "stdout"):
                with contextlib.suppress(FileNotFoundError):
                    (d / old).unlink()
            (d / "strongswan.conf").write_text(_strongswan_conf(d))
            (d / "swanctl.conf").write_text(_swanctl_conf(side))
            log = open(d / "stdout", "wb")  # noqa: SIM115 - owned by the process
            env = dict(os.environ, STRONGSWAN_CONF=str(d / "strongswan.conf"))
            # ip netns exec gives a private mount namespace: bind our dir on /run there only.
            p = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    NS[side],
                    "sh",
                    "-c",
                    f'mount --bind "{d}/run" /run && exec {CHARON}',
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            log.close()
            self._procs.append(p)
        deadline = time.monotonic() + self.timeout
        for side in "ab":
            sock = self.workdir / side / "charon.vici"
            while not sock.exists():
                if time.monotonic() > deadline or any(p.poll() is not None for p in self._procs):
                    out = (self.workdir / side / "stdout").read_text(errors="replace")[-2000:]
                    raise PeerError(f"charon in {NS[side]} did not start:\n{out}")
                time.sleep(0.05)
        for side in "ab":
            self.swanctl(side, "--load-all", "--file", str(self.workdir / side / "swanctl.conf"))

    def stop(self) -> None:
        """Stop what we started and delete the namespaces (safe to call twice)."""
        for p in self._procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGTERM)
        for p in self._procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        self._procs.clear()
        cleanup(self.workdir)

    # -- operations -----------------------------------------------------------------------
    def swanctl(self, side: str, *args: str) -> str:
        return _run(
            [SWANCTL, *args, "--uri", f"unix://{self.workdir / side / 'charon.vici'}"],
            timeout=self.timeout,
        )

    def initiate(self, *children: str) -> list[ChildSA]:
        """Bring up CHILD_SAs (all by default) from A; returns every SA known so far."""
        for child in children or tuple(CHILDREN):
            self.swanctl("a", "--initiate", "--child", child, "--timeout", str(int(self.timeout)))
        self.sas = parse_initiator_log(
            (self.workdir / "a" / "charon.log").read_text(errors="replace")
        )
        return self.sas

    def sa(self, child: str, direction: str = "a->b") -> ChildSA:
        src, dst = (OUTER["a"], OUTER["b"]) if direction == "a->b" else (OUTER["b"], OUTER["a"])
        for s in reversed(self.sas):
            if s.child == child and s.src == src and s.dst == dst:
                return s
        raise PeerError(f"no SA for child {child} {direction} (initiate it first)")

    def esp_sa_text(self) -> str:
        return "".join(s.esp_sa_line() + "\n" for s in self.sas)

    def log(self, side: str) -> str:
        return (self.workdir / side / "charon.log").read_text(errors="replace")

    def ns_python(self, side: str, code: str, *args: str, timeout: float = 10.0) -> str:
        """Run a small Python program inside a namespace (stdlib only)."""
        return _run(
            ["ip", "netns", "exec", NS[side], sys.executable, "-I", "-S", "-c", code, *args],
            timeout=timeout,
        )

    def send_udp(self, side: str, n: int, payload: bytes, *, port: int = 9999) -> None:
        """A UDP datagram from inner address N of ``side`` to the peer's inner address N."""
        peer = "b" if side == "a" else "a"
        self.ns_python(
            side, _UDP_SENDER, inner_addr(side, n), inner_addr(peer, n), str(port), payload.hex()
        )

    def send_ping(
        self, side: str, n: int, payload: bytes, *, ident: int = 0x4E53, seq: int = 1
    ) -> None:
        """An ICMP echo request through the tunnel (the peer's kernel answers it)."""
        peer = "b" if side == "a" else "a"
        self.ns_python(
            side,
            _PING_SENDER,
            inner_addr(side, n),
            inner_addr(peer, n),
            str(ident),
            str(seq),
            payload.hex(),
        )

    def inject(self, side: str, ip_packets: list[bytes], *, gap: float = 0.05) -> None:
        """Send complete IPv4 packets (e.g. crafted UDP-encapsulated ESP) from ``side``'s
        namespace through a raw socket (IP_HDRINCL): they leave on the veth to the peer."""
        self.ns_python(side, _RAW_SENDER, str(gap), *(p.hex() for p in ip_packets))

    @contextlib.contextmanager
    def capture(
        self, side: str, iface: str, path: str | os.PathLike[str], *, settle: float = 0.3
    ) -> Iterator[Path]:
        """tcpdump -U -w ``path`` on ``iface`` inside ``side``'s namespace while in the block."""
        path = Path(path)
        p = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                NS[side],
                "tcpdump",
                "--immediate-mode",
                "-i",
                iface,
                "-U",
                "-n",
                "-s",
                "0",
                "-w",
                str(path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._procs.append(p)
        try:
            # tcpdump says "listening on" once the capture is open.
            deadline = time.monotonic() + self.timeout
            assert p.stderr is not None
            os.set_blocking(p.stderr.fileno(), False)
            buf = b""
            while b"listening on" not in buf:
                if p.poll() is not None or time.monotonic() > deadline:
                    raise PeerError(
                        f"tcpdump on {iface} in {NS[side]} did not start: {buf.decode(errors='replace')}"
                    )
                chunk = p.stderr.read() or b""
                buf += chunk
                time.sleep(0.02)
            yield path
            time.sleep(settle)
        finally:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGINT)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
            if p in self._procs:
                self._procs.remove(p)


_UDP_SENDER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.sendto(bytes.fromhex(sys.argv[4]), (sys.argv[2], int(sys.argv[3])))
"""

_PING_SENDER = """
import socket, struct, sys
src, dst, ident, seq, data = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), bytes.fromhex(sys.argv[5])
def csum(b):
    if len(b) % 2: b += b"\\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF
msg = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.bind((src, 0))
s.sendto(msg, (dst, 0))
"""

_RAW_SENDER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
gap = float(sys.argv[1])
for h in sys.argv[2:]:
    pkt = bytes.fromhex(h)
    s.sendto(pkt, (socket.inet_ntoa(pkt[16:20]), 0))
    time.sleep(gap)
"""


def cleanup(workdir: Path | None = None) -> None:
    """Remove leftovers of a previous run: its charons (by pid file) and the namespaces."""
    if workdir is not None:
        for side in "ab":
            pidfile = workdir / side / "run" / "charon.pid"
            with contextlib.suppress(OSError, ValueError):
                pid = int(pidfile.read_text().strip())
                if b"charon" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                pidfile.unlink()
    for ns in NS.values():
        if _ns_exists(ns):
            # Any process still in the namespace was started by this tool (charon/tcpdump).
            pids = _run(["ip", "netns", "pids", ns], check=False).split()
            for pid_text in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid_text), signal.SIGKILL)
            _run(["ip", "netns", "del", ns], check=False)


def write_sample(out: Path, *, workdir: Path | None = None) -> tuple[Path, Path]:
    """A short capture (IKE + ESP-in-UDP for the gcm and cbc children) and its esp_sa file."""
    out.mkdir(parents=True, exist_ok=True)
    pcap, sa_file = out / "strongswan_natt.pcap", out / "strongswan_natt.esp_sa"
    with Peers(workdir) as peers:
        tmp = peers.workdir / "sample.pcap"
        with peers.capture("a", VETH["a"], tmp):
            peers.initiate("gcm", "cbc")
            peers.send_udp("a", 1, b"netsec sample over AES-GCM")
            peers.send_ping("a", 1, b"netsec ping over AES-GCM")
            peers.send_udp("a", 2, b"netsec sample over AES-CBC/HMAC-SHA-256")
            peers.send_ping("a", 2, b"netsec ping over AES-CBC/HMAC-SHA-256")
        shutil.copyfile(tmp, pcap)
        sa_file.write_text(
            "# esp_sa lines (Wireshark 4.0 UAT) for strongswan_natt.pcap, keys from charon's log\n"
            + peers.esp_sa_text()
        )
    return pcap, sa_file


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["up", "down", "sample"])
    ap.add_argument("--workdir", default="/tmp/nsl-strongswan")
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parent.parent / "pcaps" / "strongswan")
    )
    args = ap.parse_args(argv)
    workdir = Path(args.workdir)
    try:
        if args.command == "down":
            cleanup(workdir)
        elif args.command == "up":
            peers = Peers(workdir)
            try:
                peers.start()
                peers.initiate()
            except BaseException:
                peers.stop()
                raise
            sys.stdout.write(peers.esp_sa_text())
            sys.stdout.write(f"# running; stop with: {sys.argv[0]} down --workdir {workdir}\n")
        else:
            pcap, sa_file = write_sample(Path(args.out), workdir=workdir)
            sys.stdout.write(f"wrote {pcap} and {sa_file}\n")
    except PeerError as e:
        sys.stderr.write(f"strongswan_peer: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
