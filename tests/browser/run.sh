#!/usr/bin/env bash
# Runs one browser test (tests/browser/NAME.mjs) against ICTAL in Debian's headless
# Chromium: skips (77) without node, npm or /usr/bin/chromium; installs the pinned npm
# packages from the committed lock files when node_modules is missing (CI starts clean;
# a lock on the directory keeps two tests from installing at once). The screenshot goes
# to the build tree, never into the repository.
# Usage: run.sh NAME SCREENSHOT.png
set -euo pipefail
src=${ICTAL_SOURCE_DIR:?}
ictal=${ICTAL:?}
name=${1:?test name}
shot="${ICTAL_BUILD_DIR:-$PWD}/${2:?screenshot name}"
if ! command -v node >/dev/null || ! command -v npm >/dev/null || [ ! -x /usr/bin/chromium ]; then
  echo "SKIP: node, npm or /usr/bin/chromium missing"
  exit 77
fi
for d in "$src/web" "$src/tests/browser"; do
  flock "$d" bash -c 'cd "$1" && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error' _ "$d"
done
exec node "$src/tests/browser/$name.mjs" "$ictal" "$src" "$shot"
