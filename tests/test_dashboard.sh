#!/usr/bin/env bash
# End-to-end: ictal serve + ictal replay (data/chb05_06_excerpt.edf at 10x) + the
# dashboard in Debian's headless Chromium (playwright-core): sign-in, live view, alarm
# acknowledged, past session reviewed (tests/browser/dashboard.mjs).
exec "${ICTAL_SOURCE_DIR:?}/tests/browser/run.sh" dashboard dashboard-e2e.png
