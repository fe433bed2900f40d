#!/usr/bin/env bash
# The lent GPU's one run (issue 21): python3 there has torch, triton, transformers and peft but maybe not pytest,
# and no network. So, on this machine first:
#   bash inference/engine/gpu/run.sh --prepare      # pure-Python pytest wheels, unpacked into .cache/gpu-pylib
# then, through the device tool, from the repository root (about 5 minutes of its time, 8 at most):
#   run(command="bash inference/engine/gpu/run.sh", carry=[".cache/gpu-pylib"], timeout_s=540)
# Results go to $OUT (the tool brings them back): engine-gpu.json and engine-gpu-sweep.png, then committed as
# bench/results/engine-gpu.json and docs/engine-gpu-sweep.png. Other arguments pass to device_check.py.
set -euo pipefail
cd "$(dirname "$0")/../../.."
pylib=.cache/gpu-pylib
if [ "${1:-}" = "--prepare" ]; then
  rm -rf "$pylib" && mkdir -p "$pylib"
  # exact versions that support Python 3.12 (the GPU's) and need nothing compiled
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$pylib/wheels" \
    pytest==8.3.4 pluggy==1.5.0 iniconfig==2.0.0 packaging==24.2
  for wheel in "$pylib"/wheels/*.whl; do python3 -m zipfile -e "$wheel" "$pylib"; done
  rm -rf "$pylib/wheels"
  exit 0
fi
python3 -c 'import pytest' 2>/dev/null || export PYTHONPATH="$PWD/$pylib${PYTHONPATH:+:$PYTHONPATH}"
out="${OUT:-bench/results}"
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv || true
timeout 520 python3 inference/engine/gpu/device_check.py --out "$out/engine-gpu.json" \
  --chart "$out/engine-gpu-sweep.png" "$@"
