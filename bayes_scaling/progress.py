"""Progress of long commands: a bar on a terminal, a plain line every few seconds elsewhere.

A command opens one :class:`Progress` for its duration (:func:`reporting`); the code doing
the work (the estimator's sampling, the backtest grid) calls :func:`report` with what it is
doing, without knowing whether anyone listens. On a terminal the state is a rich bar on
stderr (transient: it disappears when the command ends); without one, a line such as
``fit: k3: tuning, 624/6000 steps of 4 chains, 21 s`` goes to stderr about every
:data:`DEFAULT_INTERVAL` seconds (``BAYES_SCALING_PROGRESS_INTERVAL`` overrides it), so
logs of batch jobs show that the command is alive and how far it got.

Examples
--------
>>> import io
>>> stream = io.StringIO()
>>> with reporting("fit", stream=stream, interactive=False, interval=60):
...     report("compiling")
>>> stream.getvalue()
''
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import TextIO

__all__ = ["DEFAULT_INTERVAL", "INTERVAL_ENV", "Progress", "current", "report", "reporting"]

#: Seconds between two plain progress lines when stderr is not a terminal.
DEFAULT_INTERVAL = 10.0
#: Environment variable overriding :data:`DEFAULT_INTERVAL` (tests use a fraction of a second).
INTERVAL_ENV = "BAYES_SCALING_PROGRESS_INTERVAL"

_current: Progress | None = None


class Progress:
    """The progress display of one command.

    Parameters
    ----------
    label : str
        The command's name, the first word of every line.
    stream : file, optional
        Where to write (default: ``sys.stderr`` at start).
    interactive : bool, optional
        Draw a bar (terminal) or write plain lines; default: whether ``stream`` is a tty.
    interval : float, optional
        Seconds between plain lines (default: :data:`INTERVAL_ENV` or
        :data:`DEFAULT_INTERVAL`).
    bar : bool
        On a terminal, draw the bar; ``False`` where the work draws its own (the backtest
        grid), so this object only writes plain lines when there is no terminal.
    """

    def __init__(
        self,
        label: str,
        *,
        stream: TextIO | None = None,
        interactive: bool | None = None,
        interval: float | None = None,
        bar: bool = True,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        if interval is None:
            try:
                interval = float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL))
            except ValueError:
                interval = DEFAULT_INTERVAL
        self.interval = max(interval, 0.05)
        self.bar = bar
        self.state = "starting"
        self.completed: float | None = None
        self.total: float | None = None
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rich: object | None = None
        self._task: object | None = None

    def line(self) -> str:
        """The plain line for the current state, e.g. ``fit: k1: compiling, 21 s``."""
        return f"{self.label}: {self.state}, {time.monotonic() - self._start:.0f} s"

    def update(
        self, state: str, completed: float | None = None, total: float | None = None
    ) -> None:
        """Set what the command is doing (thread-safe; called from sampler threads too)."""
        self.state, self.completed, self.total = state, completed, total
        if self._rich is not None:
            self._rich.update(  # type: ignore[attr-defined]
                self._task,
                description=f"{self.label}: {state}",
                completed=completed or 0,
                total=total,
            )

    def _plain(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(OSError, ValueError):
                print(self.line(), file=self.stream, flush=True)

    def __enter__(self) -> Progress:
        global _current
        self._start = time.monotonic()
        if self.interactive and self.bar:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as Bar

            self._rich = progress = Bar(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self._task = progress.add_task(f"{self.label}: {self.state}", total=None)
            progress.start()
        elif not self.interactive:
            self._thread = threading.Thread(target=self._plain, name="progress", daemon=True)
            self._thread.start()
        _current = self
        return self

    def __exit__(self, *exc: object) -> None:
        global _current
        _current = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self._rich is not None:
            self._rich.stop()  # type: ignore[attr-defined]


def reporting(label: str, **kwargs: object) -> Progress:
    """A :class:`Progress` for ``with``: the one :func:`report` writes to meanwhile."""
    return Progress(label, **kwargs)  # type: ignore[arg-type]


def current() -> Progress | None:
    """The progress display of the running command, if any."""
    return _current


def report(state: str, completed: float | None = None, total: float | None = None) -> None:
    """Tell the running command's display what is being done; nothing if none is open.

    Examples
    --------
    >>> report("compiling")  # no command running: nothing happens
    """
    progress = _current
    if progress is not None:
        progress.update(state, completed, total)
