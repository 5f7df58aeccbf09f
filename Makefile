# icgraph: the two commands of the README are `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-serve
DEV_STAMP := $(VENV)/.installed-dev
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: help install install-dev chromium build serve test validate bench soak clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# Serving needs icgraph and its runtime dependencies only; tests, analysis and benchmarks add the dev extra.
$(STAMP): pyproject.toml
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

install: $(STAMP)  ## Create .venv and install icgraph with what serving needs

install-dev: $(DEV_STAMP)  ## Add the test, analysis and benchmark extras

build: install  ## Build the graph into the store (.icgraph/store)
	$(BIN)/icgraph build

serve: build  ## Set everything up and serve on http://$(HOST):$(PORT)
	$(BIN)/icgraph serve --host $(HOST) --port $(PORT)

test: install-dev chromium  ## Set everything up and run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

chromium:  ## Install Debian's Chromium for the browser tests (as root, when missing)
	@[ -x /usr/bin/chromium ] || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium; } || { echo "Install Chromium: sudo apt-get install -y chromium"; exit 1; }

validate: install  ## Print the SHACL data-quality report
	$(BIN)/icgraph validate

bench: install-dev build  ## Run the benchmarks (results in bench/results/)
	$(BIN)/python -m bench

soak: install-dev build  ## Abandoned heavy queries, then a 3-minute soak at concurrency 32 (figures in bench/results/soak.json)
	$(BIN)/python -m bench.soak --out bench/results/soak.json

clean:  ## Remove the virtualenv, the store and the build directory
	rm -rf $(VENV) .icgraph build
