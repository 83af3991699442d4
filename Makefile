# `make run` and `make test` do all set-up on a fresh machine. The virtual
# environment is rebuilt only when pyproject.toml or constraints.txt change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run quick test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/rnnpipe run

quick: $(STAMP)
	$(BIN)/rnnpipe run --preset quick

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/plain_keras.py

clean:
	rm -rf $(VENV)
