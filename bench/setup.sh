#!/usr/bin/env bash
# Create bench/.venv: runwal (editable) plus the peers it is compared with.
#
# Kept apart from the main .venv because wandb and tensorboardX pin protobuf
# ranges that fight with mlflow's. mlflow is added too when it resolves next
# to them (set BENCH_MLFLOW=0 to skip); otherwise sync_bench.py runs from the
# main .venv, which has mlflow already.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null || py=python3
if [ ! -x "$here/.venv/bin/python" ]; then
    "$py" -m venv "$here/.venv"
fi
pip="$here/.venv/bin/python -m pip"
$pip install -q --upgrade pip
$pip install -q -e "$here/.." "wandb==0.31.0" "tensorboardX==2.6.5" "numpy" "psutil" "httpx"
if [ "${BENCH_MLFLOW:-1}" = "1" ]; then
    if ! $pip install -q "mlflow==3.17.2"; then
        echo "bench/setup.sh: mlflow==3.17.2 did not install next to wandb; use the main .venv for sync_bench.py" >&2
    fi
fi
$pip check || echo "bench/setup.sh: pip check reports conflicts (see above)" >&2
"$here/.venv/bin/python" -c "import wandb, tensorboardX, logwriter; print('bench venv ok: wandb', wandb.__version__, 'tensorboardX', tensorboardX.__version__)"
