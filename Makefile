# Two commands on a fresh machine: `make repro` (the pipeline on the synthetic cohort)
# and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch that lies on this kind of machine's disk; on a GPU machine use
# e.g. `make repro TORCH_SPEC=torch` to take the default (CUDA) build from PyPI.
TORCH_SPEC ?= torch==2.13.0
# The browser test of the HTML report drives Debian's Chromium (installed on first use).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: repro test bench clean-venv

$(BIN)/.sfv-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test,encoders]"
	touch $@

repro: $(BIN)/.sfv-installed
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

test: $(BIN)/.sfv-installed $(CHROMIUM)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q

bench: $(BIN)/.sfv-installed
	$(BIN)/sfv bench-synth --out reports/bench.json
	$(BIN)/sfv bench-audio --out reports/bench.json
	$(BIN)/sfv bench-geometry --out reports/bench.json
	$(BIN)/sfv bench-train --out reports/bench.json
	$(BIN)/sfv bench-reconstruct --out reports/bench.json
	$(BIN)/sfv bench-phonatory --out reports/bench.json
	$(BIN)/sfv bench-permutations --out reports/bench.json
	$(BIN)/sfv bench-embeddings --out reports/bench.json
	$(BIN)/sfv bench-vad --out reports/bench.json

clean-venv:
	rm -rf $(VENV)
