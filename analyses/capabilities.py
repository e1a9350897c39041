# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The capability space of the base models
#
# How many latent capabilities do the eight standard benchmarks of the 128 bundled base
# models support, what does each benchmark measure, and how far apart are the model
# families in effective compute along the general axis? We fit the capability model with
# K = 1, 2 and 3 capabilities, let leave-one-model-out PSIS-LOO choose K, and read the
# loadings, the capabilities and the family effective-compute multipliers off the chosen
# fit.
#
# Every fit prints one `diagnostics:` line; a number from a fit that is NOT converged
# (R-hat > 1.01, ESS < 400, divergences) is not a result, and the answer draws no
# conclusion from it. The committed outputs were made by `make analyses` with this
# notebook's defaults, the package's own (4 chains x 2000 draws after 1000 tuning steps per
# spec, seed 0: about ten minutes on two cores); if a rerun does not converge, try
# `python analyses/capabilities.py --draws 4000 --tune 2000`.

# %%
import pandas as pd

from bayes_scaling import analysis, datasets
from bayes_scaling.compare import BAD_K, BAD_SHARE, kfold_elpd, loo_table
from bayes_scaling.diagnostics import diagnostics_line, print_diagnostics
from bayes_scaling.estimator import CapabilityModel
from bayes_scaling.io import atomic_write_text
from bayes_scaling.plots import (
    capability_vs_compute_plot,
    family_efficiency_plot,
    loadings_heatmap,
)

args = analysis.settings(
    "capabilities",
    draws=2000,
    tune=1000,
    chains=4,
    options={"specs": "k1,k2,k3", "reference": "Llama-2"},
    description="Capability space of the base models.",
)
print({k: v for k, v in vars(args).items() if k != "fit_kwargs"})

# %% [markdown]
# ## Fits
#
# One fit per spec on the same table (`models/k1.toml` .. `k3.toml`); each prints its
# diagnostics line (converged: R-hat at most 1.01, bulk and tail ESS at least 400, no
# divergence).

# %%
data = datasets.load("base-llm")
specs = [s.strip() for s in args.specs.split(",") if s.strip()]
fits = {s: CapabilityModel(s).fit(data, **args.fit_kwargs, warn=False) for s in specs}
diag = pd.DataFrame(
    {
        s: {
            "max_rhat": f.diagnostics.max_rhat,
            "min_ess_bulk": f.diagnostics.min_ess_bulk,
            "divergences": f.diagnostics.divergences,
            "seconds": f.diagnostics.seconds,
        }
        for s, f in fits.items()
    }
).T
print(diag.round(3).to_string())
for s, f in fits.items():
    print_diagnostics(f.diagnostics, s)
    for message in f.diagnostics.messages():
        print(f"{s}: {message}")
converged = {s: f.diagnostics.ok for s, f in fits.items()}

# %% [markdown]
# ## How many capabilities? Leave-one-model-out PSIS-LOO
#
# Each point is a whole language model (the log density of all its scores, its capabilities
# integrated out as for a model the fit has not seen), so `elpd` is how well a spec predicts
# the benchmark scores of a new model. `elpd_diff` and `dse` compare each spec to the best;
# `n_bad_pareto_k` counts models whose PSIS estimate is unreliable (Pareto k > 0.7). K is
# chosen only when every fit converged and at most 10% of the models have k > 0.7 (as
# `bayes-scaling compare` refuses otherwise); stacking weighs converged fits only. Where
# more than 10% are above 0.7, the worst are refitted without their scores (exact
# leave-one-model-out, `n_refit`) until at most 10% remain; each refit prints its own
# diagnostics line and must converge too.

# %%
stack = [s for s, ok in converged.items() if ok]
loo = loo_table(fits, by="model", stack=stack)
# The fallback of `bayes-scaling compare --kfold model`, trimmed to what the rule needs:
# in each converged fit, the models whose PSIS estimate is least reliable are refitted
# exactly (their scores hidden), worst first, until at most 10% of models remain above k 0.7.
refits, refits_ok = {}, True
for spec_name, pareto_k in loo.attrs["pareto_k"].items():
    bad = sorted((m for m, v in pareto_k.items() if v > BAD_K), key=lambda m: -pareto_k[m])
    worst = bad[: max(0, len(bad) - int(BAD_SHARE * len(pareto_k)))]
    if worst and converged[spec_name]:
        values, refit_diags = kfold_elpd(
            data, fits[spec_name].spec, [[m] for m in worst], **args.fit_kwargs
        )
        refits[spec_name] = values
        for m, d in zip(worst, refit_diags, strict=True):
            print_diagnostics(d, f"{spec_name} refitted without {m}")
            refits_ok &= d.ok
if refits:
    loo = loo_table(fits, by="model", refits=refits, stack=stack)
loo_shown = loo.drop(columns=["bad_models"]).set_index("spec")
print(loo_shown.round(2).to_string())
atomic_write_text(args.out / "loo.csv", loo_shown.to_csv())
reliable = bool((loo["n_bad_pareto_k"] <= BAD_SHARE * loo["n_points"]).all())
ranked = all(converged.values()) and reliable and refits_ok
chosen = str(loo["spec"].iloc[0])
best = fits[chosen]
if ranked:
    print(f"LOO's choice: {chosen} ({best.spec.capabilities} capabilities)")
