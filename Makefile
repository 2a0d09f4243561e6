# zoning — `make demo` runs the main job on the shipped demo data, `make test` runs the test suite.
# Both create .venv with Python 3.11+ and install the package with what it needs.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH  := $(VENV)/.bench-installed

.PHONY: demo test fuzz lint bench notebooks clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# the benchmark peers (spopt, pulp with its CBC): only `make bench` needs them
$(BENCH): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH)

demo: $(STAMP)
	$(BIN)/zoning demo --out demo-output

# the test files run on up to two processes (one per core; a file's tests share one, with its fixtures):
# 9 min 0 s on one, 5 min 12 s on two on this 2-core machine
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --maxprocesses=2 --dist loadfile

# the property tests' long profile: many more generated and dirty cities, larger ones, a random seed
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q tests/test_properties.py --hypothesis-show-statistics

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP) $(BENCH)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/districts.py
	$(BIN)/python benchmarks/city.py
	$(BIN)/python benchmarks/gap.py
	$(BIN)/python benchmarks/map.py
	$(BIN)/python benchmarks/end_to_end.py --contiguity --no-overload --time-limit 60  # partition's default rules
	$(BIN)/python benchmarks/robustness.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
