"""The benchmark registry: chance floor, number of items and scoring of each benchmark.

The capability model needs to know, per benchmark, the score a model gets by guessing (the
*floor*, on the [0, 1] score scale), whether the score is a proportion of ``n_items``
independent items (a count) or a continuous score, and the names a benchmark goes by in
different tables. :meth:`Registry.default` reads the packaged
``bayes_scaling/resources/benchmarks.csv``; :meth:`Registry.with_overrides` derives a new
registry with entries changed or added. A benchmark the registry does not know gets floor 0,
no item count, a continuous score and an :class:`UnknownBenchmarkWarning` naming it.

Examples
--------
>>> reg = Registry.default()
>>> reg.lookup("Winogrande").name  # an alias
'Winograd'
>>> reg["MMLU"].floor, reg["MMLU"].n_items
(0.25, 14042)
>>> reg.with_overrides({"MyBench": {"floor": 0.5, "n_items": 200}})["MyBench"].continuous
False
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import io
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any

import pandas as pd

from bayes_scaling.errors import DataError

__all__ = ["BenchmarkInfo", "Registry", "UnknownBenchmarkWarning"]

# Errors in registry entries are user input (overrides) or a broken packaged file; both are
# reported as DataError located by benchmark name so the CLI prints one line.
_SOURCE = "benchmark registry"
_FIELDS = ("floor", "n_items", "continuous", "protocol", "aliases", "ceiling")


class UnknownBenchmarkWarning(UserWarning):
    """A benchmark that is not in the registry: floor 0, no item count, continuous.

    Parameters
    ----------
    benchmark : str
        The unknown name (also available as the ``benchmark`` attribute).
    message : str
        The warning text.
    """

    def __init__(self, benchmark: str, message: str) -> None:
        super().__init__(message)
        self.benchmark = benchmark


@dataclasses.dataclass(frozen=True, slots=True)
class BenchmarkInfo:
    """What the model needs to know about one benchmark.

    Parameters
    ----------
    name : str
        Canonical name.
    floor : float
        Chance level on the [0, 1] score scale, in [0, 1): the score of random guessing.
    n_items : int or None
        Number of items; None when unknown.
    continuous : bool
        True when the score is not a proportion of correct items (e.g. TruthfulQA MC2);
        such benchmarks have no item count in the tidy dataset.
    protocol : str
        How the benchmark is run (shots, split, metric), for humans.
    aliases : tuple of str
        Other column names meaning the same benchmark.
    ceiling : float
        Best attainable score on the [0, 1] scale, in (floor, 1]; 1 unless stated.
    linear : bool
        Not a bounded share (an Elo rating, a contest rating, dollars): modelled on its
        standardised scale with a normal measurement (registry CSV: ``scale = linear``).

    Examples
    --------
    >>> BenchmarkInfo("MMLU", floor=0.25, n_items=14042, continuous=False).floor
    0.25
    """

    name: str
    floor: float = 0.0
    n_items: int | None = None
    continuous: bool = True
    protocol: str = ""
    aliases: tuple[str, ...] = ()
    ceiling: float = 1.0
    linear: bool = False

    def __post_init__(self) -> None:
        def bad(message: str) -> DataError:
            return DataError(_SOURCE, message, column=str(self.name))

        if not isinstance(self.name, str) or not self.name.strip():
            raise DataError(_SOURCE, f"benchmark name {self.name!r} is empty or not a string")
        if isinstance(self.floor, bool) or not isinstance(self.floor, int | float):
            raise bad(f"floor {self.floor!r} is not a number")
        if not (math.isfinite(self.floor) and 0.0 <= self.floor < 1.0):
            raise bad(f"floor {self.floor!r} is not in [0, 1)")
        if isinstance(self.ceiling, bool) or not isinstance(self.ceiling, int | float):
            raise bad(f"ceiling {self.ceiling!r} is not a number")
        if not (math.isfinite(self.ceiling) and self.floor < self.ceiling <= 1.0):
            raise bad(f"ceiling {self.ceiling!r} is not in (floor, 1]")
        if self.n_items is not None and (
            isinstance(self.n_items, bool) or not isinstance(self.n_items, int) or self.n_items < 1
        ):
            raise bad(f"n_items {self.n_items!r} is not a positive integer")
        if not isinstance(self.continuous, bool):
            raise bad(f"continuous {self.continuous!r} is not true or false")
        if not isinstance(self.linear, bool):
            raise bad(f"linear {self.linear!r} is not true or false")
        if not isinstance(self.aliases, tuple) or not all(
            isinstance(a, str) and a.strip() for a in self.aliases
        ):
            raise bad(f"aliases {self.aliases!r} is not a tuple of names")
        # Normalise numbers so equality and repr do not depend on int vs float input.
        object.__setattr__(self, "floor", float(self.floor))
        object.__setattr__(self, "ceiling", float(self.ceiling))

    @classmethod
    def unknown(cls, name: str) -> BenchmarkInfo:
        """The entry assumed for a benchmark the registry does not know.

        Examples
        --------
        >>> BenchmarkInfo.unknown("MyEval")
        BenchmarkInfo(name='MyEval', floor=0.0, n_items=None, continuous=True, protocol='', \
aliases=(), ceiling=1.0, linear=False)
        """
        return cls(name=name)


class Registry(Mapping[str, BenchmarkInfo]):
    """Immutable mapping from benchmark name (or alias) to :class:`BenchmarkInfo`.

    Iteration yields canonical names; ``name in registry`` and ``registry[name]`` also accept
    aliases (``registry[name]`` raises ``KeyError`` for unknown names, as a mapping should).
    :meth:`lookup` never fails: it warns and returns the unknown-benchmark defaults.

    Parameters
    ----------
    entries : iterable of BenchmarkInfo
        Entries with distinct names and aliases.

    Examples
    --------
    >>> reg = Registry([BenchmarkInfo("A", floor=0.25, aliases=("a-test",))])
    >>> reg["a-test"].name, len(reg), list(reg)
    ('A', 1, ['A'])
    """

    __slots__ = ("_aliases", "_entries")

    def __init__(self, entries: Iterable[BenchmarkInfo] = ()) -> None:
        by_name: dict[str, BenchmarkInfo] = {}
        aliases: dict[str, str] = {}
        for info in entries:
            if not isinstance(info, BenchmarkInfo):
                raise TypeError(f"registry entries must be BenchmarkInfo, not {type(info)!r}")
            if info.name in by_name or info.name in aliases:
                raise DataError(_SOURCE, "benchmark listed twice", column=info.name)
            by_name[info.name] = info
        for info in by_name.values():
            for alias in info.aliases:
                if alias in by_name or alias in aliases:
                    raise DataError(
                        _SOURCE,
                        f"alias {alias!r} already names another benchmark",
                        column=info.name,
                    )
                aliases[alias] = info.name
        self._entries: Mapping[str, BenchmarkInfo] = MappingProxyType(by_name)
        self._aliases: Mapping[str, str] = MappingProxyType(aliases)

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def default(cls) -> Registry:
        """The registry packaged with bayes_scaling (``resources/benchmarks.csv``).

        Examples
        --------
        >>> "TruthfulQA" in Registry.default()
        True
        """
        return _default_registry()

    @classmethod
    def from_csv_text(cls, text: str) -> Registry:
        """Build a registry from CSV text with the packaged file's columns.

        Columns: ``benchmark``, ``chance`` (empty = 0), ``n_items`` (empty = unknown),
        ``protocol``, and optionally ``continuous`` (true/false; default false when
        ``n_items`` is given), ``aliases`` (``|``-separated) and ``scale`` (``share``,
        the default, or ``linear``).

        Examples
        --------
        >>> Registry.from_csv_text("benchmark,chance,n_items,protocol\\nX,0.5,10,coin\\n")["X"]
        BenchmarkInfo(name='X', floor=0.5, n_items=10, continuous=False, protocol='coin', \
aliases=(), ceiling=1.0, linear=False)
        """
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        missing = {"benchmark", "chance", "n_items"} - set(frame.columns)
        if missing:
            raise DataError(_SOURCE, f"missing column(s) {sorted(missing)}")
        entries = []
        for record in frame.to_dict("records"):
            name = record["benchmark"].strip()
            try:
                floor = float(record["chance"]) if record["chance"].strip() else 0.0
                n_items = int(record["n_items"]) if record["n_items"].strip() else None
            except ValueError as exc:
                raise DataError(_SOURCE, f"bad number ({exc})", column=name) from None
            flag = record.get("continuous", "").strip().lower()
            if flag not in {"", "true", "false"}:
                raise DataError(_SOURCE, f"continuous {flag!r} is not true/false", column=name)
            continuous = flag == "true" if flag else n_items is None
            scale = record.get("scale", "").strip().lower() or "share"
            if scale not in {"share", "linear"}:
                raise DataError(_SOURCE, f"scale {scale!r} is not share/linear", column=name)
            alias_text = record.get("aliases", "").strip()
            entries.append(
                BenchmarkInfo(
                    name=name,
                    floor=floor,
                    n_items=n_items,
                    continuous=continuous,
                    protocol=record.get("protocol", "").strip(),
                    aliases=tuple(a.strip() for a in alias_text.split("|")) if alias_text else (),
                    linear=scale == "linear",
                )
            )
        return cls(entries)

    def with_overrides(
        self, overrides: Mapping[str, BenchmarkInfo | Mapping[str, Any]]
    ) -> Registry:
        """Return a new registry with entries replaced, changed or added.

        Parameters
        ----------
        overrides : mapping
            Benchmark name (or alias of a known one) to either a full :class:`BenchmarkInfo`
            or a mapping of the fields to change (``floor``, ``n_items``, ``continuous``,
            ``protocol``, ``aliases``, ``ceiling``). A new benchmark given as a mapping starts
            from the unknown-benchmark defaults, except that giving ``n_items`` without
            ``continuous`` makes it a count.

        Returns
        -------
        Registry
            The new registry; ``self`` is unchanged.

        Examples
        --------
        >>> reg = Registry.default().with_overrides({"Winogrande": {"floor": 0.45}})
        >>> reg["Winograd"].floor, Registry.default()["Winograd"].floor
        (0.45, 0.5)
        """
        entries = dict(self._entries)
        for key, change in overrides.items():
            canonical = self._aliases.get(key, key)
            if isinstance(change, BenchmarkInfo):
                entries.pop(canonical, None)
                entries[change.name] = change
                continue
            if not isinstance(change, Mapping):
                raise DataError(_SOURCE, f"override {change!r} is not a mapping", column=key)
            unknown = set(change) - set(_FIELDS)
            if unknown:
                raise DataError(
                    _SOURCE,
                    f"unknown field(s) {sorted(unknown)}; allowed: {', '.join(_FIELDS)}",
                    column=key,
                )
            fields = dict(change)
            if "aliases" in fields:
                fields["aliases"] = tuple(fields["aliases"])
            base = entries.get(canonical)
            if base is None:
                if "n_items" in fields and "continuous" not in fields:
                    fields["continuous"] = fields["n_items"] is None
                base = BenchmarkInfo.unknown(canonical)
            entries[canonical] = dataclasses.replace(base, **fields)
        return Registry(entries.values())

    # -- lookup -----------------------------------------------------------------------------

    def canonical(self, name: str) -> str | None:
        """Canonical name of ``name`` (itself or the benchmark it is an alias of), or None.

        Examples
        --------
        >>> Registry.default().canonical("Winogrande")
        'Winograd'
        """
        if name in self._entries:
            return name
        return self._aliases.get(name)

    def lookup(self, name: str) -> BenchmarkInfo:
        """Entry for ``name`` or an alias; unknown names get defaults and a warning.

        Parameters
        ----------
        name : str
            Column name as it appears in a table.

        Returns
        -------
        BenchmarkInfo
            The registered entry, or ``BenchmarkInfo.unknown(name)`` after an
            :class:`UnknownBenchmarkWarning` naming the benchmark.

        Examples
        --------
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     Registry.default().lookup("MyEval").floor
        0.0
        """
        canonical = self.canonical(name)
        if canonical is not None:
            return self._entries[canonical]
        hint = ""
        close = difflib.get_close_matches(name, [*self._entries, *self._aliases], n=1)
        if close:
            hint = f" (did you mean {close[0]!r}?)"
        message = (
            f"benchmark {name!r} is not in the registry{hint}: assuming chance floor 0, "
            "no item count, continuous score"
        )
        warnings.warn(UnknownBenchmarkWarning(name, message), stacklevel=2)
        return BenchmarkInfo.unknown(name)

    def __getitem__(self, name: str) -> BenchmarkInfo:
        canonical = self.canonical(name)
        if canonical is None:
            raise KeyError(name)
        return self._entries[canonical]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.canonical(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Registry):
            return NotImplemented
        return dict(self._entries) == dict(other._entries)

    def __hash__(self) -> int:
        return hash(tuple(self._entries.values()))

    def __repr__(self) -> str:
        return f"Registry({len(self)} benchmarks: {', '.join(self._entries)})"


@functools.cache
def _default_registry() -> Registry:
    # Cached: the registry is immutable, and the packaged file does not change at run time.
    text = (
        resources.files("bayes_scaling")
        .joinpath("resources", "benchmarks.csv")
        .read_text(encoding="utf-8")
    )
    return Registry.from_csv_text(text)
