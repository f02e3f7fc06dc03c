#!/usr/bin/env bash
# Create (or reuse) the course venv in .venv and install the pinned packages into it.
# Re-running is cheap: it reinstalls only when requirements.lock or pyproject.toml change.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

stamp="$VENV/.installed-$(cat requirements.lock pyproject.toml | sha1sum | cut -c1-16)"
if [ -f "$stamp" ]; then
    exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating the venv in $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
echo "setup: installing the pinned packages (requirements.lock); the first time takes a few minutes"
# pip, not uv: pip honours the machine's pip configuration (local wheel caches, constraints).
log="$VENV/setup.log"
pip_install() {
    "$VENV/bin/python" -m pip install --disable-pip-version-check "$@" >>"$log" 2>&1 || {
        tail -n 40 "$log"
        echo "setup: pip install failed; the whole log is in $log" >&2
        exit 1
    }
}
: >"$log"
pip_install -r requirements.lock
# The build requirement of pyproject.toml (a new venv has an older setuptools), then the
# course's package, editable.
build_requires=$("$VENV/bin/python" -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"])')
pip_install $build_requires
pip_install --no-deps --no-build-isolation -e .
# The instructor's side (autograder/) is not part of the package: the repository's root on
# the venv's path makes it importable from anywhere (nbgrader run from a course folder).
site_packages=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
pwd >"$site_packages/vae_course_instructor.pth"
# The students' kernels wait passively for their threads too (see nbgrader_config.py).
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 \
    --display-name "Python 3 (ipykernel)" --env OMP_WAIT_POLICY PASSIVE >>"$log" 2>&1
rm -f "$VENV"/.installed-*
touch "$stamp"
echo "setup: done ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
