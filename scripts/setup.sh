#!/usr/bin/env bash
# Installs the Debian packages ictal needs (scripts/debian-packages.txt) and builds it
# into build/. Run as root on Debian 12; packages already installed are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t pkgs < <(grep -v '^\s*#' scripts/debian-packages.txt | grep -v '^\s*$')
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages and not root; run: sudo $0" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"

# The dashboard's npm packages (pinned by web/package-lock.json), served by ictal serve.
if [ ! -d web/node_modules ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
