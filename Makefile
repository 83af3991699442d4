# `make run` and `make test` do all set-up on a fresh machine. The virtual
# environment is rebuilt only when pyproject.toml or constraints.txt change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# `make up PORT=4300 GPU_WORKER=1` serves on another port and starts a gpu worker too.
PORT ?= 4200
GPU_WORKER ?= 0

.PHONY: install run quick test bench clean up down deploy

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

test: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest

# The HTML report test opens report.html in Debian's headless Chromium. apt-get
# needs root, as in CI; elsewhere the rule runs it through sudo.
$(CHROMIUM):
	@echo "Installing Debian's chromium for the HTML report test (log: /tmp/rnnpipe-chromium-install.log)"
	@$(SUDO) apt-get update > /tmp/rnnpipe-chromium-install.log 2>&1 || (tail -20 /tmp/rnnpipe-chromium-install.log; exit 1)
	@DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium >> /tmp/rnnpipe-chromium-install.log 2>&1 || (tail -20 /tmp/rnnpipe-chromium-install.log; exit 1)

bench: $(STAMP)
	$(BIN)/python benchmarks/plain_keras.py

up: $(STAMP)
	$(BIN)/rnnpipe up --port $(PORT) $(if $(filter 1,$(GPU_WORKER)),--gpu-worker)

down:
	$(BIN)/rnnpipe down --port $(PORT)

deploy: $(STAMP)
	$(BIN)/rnnpipe deploy --port $(PORT)

clean:
	rm -rf $(VENV)
