# The course's commands. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
# Students the main job grades at once: one per core by default.
WORKERS ?= $(shell nproc 2>/dev/null || echo 1)

.PHONY: help setup sandbox course test test-slow test-browser test-hub hub hub-stop lint format \
	bench lab lock release check-release validate validate-release collect grade feedback export report bundle

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup: ## create .venv and install the pinned packages (idempotent)
	@bash scripts/setup.sh

sandbox: ## install bubblewrap, the grading sandbox (Debian; needs root or sudo)
	@bash scripts/setup_system.sh bubblewrap

course: setup sandbox ## the main job: build the release, grade the example submissions, bundle
	@$(PY) -m autograder course --workers $(WORKERS) $(if $(ALL),--all) $(CASES)

test: setup ## the test suite (what CI runs)
	@bash scripts/setup_system.sh
	@$(PY) -m pytest

test-slow: setup ## the slow checks only: full training runs, benchmarks
	@$(PY) -m pytest -m slow

test-browser: setup ## JupyterLab in headless Chromium only; screenshots in artifacts/browser/
	@bash scripts/setup_system.sh
	@$(PY) -m pytest -m browser

test-hub: setup ## the class on a real JupyterHub, end to end in Chromium (root; minutes)
	@bash scripts/setup_system.sh
	@$(PY) -m pytest -n 0 -m hub tests/test_hub.py

# The course as a class on a real JupyterHub on this machine (hub/): root, Debian.
STUDENTS ?= 3
HUB_PORT ?= 8000

hub: setup ## start a JupyterHub class here: an instructor, STUDENTS=3 students (prints the logins)
	@bash scripts/setup_system.sh bubblewrap patchelf configurable-http-proxy
	@$(PY) -m hub up --students $(STUDENTS) --port $(HUB_PORT)

hub-stop: setup ## stop the hub and remove what `make hub` made (accounts, exchange, /opt/vae-hub)
	@$(PY) -m hub down

lint: setup ## ruff lint and format check
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup ## apply ruff's fixes and formatting
	@$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

bench: setup sandbox ## training throughput, threads next to a busy core, the sandbox's cost, parallel grading
	@$(PY) benchmarks/bench_training.py
	@$(PY) benchmarks/bench_threads.py
	@$(PY) benchmarks/bench_sandbox.py
	@$(PY) benchmarks/bench_grading.py

lab: setup ## open the course in JupyterLab
	@$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks

lock: setup ## re-pin requirements.lock from the current venv
	@{ sed -n '1,2p' requirements.lock; $(VENV)/bin/pip freeze --exclude-editable; } > requirements.lock.new
	@mv requirements.lock.new requirements.lock

# The instructor's commands: python -m autograder (autograder/__main__.py).
AG := $(PY) -m autograder

release: setup ## regenerate notebooks/ from solutions/ (and record it in the gradebook)
	@$(AG) release

check-release: setup ## fail if notebooks/ differs from a fresh release
	@$(AG) check-release

validate: setup sandbox ## run the solutions (every edition's): every test cell must pass
	@$(AG) validate

validate-release: setup sandbox ## run the release (every edition's): every test cell must fail, cleanly
	@$(AG) validate-release

collect: setup ## copy SUBMISSIONS=<folder or .zip> into build/submitted
	@$(AG) collect $(SUBMISSIONS)

grade: setup sandbox ## autograde SUBMISSIONS=<folder or .zip> (default: those collected)
	@$(AG) autograde $(SUBMISSIONS)

feedback: setup ## regenerate the HTML feedback of every graded submission
	@$(AG) feedback

export: setup ## export the grades: build/grades.csv (FORMAT=canvas or moodle: for an LMS)
	@$(AG) export $(if $(FORMAT),--format $(FORMAT))

report: setup ## class report in build/report (EXPECTED=<json> adds expected scores)
	@$(AG) report $(if $(EXPECTED),--expected $(EXPECTED))

bundle: setup ## zip what students get into build/student_bundle.zip
	@$(AG) bundle
