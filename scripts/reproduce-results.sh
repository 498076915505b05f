#!/bin/bash
# Retrains the default model and regenerates every report of docs/results.md, from the
# repository root, with the data in ../shared/data. Deterministic: a second run gives the
# same model bytes and the same reports. About 5 minutes on one core.
set -euo pipefail
cd "$(dirname "$0")/.."
I=${ICTAL:-build/ictal}
D=${ICTAL_DATA:-../shared/data}
run() { echo "+ $*" >&2; "$@"; }
run $I train -q --data "$D" --out models/default.ictalmodel
ICTAL=$I scripts/embed-default-model.sh
run $I train --data "$D" --cv lopo --report docs/results/lopo-double-banana.md
run $I train --data "$D" --cv lopo --montage wearable --report docs/results/lopo-wearable.md
run $I train --data "$D" --sets bonn --cv kfold --folds 10 --features all --report docs/results/bonn-10fold.md
run $I train --data "$D" --sets bonn --cv kfold --folds 10 --features all --unit segment --report docs/results/bonn-10fold-segment.md
run $I train --data "$D" --cv lopo --features all --agg max --report docs/results/lopo-all-features.md
# feature set 2, declared in advance (section 4c): the four evaluations above with --feature-set 2
run $I train --data "$D" --sets bonn --cv kfold --folds 10 --features all --feature-set 2 --report docs/results/bonn-10fold-set2.md
run $I train --data "$D" --sets bonn --cv kfold --folds 10 --features all --unit segment --feature-set 2 --report docs/results/bonn-10fold-segment-set2.md
run $I train --data "$D" --sets bonn --cv kfold --folds 10 --select --report docs/results/bonn-10fold-select.md
run $I train --data "$D" --cv lopo --feature-set 2 --report docs/results/lopo-double-banana-set2.md
run $I train --data "$D" --cv lopo --montage wearable --feature-set 2 --report docs/results/lopo-wearable-set2.md
# patient-specific (section 7): a generic model that never saw the patient, personalised
# on the patient's own recordings, each held out in turn
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
for m in double-banana wearable; do
    for p in chb01 chb02; do
        run $I train -q --data "$D" --montage $m --exclude-patient $p --out "$T/generic.model"
        run $I train -q --data "$D" --montage $m --mode patient --patient $p --init "$T/generic.model" \
            --cv loro --report docs/results/patient-$p-$m.md
    done
done
run $I train -q --data "$D" --evaluate models/default.ictalmodel --report docs/results/default-model.md
run $I train -q --data "$D" --montage wearable --evaluate models/default.ictalmodel --report docs/results/default-model-wearable.md
echo "rebuild (the default model is compiled in), then check docs/results.md against docs/results/" >&2
