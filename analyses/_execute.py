"""Execute the analysis notebooks and write them, with their outputs, beside their scripts.

    python analyses/_execute.py [NAME ...] [--out-dir DIR] [--timeout SECONDS]

Each ``analyses/NAME.py`` (a jupytext percent script: the source of truth) is turned into a
notebook, executed top to bottom with nbclient in the repository root, and written to
``analyses/NAME.ipynb`` (or ``DIR/NAME.ipynb``), paired with the script
(``formats: ipynb,py:percent``). Without names, every analysis runs. Sampler settings come
from the environment, read by :func:`bayes_scaling.analysis.settings`:
``BAYES_SCALING_DRAWS``, ``BAYES_SCALING_TUNE``, ``BAYES_SCALING_CHAINS`` (``make analyses
DRAWS=... TUNE=... CHAINS=...`` sets them); unset or empty, each notebook uses its defaults.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def analyses() -> list[str]:
    """Names of the analyses: every ``analyses/*.py`` not starting with an underscore."""
    return sorted(p.stem for p in HERE.glob("*.py") if not p.name.startswith("_"))


def execute(name: str, out_dir: Path, timeout: int) -> Path:
    """Execute one analysis as a notebook; return the path of the written ``.ipynb``."""
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(HERE / f"{name}.py")
    notebook.metadata.setdefault("jupytext", {})["formats"] = "ipynb,py:percent"
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute()
    out = out_dir / f"{name}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(notebook, out, fmt="ipynb")
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the named analyses (default all); exit status 1 if any cell fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", help=f"analyses to run (default: {', '.join(analyses())})"
    )
    parser.add_argument("--out-dir", type=Path, default=HERE, help="where the notebooks go")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    names = args.names or analyses()
    unknown = sorted(set(names) - set(analyses()))
    if unknown:
        print(
            f"error: unknown analysis {unknown[0]!r}; choose from {', '.join(analyses())}",
            file=sys.stderr,
        )
        return 2
    from nbclient.exceptions import CellExecutionError

    failed = []
    for name in names:
        start = time.perf_counter()
        try:
            out = execute(name, args.out_dir, args.timeout)
        except CellExecutionError as exc:
            failed.append(name)
            print(f"{name}: failed\n{str(exc)[-3000:]}", file=sys.stderr)
            continue
        print(f"{name}: {out} ({time.perf_counter() - start:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
