#!/usr/bin/env bash
# Create .venv and install briefbot with its test tools. Idempotent; safe to re-run.
# CPU torch goes in first: otherwise pip may resolve sentence-transformers' torch
# requirement to a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
stamp=".venv/.briefbot-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "Installing briefbot into .venv (CPU torch first) ..." >&2
    python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
    python -m pip install --quiet --disable-pip-version-check -e ".[test]"
    touch "$stamp"
fi
