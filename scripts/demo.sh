#!/usr/bin/env bash
# The main job: sets up .venv, then runs examples/demo.py: an example training
# run writes a WAL offline, a local MLflow server (SQLite) starts, `runwal sync`
# uploads the run, and the script prints where to look. Arguments go to demo.py.
RUNWAL_EXTRAS=test
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
exec python examples/demo.py "$@"
