#!/usr/bin/env bash
# Install the Debian packages the tests use, when they are missing:
#   dataset-fashion-mnist  the real Fashion-MNIST files read by course_utils.data
#   chromium               the headless browser of tests/test_browser.py (driven by playwright)
#   bubblewrap             the grading sandbox (autograder/sandbox.py): grading needs it
#   postgresql             the server tests/test_parallel.py starts for a gradebook on PostgreSQL
# Needs root (or sudo); without it, says what to install and carries on.
# With arguments, installs only the packages named (the main job needs bubblewrap alone).
set -euo pipefail
PACKAGES=(dataset-fashion-mnist chromium bubblewrap postgresql)
[ $# -gt 0 ] && PACKAGES=("$@")

missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "setup: please install the Debian packages ${missing[*]} (tests that need them will fail)"
    exit 0
fi
echo "setup: installing Debian packages ${missing[*]}"
"${sudo[@]}" apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
