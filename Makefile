# Two commands build and check the whole study on a fresh machine (Python 3.11, pip, make):
#   make book   -- execute every notebook with papermill (full parameters, BOOK_JOBS at a time) and build the HTML book
#   make test   -- unit tests + every notebook on its quick profile, executed once (papermill), what-if reruns included
# and, when there is time:
#   make test-all  -- the same plus the tests marked slow, then nbval --nbval-lax over the executed notebooks
#   make record    -- recompute the heavy runs the book reads from data/records/ (NAME=<record> for one)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON_BOOTSTRAP ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
CHAPTERS_DIR := book/chapters
QUICK_DIR := .build/quick
NB ?=
ARGS ?=

.PHONY: book test test-all record chapter sweep list html bench check-offline check-charts lab mutation clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON_BOOTSTRAP) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "error: Python 3.11 is required; set PYTHON_BOOTSTRAP=/path/to/python3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e .
	touch $(STAMP)

book: $(STAMP)
	$(PY) -m model.book.build notebooks $(CHAPTERS_DIR)
	$(MAKE) html

html: $(STAMP)
	$(PY) -m model.book.charts bundle book/_static/vega-bundle.js
	$(PY) -m model.book.assets book/_static
	rm -rf book/_build
	$(VENV)/bin/jupyter-book build -W -n --keep-going book/
	$(PY) -m model.book.build check-offline book/_build/html

test: $(STAMP)
	$(PY) -m pytest -q

test-all: $(STAMP)
	$(PY) -m pytest -q -m "slow or not slow"
	$(PY) -m pytest -q --nbval-lax -p no:cacheprovider $(QUICK_DIR)

# Recompute the records of heavy runs (data/records/<name>/, with the fingerprint of the code and data they
# depend on; a test fails when one is stale):  make record  |  make record NAME=chat_fleet
NAME ?=
record: $(STAMP)
	$(PY) -m model.book.records make $(NAME)

# A failed `make chapter` or `make sweep` ends with its own one-line summary, not make's "Error 1": the command
# writes the summary to $(FAILED_NOTE) and always exits 0 (its status kept in the note), and the target's
# recipe, expanded only after that, stops make with the note ("Makefile:NN: *** <summary>.  Stop.", status 2).
FAILED_NOTE := .build/failed/make-note.txt
define noted
rm -f $(FAILED_NOTE); status=0; $(1) --failure-note $(FAILED_NOTE) -- $(ARGS) || status=$$?; \
if [ $$status -ne 0 ] && [ ! -s $(FAILED_NOTE) ]; then mkdir -p $(dir $(FAILED_NOTE)); \
  echo "$(2) stopped with exit status $$status" > $(FAILED_NOTE); fi
endef
stop_on_note = $(if $(strip $(file < $(FAILED_NOTE))),$(error $(strip $(file < $(FAILED_NOTE)))))

# Rerun one chapter with your own parameters and rebuild the HTML (progress cell by cell; the HTML build's log
# in .build/logs/, shown only when it fails; at the end the page's findings and its path):
#   make chapter NB=kv_sizing ARGS="-p model llama-3-70b -p context_tokens 8192"
# (the HTML build is named through HTML_BUILD, not $(MAKE) in the recipe, so that `make -n chapter` runs nothing)
HTML_BUILD = $(MAKE) --no-print-directory html
.PHONY: chapter-run sweep-run
chapter: chapter-run
	@$(stop_on_note)
chapter-run: $(STAMP)
	$(if $(NB),,$(error usage: make chapter NB=<notebook name without .ipynb> ARGS='-p name value ...'))
	@$(call noted,$(PY) -m model.book.build chapter $(NB) $(CHAPTERS_DIR) --html "$(HTML_BUILD)",make chapter)

# Rerun one chapter once per value of one parameter and stack one of its tables into one CSV:
#   make sweep NB=economics PARAM=gpu_provider VALUES="aws lambda runpod vast" TABLE=economics_headline.csv \
#        ARGS="-p gpu_pricing null"
# The result goes to $(SWEEP_DIR)/ (ignored by git) unless OUT=path is given. The table and every value are
# checked before the first run; a failed value does not stop the others, whose rows are kept.
SWEEP_DIR := .build/sweeps
sweep: sweep-run
	@$(stop_on_note)
sweep-run: $(STAMP)
	$(if $(and $(NB),$(PARAM),$(VALUES),$(TABLE)),,$(error usage: make sweep NB=<notebook> PARAM=<name> VALUES='v1 v2 ...' TABLE=<table.csv> [OUT=<result.csv>] [ARGS='-p name value ...']))
	@$(call noted,$(PY) -m model.book.build sweep $(NB) $(PARAM) $(VALUES) --table $(TABLE) --out $(or $(OUT),$(SWEEP_DIR)/$(NB)_$(PARAM).csv),make sweep)

# List what there is to choose from (models, GPUs, KV-cache tiers, number formats, GPU prices, each chapter's
# parameters with their defaults, units and allowed values):
#   make list  |  make list WHAT=models  |  make list WHAT="parameters kv_sizing"  |  make list WHAT="gpus --json"
WHAT ?=
list: $(STAMP)
	@$(PY) -m model list $(WHAT)

# Open every built page with a chart in headless Chromium and check that the charts drew (installs
# Debian's chromium first when run as root with apt-get and no browser is found).
check-charts: $(STAMP)
	$(PY) tests/e2e/check_charts.py book/_build/html

# JupyterLab on notebooks/ with the study's environment (tables a notebook writes there go to the ignored
# notebooks/tables/); LAB_ARGS="--port 8890" etc. are passed on.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

# Mutation testing of the model's core (mutmut): score per module and the survivors; fails below 85%.
# Not in CI; modules run one per CPU at a time (one mutmut worker each), and the run ends with its wall and CPU
# time. `tests/mutation/run_mutation.py --rescore` re-scores after editing tests/mutation/equivalent.md,
# `--only model/kv/size.py` runs one module.
mutation: $(STAMP)
	$(PY) tests/mutation/run_mutation.py --threshold 85 --jobs $$(nproc)

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf book/_build $(CHAPTERS_DIR) .build book/_static/vega-bundle.js book/_static/dt_bundle_loader.js book/_static/dt_bundle.css book/_static/mathjax
