#!/usr/bin/env bash
# The engine's interpreter: $OPENPOA_PYTHON if set, else the repo's .venv (scripts/setup.sh makes it; it sees
# Debian's torch and adds tokenizers, gguf, jinja2), else Debian's /usr/bin/python3. enginePython() in
# inference/gateway/engine.ts makes the same choice for the TypeScript side.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${OPENPOA_PYTHON:-}" ]; then
  exec "$OPENPOA_PYTHON" "$@"
elif [ -x "$root/.venv/bin/python" ]; then
  exec "$root/.venv/bin/python" "$@"
else
  exec /usr/bin/python3 "$@"
fi
