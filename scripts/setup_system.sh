#!/usr/bin/env bash
# Install the Debian packages the tests use, when they are missing:
#   dataset-fashion-mnist  the real Fashion-MNIST files read by course_utils.data
#   chromium               the headless browser of tests/test_browser.py (driven by playwright)
#   bubblewrap             the grading sandbox (autograder/sandbox.py): grading needs it
#   postgresql             the server tests/test_parallel.py starts for a gradebook on PostgreSQL
#   patchelf               `make hub`: the users' copy of a private interpreter finds its libpython
#   configurable-http-proxy  JupyterHub's proxy (`make hub`, tests/test_hub.py), from the npm
#                          registry at the pinned version (Debian's npm when npm is missing)
# Needs root (or sudo); without it, says what to install and carries on.
# With arguments, installs only the packages named (the main job needs bubblewrap alone).
set -euo pipefail
PACKAGES=(dataset-fashion-mnist chromium bubblewrap postgresql patchelf configurable-http-proxy)
[ $# -gt 0 ] && PACKAGES=("$@")
PROXY_VERSION=5.3.0

npm_packages=()
for package in "${PACKAGES[@]}"; do
    if [ "$package" = configurable-http-proxy ]; then
        npm_packages+=("configurable-http-proxy@$PROXY_VERSION")
        PACKAGES=("${PACKAGES[@]/configurable-http-proxy}")
        command -v npm >/dev/null || PACKAGES+=(npm)
    fi
done

missing=()
for package in "${PACKAGES[@]}"; do
    [ -n "$package" ] || continue
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
installed_proxy=$(configurable-http-proxy --version 2>/dev/null || true)
[ ${#npm_packages[@]} -gt 0 ] && [ "$installed_proxy" = "$PROXY_VERSION" ] && npm_packages=()
[ ${#missing[@]} -eq 0 ] && [ ${#npm_packages[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "setup: please install the Debian packages ${missing[*]} and, from npm," \
        "${npm_packages[*]} (tests that need them will fail)"
    exit 0
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages ${missing[*]}"
    "${sudo[@]}" apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
if [ ${#npm_packages[@]} -gt 0 ]; then
    echo "setup: installing ${npm_packages[*]} from the npm registry"
    "${sudo[@]}" npm install --global --no-fund --no-audit "${npm_packages[@]}" >/dev/null
fi
