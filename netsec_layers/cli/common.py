"""Shared pieces of the CLI: loading key material from files, progress display."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypedDict

from netsec_layers.errors import KeyFileError

if TYPE_CHECKING:
    from netsec_layers.session.engine import CaptureEngine
    from netsec_layers.session.ike import IKETracker
    from netsec_layers.session.ipsec import SADatabase
    from netsec_layers.session.tls_keys import TLSKeyMaterial
    from netsec_layers.session.trackers import DatagramTracker, StreamTracker


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 frame``, ``2 frames`` (``nouns``: the plural when it is not ``noun + "s"``)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def json_line_encoder() -> Callable[[Any], str]:
    """``json.dumps(obj, separators=(", ", ": "))`` for many objects, made once.

    ``JSONEncoder.encode`` builds a new C encoder object on every call (json/encoder.py,
    ``iterencode(_one_shot=True)``); on a 300k-packet ``dissect --json`` that was a tenth of the
    run.  This keeps one, made with exactly the arguments ``iterencode`` passes for this encoder
    (ensure_ascii, allow_nan, no indent, no sorting); only the circular-reference check is
    left out (the JSON objects are trees of dicts, lists and scalars).  Without CPython's
    ``_json`` accelerator the standard encoder is used.
    """
    std = json.JSONEncoder(separators=(", ", ": "))
    try:
        from _json import make_encoder
    except ImportError:  # pragma: no cover - CPython always has it
        return std.encode
    from json.encoder import encode_basestring_ascii

    enc = make_encoder(
        None, std.default, encode_basestring_ascii, None, ": ", ", ", False, False, True
    )

    def encode(obj: Any) -> str:
        return "".join(enc(obj, 0))

    return encode


def warn(message: str) -> None:
    print(f"netsec: warning: {message}", file=sys.stderr)


def load_tls_keys(args: argparse.Namespace) -> TLSKeyMaterial:
    """Key logs and RSA keys named on the command line; bad key-log lines are reported, not fatal."""
    from netsec_layers.keys.keylog import load_keylog
    from netsec_layers.session.tls_keys import TLSKeyMaterial

    keys = TLSKeyMaterial()
    for path in getattr(args, "keylog", []) or []:
        kl = load_keylog(path)
        quiet = getattr(args, "quiet", False)
        for err in kl.errors[:20] if not quiet else []:
            warn(f"{path}:{err.line}: {err.reason} (line skipped)")
        if len(kl.errors) > 20 and not quiet:
            warn(f"{path}: {plural(len(kl.errors) - 20, 'more bad line')} skipped")
        keys.add_keylog(kl)
    for spec in getattr(args, "rsa_key", []) or []:
        from netsec_layers.crypto.tls_rsa import load_rsa_private_key

        path, _, password = spec.partition(":")
        if not Path(path).exists() and Path(spec).exists():
            path, password = spec, ""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise KeyFileError(f"{path}: cannot read RSA key: {exc.strerror}") from None
        try:
            key = load_rsa_private_key(data, password.encode() if password else None)
        except KeyFileError as exc:
            raise KeyFileError(f"{path}: {exc}") from None
        keys.add_rsa_key(key)
    for path in getattr(args, "ech_key", []) or []:
        from netsec_layers.crypto.ech import load_ech_pem
        from netsec_layers.errors import ParseError

        try:
            text = Path(path).read_text(errors="replace")
        except OSError as exc:
            raise KeyFileError(f"{path}: cannot read ECH key file: {exc.strerror}") from None
        try:
            keys.add_ech_keys(load_ech_pem(text, path))
        except ParseError as exc:
            raise KeyFileError(str(exc)) from None
    return keys


class EngineLimits(TypedDict, total=False):
    """The resource-limit keyword arguments of ``CaptureEngine``."""

    max_connections: int
    tcp_max_buffer: int
    tcp_max_total_buffer: int


def engine_limits(args: argparse.Namespace) -> EngineLimits:
    """``CaptureEngine`` keyword arguments from the resource-limit options (when present)."""
    from netsec_layers.session.tcp import DEFAULT_MAX_BUFFER

    out: EngineLimits = {}
    if getattr(args, "max_connections", None) is not None:
        out["max_connections"] = args.max_connections
    if getattr(args, "max_tcp_buffer", None) is not None:
        out["tcp_max_total_buffer"] = args.max_tcp_buffer << 20
        out["tcp_max_buffer"] = min(DEFAULT_MAX_BUFFER, args.max_tcp_buffer << 20)
    return out


def warn_limits(
    engine: CaptureEngine, args: argparse.Namespace, counters: dict[str, int] | None = None
) -> None:
    """Report on stderr every resource limit that was reached (unless --quiet)."""
    if not getattr(args, "quiet", False):
        for note in engine.limit_notes(counters):
            warn(note)


def load_sadb(args: argparse.Namespace) -> SADatabase | None:
    paths = getattr(args, "esp_sa", []) or []
    if not paths:
        return None
    from netsec_layers.keys.sa_files import load_sa_file
    from netsec_layers.session.ipsec import SADatabase

    db = SADatabase()
    for path in paths:
        if not Path(path).exists():
            raise KeyFileError(f"{path}: no such SA file")
        for sa in load_sa_file(path):
            db.add(sa)
    return db


def build_trackers(
    args: argparse.Namespace, tls_keys: TLSKeyMaterial | None = None
) -> list[StreamTracker | DatagramTracker]:
    """The protocol trackers ``CaptureEngine(trackers=...)`` gets, in claim order.

    ``tls_keys``: the key material already loaded for TLS (DTLS uses the same key logs and RSA
    keys); loaded from ``args`` when not given."""
    from netsec_layers.session.dtls import DTLSTracker

    keys = tls_keys if tls_keys is not None else load_tls_keys(args)
    window = 0 if getattr(args, "no_replay_check", False) else 64
    trackers: list[StreamTracker | DatagramTracker] = [DTLSTracker(keys, replay_window=window)]
    trackers.append(_ssh_tracker(args))
    ike = ike_tracker(args)
    from netsec_layers.session.ike_tcp import IKETCPTracker

    trackers += [ike, IKETCPTracker(ike)]  # IKE over UDP, and over TCP (RFC 9329 "IKETCP")
    from netsec_layers.session.mail import MailTracker

    # SMTP, POP3, IMAP: by greeting or first command; after STARTTLS and on 465/993/995 the
    # TLS is decrypted with the same keys
    trackers.append(MailTracker(keys))
    return trackers


def ike_tracker(args: argparse.Namespace) -> IKETracker:
    """IKE (UDP 500/4500, found by content) with the ``--ike-keys`` files."""
    from netsec_layers.keys.ike_keys import IKEKeys, parse_ike_keys
    from netsec_layers.session.ike import IKETracker

    keys = IKEKeys()
    for path in getattr(args, "ike_keys", None) or []:
        if not Path(path).exists():
            raise KeyFileError(f"{path}: no such IKE key file")
        keys.merge(parse_ike_keys(Path(path).read_text(errors="replace"), path))
    for w in keys.warnings[:20] if not getattr(args, "quiet", False) else []:
        warn(f"{w} (skipped)")
    return IKETracker(keys)


def _ssh_tracker(args: argparse.Namespace) -> StreamTracker:
    """SSH (found by its ``SSH-`` banner on any port) with the ``--ssh-keylog`` files."""
    from netsec_layers.keys.ssh_keylog import SSHKeyLog, load_ssh_keylog
    from netsec_layers.session.ssh import SSHTracker

    log = SSHKeyLog()
    for path in getattr(args, "ssh_keylog", None) or []:
        if not Path(path).exists():
            raise KeyFileError(f"{path}: no such SSH key log")
        log.merge(load_ssh_keylog(path))
    return SSHTracker(log)


class Progress:
    """Progress of a long run on stderr, drawn by rich: the file being read and, for several
    files or units of work, the whole run.

    Shown only when stderr is a terminal (as the hand-written bar before it decided), or when
    forced (``--progress``, e.g. for a CI log); never with ``--quiet``.  Nothing is drawn until
    a run has read 1,024 frames (or a unit of distributed work has been sent), so short runs
    print nothing; the bars are removed when the run ends (rich's ``transient``).  Only stderr
    is written: stdout (JSON Lines, tables) is untouched.  rich is imported only when a bar is
    drawn, so ``netsec --help`` and runs in pipes do not load it.
    """

    START_AFTER = 1024  # frames read before a bar appears

    def __init__(self, *, enabled: bool, stream: TextIO | None = None, force: bool = False) -> None:
        # sys.stderr looked up now, not when the module was imported (it may have been replaced
        # since, e.g. by pytest's capture, and the old stream closed)
        self.stream = stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and (force or stream.isatty())
        self.force = force
        self.frames = 0
        self._bar: Any = None
        self._file_task: Any = None
        self._all_task: Any = None
        self._unit_task: Any = None
        self._file: tuple[str, int] | None = None  # name and index of the file being read
        self._sizes: list[int] = []
        self._before = 0  # bytes of the files already read
        self._units = [0, 0]  # units of work done, sent

    @classmethod
    def for_args(cls, args: argparse.Namespace) -> Progress:
        """The progress display the options ask for (``-q``, ``--progress``)."""
        return cls(
            enabled=not getattr(args, "quiet", False), force=getattr(args, "progress", False)
        )

    def _start(self) -> Any:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import (
                Progress as RichProgress,
            )

            console = Console(file=self.stream, force_terminal=True if self.force else None)
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[what]}"),
                TimeRemainingColumn(),
                console=console,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._bar.start()
        return self._bar

    def start_file(self, path: str, index: int, paths: list[str]) -> None:
        """A new file of several begins (called by io/multicapture)."""
        if not self._sizes:
            self._sizes = [_size(p) for p in paths]
        if self._file is not None:
            self._before += self._sizes[self._file[1]]
        self._file = (os.path.basename(path), index)
        if self._bar is not None:
            self._show_file(None, None)

    def _show_file(self, done: int | None, total: int | None) -> None:
        bar = self._bar
        name, index = self._file or ("", 0)
        count = len(self._sizes)
        label = f"{name} ({index + 1}/{count})" if count > 1 else name or "capture"
        what = _mib(done, total) if total else f"{self.frames:,} frames"
        if self._file_task is None:
            self._file_task = bar.add_task(label, total=total, what=what)
        bar.update(self._file_task, description=label, completed=done or 0, total=total, what=what)
        if count > 1:
            whole, now = sum(self._sizes), self._before + (done or 0)
            if self._all_task is None:
                self._all_task = bar.add_task("all files", total=whole, what="")
            bar.update(self._all_task, completed=now, what=_mib(now, whole))

    def __call__(self, done: int, total: int | None) -> None:
        self.frames += 1
        if not self.enabled or self.frames & 0xFF or self.frames < self.START_AFTER:
            return
        self._start()
        self._show_file(done, total)

    def units(self, total: int, label: str) -> None:
        """A distributed run: ``total`` units of work labelled ``label`` are sent."""
        if not self.enabled:
            return
        bar = self._start()
        if self._unit_task is not None:
            bar.remove_task(self._unit_task)
        self._unit_task = bar.add_task(label, total=total, what=f"0/{total} units")
        self._units = [0, total]

    def unit_done(self) -> None:
        if self.enabled and self._unit_task is not None:
            self._units[0] += 1
            done, total = self._units
            self._bar.update(self._unit_task, completed=done, what=f"{done}/{total} units")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def _mib(done: int | None, total: int | None) -> str:
    return f"{(done or 0) / 2**20:,.1f}/{(total or 0) / 2**20:,.1f} MiB"


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
