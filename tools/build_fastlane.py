"""Build the native fast lane (netsec_layers/session/_fastlane.c) in place, without pip.

``pip install -e .`` builds it through setup.py; this is for a tree that is used from
PYTHONPATH without being installed (tools/suite_under_load.sh's clone).  The same flags as
setup.py; exits non-zero if the compiler fails.

Usage: python tools/build_fastlane.py [TREE]      (default: this repository)
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path


def main() -> int:
    tree = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    src = tree / "netsec_layers" / "session" / "_fastlane.c"
    out = src.with_name("_fastlane" + str(sysconfig.get_config_var("EXT_SUFFIX")))
    cc = shlex.split(str(sysconfig.get_config_var("CC") or "cc"))
    cmd = [
        *cc,
        "-O2",
        "-Wall",
        "-Wextra",
        "-Wno-missing-field-initializers",
        "-fPIC",
        "-shared",
        f"-I{sysconfig.get_paths()['include']}",
        str(src),
        "-lcrypto",
        "-o",
        str(out),
    ]
    rc = subprocess.run(cmd, check=False).returncode
    if rc == 0:
        print(f"built {out}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
