"""Exceptions that carry a one-line, user-facing message.

Everything a user can get wrong (a malformed table, a results file from another spec, an
unknown benchmark column) raises a subclass of :class:`BayesScalingError`. The CLI prints
its message as one line on stderr and exits with status 2; a traceback means a bug.

Examples
--------
>>> err = DataError("bad.csv", "score 'abc' is not a number", row=3, column="MMLU")
>>> str(err)
"bad.csv, row 3, column 'MMLU': score 'abc' is not a number"
"""

from __future__ import annotations


class BayesScalingError(Exception):
    """Base class for errors caused by user input rather than by a bug."""


class DataError(BayesScalingError):
    """A table that cannot be used, located by file, row and column.

    Parameters
    ----------
    source : str
        File name (or ``"<dataframe>"`` for in-memory input).
    message : str
        What is wrong, in one sentence.
    row : int, optional
        1-based data row (the header is row 0), if the problem has one.
    column : str, optional
        Column name, if the problem has one.
    key : str, optional
        Dotted path of a JSON key (e.g. ``'results.mmlu'``), for problems in JSON input.

    Examples
    --------
    >>> str(DataError("runs/a.json", "metric 'acc,none' absent", key="results.mmlu"))
    "runs/a.json, key 'results.mmlu': metric 'acc,none' absent"
    """

    def __init__(
        self,
        source: str,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        key: str | None = None,
    ) -> None:
        self.source = source
        self.row = row
        self.column = column
        self.key = key
        self.message = message
        where = [str(source)]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        if key is not None:
            where.append(f"key {key!r}")
        super().__init__(f"{', '.join(where)}: {message}")


class SpecError(BayesScalingError):
    """A model spec that is unknown or malformed."""


class ResultsFileError(BayesScalingError):
    """A results file that cannot be loaded: altered, from another spec, or not ours."""


class LevelError(BayesScalingError, ValueError):
    """An interval level outside (0, 1); also a ValueError, which ``evaluation.interval`` raised."""
