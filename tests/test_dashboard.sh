#!/usr/bin/env bash
# End-to-end: ictal serve + ictal replay (data/chb05_06_excerpt.edf at 10x) + the
# dashboard in Debian's headless Chromium (playwright-core). Installs the pinned npm
# packages from the committed lock files when node_modules is missing (CI starts
# clean). The screenshot goes to the build tree, never into the repository.
set -euo pipefail
src=${ICTAL_SOURCE_DIR:?}
ictal=${ICTAL:?}
if ! command -v node >/dev/null || ! command -v npm >/dev/null || [ ! -x /usr/bin/chromium ]; then
  echo "SKIP: node, npm or /usr/bin/chromium missing"
  exit 77
fi
for d in "$src/web" "$src/tests/browser"; do
  if [ ! -d "$d/node_modules" ]; then
    (cd "$d" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
shot="${ICTAL_BUILD_DIR:-$PWD}/dashboard-e2e.png"
node "$src/tests/browser/dashboard.mjs" "$ictal" "$src" "$shot"
