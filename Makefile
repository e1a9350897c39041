# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv with a Python >= 3.12 found on this machine and install the package.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs
LOG := $(VENV)/install.log

# First interpreter >= 3.12 among PATH names and pyenv installs; empty when there is none.
PYTHON_CANDIDATES := $(PYTHON) python3.13 python3.12 python3 \
	$(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3) \
	$(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3)
FIND_PYTHON := for c in $(PYTHON_CANDIDATES); do \
	p=$$(command -v $$c 2>/dev/null) || continue; \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; break; }; \
	done

.PHONY: help venv demo test docs lint bench analyses clean

help:
	@echo "make demo   set up .venv, install, fit the default model on the bundled base-model table (runs/demo/)"
	@echo "make test   set up .venv, install, run the test suite"
	@echo "make docs   set up .venv, install the docs extra, build the HTML docs (docs/_build/html)"
	@echo "make lint   ruff check and ruff format --check"
	@echo "make bench  speed benchmarks (bench/)"
	@echo "make analyses  execute the notebooks in analyses/ in place, with their outputs"
	@echo "               (DRAWS=, TUNE=, CHAINS=, TARGET_ACCEPT= override their sampler settings;"
	@echo "               NOTEBOOKS= picks some)"

$(STAMP): pyproject.toml
	@py=$$($(FIND_PYTHON)); \
	if [ -z "$$py" ]; then \
		echo "error: no Python >= 3.12 found (tried: python3.13, python3.12, python3, pyenv 3.12/3.13); install one or pass PYTHON=/path/to/python3.12"; \
		exit 1; \
	fi; \
	echo "using $$py ($$($$py -c 'import sys; print(sys.version.split()[0])'))"; \
	rm -rf $(VENV); \
	$$py -m venv $(VENV) >/dev/null 2>&1 || { echo "error: '$$py -m venv' failed; is the venv module installed?"; exit 1; }; \
	mkdir -p $(VENV); \
	echo "installing bayes-scaling and its test dependencies into $(VENV) (log: $(LOG))"; \
	{ $(PY) -m pip install --upgrade pip && $(PY) -m pip install -e '.[test]'; } > $(LOG) 2>&1 \
		|| { echo "error: installing the package failed ($$(grep -E '(^ERROR|Error:|error:)' $(LOG) | grep -v subprocess-exited | tail -n 1 | sed 's/^ *//')); full log in $(LOG)"; exit 1; }; \
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bayes-scaling demo --out runs/demo

test: $(STAMP)
	$(PY) -m ruff check bayes_scaling tests bench analyses
	$(PY) -m ruff format --check bayes_scaling tests bench analyses
	$(PY) -m pytest

# The docs extra on top of the test install; redone whenever .venv is rebuilt.
$(DOCS_STAMP): $(STAMP)
	@echo "installing the docs extra into $(VENV) (log: $(LOG))"
	@$(PY) -m pip install -e '.[docs]' >> $(LOG) 2>&1 \
		|| { echo "error: installing the docs extra failed; full log in $(LOG)"; exit 1; }
	@touch $(DOCS_STAMP)

# Pages, notebooks (committed outputs, not executed) and the API reference; any warning
# fails the build, after all of them are listed (--keep-going). -E: no stale environment
# hides a warning.
docs: $(DOCS_STAMP)
	$(PY) -m sphinx -W --keep-going -E -q -b html docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check bayes_scaling tests bench analyses

bench: $(STAMP)
	$(PY) bench/fit_speed.py

# Sampler settings of `make analyses`; empty: each notebook's own defaults.
DRAWS ?=
TUNE ?=
CHAINS ?=
TARGET_ACCEPT ?=
NOTEBOOKS ?=

analyses: $(STAMP)
	BAYES_SCALING_DRAWS=$(DRAWS) BAYES_SCALING_TUNE=$(TUNE) BAYES_SCALING_CHAINS=$(CHAINS) \
		BAYES_SCALING_TARGET_ACCEPT=$(TARGET_ACCEPT) \
		$(PY) analyses/_execute.py $(NOTEBOOKS)

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .hypothesis docs/_build docs/_notebooks
