#!/usr/bin/env bash
# End-to-end account management on the dashboard in Debian's headless Chromium against
# ictal serve: password change, users and API tokens (tests/browser/accounts.mjs).
exec "${ICTAL_SOURCE_DIR:?}/tests/browser/run.sh" accounts dashboard-accounts.png
