#!/usr/bin/env bash
# Sets up .venv and runs the whole test suite: ruff, mypy, pytest (which starts
# its own MLflow server on loopback). Extra arguments go to pytest.
RUNWAL_EXTRAS=dev
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
echo "==> ruff"
ruff check src tests bench examples scripts
echo "==> mypy"
mypy
echo "==> pytest"
set +e
python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when it collected no tests: that is a failure for us.
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi
exit "$rc"
