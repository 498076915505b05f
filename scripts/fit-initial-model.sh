#!/bin/bash
# Fits the initial development model (logistic regression on libictal's own features)
# on the real CHB-MIT windows in ../shared/data/chbmit-windows, writes
# models/default.ictalmodel and regenerates the copy embedded in the ictal binary
# (src/cli/default_model.c). `ictal train` replaces this model with a trained one; run
# scripts/embed-default-model.sh after replacing models/default.ictalmodel.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
ictal="${ICTAL:-$root/build/ictal}"
data="${ICTAL_SHARED:-$root/../shared}/data/chbmit-windows"
"$ictal" model fit-logistic --out "$root/models/default.ictalmodel" --rate 256 --k 2 \
    --ictal "$data"/chb01/ictal/*.npy "$data"/chb02/ictal/*.npy \
    --background "$data"/chb01/preictal_10s/*.npy "$data"/chb02/preictal_10s/*.npy
"$root/scripts/embed-default-model.sh"
