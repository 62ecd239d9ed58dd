# Two commands from a fresh clone (only Python 3.11 and pip needed):
#   make demo       set up .venv, run the original demo (TF1 port), the TF2 port and the audit
#   make test       set up .venv, run the test suite but the whole-process end-to-end tests
#                   (pytest -m "not e2e": in-process, a few minutes)
#   make test-all   every test, the end-to-end ones too (hostile runs, signals, benchmark
#                   commands, start-up)
# CI (.ci/run) runs `make test-all` and `make test-configs` (the comparison tests with oneDNN
# off and capped at AVX2); `make bench-quick` is the benchmark's smoke run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= out
# Extra pytest flags, e.g. PYTEST_FLAGS=--durations=15 (what CI passes).
PYTEST_FLAGS ?=
export TF_CPP_MIN_LOG_LEVEL ?= 2
export MPLBACKEND ?= Agg

.PHONY: setup demo test test-all test-configs matrix bench bench-quick clean

# The tests that compare two implementations (parity, gradients, distribute,
# tiling, fast path, properties, audit, the bounds themselves, folder outputs
# against the float64 reference), run again in
# the CPU configurations other machines have by default: oneDNN off (Eigen, as
# on CPUs without AVX-512 VNNI/BF16, AVX-VNNI or AMX) and oneDNN capped at AVX2.
COMPARISON_TESTS := tests/test_audit_forward.py tests/test_audit_cli.py \
	tests/test_audit_cli_parity.py tests/test_audit_gradients.py tests/test_bounds.py \
	tests/test_legacy_graph.py tests/test_tf2_demo.py tests/test_tf2_distribute.py \
	tests/test_tf2_tiling.py tests/test_tf2_window_pool.py tests/test_bench_fast_path.py \
	tests/test_properties.py tests/test_legacy_original.py tests/test_tf2_keras_model.py \
	tests/test_audit_witnesses.py tests/test_audit_keras_checkpoints.py \
	tests/test_tf2_layers.py tests/test_tf2_layers_backends.py tests/test_tf2_registration.py \
	tests/test_tf2_fast_path.py tests/test_runners.py tests/test_audit_script.py \
	tests/test_examples.py tests/test_graph_bounds_linear.py tests/test_graph_bounds_elementwise.py \
	tests/test_graph_bounds_other.py tests/test_graph_bounds_demo.py \
	tests/test_tf2_batch_outputs.py::test_default_outputs_are_the_picture_and_the_output_array \
	tests/test_tf2_batch_outputs.py::test_all_three_outputs_agree_bit_for_bit

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
	$(PY) -m pytest -n 2 -q -m "not e2e" $(PYTEST_FLAGS)

test-all: $(STAMP)
	$(PY) -m pytest -n 2 -q $(PYTEST_FLAGS)

# The comparison tests' in-process cases: what differs between CPU
# configurations is the computation, not how a process starts or fails.
test-configs: $(STAMP)
	TF_ENABLE_ONEDNN_OPTS=0 $(PY) -m pytest -n 2 -q -m "not e2e" $(PYTEST_FLAGS) \
		$(COMPARISON_TESTS)
	TF_ENABLE_ONEDNN_OPTS=1 ONEDNN_MAX_CPU_ISA=AVX2 $(PY) -m pytest -n 2 -q -m "not e2e" \
		$(PYTEST_FLAGS) $(COMPARISON_TESTS)

matrix: $(STAMP)
	mkdir -p $(OUT)
	$(PY) -m migration_audit matrix --report $(OUT)/matrix

# The benchmarks are a package run from the repository root with `python -m`.
bench-quick: $(STAMP)
	mkdir -p $(OUT)
	$(PY) -m benchmarks.bench --quick --no-rss --json $(OUT)/bench-quick.json

# Both CPU configurations, each in its own subprocess, one table and one JSON.
bench: $(STAMP)
	$(PY) -m benchmarks.bench --configs onednn-off,onednn-on --json benchmarks/results.json \
		--plot benchmarks/results.png

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .hypothesis
