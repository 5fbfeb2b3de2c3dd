#!/usr/bin/env bash
# Sets up .venv and runs the whole test suite: ruff, mypy, pytest (which starts
# its own MLflow server on loopback). Extra arguments go to pytest.
RUNWAL_EXTRAS=dev
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
# The filesystem tests mount real filesystems: a FUSE one of ours (tests/powercutfs.py:
# fuse3's fusermount3 and libfuse3) and sshfs over a private sshd (tests/sshmount.py).
# As root we install what is missing; a failed install fails here.
if ! command -v fusermount3 >/dev/null 2>&1 || ! command -v sshfs >/dev/null 2>&1 \
        || [ ! -x /usr/sbin/sshd ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing fuse3, sshfs and openssh-server with apt-get (filesystem tests)"
        export DEBIAN_FRONTEND=noninteractive
        pkgs="fuse3 sshfs openssh-server"
        apt-get install -y -qq $pkgs >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq $pkgs >/dev/null; }
    else
        echo "==> fuse3/sshfs/sshd missing and we are not root: the filesystem tests will skip"
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
