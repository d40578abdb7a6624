#!/usr/bin/env python3
"""A Linux kernel IPsec (xfrm) peer in a throw-away qemu VM, for ESP/AH interoperability tests.

The host kernel here has no XFRM ESP support (``ip xfrm state add … proto esp`` fails with
"Requested type not found"), but Debian's stock kernel boots under qemu (TCG, no KVM) in a few
seconds.  This tool builds a minimal initramfs from Debian packages and runs one shell script
inside the VM::

    python3 tools/xfrm_vm.py build                 # (re)build the cached initramfs, print paths
    python3 tools/xfrm_vm.py run SCRIPT SHARE_DIR  # boot, run SCRIPT (copied to SHARE_DIR/run.sh)
    python3 tools/xfrm_vm.py samples [--out pcaps/xfrm]   # the sample captures (see scenario.py)

The initramfs (cached in ``$XFRM_VM_WORKDIR`` or ``/var/tmp/netsec-xfrm-vm``, rebuilt when
missing or when its inputs change) holds:

* busybox-static (shell, mount, insmod, poweroff …);
* iproute2's real ``ip`` (busybox's ``ip`` has no ``xfrm``) and ``tcpdump``, each with the
  shared libraries ``ldd`` lists, copied to the same paths;
* ``vmtool`` (tools/xfrm_vm/vmtool.c, built here with ``gcc -static``): UDP send/sink, a
  NAT-T (UDP_ENCAP_ESPINUDP) socket holder and an AF_PACKET pcap injector;
* the kernel modules for xfrm/ESP/AH, the AEAD/cipher/hash templates, veth, 9p over virtio,
  and the crypto RNG (``drbg``, ``jitterentropy_rng``): without the RNG every ESP state add
  fails with "Kernel was unable to initialize cryptographic operations" (the IV generators
  ``seqiv``/``echainiv`` need ``stdrng``).  Dependencies come from ``modules.dep``; ``/init``
  loads them with ``insmod`` in dependency order.

``/init`` mounts the 9p share (``-virtfs local,…,mount_tag=host0``) on ``/mnt``, runs
``/mnt/run.sh`` with output in ``/mnt/guest.log`` and powers off (``poweroff -f``).  qemu runs
with ``-accel tcg -nographic -nic none -m 512 -no-reboot`` under a wall-clock timeout; the VM
has no network device, so every address used lives inside the VM's own namespaces.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUEST_DIR = HERE / "xfrm_vm"
PACKAGES = ["qemu-system-x86", "linux-image-amd64", "busybox-static", "iproute2", "tcpdump", "gcc"]
QEMU = "qemu-system-x86_64"
BUILD_VERSION = "4"  # bump when the initramfs layout changes

# Module names (as in modules.dep, '-' and '_' equivalent); dependencies are added from
# modules.dep.  Built-in ones (cbc, hmac, sha1/sha256, md5, aes, crypto_null on Debian 6.1)
# are simply not found and skipped.
MODULES = [
    # 9p share over virtio-pci
    "virtio_pci",
    "9pnet_virtio",
    "9p",
    # xfrm, ESP, AH, NAT-T, tunnels, veth
    "xfrm_user",
    "xfrm_algo",
    "esp4",
    "esp6",
    "ah4",
    "ah6",
    "xfrm4_tunnel",
    "xfrm6_tunnel",
    "tunnel4",
    "tunnel6",
    "xfrm_interface",
    "veth",
    # AEADs, modes, IV generators, ciphers, MACs
    "authenc",
    "authencesn",
    "gcm",
    "ccm",
    "ctr",
    "ecb",
    "cbc",
    "chacha20poly1305",
    "chacha_generic",
    "poly1305_generic",
    "seqiv",
    "echainiv",
    "geniv",
    "aes_generic",
    "des_generic",
    "des3_ede",
    "sha1_generic",
    "sha256_generic",
    "sha512_generic",
    "hmac",
    "cmac",
    "xcbc",
    "md5",
    "gf128mul",
    "ghash-generic",
    "crypto_null",
    # the kernel's RNG: without it no ESP state can be created
    "drbg",
    "jitterentropy_rng",
]

INIT = r"""#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/bin:/sbin
# busybox sh runs its own applets before PATH (FEATURE_SH_STANDALONE): scripts must call
# iproute2 and tcpdump by full path, /usr/sbin/ip and /usr/sbin/tcpdump.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
while read -r m; do insmod "/lib/modules/$m" 2>>/tmp/insmod.err; done < /modules.list
mkdir -p /mnt
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host0 /mnt; then
    cp /tmp/insmod.err /mnt/insmod.err 2>/dev/null
    uname -r > /mnt/uname.txt
    cd /mnt && timeout "$(cat /mnt/timeout 2>/dev/null || echo 240)" sh /mnt/run.sh > /mnt/guest.log 2>&1
    echo "xfrm-vm: run.sh exit $?"
    cd / && sync && umount /mnt
