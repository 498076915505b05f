#!/bin/bash
# Regenerates src/cli/default_model.c (the default model compiled into the ictal binary,
# so that `ictal detect` works anywhere) from models/default.ictalmodel. The test
# test_detect_cli.sh fails when the two differ. Rebuild afterwards.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ictal="${ICTAL:-$root/build/ictal}"
(cd "$root" && "$ictal" model c-array models/default.ictalmodel --name ictal_default_model) \
    > "$root/src/cli/default_model.c.tmp"
mv "$root/src/cli/default_model.c.tmp" "$root/src/cli/default_model.c"
echo "wrote src/cli/default_model.c"
