# Sourced by demo.sh and test.sh: make .venv with python3 and install runwal
# into it with the extras named in $RUNWAL_EXTRAS. Idempotent and quiet.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($PY --version)"
    "$PY" -m venv .venv
fi
stamp=".venv/.runwal-installed-${RUNWAL_EXTRAS}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "==> installing runwal[${RUNWAL_EXTRAS}] into .venv (first time takes a minute or two)"
    .venv/bin/python -m pip install -q --disable-pip-version-check -U pip
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[${RUNWAL_EXTRAS}]"
    touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
