"""Plumbing shared by the notebooks under ``analyses/``: settings, figures, answers.

Every analysis is a jupytext percent script that runs both as a script
(``python analyses/NAME.py --draws 300 --out DIR``) and as an executed notebook
(``make analyses DRAWS=300``). :func:`settings` reads the sampler settings from the
command line when run as a script and from ``BAYES_SCALING_*`` environment variables in
either mode; :func:`show` saves a figure and, in a notebook, displays it; :func:`answer`
prints the closing answer (Markdown in a notebook) and writes it to ``answer.md``.

Examples
--------
>>> s = settings("demo", draws=300, argv=["--draws", "40"], environ={})
>>> s.draws, s.tune, s.out.as_posix()
(40, 500, 'runs/analyses/demo')
>>> settings("demo", argv=[], environ={"BAYES_SCALING_CHAINS": "3"}).chains
3
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bayes_scaling.io import atomic_write_text

__all__ = ["ENV_PREFIX", "answer", "in_notebook", "legend_outside", "settings", "show"]

#: Environment variables ``BAYES_SCALING_DRAWS``, ``..._TUNE``, ``..._CHAINS``, ``..._SEED``,
#: ``..._OUT`` (and ``..._<OPTION>`` for an analysis's own options) set the defaults.
ENV_PREFIX = "BAYES_SCALING_"


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where ``sys.argv`` holds the kernel's own flags)."""
    return "ipykernel" in sys.modules


def settings(
    name: str,
    *,
    draws: int = 400,
    tune: int = 500,
    chains: int = 2,
    seed: int = 0,
    target_accept: float | None = None,
    options: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    description: str | None = None,
) -> argparse.Namespace:
    """Sampler settings and output folder of one analysis.

    Precedence: command-line flags (script mode only), then environment variables
    ``BAYES_SCALING_<FLAG>`` (empty means unset), then the defaults given here.

    Parameters
    ----------
    name : str
        The analysis; the default output folder is ``runs/analyses/<name>``.
    draws, tune, chains, seed : int
        Defaults of ``--draws``, ``--tune``, ``--chains``, ``--seed``.
    target_accept : float, optional
        Default of ``--target-accept``, NUTS's target acceptance rate; none leaves the
        package's default (``fit``'s).
    options : mapping of str to str, optional
        The analysis's own string options and their defaults (``{"specs": "k1,k2"}``
        gives ``--specs`` and ``BAYES_SCALING_SPECS``).
    argv : sequence of str, optional
        Arguments to parse; default ``sys.argv[1:]`` in a script and none in a notebook.
    environ : mapping, optional
        Environment to read (default ``os.environ``).
    description : str, optional
        Help text of the command line.

    Returns
    -------
    argparse.Namespace
        ``draws``, ``tune``, ``chains``, ``seed``, ``target_accept``, ``out`` (a Path; the
        writers here create it), the options, and ``fit_kwargs`` (the sampler settings as a
        dict for ``fit``/``forecast``; ``target_accept`` only when set).

    Raises
    ------
    SystemExit
        An unknown flag or a value that is not an integer (argparse's usage message).
    """
    env = os.environ if environ is None else environ
    if argv is None:
        argv = [] if in_notebook() else sys.argv[1:]

    def default(flag: str, value: Any) -> Any:
        raw = env.get(ENV_PREFIX + flag.upper(), "")
        return raw if raw.strip() else value

    parser = argparse.ArgumentParser(prog=f"analyses/{name}.py", description=description)
    for flag, value in (("draws", draws), ("tune", tune), ("chains", chains), ("seed", seed)):
        parser.add_argument(f"--{flag}", type=int, default=default(flag, value))
    parser.add_argument(
        "--target-accept",
        dest="target_accept",
        type=float,
        default=default("target_accept", target_accept),
    )
    parser.add_argument(
        "--out", type=Path, default=default("out", Path("runs") / "analyses" / name)
    )
    for flag, value in (options or {}).items():
        parser.add_argument(f"--{flag.replace('_', '-')}", dest=flag, default=default(flag, value))
    args = parser.parse_args(list(argv))
    # argparse converts string defaults with ``type`` too, so env values arrive as ints.
    args.out = Path(args.out)
    args.fit_kwargs = {
        "draws": args.draws,
        "tune": args.tune,
        "chains": args.chains,
        "seed": args.seed,
    }
    if args.target_accept is not None:
        args.fit_kwargs["target_accept"] = float(args.target_accept)
    return args


def show(fig: Any, path: str | os.PathLike[str], dpi: int = 120) -> None:
    """Save a matplotlib figure to ``path`` (PNG) and display it when in a notebook.

    Figures of :mod:`bayes_scaling.plots` are drawn without pyplot, so a notebook would
    not show them on its own; the saved file is displayed instead.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    if in_notebook():
        from IPython.display import Image, display

        display(Image(filename=str(path)))
    else:
        print(f"figure: {path}")


def legend_outside(fig: Any) -> Any:
    """Move every axes' legend to the right of its plotting area, where it covers no data.

    Returns the figure (constrained layout makes room for the legends).
    """
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        handles = list(legend.legend_handles)
        labels = [t.get_text() for t in legend.get_texts()]
        legend.remove()
        ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def answer(text: str, out: str | os.PathLike[str]) -> None:
    """Print the analysis's answer (rendered as Markdown in a notebook); write ``answer.md``."""
    atomic_write_text(Path(out) / "answer.md", text.rstrip() + "\n")
    if in_notebook():
        from IPython.display import Markdown, display

        display(Markdown(text))
    else:
        print(text)
