# ketamine-sim: the two commands of the README's quickstart, and a few more.
#   make run    set up .venv and run the default experiment (ARGS="key=value ..." for overrides)
#   make test   set up .venv and run the test suite
#   make test-fast  the quick in-process tests: no C++ compiler, notebook kernel, docs build or slow test (2 workers)
#   make docs   set up .venv and build the documentation site into site/ (strict: broken links fail)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: run test test-fast docs bench setup clean

$(BIN)/ketamine-sim: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

setup: $(BIN)/ketamine-sim

run: setup
	$(BIN)/ketamine-sim $(ARGS)

test: setup
	$(BIN)/pytest $(ARGS)

test-fast: setup
	$(BIN)/pytest -m "not compiles and not notebook and not docs and not cli and not fuzz and not slow" -n 2 -q $(ARGS)

docs: setup
	$(BIN)/mkdocs build --strict

bench: setup
	$(BIN)/python benchmarks/bench_circuit.py $(ARGS)

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache site
