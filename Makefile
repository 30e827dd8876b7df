# `make demo` and `make test` work on a fresh machine that has only python3:
# they create .venv, install the package (only when pyproject.toml changed), then run.
PY ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
BIN := $(VENV)/bin

.PHONY: demo test install bench clean live

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,ai,scale]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/surgeguard demo --out demo-output

test: $(STAMP)
	$(BIN)/python -m pytest -q

live: $(STAMP)
	bash scripts/install_services.sh
	bash scripts/live.sh

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_optimal.py

clean:
	rm -rf $(VENV) demo-output
