#!/usr/bin/env bash
# Install the Debian packages the tests use, when they are missing:
#   dataset-fashion-mnist  the real Fashion-MNIST files read by course_utils.data
#   chromium               the headless browser of tests/test_browser.py (driven by playwright)
#   bubblewrap             the grading sandbox (autograder/sandbox.py): grading needs it
#   postgresql             the server tests/test_parallel.py starts for a gradebook on PostgreSQL
#   patchelf               `make hub`: the users' copy of a private interpreter finds its libpython
#   configurable-http-proxy  JupyterHub's proxy (`make hub`, tests/test_hub.py), from the npm
#                          registry at the pinned version (Debian's npm when npm is missing):
#                          5.2.0 on Node 20 or later (5.3.0 pulls commander 15, which wants
#                          Node 22), 4.6.3 on Debian 12's Node 18
# Needs root (or sudo); without it, says what to install and carries on.
# With arguments, installs only the packages named (the main job needs bubblewrap alone).
set -euo pipefail
PACKAGES=(dataset-fashion-mnist chromium bubblewrap postgresql patchelf configurable-http-proxy)
[ $# -gt 0 ] && PACKAGES=("$@")

proxy_version() {
    local node_major
    node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    if [ "$node_major" -ge 20 ]; then echo 5.2.0; else echo 4.6.3; fi
}

npm_packages=()
for package in "${PACKAGES[@]}"; do
    if [ "$package" = configurable-http-proxy ]; then
        npm_packages+=(configurable-http-proxy)
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
[ ${#npm_packages[@]} -gt 0 ] && [ "$installed_proxy" = "$(proxy_version)" ] && npm_packages=()
[ ${#missing[@]} -eq 0 ] && [ ${#npm_packages[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "setup: please install the Debian packages ${missing[*]} and, from npm," \
        "${npm_packages[*]:+configurable-http-proxy@$(proxy_version)} (tests that need them will fail)"
    exit 0
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages ${missing[*]}"
    "${sudo[@]}" apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
if [ ${#npm_packages[@]} -gt 0 ]; then
    proxy="configurable-http-proxy@$(proxy_version)"  # for the Node the steps above left
    echo "setup: installing $proxy from the npm registry"
    "${sudo[@]}" npm install --global --no-fund --no-audit "$proxy" >/dev/null
fi
