#!/usr/bin/env bash
# Sets up ictal and runs its main job on the bundled real recording
# (data/chb05_06_excerpt.edf: CHB-MIT, 23 channels, 181 s, a seizure at 37 s):
# seizure detection, then scoring of the detections against the file's own annotation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=${ICTAL_OUT:-out}
./build/ictal detect data/chb05_06_excerpt.edf --out "$out"
./build/ictal eval data/chb05_06_excerpt.edf "$out/chb05_06_excerpt_events.tsv"
