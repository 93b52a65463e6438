# The README's two commands, `make demo` and `make test`, each set up the virtual environment they need first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test bench bench-full screenshot clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(INSTALLED)
	$(BIN)/paroma-watermark demo

test: $(INSTALLED)
	$(BIN)/python -m pytest

bench: $(INSTALLED)
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_ledger.py
	$(BIN)/python benchmarks/bench_server.py

bench-full: $(INSTALLED)
	$(BIN)/python benchmarks/bench_engine.py --slices 300

screenshot: $(INSTALLED)
	cd Testing && QT_QPA_PLATFORM=offscreen ../$(BIN)/python panel_scenario.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
