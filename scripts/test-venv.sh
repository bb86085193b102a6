#!/usr/bin/env bash
# Makes .build-venv, a Python virtual environment with gevent and pycares from PyPI (each with its own
# libev or c-ares), for the preload tests; prints its python. Does nothing when it is there already.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build-venv
if ! "$venv/bin/python" -c 'import gevent, pycares' 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check gevent==26.9.0 pycares==5.2.1 >&2
fi
echo "$(pwd)/$venv/bin/python"
