"""``netsec dissect --format parquet|arrow -w OUT`` and the engine behind ``netsec_layers.to_arrow``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from netsec_layers.cli import status
from netsec_layers.cli.common import (
    Progress,
    build_trackers,
    engine_limits,
    load_sadb,
    load_tls_keys,
    warn,
    warn_limits,
)
from netsec_layers.errors import UsageError

if TYPE_CHECKING:
    from netsec_layers.session.engine import CaptureEngine

_EXTENSIONS = {".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow", ".feather": "arrow"}


def engine_for(args: argparse.Namespace) -> CaptureEngine:
    """A capture engine with the key material and trackers of ``dissect``'s options."""
    from netsec_layers.session.engine import CaptureEngine

    keys = load_tls_keys(args)
    return CaptureEngine(
        tls_keys=keys,
        sadb=load_sadb(args),
        check_replay=not getattr(args, "no_replay_check", False),
        trackers=build_trackers(args, keys),
        **engine_limits(args),
    )


def run_dissect_columnar(args: argparse.Namespace) -> int:
    from netsec_layers.io.capture import iter_capture
    from netsec_layers.io.columnar import iter_units, write_columnar

    out = args.write
    if not out:
        raise UsageError(f"--format {args.format} writes a file: give it with -w OUT")
    fmt = args.format or _EXTENSIONS.get(os.path.splitext(out)[1].lower())
    if fmt not in ("parquet", "arrow"):
        raise UsageError(f"{out}: say --format parquet or --format arrow")
    if args.json or args.verbose:
        raise UsageError(f"--format {fmt} -w writes a file; --json and -V print lines")
    engine = engine_for(args)
    progress = Progress.for_args(args)
    source = sys.stdin.buffer if args.capture == "-" else args.capture
    try:
        rows = write_columnar(
            out, fmt, iter_units(iter_capture(source, engine, progress=progress), engine)
        )
    finally:
        progress.close()
    if engine.truncated and not args.quiet:
        warn(f"capture ends early: {engine.truncated}")
    warn_limits(engine, args)
    if not args.quiet:
        print(f"netsec: {rows} rows written to {out} ({fmt})", file=sys.stderr)
    return status.INCOMPLETE if engine.truncated else status.DONE


def key_namespace(
    *,
    keylog: Sequence[str] = (),
    rsa_key: Sequence[str] = (),
    esp_sa: Sequence[str] = (),
    ssh_keylog: Sequence[str] = (),
    ike_keys: Sequence[str] = (),
    no_replay_check: bool = False,
) -> argparse.Namespace:
    """The options namespace ``engine_for`` reads, from Python arguments (one path or many)."""

    def paths(value: Sequence[str] | str | os.PathLike[str]) -> list[str]:
        if isinstance(value, str | os.PathLike):
            return [os.fspath(value)]
        return [os.fspath(v) for v in value]

    return argparse.Namespace(
        keylog=paths(keylog),
        rsa_key=paths(rsa_key),
        esp_sa=paths(esp_sa),
        ssh_keylog=paths(ssh_keylog),
        ike_keys=paths(ike_keys),
        no_replay_check=no_replay_check,
        quiet=True,
    )


def capture_table(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], **keys: Any
) -> Any:
    """``netsec_layers.to_arrow``: the pyarrow Table of a capture's units (several files or a
    directory: read as one capture, io/multicapture)."""
    from netsec_layers.io.columnar import table_from_capture

    source: Any = os.fspath(path) if isinstance(path, str | os.PathLike) else list(path)
    return table_from_capture(source, engine_for(key_namespace(**keys)))
