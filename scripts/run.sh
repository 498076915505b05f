#!/usr/bin/env bash
# Sets up ictal and runs its main job on the bundled real recording
# (data/chb05_06_excerpt.edf: CHB-MIT, 23 channels, 181 s, a seizure at 37 s).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./build/ictal info data/chb05_06_excerpt.edf
