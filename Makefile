# Two commands build and check the whole study on a fresh machine (Python 3.11, pip, make):
#   make book   -- execute every notebook with papermill (full parameters) and build the HTML book
#   make test   -- unit tests + every notebook on its quick profile (papermill, then nbval --nbval-lax)
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

.PHONY: book test chapter sweep html bench check-offline clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON_BOOTSTRAP) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "error: Python 3.11 is required; set PYTHON_BOOTSTRAP=/path/to/python3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e .
	touch $(STAMP)

book: $(STAMP)
	$(PY) -m model.bookbuild notebooks $(CHAPTERS_DIR)
	$(MAKE) html

html: $(STAMP)
	$(PY) -m model.charts bundle book/_static/vega-bundle.js
	rm -rf book/_build
	$(VENV)/bin/jupyter-book build -W -n --keep-going book/
	$(PY) -m model.bookbuild check-offline book/_build/html

test: $(STAMP)
	$(PY) -m pytest -q
	$(PY) -m pytest -q --nbval-lax -p no:cacheprovider $(QUICK_DIR)

# Rerun one chapter with your own parameters and rebuild the HTML:
#   make chapter NB=kv_sizing ARGS="-p model llama-3-70b -p context_tokens 8192"
chapter: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make chapter NB=<notebook name without .ipynb> ARGS='-p name value ...'" >&2; exit 2; }
	$(PY) -m model.bookbuild notebooks $(CHAPTERS_DIR) --only $(NB) -- $(ARGS)
	$(MAKE) html

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf book/_build $(CHAPTERS_DIR) .build book/_static/vega-bundle.js
