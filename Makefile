# icgraph: the two commands of the README are `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: help install build serve test validate bench clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install icgraph with its test and analysis extras

build: install  ## Build the graph into the store (.icgraph/store)
	$(BIN)/icgraph build

serve: build  ## Set everything up and serve on http://$(HOST):$(PORT)
	$(BIN)/icgraph serve --host $(HOST) --port $(PORT)

test: install  ## Set everything up and run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

validate: install  ## Print the SHACL data-quality report
	$(BIN)/icgraph validate

bench: build  ## Run the benchmarks (results in bench/results/)
	$(BIN)/python -m bench

clean:  ## Remove the virtualenv, the store and the build directory
	rm -rf $(VENV) .icgraph build
