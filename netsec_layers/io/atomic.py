"""Atomic output files: all of it or nothing.

Every ``-w`` output of the CLI is written to a temporary file in the destination's own directory
and renamed over the destination (``os.replace``, atomic on POSIX within one file system) only
once everything was written.  On any error or interrupt the temporary file is removed: no half
file is left, and an existing file of the same name is untouched.

Files holding secrets or decrypted plaintext are created 0600 from the start (the temporary file
is made by ``mkstemp``, which uses 0600, so no other user can read it even while it is written).
Other outputs get the mode a plain ``open()`` would give: an existing file's mode, else
0666 minus the umask.

A destination that exists and is not a regular file (``/dev/null``, a FIFO, a terminal) cannot
be replaced; it is written in place, as ``open()`` would.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from netsec_layers.errors import UsageError


def check_output_path(path: str | os.PathLike[str]) -> str:
    """The path to write (symlinks followed), or UsageError naming what is wrong with it."""
    text = os.fspath(path)
    if not text:
        raise UsageError("empty output file name")
    real = os.path.realpath(text)
    directory = os.path.dirname(real) or "."
    if not os.path.isdir(directory):
        shown = os.path.dirname(text) or "."
        if os.path.exists(directory):
            raise UsageError(f"{text}: {shown} is not a directory")
        raise UsageError(f"{text}: directory {shown} does not exist")
    if os.path.isdir(real):
        raise UsageError(f"{text}: is a directory")
    return real


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, secret: bool) -> Iterator[BinaryIO]:
    """Yield a binary file; on normal exit it replaces ``path``, on any exception (including
    KeyboardInterrupt) it is deleted and ``path`` is left as it was.

    ``secret``: the content is key material or decrypted plaintext, so the file is 0600.
    """
    text = os.fspath(path)
    real = check_output_path(text)
    try:
        st: os.stat_result | None = os.stat(real)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(f"{text}: {exc.strerror}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        # A device or FIFO: nothing to replace atomically; write through it.
        try:
            fh = open(real, "wb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise UsageError(f"{text}: cannot write: {exc.strerror}") from None
        with fh:
            yield fh
        return
    directory, name = os.path.split(real)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise UsageError(f"{text}: cannot write in {directory}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if secret:
                mode = 0o600
            elif st is not None:
                mode = stat.S_IMODE(st.st_mode)
            else:
                mode = 0o666 & ~_umask()
            os.fchmod(fh.fileno(), mode)
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
