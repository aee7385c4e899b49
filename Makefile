# The two commands: `make run` and `make test`. Everything the project needs is installed here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: run test install install-test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned: this exact CPU build is what the machine provides; any other spec
# makes pip pull a multi-GB CUDA build. Then the ONNX encoder (the default BERT backend) is
# exported once into the default cache folder, where every service and test finds it;
# without it the first start exports (30-60 s).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	$(BIN)/python -m processors.encoders export >/dev/null \
		|| echo "warning: ONNX export failed; the service will export at first start"
	touch $@

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,backfill]'
	touch $@

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

install: $(STAMP)
install-test: $(TEST_STAMP)

run: $(STAMP)
	$(BIN)/logclass serve

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q

# End-to-end benchmark (5-10 min): rewrites BENCHMARKS.md's section and its chart.
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.e2e

lint: $(TEST_STAMP)
	$(BIN)/ruff check app processors monitoring tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache
