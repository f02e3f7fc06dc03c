# The course's commands. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: help setup course test test-slow lint format bench lab lock

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup: ## create .venv and install the pinned packages (idempotent)
	@bash scripts/setup.sh

course: setup ## the course's main job: build and smoke-run what exists
	@$(PY) scripts/course.py

test: setup ## the test suite (what CI runs)
	@bash scripts/setup_system.sh
	@$(PY) -m pytest

test-slow: setup ## the slow checks only: full training runs, benchmarks
	@$(PY) -m pytest -m slow

lint: setup ## ruff lint and format check
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup ## apply ruff's fixes and formatting
	@$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

bench: setup ## training throughput against a plain PyTorch loop
	@$(PY) benchmarks/bench_training.py

lab: setup ## open the course in JupyterLab
	@$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks

lock: setup ## re-pin requirements.lock from the current venv
	@{ sed -n '1,2p' requirements.lock; $(VENV)/bin/pip freeze --exclude-editable; } > requirements.lock.new
	@mv requirements.lock.new requirements.lock
