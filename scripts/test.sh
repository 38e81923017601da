#!/usr/bin/env bash
# Set up (first time) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
. .venv/bin/activate
set +e
python -m pytest -q "$@"
code=$?
set -e
# Exit code 5 means the selection was empty (e.g. -m that matches nothing): not a failure.
if [ "$code" -eq 5 ]; then code=0; fi
exit "$code"
