# `make run` and `make test` do all set-up on a fresh machine. The virtual
# environment is rebuilt only when pyproject.toml or constraints.txt change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run quick test bench clean

install: $(STAMP)

# pip's output goes to a log file: on some machines pip prints a warning for
# every package about a configured local index that does not exist.
$(STAMP): pyproject.toml constraints.txt
	@echo "Installing rnnpipe and its pinned dependencies into $(VENV) (log: $(VENV)/install.log)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --upgrade pip > $(VENV)/install.log 2>&1 || (tail -20 $(VENV)/install.log; exit 1)
	@$(BIN)/python -m pip install --constraint constraints.txt --editable ".[dev]" >> $(VENV)/install.log 2>&1 || (tail -20 $(VENV)/install.log; exit 1)
	@touch $(STAMP)

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
