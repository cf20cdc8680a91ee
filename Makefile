# make setup       set up .venv (GPU=1: with CUDA, requirements-gpu.txt)
# make demo        set up .venv, make the demo dataset, train on it (accuracy rises)
# make test        set up .venv and run the test suite (what CI runs)
# make bench       harness vs keras model.fit, VGG16 224x224 (minutes; not a test)
# make bench-input input-only vs real vs synthetic training on the demo data
# make report      table and figures (logs/plots/) from logs/*.json
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP = $(VENV)/.installed$(if $(filter 1,$(GPU)),-gpu,)
# GPU=1: TensorFlow's CUDA libraries too (requirements-gpu.txt).
GPU ?= 0
GPU_REQUIREMENTS := $(if $(filter 1,$(GPU)),-r requirements-gpu.txt,)
DEMO_DATA ?= demo_data

.PHONY: setup demo demo-synthetic test bench bench-input report clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-gpu.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt $(GPU_REQUIREMENTS)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(DEMO_DATA)/.complete: $(STAMP) preprocessing/demo.py
	$(PY) scripts/make_demo_dataset.py --output_dir=$(DEMO_DATA)
	touch $@

# vgg11_bn on the demo shapes at 32x32: training top-1 rises from chance
# (0.1) within minutes.  The softened crop suits small images of whole objects.
demo: $(STAMP) $(DEMO_DATA)/.complete
	$(PY) -m benchmarks --model=vgg11_bn --data_dir=$(DEMO_DATA) \
	    --num_classes=10 --image_size=32 --batch_size=32 --num_batches=180 \
	    --num_warmup_batches=2 --display_every=20 --optimizer=momentum \
	    --init_learning_rate=0.01 --dropout=0 --crop_area_range=0.6,1 \
	    --print_training_accuracy --eval_during_training_every_n_steps=45 \
	    --log_path=logs/demo.json

# VGG16 at 224x224 on synthetic data: the real network, a short run.
demo-synthetic: $(STAMP)
	$(PY) -m benchmarks --model=vgg16 --batch_size=8 --num_warmup_batches=3 \
	    --num_batches=12 --display_every=4 --optimizer=momentum \
	    --log_path=logs/demo_synthetic.json

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) scripts/bench_vs_keras_fit.py

bench-input: $(STAMP) $(DEMO_DATA)/.complete
	$(PY) scripts/bench_input.py --data_dir=$(DEMO_DATA)

report: $(STAMP)
	$(PY) scripts/report.py logs/*.json --plot_dir=logs/plots

clean:
	rm -rf $(VENV) logs .pytest_cache $(DEMO_DATA)
