# make demo   set up .venv and run the main job on built-in (synthetic) data
# make test   set up .venv and run the test suite (what CI runs)
# make bench  harness vs keras model.fit, VGG16 224x224 (minutes; not a test)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# VGG16 at 224x224 on synthetic data: the real network, a short run.
demo: $(STAMP)
	$(PY) -m benchmarks --model=vgg16 --batch_size=8 --num_warmup_batches=3 \
	    --num_batches=12 --display_every=4 --optimizer=momentum \
	    --log_path=logs/demo.json

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) scripts/bench_vs_keras_fit.py

clean:
	rm -rf $(VENV) logs .pytest_cache