else
    echo "xfrm-vm: cannot mount the 9p share"; cat /tmp/insmod.err
fi
echo xfrm-vm: done
poweroff -f
"""


def kernel_version() -> str:
    """Newest kernel that has both a vmlinuz in /boot and a module tree."""
    found = []
    for vmlinuz in Path("/boot").glob("vmlinuz-*"):
        ver = vmlinuz.name[len("vmlinuz-") :]
        if (Path("/lib/modules") / ver / "modules.dep").exists():
            found.append(ver)
    if not found:
        raise RuntimeError("no Debian kernel with modules (apt-get install linux-image-amd64)")
    return sorted(found)[-1]


def missing_packages() -> list[str]:
    """Debian packages this tool needs that are not installed."""
    need = []
    for pkg in PACKAGES:
        r = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True, check=False
        )
        if "install ok installed" not in r.stdout:
            need.append(pkg)
    return need


def ensure_packages() -> None:
    """Install the Debian packages if missing (root only; otherwise raise with the list)."""
    need = missing_packages()
    if not need:
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"missing Debian packages: {' '.join(need)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *need],
        check=True,
        env=env,
        timeout=1200,
        stdout=subprocess.DEVNULL,
    )


def _module_order(kver: str) -> list[str]:
    """Relative module paths (under /lib/modules/KVER) in dependency-first order."""
    base = Path("/lib/modules") / kver
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in (base / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
        name = Path(path).name.split(".ko")[0].replace("-", "_")
        by_name[name] = path
    order: list[str] = []

    def visit(path: str) -> None:
        if path in order:
            return
        for d in deps.get(path, []):
            visit(d)
        order.append(path)

    for name in MODULES:
        path = by_name.get(name.replace("-", "_"))
        if path:
            visit(path)
    return order


def _elf_deps(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+)\s+\(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


def _cpio_newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    """An initramfs ``newc`` cpio archive of (name, mode, data) entries."""
    out = bytearray()

    def add(name: str, mode: int, data: bytes, ino: int) -> None:
        nb = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0]
        out.extend(b"070701" + b"".join(b"%08X" % f for f in fields) + nb)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data) in enumerate(entries, 1):
        add(name, mode, data, ino)
    add("TRAILER!!!", 0, b"", 0)
    return bytes(out)


def workdir() -> Path:
    d = Path(os.environ.get("XFRM_VM_WORKDIR", "/var/tmp/netsec-xfrm-vm"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def build_vmtool(dest: Path) -> Path:
    """Compile tools/xfrm_vm/vmtool.c statically (the guest has no libc of its own)."""
    src = GUEST_DIR / "vmtool.c"
    subprocess.run(
        ["gcc", "-static", "-O2", "-Wall", "-o", str(dest), str(src)], check=True, timeout=120
    )
    return dest


def build_initramfs(*, rebuild: bool = False) -> tuple[Path, Path]:
    """(kernel image, initramfs) — the initramfs is cached and rebuilt only when needed."""
    kver = kernel_version()
    kernel = Path("/boot") / f"vmlinuz-{kver}"
    binaries = [shutil.which("ip") or "/usr/sbin/ip", shutil.which("tcpdump") or "/usr/bin/tcpdump"]
    key = hashlib.sha256(
        "\n".join(
            [BUILD_VERSION, kver, INIT, *MODULES, (GUEST_DIR / "vmtool.c").read_text(), *binaries]
        ).encode()
    ).hexdigest()[:16]
    out = workdir() / f"initramfs-{kver}-{key}.cpio.gz"
    if out.exists() and not rebuild:
        return kernel, out
    entries: list[tuple[str, int, bytes]] = []
    dirs = [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "run",
        "mnt",
        "lib",
        "lib64",
        "lib/x86_64-linux-gnu",
        "var",
        "lib/modules",
    ]
    for d in dirs:
        entries.append((d, stat.S_IFDIR | 0o755, b""))
    entries.append(("var/run", stat.S_IFLNK | 0o777, b"/run"))
    busybox = Path("/usr/bin/busybox")
    if not busybox.exists():
        busybox = Path("/bin/busybox")
    entries.append(("bin/busybox", stat.S_IFREG | 0o755, busybox.read_bytes()))
    applets = subprocess.run(
        [str(busybox), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        if applet not in ("busybox", "ip", "tcpdump"):
            entries.append((f"bin/{applet}", stat.S_IFLNK | 0o777, b"busybox"))
    entries.append(("init", stat.S_IFREG | 0o755, INIT.encode()))
    entries.append(("etc/passwd", stat.S_IFREG | 0o644, b"root:x:0:0:root:/:/bin/sh\n"))
    entries.append(("etc/group", stat.S_IFREG | 0o644, b"root:x:0:\n"))
    libs: set[str] = set()
    for b in binaries:
        entries.append((f"usr/sbin/{Path(b).name}", stat.S_IFREG | 0o755, Path(b).read_bytes()))
        libs.update(_elf_deps(b))
    seen_dirs = set(dirs)
    for lib in sorted(libs):
        rel = lib.lstrip("/")
        parent = str(Path(rel).parent)
        if parent not in seen_dirs:
            entries.append((parent, stat.S_IFDIR | 0o755, b""))
            seen_dirs.add(parent)
        entries.append((rel, stat.S_IFREG | 0o755, Path(lib).read_bytes()))
    with tempfile.TemporaryDirectory() as tmp:
        tool = build_vmtool(Path(tmp) / "vmtool")
        entries.append(("bin/vmtool", stat.S_IFREG | 0o755, tool.read_bytes()))
    order = _module_order(kver)
    base = Path("/lib/modules") / kver
    flat = []
    for rel in order:
        data = (base / rel).read_bytes()
        name = Path(rel).name
        if name.endswith(".xz"):
            import lzma

            data, name = lzma.decompress(data), name[:-3]
        elif name.endswith(".zst"):
            raise RuntimeError("zstd-compressed modules are not supported")
        entries.append((f"lib/modules/{name}", stat.S_IFREG | 0o644, data))
        flat.append(name)
    entries.append(("modules.list", stat.S_IFREG | 0o644, ("\n".join(flat) + "\n").encode()))
    tmp_out = out.with_suffix(f".{os.getpid()}.tmp")  # concurrent builds: atomic replace
    tmp_out.write_bytes(gzip.compress(_cpio_newc(entries), compresslevel=6))
    tmp_out.replace(out)
    for old in workdir().glob("initramfs-*.cpio.gz"):  # outdated builds
        if old != out:
            old.unlink(missing_ok=True)
    return kernel, out


def run_vm(script: str, share: Path, *, timeout: float = 300, memory: int = 512) -> str:
    """Boot the VM, run ``script`` (sh) with the share as cwd, return the console log.

    The script's own output is in ``share/guest.log``; it is killed after ``timeout - 30`` s
    inside the guest, and qemu itself after ``timeout`` s."""
    kernel, initrd = build_initramfs()
    share.mkdir(parents=True, exist_ok=True)
    (share / "run.sh").write_text(script)
    (share / "timeout").write_text(str(max(int(timeout) - 30, 10)))
    for stale in ("guest.log", "uname.txt", "insmod.err"):
        (share / stale).unlink(missing_ok=True)
    cmd = [
        QEMU,
        "-accel",
        "tcg",
        "-cpu",
        "max",
        "-smp",
        "1",
        "-m",
        str(memory),
        "-nographic",
        "-nic",
        "none",
        "-no-reboot",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-kernel",
        str(kernel),
        "-initrd",
        str(initrd),
        "-append",
        "console=ttyS0 panic=-1 quiet loglevel=3 rdinit=/init",
        "-virtfs",
        f"local,path={share},mount_tag=host0,security_model=none,id=host0",
    ]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise RuntimeError(
            f"xfrm VM timed out after {timeout}s; console:\n" + out.decode(errors="replace")[-3000:]
        ) from None
    console = out.decode(errors="replace")
    if "xfrm-vm: done" not in console:
        raise RuntimeError(f"xfrm VM did not finish cleanly; console:\n{console[-3000:]}")
    return console


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build (or reuse) the initramfs")
    b.add_argument("--rebuild", action="store_true")
    r = sub.add_parser("run", help="boot the VM and run a shell script in it")
    r.add_argument("script")
    r.add_argument("share")
    r.add_argument("--timeout", type=float, default=300)
    s = sub.add_parser("samples", help="write the sample captures to --out")
    s.add_argument("--out", default=str(HERE.parent / "pcaps" / "xfrm"))
    args = ap.parse_args(argv)
    ensure_packages()
    if args.cmd == "build":
        kernel, initrd = build_initramfs(rebuild=args.rebuild)
        print(kernel, initrd, f"{initrd.stat().st_size} bytes")
        return 0
    if args.cmd == "run":
        console = run_vm(Path(args.script).read_text(), Path(args.share), timeout=args.timeout)
        print(console)
        return 0
    sys.path.insert(0, str(GUEST_DIR))
    import cases  # tools/xfrm_vm/cases.py

    cases.write_samples(Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