else:
    why = [s for s, ok in converged.items() if not ok]
    print(
        "NOT RANKED: "
        + (f"not converged: {', '.join(why)}; " if why else "")
        + ("" if reliable else f"more than {BAD_SHARE:.0%} of models with k > {BAD_K}; ")
        + ("" if refits_ok else "a refit did not converge; ")
        + f"the sections below use {chosen} to show the read-outs, not as a result"
    )

# %% [markdown]
# ## What each benchmark measures: loadings of the chosen fit
#
# Logit units of a benchmark per unit of capability (per decade of effective compute on
# the general axis). Anchors (starred) define their axis; hatched cells are fixed at zero
# so that the axes cannot rotate into each other.

# %%
fig = loadings_heatmap(best)
fig.axes[0].set_xlabel("capability axis")
fig.axes[0].set_ylabel("benchmark")
analysis.show(fig, args.out / "loadings.png")
loadings = best.loadings().to_dataframe().unstack("capability")
atomic_write_text(args.out / "loadings.csv", loadings.to_csv())

# %% [markdown]
# ## Capabilities against training compute
#
# Each model's general capability (posterior mean and 90% interval, in decades of
# effective compute) against its log10 training FLOPs, coloured by family. The dashed line
# has slope one through the reference family: points above it sit higher on the general
# axis than the reference family at the same recorded FLOPs.

# %%
fig = analysis.legend_outside(capability_vs_compute_plot(best, reference=args.reference))
fig.axes[0].set_xlabel("training compute (log10 FLOPs)")
analysis.show(fig, args.out / "capabilities_vs_compute.png")
caps = best.capabilities().to_dataframe().unstack("capability")
atomic_write_text(args.out / "capabilities.csv", caps.to_csv())

# %% [markdown]
# ## Family effective-compute multipliers along the general axis
#
# Multiplier m of family X against the reference: at the same recorded training FLOPs, X's
# models sit log10 m decades higher on the general axis than the reference's (posterior
# median, 90% interval). The general axis is the direction its anchor benchmark defines in
# the capability space, so another anchor gives other multipliers; and the FLOPs are the
# table's metadata (mostly 6 x parameters x tokens, with known errors), which m absorbs.
# It is an effective-compute multiplier under this anchor, not a measured compute
# efficiency.

# %%
fig = family_efficiency_plot(best, reference=args.reference)
fig.axes[0].set_ylabel("family (number of models)")
analysis.show(fig, args.out / "family_efficiency.png")
eff = best.family_efficiency(args.reference).to_dataframe().sort_values("median")
atomic_write_text(args.out / "family_efficiency.csv", eff.to_csv())
counts = best.data["family"].to_series().value_counts()
eff["n_models"] = counts.reindex(eff.index).fillna(0).astype(int)
print(eff[["n_models", "median", "lower", "upper"]].round(2).to_string())

# %% [markdown]
# The same multipliers between the most and the least efficient of the families with at
# least three models (a family of one or two is mostly its prior):

# %%
big = eff[eff["n_models"] >= 3]
top, bottom = str(big["median"].idxmax()), str(big["median"].idxmin())
pair = best.family_efficiency(bottom).to_dataframe().loc[top]
top_vs_ref = eff.loc[top]
general_anchor = best.anchors[0] if best.anchors else "the scale anchor"
print(
    f"{top} vs {bottom}: effective-compute multiplier {pair['median']:.1f} "
    f"[{pair['lower']:.1f}, {pair['upper']:.1f}] along the general axis (anchor: "
    f"{general_anchor}; recorded FLOPs)"
)
outlying = [o["model"] for o in best.outliers()["models"]]
print("models far from their family's compute line:", outlying or "none")

# %% [markdown]
# ## Answer

# %%
row = loo.iloc[0]
runner_up = ""
if len(loo) > 1:
    runner_up = (
        f"; the next, {loo['spec'].iloc[1]}, is {-loo['elpd_diff'].iloc[1]:.0f} ± "
        f"{loo['dse'].iloc[1]:.0f} elpd behind"
    )
axes = [str(c) for c in best.posterior["capability"].to_numpy()]
anchors = ", ".join(f"{a} anchors {c}" for c, a in zip(axes, best.anchors, strict=False))
lines = [f"* {s}: {diagnostics_line(f.diagnostics)}" for s, f in fits.items()]
if ranked:
    lines += [
        f"* LOO (capabilities integrated out) chooses **{chosen}** (K = "
        f"{best.spec.capabilities}; elpd {row['elpd']:.0f} ± {row['se']:.0f}{runner_up}); "
        f"{int(row['n_bad_pareto_k'])} of {int(row['n_points'])} models have Pareto k > 0.7. "
        f"{anchors}.",
        f"* Effective-compute multiplier along the general axis (anchor {general_anchor}, "
        f"recorded FLOPs): **{top}** vs **{bottom}** {pair['median']:.1f} (90% interval "
        f"{pair['lower']:.1f} to {pair['upper']:.1f}); {top} vs {args.reference} "
        f"{top_vs_ref['median']:.1f} [{top_vs_ref['lower']:.1f}, {top_vs_ref['upper']:.1f}].",
    ]
else:
    lines.append(
        "* **No conclusion**: not every fit converged, or LOO is unreliable for more than 10% "
        "of the models, so K is not chosen and no multiplier is reported. Rerun with "
        "`--draws 4000 --tune 2000 --chains 4`."
    )
analysis.answer(
    f"""**Capability space of {data.sizes["model"]} base models on {data.sizes["benchmark"]} benchmarks**
({args.chains} chains x {args.draws} draws after {args.tune} tuning steps per spec)

"""
    + "\n".join(lines)
    + "\n",
    args.out,
)
