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
# # Forecasting a model before it is trained
#
# A lab plans a model at 10 times the training compute of its family's largest member:
# what benchmark scores should it expect, and how sure can it be? And what if the model
# comes from a family the fit has never seen? We fit the capability model to the 128
# base models, place the planned models from family and compute alone, and check the
# method by hiding the scores of a family's largest member (and then of its whole family)
# and forecasting them the same way.
#
# The committed outputs were made by `make analyses` with this notebook's defaults: spec
# `k2`, family Llama-2, 4 chains x 2000 draws after 1000 tuning steps, seed 0.
# Every fit prints one `diagnostics:` line; the answer draws no conclusion from a fit that
# is NOT converged (R-hat > 1.01, ESS < 400, divergences). The defaults (the
# package's own) converged for every fit when committed.

# %%
import warnings

import numpy as np
import pandas as pd

from bayes_scaling import analysis, datasets
from bayes_scaling.curves import predict_scores, summarise_samples
from bayes_scaling.diagnostics import SamplerWarning, diagnostics_line, print_diagnostics
from bayes_scaling.estimator import CapabilityModel
from bayes_scaling.forecast import calibration_report, forecast, split_family
from bayes_scaling.io import atomic_write_text
from bayes_scaling.plots import predicted_scores_plot

args = analysis.settings(
    "forecast_a_new_model",
    draws=2000,
    tune=1000,
    chains=4,
    options={"spec": "k2", "family": "Llama-2", "factor": "10", "checks": "member,family"},
    description="Forecast a planned model from family and compute.",
)
print({k: v for k, v in vars(args).items() if k != "fit_kwargs"})
# Convergence problems are printed with each fit below rather than warned about.
warnings.simplefilter("ignore", SamplerWarning)

# %% [markdown]
# ## The fit and the planned models
#
# Every model with compute sits on its family's line `S = alpha_family + log10 FLOPs`
# plus a model-level residual; a planned model draws its residual, and a model of an
# unseen family also draws its family effect from the population of families.

# %%
bench = datasets.load("base-llm")
fit = CapabilityModel(args.spec).fit(bench, **args.fit_kwargs, warn=False)
d = print_diagnostics(fit.diagnostics, args.spec)
for message in d.messages():
    print("   ", message)

flops = bench["flops"].to_series()
members = flops[bench["family"].to_series() == args.family].dropna()
largest = str(members.idxmax())
planned_log10 = float(np.log10(members.max() * float(args.factor)))
names = [
    f"{args.family} at {float(args.factor):g}x {largest.split('/')[-1]}",
    "unseen family, same compute",
]
cap = fit.capability_from_compute(
    [args.family, "<unseen family>"],
    [planned_log10, planned_log10],
    np.random.default_rng(args.seed),
    names=names,
)
print(
    f"largest {args.family} model: {largest} ({members.max():.3g} FLOPs); "
    f"planned: {10**planned_log10:.3g} FLOPs"
)

# %% [markdown]
# ## General capability of the planned models
#
# In decades of effective compute (log10 FLOPs of a model of average family efficiency):
# posterior median and 90% interval, next to the largest existing member.

# %%
general = summarise_samples(cap.sel(capability="general") + fit.x_mean).to_dataframe()
existing = fit.capabilities().sel(capability="general", model=largest)
general.loc[f"{largest} (existing)", ["mean", "median", "lower", "upper"]] = [
    float(existing["mean"]),
    np.nan,
    float(existing["lower"]),
    float(existing["upper"]),
]
print(general[["median", "lower", "upper", "mean"]].round(2).to_string())

# %% [markdown]
# ## Predicted benchmark scores
#
# Posterior predictive median and 90% interval (measurement noise included) of every
# benchmark, in accuracy (0 to 1), with the largest existing member's observed scores.

# %%
pred = predict_scores(fit, cap, level=0.9, seed=args.seed)
atomic_write_text(args.out / "planned.csv", pred.to_csv(index=False))
raw = bench["lower"] + bench["score"] * (bench["upper"] - bench["lower"])
observed = raw.sel(model=largest).to_series()
print(pred.pivot(index="column", columns="model", values="median").round(3).to_string())
fig = predicted_scores_plot(
    pred,
    observed={f"{largest.split('/')[-1]} (observed)": observed},
    title=f"Forecast benchmark scores at {10**planned_log10:.2g} training FLOPs "
    "(median, 90% interval)",
)
analysis.show(fig, args.out / "planned.png")

