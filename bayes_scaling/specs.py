"""Declarative model specs: one TOML file per named variant in ``models/``.

A spec says *which* model to build (number of capabilities, measurement layer, family
slopes, ...); :mod:`bayes_scaling.priors` says what the priors are and a spec may override
them by name. Specs are parsed with :mod:`tomllib` (no code is evaluated) and every field is
checked, so a typo is an error rather than a silently ignored key.

Examples
--------
>>> spec = load_spec("k3")
>>> spec.capabilities, spec.measurement
(3, 'beta-binomial-normal')
>>> sorted(available_specs())[:2]
['compute-only', 'k1']
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from bayes_scaling.errors import SpecError
from bayes_scaling.priors import Priors

Measurement = Literal["binomial", "beta-binomial", "beta-binomial-normal"]
_MEASUREMENTS: tuple[str, ...] = ("binomial", "beta-binomial", "beta-binomial-normal")
Tails = Literal["normal", "student-t"]
_TAILS: tuple[str, ...] = ("normal", "student-t")
TargetSlopes = Tails  # the same two choices: normal or Student-t
TargetFloor = Literal["above-chance", "around-chance"]
_TARGET_FLOORS: tuple[str, ...] = ("above-chance", "around-chance")

DEFAULT_SPEC = "k3"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A named variant of the capability model.

    Parameters
    ----------
    name : str
        Identifier (the TOML file's stem for bundled specs).
    description : str
        One sentence shown by ``bayes-scaling compare`` and the report.
    capabilities : int
        Number K of latent capabilities (1 to 4). Ignored when ``compute_only``.
    measurement : {"binomial", "beta-binomial", "beta-binomial-normal"}
        Likelihood of benchmarks with a known number of items. ``beta-binomial-normal`` is
        the beta-binomial with a count of at least 10 successes and 10 failures scored by
        its moment-matched normal, a cheaper gradient
        (:func:`bayes_scaling.measurement.approx_counts_logp`); its draws are exact. Continuous scores (no item
        count) always use a logit-normal likelihood with a per-benchmark noise scale.
    family_slopes : bool
        Whether families also differ in the slope of the general capability on log-compute.
    compute_only : bool
        The classical compute scaling law: no latent capabilities, each benchmark a sigmoid
        of log-FLOPs with family offsets. Models without compute cannot be fitted.
    anchors : tuple of str
        Benchmarks that pin capability dimensions 2..K (lower-triangular loadings); empty
        picks them from the data (see :func:`bayes_scaling.model.choose_anchors`).
    reference_family : str
        Family against which efficiency multipliers are reported.
    tails : {"normal", "student-t"}
        Distribution of the general axis's family effects, of a model's deviation from
        its family's line and of a downstream target's own per-model deviation.
        ``student-t`` (``tail_dof`` degrees of freedom; the first two as a scale mixture
        of normals) lets one odd model or family, e.g. a compute recorded 1000x too high or
        a model far above its target's curve, stand apart without widening every other
        model's spread.
    target_slopes : {"normal", "student-t"}
        Prior of a downstream target's log weight on general capability around the
        benchmarks' loading population (mean ``mu_l``, spread ``sd_l``). ``normal`` shrinks
        every target toward that population; ``student-t`` (``target_slope_dof`` degrees of
        freedom) shrinks a target the data say little about just as much, but lets a target
        whose data say it is much steeper (an "emergent" task) or flatter keep its own slope.
    target_floor : {"above-chance", "around-chance"}
        Where a downstream target's learnt effective floor may sit. ``above-chance`` (the
        default): a share of the declared range above the declared floor, Beta(1,
        ``target_floor_b``). ``around-chance`` (opt-in since 0.12.1): a share of ``[0, ceiling]`` with
        its prior's mode at the declared floor, so that a target whose weak models score
        below chance (answer bias) gets a floor below it; identical for a declared floor
        of 0 (:func:`bayes_scaling.model.target_floor_prior`).
    priors : Priors
        Prior hyper-parameters (defaults in :mod:`bayes_scaling.priors`).
    """

    name: str
    description: str = ""
    capabilities: int = 3
    measurement: Measurement = "beta-binomial-normal"
    family_slopes: bool = False
    compute_only: bool = False
    anchors: tuple[str, ...] = ()
    reference_family: str = "Llama-2"
    tails: Tails = "normal"
    target_slopes: TargetSlopes = "normal"
    target_floor: TargetFloor = "above-chance"
    priors: Priors = dataclasses.field(default_factory=Priors)

    def __post_init__(self) -> None:
        if not 1 <= self.capabilities <= 4:
            raise SpecError(
                f"spec {self.name!r}: capabilities must be 1 to 4, got {self.capabilities}"
            )
        if self.tails not in _TAILS:
            raise SpecError(
                f"spec {self.name!r}: tails must be one of {', '.join(_TAILS)}, got {self.tails!r}"
            )
        if self.target_slopes not in _TAILS:
            raise SpecError(
                f"spec {self.name!r}: target_slopes must be one of {', '.join(_TAILS)}, "
                f"got {self.target_slopes!r}"
            )
        if self.target_floor not in _TARGET_FLOORS:
            raise SpecError(
                f"spec {self.name!r}: target_floor must be one of {', '.join(_TARGET_FLOORS)}, "
                f"got {self.target_floor!r}"
            )
        if self.measurement not in _MEASUREMENTS:
            raise SpecError(
                f"spec {self.name!r}: measurement must be one of {', '.join(_MEASUREMENTS)}, "
                f"got {self.measurement!r}"
            )

    @property
    def n_capabilities(self) -> int:
        """K as used in the graph (1 for the compute-only law)."""
        return 1 if self.compute_only else self.capabilities

    @property
    def floor_around_chance(self) -> bool:
        """Does a target's effective floor centre on its declared floor (``around-chance``)?"""
        return self.target_floor == "around-chance"

    @property
    def robust(self) -> bool:
        """Student-t family effects and model deviations on the general axis?"""
        return self.tails == "student-t" and not self.compute_only

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict, the inverse of :func:`spec_from_dict`."""
        out = dataclasses.asdict(self)
        out["anchors"] = list(self.anchors)
        return out

    def to_json(self) -> str:
        """Canonical JSON (sorted keys), stored inside results files."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def hash(self) -> str:
        """sha256 of the canonical JSON; two specs with equal content share it."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()


def spec_from_dict(raw: Mapping[str, Any], *, source: str = "<dict>") -> ModelSpec:
    """Build a :class:`ModelSpec` from a parsed mapping, rejecting unknown keys.

    Examples
    --------
    >>> spec_from_dict({"name": "tiny", "capabilities": 1}).capabilities
    1
    """
    raw = dict(raw)
    fields = {f.name for f in dataclasses.fields(ModelSpec)}
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise SpecError(f"{source}: unknown spec field(s) {', '.join(unknown)}")
    if "name" not in raw:
        raise SpecError(f"{source}: a spec needs a 'name'")
    prior_raw = raw.pop("priors", {}) or {}
    if not isinstance(prior_raw, Mapping):
        raise SpecError(f"{source}: 'priors' must be a table")
    prior_fields = {f.name for f in dataclasses.fields(Priors)}
    bad = sorted(set(prior_raw) - prior_fields)
    if bad:
        raise SpecError(f"{source}: unknown prior(s) {', '.join(bad)}")
    try:
        priors = Priors(**{k: float(v) for k, v in prior_raw.items()})
        if "anchors" in raw:
            raw["anchors"] = tuple(str(a) for a in raw["anchors"])
        return ModelSpec(**raw, priors=priors)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{source}: {exc}") from None


def _spec_dirs() -> list[Path]:
    dirs = []
    try:
        packaged = resources.files("bayes_scaling") / "_models"
        if packaged.is_dir():
            dirs.append(Path(str(packaged)))
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - defensive
        pass
    repo = Path(__file__).resolve().parents[1] / "models"
    if repo.is_dir():
        dirs.append(repo)
    return dirs


def available_specs() -> dict[str, Path]:
    """Bundled spec names and their files."""
    found: dict[str, Path] = {}
    for d in _spec_dirs():
        for path in sorted(d.glob("*.toml")):
            found.setdefault(path.stem, path)
    return found


def load_spec(name_or_path: str | Path | ModelSpec = DEFAULT_SPEC) -> ModelSpec:
    """Load a bundled spec by name, or a spec TOML file by path.

    Parameters
    ----------
    name_or_path : str, path or ModelSpec
        ``"k3"``, ``"models/k3.toml"`` or an already built spec (returned unchanged).

    Raises
    ------
    SpecError
        Unknown name, unreadable file or invalid content.
    """
    if isinstance(name_or_path, ModelSpec):
        return name_or_path
    specs = available_specs()
    key = str(name_or_path)
    if key in specs:
        path = specs[key]
    else:
        path = Path(key)
        if path.suffix != ".toml" or not path.is_file():
            raise SpecError(f"unknown spec {key!r}; bundled specs: {', '.join(sorted(specs))}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: cannot read spec ({exc})") from None
    return spec_from_dict(raw, source=str(path))
