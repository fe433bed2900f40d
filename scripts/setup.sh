#!/usr/bin/env bash
# Installs everything OpenPoA needs on a fresh Debian (bookworm) machine: the apt packages of the Python engine, the
# linters and the Studio's browser tests (Chromium), the npm dependencies with Node 22 (from the npm package `node`),
# then the engine's venv and the real model (scripts/setup-engine.sh). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3-torch python3-numpy python3-pytest python3-hypothesis python3-venv libopenblas0-pthread black flake8
  postgresql chromium fonts-liberation)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi

# Hardhat 3 needs Node >= 22; npm must run on Node 22 too, or it skips EDR's native package.
npx -y -p node@22.23.3 npm ci --no-audit --no-fund

# The engine's venv and the real model (scripts/setup-engine.sh; quick when done already).
bash scripts/setup-engine.sh
