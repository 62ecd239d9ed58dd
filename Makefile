# Two commands from a fresh clone (only Python 3.11 and pip needed):
#   make demo   set up .venv, run the original demo (TF1 port), the TF2 port and the audit
#   make test   set up .venv, run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= out
export TF_CPP_MIN_LOG_LEVEL ?= 2
export MPLBACKEND ?= Agg

.PHONY: setup demo test bench bench-quick clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	mkdir -p $(OUT)
	$(PY) -m legacy_tf1 --seed 0 --no-show --save $(OUT)/legacy_tf1.png --dump $(OUT)/legacy_tf1.npz
	$(PY) -m tf2 --seed 0 --no-show --save $(OUT)/tf2.png --dump $(OUT)/tf2.npz
	$(PY) -m migration_audit --seed 0 --report $(OUT)/audit

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

bench-quick: $(STAMP)
	mkdir -p $(OUT)
	$(PY) benchmarks/bench.py --quick --json $(OUT)/bench-quick.json

bench: $(STAMP)
	$(PY) benchmarks/bench.py --json benchmarks/results.json

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .hypothesis
