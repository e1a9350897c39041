"""Atomic file writes: a reader never sees a half-written output.

Every file the package writes goes through :func:`atomic_path`: a temporary file beside the
target, renamed onto it when complete. An exception or an interrupt (Ctrl-C, SIGTERM) before
the rename removes the temporary file and leaves the target as it was; the rename itself is
not split by a signal (:func:`bayes_scaling.interrupts.deferred`). :func:`check_output`
refuses an output path that cannot be written, before any slow work.

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> with atomic_path(path) as tmp:
...     _ = tmp.write_text("hello")
>>> path.read_text()
'hello'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bayes_scaling.errors import BayesScalingError
from bayes_scaling.interrupts import deferred, fault_point, mark_saved


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched
    (absent if it did not exist).

    Parameters
    ----------
    path : path-like
        Final destination. Its parent directory is created if needed.

    Yields
    ------
    pathlib.Path
        Where the caller should write.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Created and registered for removal as one step: a signal cannot fall between them.
    with deferred():
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file owner-only; give it the permissions of a normal write.
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        fault_point("saving")  # tests/test_faults.py: a signal with the file written, not renamed
        with deferred():
            os.replace(tmp, target)
            mark_saved(target)
    finally:
        with deferred():
            tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.json"
    >>> atomic_write_text(p, "{}")
    >>> p.read_text()
    '{}'
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def check_output(
    path: str | os.PathLike[str],
    *,
    option: str = "--out",
    suffixes: tuple[str, ...] = (),
    folder: bool = False,
) -> Path:
    """Refuse an output path that cannot be written, before any slow work is done.

    The nearest existing ancestor must be a writable folder (not a regular file); an
    existing target must be of the right kind (a file, or a folder when ``folder``) and
    writable; a file's name must end in one of ``suffixes`` when given.

    Parameters
    ----------
    path : path-like
        The output the command will write.
    option : str
        The option's name, for the message.
    suffixes : tuple of str
        Accepted lower-case suffixes of a file (e.g. ``(".nc",)``); empty: any.
    folder : bool
        The output is a folder (a report), not a file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    BayesScalingError
        One line naming the path and the reason.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> check_output(d / "runs" / "k3.nc", suffixes=(".nc",)).name
    'k3.nc'
    >>> (d / "f").write_text("")
    0
    >>> check_output(d / "f" / "k3.nc")
    Traceback (most recent call last):
    ...
    bayes_scaling.errors.BayesScalingError: --out ...: ... is a file, not a folder
    """
    target = Path(path)
    if target.exists():
        if folder and not target.is_dir():
            raise BayesScalingError(f"{option} {target}: exists and is not a folder")
        if not folder and target.is_dir():
            raise BayesScalingError(f"{option} {target}: is a folder; name the file to write")
        if not os.access(target, os.W_OK):
            raise BayesScalingError(f"{option} {target}: not writable (permission denied)")
    if not folder and suffixes and target.suffix.lower() not in suffixes:
        names = " or ".join(f"*{s}" for s in suffixes)
        raise BayesScalingError(
            f"{option} {target}: expected a file named {names} "
            f"(e.g. {target.with_suffix(suffixes[0])})"
        )
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise BayesScalingError(f"{option} {target}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BayesScalingError(f"{option} {target}: cannot write in {parent} (permission denied)")
    return target
