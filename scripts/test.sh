#!/usr/bin/env bash
# Sets up .venv and runs the whole test suite: ruff, mypy, pytest (which starts
# its own MLflow server on loopback). Extra arguments go to pytest.
RUNWAL_EXTRAS=dev
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
# The power-cut tests mount a FUSE filesystem of ours (tests/powercutfs.py): that needs
# fuse3's fusermount3 and libfuse3. As root we install it; a failed install fails here.
if ! command -v fusermount3 >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing fuse3 with apt-get (the power-cut tests mount a FUSE filesystem)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq fuse3 >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq fuse3 >/dev/null; }
    else
        echo "==> fuse3 is not installed and we are not root: the power-cut tests will skip"
    fi
fi
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
