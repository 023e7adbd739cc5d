#!/usr/bin/env bash
# Install what the report's browser test (tests/browser/) needs: headless Chromium from the Debian
# package `chromium` (/usr/bin/chromium) and the python package playwright in the virtualenv $1.
# Playwright drives the system chromium, so `playwright install` (a browser download) is not run.
# Without apt or root the test is skipped: this script says so in one line and exits 0.
set -euo pipefail
venv=${1:?usage: install_chromium.sh VENV}

if ! command -v chromium >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; then
            echo "install_chromium.sh: apt-get could not install chromium: the browser test of the report will be skipped"
            exit 0
        fi
    else
        echo "install_chromium.sh: no apt-get or not root: chromium not installed, the browser test of the report will be skipped"
        exit 0
    fi
fi
if ! "$venv/bin/python" -m pip install -q playwright; then
    echo "install_chromium.sh: pip could not install playwright: the browser test of the report will be skipped"
    exit 0
fi
echo "install_chromium.sh: $(chromium --version 2>/dev/null | head -n1); playwright $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("playwright"))')"
