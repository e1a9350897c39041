# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Family compute efficiency on the bundled base-model table
#
# Fits a capability model to the 128 base models and reads off each family's
# effective-compute multiplier against Llama-2, with 90% intervals, and the models whose
# benchmark-implied capability sits far from their family's compute line.
#
# Run as a notebook (`jupytext --to notebook`) or as a script:
# `python analyses/family_efficiency.py --draws 500 --tune 1000 --chains 4 --out runs/family`.

# %%
import argparse
import sys
from pathlib import Path

from bayes_scaling import datasets
from bayes_scaling.estimator import CapabilityModel
from bayes_scaling.io import atomic_write_text
from bayes_scaling.plots import family_efficiency_plot

parser = argparse.ArgumentParser(description="Family compute efficiency (base-llm).")
parser.add_argument("--spec", default="k1")
parser.add_argument("--draws", type=int, default=500)
parser.add_argument("--tune", type=int, default=1000)
parser.add_argument("--chains", type=int, default=4)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", type=Path, default=Path("runs/family_efficiency"))
# In a notebook kernel sys.argv holds the kernel's own flags: use the defaults there.
args = parser.parse_args([] if "ipykernel" in sys.modules else None)

# %%
data = datasets.load("base-llm")
fit = CapabilityModel(args.spec).fit(
    data, draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed
)
print(fit.diagnostics.messages() or "converged")

# %% [markdown]
# Multiplier > 1: a FLOP of that family buys as much general capability as
# `multiplier` FLOPs of Llama-2.

# %%
eff = fit.family_efficiency("Llama-2").to_dataframe().sort_values("median")
print(eff[["median", "lower", "upper"]].round(2).to_string())
print("outlying models:", [o["model"] for o in fit.outliers()["models"]])

# %%
args.out.mkdir(parents=True, exist_ok=True)
atomic_write_text(args.out / "family_efficiency.csv", eff.to_csv())
family_efficiency_plot(fit).savefig(args.out / "family_efficiency.png", dpi=120)
