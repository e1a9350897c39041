"""The estimator: ``CapabilityModel(spec).fit(data)`` and the :class:`FitResults` it returns.

A thin class over the pure graph builder in :mod:`bayes_scaling.model`, in the style of
pymc-marketing: ``fit`` samples, ``FitResults.save`` writes one netCDF file holding the
posterior, the observed data, the pointwise log-likelihood, the tidy input data, the spec
and a content hash; ``FitResults.load`` (or ``CapabilityModel(spec).load``) checks both
before returning anything.

Examples
--------
>>> from bayes_scaling import datasets
>>> from bayes_scaling.estimator import CapabilityModel
>>> fit = CapabilityModel("k1").fit(datasets.load("base-llm"), draws=200, tune=200,
...                                 chains=2, seed=1)  # doctest: +SKIP
>>> fit.capabilities().sel(capability="general")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytensor
import xarray as xr

from bayes_scaling import __version__, interrupts
from bayes_scaling.compiled import compiled_graph, graph_key
from bayes_scaling.diagnostics import Diagnostics, compute_diagnostics
from bayes_scaling.errors import BayesScalingError, ResultsFileError
from bayes_scaling.intervals import summarise  # noqa: F401  (re-exported: an old import path)
from bayes_scaling.io import atomic_path
from bayes_scaling.model import (
    OBSERVED,
    ModelInputs,
    build_inputs,
    build_model,
)
from bayes_scaling.progress import report
from bayes_scaling.specs import DEFAULT_SPEC, ModelSpec, load_spec, spec_from_dict

Sampler = Literal["nutpie", "pymc", "numpyro", "advi"]
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc", "numpyro", "advi")
#: Samplers whose draws are an approximation of the posterior, not MCMC: labelled as such
#: in every output (see :class:`~bayes_scaling.diagnostics.Diagnostics`).
APPROXIMATE: tuple[str, ...] = ("advi",)
#: ADVI: Adam steps and learning rate, and the relative change of the variational
#: parameters (checked every 500 steps) below which it stops early. On the base table
#: 6,000 Adam steps at 0.02 reach a lower loss than PyMC's default 30,000 adagrad steps
#: (docs/benchmarks.md); compiling the step function (about 12 s) costs more than running it.
ADVI_STEPS = 6_000
ADVI_LEARNING_RATE = 0.02
ADVI_TOLERANCE = 0.01

#: Default draws and tuning steps per chain (4 chains). The default K = 3 fit of the base
#: table needs 4 x 2000 draws for bulk ESS >= 400 on every parameter: the compute slope
#: ``beta`` mixes at about 0.08 effective draws per draw (docs/benchmarks.md).
DEFAULT_DRAWS = 2000
DEFAULT_TUNE = 1000

#: NUTS's target acceptance rate, and the rate for fits with downstream targets: their
#: per-target scales (spread, family spread, residual weights) left a rare divergent
#: excursion at 0.8 (2 in 8000 draws of the post-training fit) and none at 0.9, but that
#: one run at 0.9 mixed worse; which default is better is open (docs/model.md).
TARGET_ACCEPT = 0.8
TARGET_ACCEPT_TARGETS = 0.9
#: ... and for a table without any compute: the instruct table with its compute hidden
#: (``bench/complete_heldout.py --case instruct``, k2, 4 x 3000) left 15, 1 and 19
#: divergences in its three hold-outs at 0.8, where the noise of HellaSwag (10,042 items)
#: reaches its floor and pins every model's capability tightly; at 0.9 none, and bulk ESS
#: rose from 487-944 to 998-1,710 for a fifth more time (0.6.5; docs/benchmarks.md).
TARGET_ACCEPT_NO_COMPUTE = 0.9


def default_target_accept(inputs: ModelInputs, spec: ModelSpec) -> float:
    """NUTS's default target acceptance rate for a fit of ``inputs``.

    :data:`TARGET_ACCEPT_TARGETS` when downstream targets are fitted,
    :data:`TARGET_ACCEPT_NO_COMPUTE` when no model's compute is known (and the spec is
    not compute-only), else :data:`TARGET_ACCEPT`.

    Examples
    --------
    >>> from bayes_scaling.simulate import simulate
    >>> model = CapabilityModel("k1")
    >>> sim = simulate(n_models=12, n_families=3, n_benchmarks=4, seed=0)
    >>> default_target_accept(model.inputs(sim.data), model.spec)
    0.8
    >>> hidden = sim.data.assign_coords(flops=sim.data["flops"] * np.nan)
    >>> default_target_accept(model.inputs(hidden), model.spec)
    0.9
    """
    if inputs.targets:
        return TARGET_ACCEPT_TARGETS
    if not inputs.has_compute.any() and not spec.compute_only:
        return TARGET_ACCEPT_NO_COMPUTE
    return TARGET_ACCEPT


#: Layout of the results file. 2 (0.5.0): a ``posterior_predictive`` group and the model
#: written once (bayes_scaling.measurement). 3 (0.6.0): unknown compute is missing data
#: (a closed model keeps its family's effect), fits without any compute, linear columns.
#: 4 (0.7.0): an optional time trend in family efficiency from release dates (``time_trend``;
#: ``t_mean``/``t_sd`` attributes) and its prior in every spec.
#: 5 (0.8.0): every spec gained ``target_slopes`` and the ``target_slope_dof`` prior.
#: 6 (0.9.0): the bundled specs score large counts by their normal approximation
#: (``measurement = "beta-binomial-normal"``).
#: 7 (0.11.0): a ``tails = "student-t"`` spec's downstream targets have Student-t per-model
#: deviations (``target_deviation_z``).
#: 8 (0.12.0): ``target_floor`` was the effective floor's share of ``[0, ceiling]``.
#: 9 (0.12.1): every spec gained ``target_floor``; the default (``above-chance``) reads
#: ``target_floor`` as the share above the declared floor again, ``around-chance`` as 8 did.
#: Files of another layout ask for a refit.
RESULTS_VERSION = 9

#: Variables whose sign is fixed after sampling (see :func:`align_signs`).
_SIGNED = ("S", "alpha", "loadings", "target_weights")
#: Raw, sign-ambiguous duplicates of aligned variables; dropped after alignment.
_RAW = (
    "z_alpha",
    "z_alpha_general",
    "alpha_lone_z",
    "loading_raw",
    "loading_raw_mean",
    "target_weight_raw",
    "target_deviation_z",
    "g",
    "g_z",
    "g_centred",
    "g_shift_z",
    "s_spec_z",
    "s_spec_centred",
    "s_spec_shift_z",
    "log_loading",
    "anchor_loading",
    "tau_general",
    "sigma_general",
    "family_share",
    "tau_specific",
    "target_log_weight",
    "target_residual_z",
    "target_family_z",
)


def align_signs(posterior: xr.Dataset, anchors: Sequence[str]) -> xr.Dataset:
    """Flip each specialisation axis per draw so its anchor's loading is positive.

    The likelihood and priors are symmetric under ``S[:, k] -> -S[:, k]`` with
    ``loadings[:, k] -> -loadings[:, k]`` for k >= 2, so relabelling draws is exact; it
    is what makes two seeds report the same signs.

    Parameters
    ----------
    posterior : xarray.Dataset
        Posterior with a ``capability`` dim.
    anchors : sequence of str
        Anchor benchmark per capability (the first, general, is never flipped).

    Returns
    -------
    xarray.Dataset
    """
    caps = list(posterior["capability"].to_numpy())
    sign = xr.ones_like(posterior["loadings"].isel(benchmark=0))
    for k in range(1, len(caps)):
        anchor_loading = posterior["loadings"].sel(benchmark=anchors[k], capability=caps[k])
        s = xr.where(anchor_loading < 0, -1.0, 1.0)
        sign = xr.where(sign["capability"] == caps[k], s, sign)
    out = posterior.drop_vars([v for v in _RAW if v in posterior])
    for name in _SIGNED:
        if name in out:
            out[name] = out[name] * sign
    return out


@dataclasses.dataclass
class FitResults:
    """A fitted capability model: an ArviZ DataTree plus the spec that made it.

    Attributes
    ----------
    tree : xarray.DataTree
        Groups ``posterior``, ``sample_stats``, ``observed_data``, ``log_likelihood``
        (variable ``score`` over ``obs``), ``constant_data`` and ``data`` (the tidy input
        dataset) and ``targets`` when downstream metrics were fitted; root attributes
        stamp the spec, package version, sampler, seed, wall time and content hash.
    spec : ModelSpec
        The spec of the fit.
    """

    tree: xr.DataTree
    spec: ModelSpec
    # The posterior never changes after a fit, and the table costs seconds (11 s for
    # 130 benchmarks x 100 models at 12,000 draws): computed once, on first use.
    _diagnostics: Diagnostics | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    # ---------------------------------------------------------------- basic accessors
    @property
    def posterior(self) -> xr.Dataset:
        """Posterior draws (dims ``chain``, ``draw`` and named model dims)."""
        return self.tree["posterior"].to_dataset()

    @property
    def data(self) -> xr.Dataset:
        """The tidy dataset the model was fitted to (hidden cells are NaN)."""
        return self.tree["data"].to_dataset()

    @property
    def targets(self) -> xr.Dataset | None:
        """Downstream targets fitted jointly, if any."""
        return self.tree["targets"].to_dataset() if "targets" in self.tree.children else None

    @property
    def attrs(self) -> dict[str, Any]:
        """Stamp of the fit: spec, version, sampler, seed, seconds, hash, anchors."""
        return dict(self.tree.attrs)

    @property
    def anchors(self) -> tuple[str, ...]:
        """Anchor benchmark of each capability axis."""
        return tuple(json.loads(self.tree.attrs["anchors"]))

    @property
    def x_mean(self) -> float:
        """Mean log10 FLOPs used to centre compute."""
        return float(self.tree.attrs["x_mean"])

    @property
    def time_trend(self) -> tuple[float, float] | None:
        """(mean, sd) of the fit's release dates in decimal years; None without a time trend.

        A fit whose data had a ``Release Date`` column has a ``time_trend`` parameter
        (decades of effective compute per year) and centres dates on this mean.
        """
        if "time_trend" not in self.posterior:
            return None
        return float(self.tree.attrs["t_mean"]), float(self.tree.attrs["t_sd"])

    @property
    def diagnostics(self) -> Diagnostics:
        """R-hat, ESS, divergences, BFMI and the offending parameters (computed once)."""
        if self._diagnostics is None:
            self._diagnostics = compute_diagnostics(
                self.tree,
                seconds=float(self.tree.attrs.get("seconds", np.nan)),
                approximate=str(self.tree.attrs.get("sampler", ""))
                if bool(self.tree.attrs.get("approximate", 0))
                else "",
            )
        return self._diagnostics

    def thinned(self, most: int) -> FitResults:
        """The same fit with at most ``most`` posterior draws: every k-th draw of each chain.

        For read-outs whose Monte Carlo error is already small at a few thousand draws
        (``complete``'s intervals), when the fit needed more to converge. Every chain keeps
        at least one draw. Diagnostics stay those of the full fit.

        Examples
        --------
        >>> fit.thinned(4000).posterior.sizes["draw"]  # doctest: +SKIP
        1000
        """
        post = self.posterior
        keep = max(1, int(most) // post.sizes["chain"])  # per chain
        every = -(-post.sizes["draw"] // keep)
        if every <= 1:
            return self
        return self.select_draws(slice(None, None, every))

    def select_draws(self, draws: slice) -> FitResults:
        """The same fit with the posterior's ``draw`` dim sliced (every chain alike).

        Diagnostics stay those of the full fit.

        Examples
        --------
        >>> fit.select_draws(slice(0, 100)).posterior.sizes["draw"]  # doctest: +SKIP
        100
        """
        tree = self.tree.copy()
        tree["posterior"] = xr.DataTree(self.posterior.isel(draw=draws))
        out = FitResults(tree=tree, spec=self.spec)
        out._diagnostics = self._diagnostics
        return out

    def draws(self, name: str) -> xr.DataArray:
        """Posterior draws of ``name`` stacked into one ``sample`` dim."""
        return self.posterior[name].stack(sample=("chain", "draw")).transpose("sample", ...)

    # ---------------------------------------------------------------- user-facing tables
    def capabilities(self, level: float = 0.9) -> xr.Dataset:
        """Capabilities' means and intervals; see :func:`bayes_scaling.summaries.capabilities`."""
        from bayes_scaling.summaries import capabilities

        return capabilities(self, level)

    def family_efficiency(self, reference: str | None = None, level: float = 0.9) -> xr.Dataset:
        """Efficiency multipliers; see :func:`bayes_scaling.summaries.family_efficiency`."""
        from bayes_scaling.summaries import family_efficiency

        return family_efficiency(self, reference, level)

    def loadings(self, level: float = 0.9) -> xr.Dataset:
        """Benchmark loadings; see :func:`bayes_scaling.summaries.loadings`."""
        from bayes_scaling.summaries import loadings

        return loadings(self, level)

    def outliers(self, threshold: float = 3.0, tail: float = 0.005) -> dict[str, Any]:
        """Models far from their family's compute line, and poorly explained scores.

        Parameters
        ----------
        threshold : float
            A model is flagged when the posterior mean of its general capability differs
            from its family line by more than ``threshold`` predictive sds
            (``sqrt(sigma^2 + tau^2)`` for a family of one, whose own effect is not
            evidence).
        tail : float
            An observation is flagged when it lies in the outer ``tail`` of its posterior
            predictive distribution on either side.

        Returns
        -------
        dict
            ``models``: list of dicts (model, family, z), ``observations``: list of dicts
            (model, benchmark, observed, predictive median, tail probability).
        """
        from bayes_scaling.outliers import find_outliers

        return find_outliers(self, threshold=threshold, tail=tail)

    def summary_dict(self, reference: str | None = None, level: float = 0.9) -> dict[str, Any]:
        """Everything ``bayes-scaling summary --json`` prints; see :func:`bayes_scaling.summaries.summary_dict`."""
        from bayes_scaling.summaries import summary_dict

        return summary_dict(self, reference, level)

    # ---------------------------------------------------------------- prediction
    def predictive_draws(
        self,
        capability: xr.DataArray,
        columns: Sequence[str],
        rng: np.random.Generator,
        **kwargs: Any,
    ) -> xr.DataArray:
        """Scores implied by capability draws; see :func:`bayes_scaling.predictive.predictive_draws`."""
        from bayes_scaling.predictive import predictive_draws

        return predictive_draws(self, capability, columns, rng, **kwargs)

    def capability_from_compute(
        self,
        family: Sequence[str],
        log10_flops: Sequence[float],
        rng: np.random.Generator,
        names: Sequence[str] | None = None,
        release: Sequence[float] | None = None,
    ) -> xr.DataArray:
        """Capability draws from family and compute; see :func:`bayes_scaling.predictive.capability_from_compute`."""
        from bayes_scaling.predictive import capability_from_compute

        return capability_from_compute(self, family, log10_flops, rng, names, release)

    def predict(
        self,
        capability: xr.DataArray,
        columns: Sequence[str] | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> xr.DataTree:
        """Predictive scores of (new) models as ArviZ's ``predictions`` group.

        ``capability`` holds one draw per posterior draw (e.g. from
        :meth:`capability_from_compute`); ``columns`` default to every benchmark and
        target. See :func:`bayes_scaling.predictive.predictions`.

        Examples
        --------
        >>> cap = fit.capability_from_compute(["Llama-2"], [24.5], rng)  # doctest: +SKIP
        >>> fit.predict(cap, ["MMLU"])["predictions"]["score"].shape  # doctest: +SKIP
        (4, 2000, 1, 1)
        """
        from bayes_scaling.predictive import predictions

        if columns is None:
            columns = [str(b) for b in self.posterior["benchmark"].to_numpy()]
            if "target" in self.posterior.dims:
                columns += [str(t) for t in self.posterior["target"].to_numpy()]
        return predictions(self, capability, columns, np.random.default_rng(seed), **kwargs)

    def _column_params(self, columns: Sequence[str]) -> dict[str, np.ndarray]:
        from bayes_scaling.predictive import column_params

        return column_params(self, columns)

    # ---------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the fit to one netCDF file atomically (posterior, data, spec, hash)."""
        path = Path(path)
        tree = self.tree.copy()
        tree.attrs["content_hash"] = content_hash(tree)
        with atomic_path(path) as tmp:
            tree.to_netcdf(tmp, engine="h5netcdf")
        return path

    @classmethod
    def load(cls, path: str | Path, spec: str | ModelSpec | None = None) -> FitResults:
        """Read a fit written by :meth:`save`, refusing altered or foreign files.

        Parameters
        ----------
        path : path-like
            The results file.
        spec : str or ModelSpec, optional
            If given, the file must have been fitted with exactly this spec.

        Raises
        ------
        ResultsFileError
            Not a results file, altered since it was written, or another spec.
        """
        path = Path(path)
        if not path.is_file():
            raise ResultsFileError(f"{path}: no such results file")
        try:
            tree = xr.open_datatree(path, engine="h5netcdf").load()
        except Exception:
            # HDF5's signature sits at byte 0 (or 512, 1024, ... after a user block): a file
            # that has it but cannot be read was a results file and is damaged; one without
            # it is something else (or lost its first bytes).
            try:
                with path.open("rb") as fh:
                    head = fh.read(1 << 16)
            except OSError as exc:  # unreadable (permissions, I/O error)
                reason = exc.strerror or type(exc).__name__
                raise ResultsFileError(f"{path}: cannot be read ({reason})") from None
            sig = b"\x89HDF\r\n\x1a\n"
            if not head:
                why = "empty file; refit or restore it"
            elif any(head[at : at + 8] == sig for at in (0, 512, 1024, 2048, 4096, 8192)):
                why = (
                    "damaged or truncated results file (cannot be read as netCDF/HDF5); "
                    "refit or restore it"
                )
            else:
                why = (
                    "not a bayes_scaling results file (not netCDF/HDF5; results files are "
                    "written by 'bayes-scaling fit'), or one damaged beyond recognition"
                )
            raise ResultsFileError(f"{path}: {why}") from None
        attrs = tree.attrs
        if "spec" not in attrs or "content_hash" not in attrs:
            raise ResultsFileError(f"{path}: not a bayes_scaling results file (no spec or hash)")
        stored = attrs["content_hash"]
        if content_hash(tree) != stored:
            raise ResultsFileError(
                f"{path}: content hash mismatch; the file was altered after it was written"
            )
        if hashlib.sha256(str(attrs["spec"]).encode()).hexdigest() != attrs.get("spec_hash"):
            raise ResultsFileError(f"{path}: spec hash mismatch; the stored spec was altered")
        file_spec = spec_from_dict(json.loads(attrs["spec"]), source=str(path))
        layout = int(attrs.get("results_version", 1))
        if file_spec.hash() != attrs.get("spec_hash") or layout != RESULTS_VERSION:
            # Intact, but this version reads the spec differently (new prior fields or
            # defaults): its model is not the one that made the posterior.
            raise ResultsFileError(
                f"{path}: written by bayes_scaling {attrs.get('bayes_scaling_version', '?')}, "
                f"whose model differs from this version's ({__version__}); refit it"
            )
        approximate = bool(attrs.get("approximate", 0))
        try:
            chains, draws = int(attrs["chains"]), int(attrs["draws"])
        except (KeyError, TypeError, ValueError):
            raise ResultsFileError(
                f"{path}: not a bayes_scaling results file (no draws or chains)"
            ) from None
        if approximate:
            # One chain of independent draws; their number is not stamped exactly.
            draws = int(tree["posterior"].sizes.get("draw", 0)) or draws
        partial = partial_draws(tree["posterior"].to_dataset(), chains, draws)
        if partial:
            # Written by an interrupted run of an older version: not a result.
            raise ResultsFileError(f"{path}: an incomplete run ({partial}); refit it")
        if spec is not None:
            want = load_spec(spec)
            if want.hash() != file_spec.hash():
                raise ResultsFileError(
                    f"{path}: fitted with spec {file_spec.name!r}, not {want.name!r}"
                )
        return cls(tree=tree, spec=file_spec)


def content_hash(tree: xr.DataTree) -> str:
    """sha256 over every variable's values and the stamped attributes (except the hash)."""
    h = hashlib.sha256()
    for node in sorted(tree.subtree, key=lambda n: n.path):
        ds = node.to_dataset()
        h.update(node.path.encode())
        for name in sorted(map(str, ds.variables)):
            var = ds[name]
            h.update(name.encode())
            h.update(str(var.dims).encode())
            values = var.to_numpy()
            if values.dtype.kind in "OUS":
                h.update("\x1f".join(map(str, values.ravel())).encode())
            else:
                h.update(np.ascontiguousarray(values.astype(np.float64)).tobytes())
    for key in sorted(tree.attrs):
        if key != "content_hash":
            h.update(f"{key}={tree.attrs[key]}".encode())
    return h.hexdigest()


class CapabilityModel:
    """The hierarchical Bayesian capability model of one spec.

    Parameters
    ----------
    spec : str, path or ModelSpec
        Bundled spec name (``"k3"``, the default), a spec TOML file, or a spec object.

    Examples
    --------
    >>> CapabilityModel("k2").spec.capabilities
    2
    """

    def __init__(self, spec: str | Path | ModelSpec = DEFAULT_SPEC) -> None:
        self.spec = load_spec(spec)

    def inputs(self, data: xr.Dataset, targets: xr.Dataset | None = None) -> ModelInputs:
        """Index arrays for ``data`` (see :func:`bayes_scaling.model.build_inputs`)."""
        return build_inputs(data, self.spec, targets)

    def build(self, data: xr.Dataset, targets: xr.Dataset | None = None):
        """The PyMC model for ``data`` without sampling."""
        return build_model(self.inputs(data, targets), self.spec)

    def fit(
        self,
        data: xr.Dataset,
        targets: xr.Dataset | None = None,
        *,
        draws: int = DEFAULT_DRAWS,
        tune: int = DEFAULT_TUNE,
        chains: int = 4,
        cores: int | None = None,
        sampler: Sampler = "nutpie",
        seed: int = 0,
        progress: bool = False,
        warn: bool = True,
        target_accept: float | None = None,
        pointwise: bool = True,
    ) -> FitResults:
        """Sample the posterior and return a :class:`FitResults`.

        Parameters
        ----------
        data : xarray.Dataset
            Tidy benchmark dataset; NaN cells are unobserved.
        targets : xarray.Dataset, optional
            Downstream metrics fitted jointly (same tidy form, dim ``model`` a subset).
        draws, tune, chains : int
            Posterior draws and tuning steps per chain, and number of chains.
        cores : int, optional
            Parallel chains (default: all cores, at most ``chains``).
        sampler : {"nutpie", "pymc", "numpyro"}
            NUTS implementation. ``numpyro`` needs the ``numpyro`` extra.
        seed : int
            Same seed, same numbers.
        progress : bool
            Show the sampler's progress bar.
        warn : bool
            Emit a :class:`~bayes_scaling.diagnostics.SamplerWarning` naming offending
            parameters when R-hat > 1.01, ESS < 400 or any divergence.
        target_accept : float, optional
            NUTS's target acceptance rate. Default: :func:`default_target_accept` (0.8;
            0.9 when downstream targets are fitted or no model's compute is known).
        pointwise : bool
            Also store the pointwise log-likelihood and replicated scores of every
            observation (the ``log_likelihood`` and ``posterior_predictive`` groups that
            LOO, ``compare`` and ArviZ's predictive checks read). ``complete`` turns this
            off: it draws every cell itself, and both groups cost it 24 s of 180.
        """
        import os

        import pymc as pm

        if sampler not in SAMPLERS:
            raise BayesScalingError(
                f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}"
            )
        inputs = self.inputs(data, targets)
        model = build_model(inputs, self.spec)
        if target_accept is None:
            target_accept = default_target_accept(inputs, self.spec)
        if not 0.0 < target_accept < 1.0:
            raise BayesScalingError(f"target_accept must be in (0, 1), got {target_accept}")
        cores = cores or min(chains, os.cpu_count() or 1)
        start = time.perf_counter()
        # Same seed, same numbers, in any process: with fast-math, LLVM may reassociate
        # the graph's sums differently from one compilation to the next (a dask worker
        # and the parent process gave different tables), and the sampler's trajectories
        # amplify the last bit.
        with (
            warnings.catch_warnings(),
            pytensor.config.change_flags(numba__fastmath=False),
            interrupts.watch() as signals,
        ):
            warnings.simplefilter("ignore", category=RuntimeWarning)
            warnings.simplefilter("ignore", category=FutureWarning)
            name = self.spec.name
            report(f"{name}: compiling")
            interrupts.fault_point("compiling")
            if sampler == "nutpie":
                import nutpie

                # A refit of the same inputs (another seed, a retry) reuses the graph.
                compiled = compiled_graph(
                    graph_key(inputs, self.spec), lambda: nutpie.compile_pymc_model(model)
                )
                report(f"{name}: starting chains")
                watcher = _NutpieProgress(name, tune)
                running = nutpie.sample(
                    compiled,
                    draws=draws,
                    tune=tune,
                    chains=chains,
                    cores=cores,
                    seed=seed,
                    progress_bar=progress,
                    progress_callback=watcher,
                    # Diagonal: with the native-unit parametrisation (model.py) it mixes
                    # as well as low-rank adaptation at a seventh of the cost per draw.
                    adaptation="diag",
                    target_accept=target_accept,
                    blocking=False,
                )
                try:
                    # Not nutpie's blocking call: on KeyboardInterrupt it returns the
                    # partial trace as if it were complete; here any interrupt discards it.
                    tree = running.wait()
                except BaseException:
                    running.cancel()
                    raise
                # The sampler holds its own copy of the trace: let it go before the
                # log-likelihood and the predictive draws.
                del running, compiled
            elif sampler == "advi":
                report(f"{name}: fitting ADVI")
                tree = _fit_advi(model, draws * chains, seed, progress)
            else:
                if sampler == "numpyro":
                    try:
                        import numpyro  # noqa: F401
                    except ImportError:
                        raise BayesScalingError(
                            "sampler 'numpyro' needs the numpyro extra: pip install 'bayes-scaling[numpyro]'"
                        ) from None
                report(f"{name}: sampling ({sampler})")
                tree = pm.sample(
                    draws=draws,
                    tune=tune,
                    chains=chains,
                    cores=cores,
                    random_seed=seed,
                    progressbar=progress,
                    model=model,
                    nuts_sampler=sampler,
                    target_accept=target_accept,
                    compute_convergence_checks=False,
                )
            if signals:
                # The sampler swallowed the interrupt and returned what it had (PyMC's
                # ADVI and pm.sample do): never a result.
                raise KeyboardInterrupt
            expect = (1, draws * chains) if sampler in APPROXIMATE else (chains, draws)
            partial = partial_draws(tree["posterior"].to_dataset(), *expect)
            if partial:
                raise KeyboardInterrupt(f"sampling stopped early: {partial}")
            report(f"{name}: log-likelihood and predictive draws")
            seconds = time.perf_counter() - start
            if pointwise:
                tree = pm.compute_log_likelihood(tree, model=model, progressbar=False)
        vi = {k: v for k, v in tree["sample_stats"].attrs.items() if k.startswith("advi_")}
        tree = _assemble(
            tree,
            inputs,
            data,
            targets,
            self.spec,
            sampler=sampler,
            seed=seed,
            seconds=seconds,
            draws=draws,
            tune=0 if sampler in APPROXIMATE else tune,
            chains=1 if sampler in APPROXIMATE else chains,
            approximate=sampler in APPROXIMATE,
            **({} if sampler in APPROXIMATE else {"target_accept": target_accept}),
            **vi,
        )
        fit = FitResults(tree=tree, spec=self.spec)
        if pointwise and (sampler not in APPROXIMATE or draws > 1):
            # Replicated scores of every observation, for ArviZ's predictive checks
            # (az.plot_ppc_*, az.loo_pit) on the results file.
            from bayes_scaling.predictive import posterior_predictive

            fit.tree["posterior_predictive"] = xr.DataTree(
                posterior_predictive(fit, np.random.default_rng([seed, 1]))
            )
        if warn:
            fit.diagnostics.warn()
        return fit

    def load(self, path: str | Path) -> FitResults:
        """Load a results file, refusing one fitted with another spec."""
        return FitResults.load(path, spec=self.spec)


class _NutpieProgress:
    """nutpie's progress callback: the command's progress and the fault hook's phases.

    Runs on a nutpie thread every 100 ms with one ``ChainProgress`` per chain.
    """

    def __init__(self, name: str, tune: int) -> None:
        self.name = name
        self.tune = tune
        self.phases: set[str] = set()

    def __call__(self, chains: Sequence[Any]) -> None:
        done = sum(int(c.finished_draws) for c in chains)
        total = sum(int(c.total_draws) for c in chains)
        drawing = any(not c.tuning and int(c.finished_draws) > self.tune for c in chains)
        phase = "drawing" if drawing else "tuning"
        report(f"{self.name}: {phase}, {done}/{total} steps of {len(chains)} chains", done, total)
        if phase not in self.phases:
            self.phases.add(phase)
            interrupts.fault_point(phase)


def partial_draws(posterior: xr.Dataset, chains: int, draws: int) -> str:
    """Why ``posterior`` is not a complete run of ``chains`` x ``draws``; ``""`` if it is.

    An interrupted sampler returns what it has: fewer draws, or chains padded with NaN to
    the longest one (nutpie). Neither is a result.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> post = xr.Dataset({"a": (("chain", "draw"), np.array([[1.0, 2.0], [3.0, np.nan]]))})
    >>> partial_draws(post, 2, 2)
    '1 of 4 draws are NaN padding'
    >>> partial_draws(post, 2, 3)
    '2 chains x 2 draws, not 2 x 3'
    """
    n_chain, n_draw = posterior.sizes.get("chain", 0), posterior.sizes.get("draw", 0)
    if (n_chain, n_draw) != (chains, draws):
        return f"{n_chain} chains x {n_draw} draws, not {chains} x {draws}"
    padded: np.ndarray | None = None
    for var in posterior.data_vars.values():
        if var.dtype.kind != "f" or not {"chain", "draw"} <= set(var.dims):
            continue
        other = [d for d in var.dims if d not in ("chain", "draw")]
        empty = np.isnan(var.transpose("chain", "draw", *other).to_numpy())
        empty = empty.reshape(n_chain, n_draw, -1).all(axis=-1)
        padded = empty if padded is None else padded & empty
    if padded is not None and padded.any():
        return f"{int(padded.sum())} of {padded.size} draws are NaN padding"
    return ""


def _fit_advi(model: Any, n_draws: int, seed: int, progress: bool) -> xr.DataTree:
    """Mean-field ADVI (PyMC's ``pm.fit``) and ``n_draws`` draws from it, as one chain.

    The draws are independent, so they form one chain: R-hat and ESS do not apply, and the
    fit is labelled approximate instead.
    """
    import pymc as pm
    from pymc.variational.callbacks import CheckParametersConvergence

    with model:
        approx = pm.fit(
            n=ADVI_STEPS,
            method="advi",
            obj_optimizer=pm.adam(learning_rate=ADVI_LEARNING_RATE),
            random_seed=seed,
            progressbar=progress,
            callbacks=[CheckParametersConvergence(every=500, tolerance=ADVI_TOLERANCE)],
        )
        tree = approx.sample(n_draws, random_seed=seed, return_inferencedata=True)
    if not isinstance(tree, xr.DataTree):  # an InferenceData on older stacks
        tree = xr.DataTree.from_dict({g: getattr(tree, g) for g in tree.groups()})
    steps = len(approx.hist)
    tree = tree.copy()
    tree["sample_stats"] = xr.DataTree(
        xr.Dataset(attrs={"advi_steps": steps, "advi_final_loss": float(approx.hist[-1])})
    )
    return tree


def _assemble(
    tree: xr.DataTree,
    inputs: ModelInputs,
    data: xr.Dataset,
    targets: xr.Dataset | None,
    spec: ModelSpec,
    **stamp: Any,
) -> xr.DataTree:
    """Normalise a sampler's DataTree into the package's results layout."""
    posterior = align_signs(tree["posterior"].to_dataset(), inputs.anchors)
    obs_kind = inputs.obs_kind
    obs = inputs.coords()["obs"]
    model_names, column_names = inputs.obs_labels
    obs_coords = {
        "obs": obs,
        "obs_model": ("obs", model_names.astype(str)),
        "obs_column": ("obs", column_names.astype(str)),
    }
    log_lik = None
    if "log_likelihood" in tree.children:
        ll = tree["log_likelihood"].to_dataset()
        sample_dims = ("chain", "draw")
        kinds = [kind for kind, name in OBSERVED.items() if name in ll]
        if len(kinds) == 1 and (obs_kind == kinds[0]).all():
            # One kind of observation, already in ``obs`` order: no second copy (0.67 GB
            # at 5,000 models).
            merged = ll[OBSERVED[kinds[0]]].transpose(*sample_dims, ...).to_numpy()
        else:
            shape = (posterior.sizes["chain"], posterior.sizes["draw"], len(obs))
            merged = np.empty(shape)
            for kind in kinds:
                block = ll[OBSERVED[kind]].transpose(*sample_dims, ...).to_numpy()
                merged[..., obs_kind == kind] = block
        log_lik = xr.Dataset(
            {"score": (("chain", "draw", "obs"), merged)},
            coords={"chain": posterior["chain"], "draw": posterior["draw"], **obs_coords},
        )
    observed = xr.Dataset({"score": ("obs", inputs.y)}, coords=obs_coords)
    constant = xr.Dataset(
        {
            "n_items": ("obs", inputs.n_items[inputs.obs_column]),
            "floor": ("obs", inputs.floor[inputs.obs_column]),
            "ceiling": ("obs", inputs.ceiling[inputs.obs_column]),
        },
        coords=obs_coords,
    )
    stats = tree["sample_stats"].to_dataset()
    keep = [
        v
        for v in (
            "diverging",
            "energy",
            "step_size",
            "tree_depth",
            "depth",
            "n_steps",
            "lp",
            "logp",
        )
        if v in stats
    ]
    stats = stats[keep]
    groups: dict[str, xr.Dataset] = {
        "posterior": posterior,
        "sample_stats": stats,
        **({} if log_lik is None else {"log_likelihood": log_lik}),
        "observed_data": observed,
        "constant_data": constant,
        "data": data,
    }
    if targets is not None:
        groups["targets"] = targets
    out = xr.DataTree.from_dict(groups)
    out.attrs.update(
        {
            "spec": spec.to_json(),
            "spec_name": spec.name,
            "spec_hash": spec.hash(),
            "bayes_scaling_version": __version__,
            "results_version": RESULTS_VERSION,
            "anchors": json.dumps(list(inputs.anchors)),
            "scale_anchor": inputs.scale_anchor,
            "x_mean": inputs.x_mean,
            "x_sd": inputs.x_sd,
            **({"t_mean": inputs.t_mean, "t_sd": inputs.t_sd} if inputs.has_time_trend else {}),
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            **{k: (v if not isinstance(v, bool) else int(v)) for k, v in stamp.items()},
        }
    )
    return out


def observed_frame(fit: FitResults) -> pd.DataFrame:
    """Observed scores of a fit as a long table (model, column, score)."""
    obs = fit.tree["observed_data"].to_dataset()
    return pd.DataFrame(
        {
            "model": obs["obs_model"].to_numpy(),
            "column": obs["obs_column"].to_numpy(),
            "score": obs["score"].to_numpy(),
        }
    )
