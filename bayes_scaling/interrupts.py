"""Interrupts: Ctrl-C and SIGTERM end a command with nothing half-done.

A command either completes or saves nothing. Three pieces make that so:

* :func:`cli_signals` (installed by :func:`bayes_scaling.cli.run`) turns the first SIGINT or
  SIGTERM into :class:`Interrupted`, a ``BaseException`` that is *not* a
  ``KeyboardInterrupt``: samplers that catch ``KeyboardInterrupt`` to return a partial
  trace (nutpie, PyMC's ADVI) let it through instead, and ``except Exception`` blocks do
  not swallow it. Further signals are ignored while the stack unwinds, so the clean-up in
  ``finally`` blocks (temporary files) runs to its end.
* :func:`deferred` holds a signal back over a few statements that must not be split (the
  rename that publishes a file, and recording that it was published).
* :func:`fault_point` is the fault-injection hook of ``tests/test_faults.py``: with
  ``BAYES_SCALING_FAULT=PHASE[:SIGNAL]`` in the environment, the process sends itself the
  signal (``INT``, the default, or ``TERM``) when it reaches ``PHASE`` (``compiling``,
  ``tuning``, ``drawing``, ``saving``).

Examples
--------
>>> with deferred():
...     pass
>>> fault_point("saving")  # does nothing unless BAYES_SCALING_FAULT says so
>>> Interrupted(2).exit_code
130
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = [
    "FAULT_ENV",
    "Interrupted",
    "cli_signals",
    "deferred",
    "expect_output",
    "fault_point",
    "interrupted_message",
    "mark_saved",
]

#: Environment variable of the fault-injection hook: ``PHASE`` or ``PHASE:INT|TERM``.
FAULT_ENV = "BAYES_SCALING_FAULT"

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """The command received SIGINT or SIGTERM.

    Parameters
    ----------
    signum : int
        The signal received.

    Examples
    --------
    >>> Interrupted(15).exit_code
    143
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """128 + the signal number: 130 for SIGINT, 143 for SIGTERM (shell convention)."""
        return 128 + self.signum


class _State:
    """What the handler of :func:`cli_signals` knows (one command per process at a time)."""

    def __init__(self) -> None:
        self.installed = False
        self.raised = False
        self.depth = 0
        self.pending: int | None = None
        self.expected: list[tuple[Path, bool]] = []
        self.saved: list[Path] = []


_state = _State()


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state.raised:
        return  # already unwinding: let the clean-up finish
    if _state.depth:
        _state.pending = signum
        return
    _state.raised = True
    raise Interrupted(signum)


@contextlib.contextmanager
def cli_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` for the duration of a command.

    Outside the main thread (where Python cannot install handlers) it does nothing.

    Examples
    --------
    >>> with cli_signals():
    ...     pass
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    _state.__init__()  # type: ignore[misc]
    _state.installed = True
    for s in _SIGNALS:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        _state.installed = False


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block ends; then deliver them.

    Under :func:`cli_signals` a signal in the block raises :class:`Interrupted` as the block
    ends. Elsewhere, in the main thread, the handlers are swapped for a recorder and the
    signal is re-raised afterwards (``KeyboardInterrupt`` by default).
    """
    if _state.installed:
        _state.depth += 1
        try:
            yield
        finally:
            _state.depth -= 1
            if not _state.depth and _state.pending is not None and not _state.raised:
                signum, _state.pending = _state.pending, None
                _state.raised = True
                raise Interrupted(signum)
        return
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    for s in _SIGNALS:
        signal.signal(s, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        if caught:
            signal.raise_signal(caught[0])


@contextlib.contextmanager
def watch() -> Iterator[list[int]]:
    """Record SIGINT/SIGTERM received in the block, passing them on as usual.

    For code that may swallow an interrupt (PyMC's ADVI returns what it has on
    ``KeyboardInterrupt``): the caller checks the list afterwards.
    """
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}

    def record(signum: int, frame: FrameType | None) -> Any:
        seen.append(signum)
        old = previous[signal.Signals(signum)]
        if callable(old):
            return old(signum, frame)
        if old == signal.SIG_DFL:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        return None

    for s in _SIGNALS:
        signal.signal(s, record)
    try:
        yield seen
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def fault_point(phase: str) -> None:
    """Send this process the signal named by ``BAYES_SCALING_FAULT`` if it names ``phase``.

    Parameters
    ----------
    phase : str
        ``compiling``, ``tuning``, ``drawing`` or ``saving``.
    """
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name, _, sig = spec.partition(":")
    if name != phase:
        return
    os.kill(os.getpid(), signal.SIGTERM if sig.upper() in ("TERM", "SIGTERM") else signal.SIGINT)


def expect_output(path: str | os.PathLike[str]) -> None:
    """Name a file or folder the running command will write, for :func:`interrupted_message`."""
    p = Path(path)
    _state.expected.append((p, p.exists()))


def mark_saved(path: str | os.PathLike[str]) -> None:
    """Record that ``path`` was published complete (called by :mod:`bayes_scaling.io`)."""
    if _state.installed:
        _state.saved.append(Path(path))


def interrupted_message() -> str:
    """One line saying what an interrupted command left: nothing, or complete files.

    Examples
    --------
    >>> interrupted_message()
    'interrupted: nothing was saved'
    """
    # Only the command's named outputs count: a temporary file inside a report's staging
    # folder or a backtest's cache entry is not what the user asked for.
    outputs = [p.resolve() for p, _ in _state.expected]
    saved = [
        p
        for p in dict.fromkeys(_state.saved)
        if any(p.resolve().is_relative_to(o) for o in outputs)
    ]
    untouched = [
        f"{p} {'untouched' if existed else 'not created'}"
        for p, existed in _state.expected
        if not any(s.resolve().is_relative_to(p.resolve()) for s in saved)
    ]
    if saved:
        done = ", ".join(str(p) for p in saved)
        rest = f"; {', '.join(untouched)}" if untouched else ""
        return f"interrupted: only complete files were saved ({done}){rest}"
    return "interrupted: nothing was saved" + (f" ({', '.join(untouched)})" if untouched else "")
