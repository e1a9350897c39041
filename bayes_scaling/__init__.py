"""Bayesian observational scaling laws for language models.

The package fits one hierarchical PyMC model that explains standard benchmark scores with
a few latent capabilities per model, family compute-efficiency random effects and sigmoid
links with chance floors, and forecasts downstream metrics with posterior predictive
intervals.

Examples
--------
>>> from bayes_scaling import datasets
>>> data = datasets.load("base-llm")
>>> data.sizes["model"]
128
"""

__version__ = "0.4.0"

__all__ = ["__version__"]