# %% [markdown]
# ## Would it have worked? Two checks on existing models
#
# `member`: the largest member's scores are hidden and it is forecast from its family and
# compute (a family seen through its smaller models). `family`: every model of the family
# is hidden, so the family is effectively unseen. Each check is a separate fit with
# `forecast(..., route="compute")`.

# %%
checks = {}
wanted = [c.strip() for c in args.checks.split(",") if c.strip()]
for check in wanted:
    hidden = [largest] if check == "member" else split_family(bench, args.family)
    test = [m for m in hidden if np.isfinite(flops[m])]
    # Hidden models without compute cannot be forecast from it: leave them out entirely.
    keep = [str(m) for m in bench["model"].to_numpy() if m in test or m not in hidden]
    res = forecast(
        bench.sel(model=keep), None, test, route="compute", spec=args.spec, **args.fit_kwargs
    )
    t = res.table[res.table["model"] == largest]
    checks[check] = {
        **calibration_report(t),
        "max_rhat": res.fit.diagnostics.max_rhat,
        "diagnostics": res.fit.diagnostics,
        "table": t,
    }
    t = t.assign(
        check=check, inside_90=(t["observed"] >= t["lower"]) & (t["observed"] <= t["upper"])
    )
    print_diagnostics(res.fit.diagnostics, f"{check} ({largest})")
    print(
        t[["metric", "observed", "median", "lower", "upper", "inside_90"]]
        .round(3)
        .to_string(index=False)
    )
if checks:
    table = pd.concat([c["table"].assign(check=k) for k, c in checks.items()], ignore_index=True)
    atomic_write_text(args.out / "checks.csv", table.to_csv(index=False))

# %% [markdown]
# ## Answer


# %%
def interval(model: str, column: str) -> str:
    r = pred[(pred["model"] == model) & (pred["column"] == column)].iloc[0]
    return f"{r['median']:.2f} [{r['lower']:.2f}, {r['upper']:.2f}]"


g = general
lines = [f"* {args.spec}: {diagnostics_line(d)}"]
if not d.ok:
    lines.append(
        "* **No conclusion**: the fit is not converged, so the planned models are not "
        "placed here. Rerun with `--draws 4000 --tune 2000 --chains 4`."
    )
planned = [
    f"* **{names[0]}** ({10**planned_log10:.2g} FLOPs): general capability "
    f"{g.loc[names[0], 'median']:.2f} [{g.loc[names[0], 'lower']:.2f}, "
    f"{g.loc[names[0], 'upper']:.2f}] decades of effective compute (the existing {largest} is "
    f"at {float(existing['mean']):.2f}); MMLU {interval(names[0], 'MMLU')}, GSM8K "
    f"{interval(names[0], 'GSM8K')}, HumanEval {interval(names[0], 'HumanEval')}.",
    f"* **{names[1]}**: general capability {g.loc[names[1], 'median']:.2f} "
    f"[{g.loc[names[1], 'lower']:.2f}, {g.loc[names[1], 'upper']:.2f}]; MMLU "
    f"{interval(names[1], 'MMLU')}, GSM8K {interval(names[1], 'GSM8K')}, HumanEval "
    f"{interval(names[1], 'HumanEval')}: the interval of general capability is "
    f"{(g.loc[names[1], 'upper'] - g.loc[names[1], 'lower']) / (g.loc[names[0], 'upper'] - g.loc[names[0], 'lower']):.1f} "
    f"times as wide.",
]
if d.ok:
    lines += planned
WHOSE = {"member": "its own", "family": "its whole family's"}
for check, c in checks.items():
    if not c["diagnostics"].ok:
        lines.append(f"* Check `{check}`: {diagnostics_line(c['diagnostics'])}: no conclusion.")
        continue
    lines.append(
        f"* Check `{check}` ({largest} forecast from compute with "
        f"{WHOSE.get(check, check)} scores hidden): "
        f"{round(c['coverage'] * c['n'])} of {c['n']} benchmarks inside the 90% interval, "
        f"MSE {c['mse']:.4f} ({diagnostics_line(c['diagnostics'])})."
    )
analysis.answer(
    f"**Forecast of a planned model** (spec {args.spec}, {args.chains} chains x {args.draws} "
    f"draws after {args.tune} tuning steps; scores are "
    f"accuracies, 0 to 1, median and 90% interval)\n\n" + "\n".join(lines),
    args.out,
)
