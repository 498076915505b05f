#!/usr/bin/env bash
# `ictal detect` and `ictal model` end to end: the bundled CHB-MIT recording in every
# output format, the built-in default model against models/default.ictalmodel, the C
# array compiled into a program, bad input, and (with ../shared) every EDF/BDF file
# under ../shared/data.
set -u
ICTAL=${ICTAL:-build/ictal}
SRC=${ICTAL_SOURCE_DIR:-.}
SHARED=${ICTAL_SHARED:-$SRC/../shared}
BUILD=${ICTAL_BUILD_DIR:-$(dirname "$ICTAL")}
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$1"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rec="$SRC/data/chb05_06_excerpt.edf"

# SzCORE TSV (default).
out=$("$ICTAL" detect "$rec" --out "$tmp"); rc=$?
check '[ $rc -eq 0 ]'
tsv="$tmp/chb05_06_excerpt_events.tsv"
check '[ -f "$tsv" ]'
check '[ "$(head -1 "$tsv")" = "$(printf "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration")" ]'
check 'awk -F"\t" "NR>1 && \$7 != \"181.00\" {exit 1}" "$tsv"'
check 'grep -q "18 channels at 256 Hz" <<<"$out"'
check 'grep -Eq "[0-9]+ seizures? detected" <<<"$out"'
# The TSV is what `ictal eval` reads, when it is there.
if "$ICTAL" eval --help >/dev/null 2>&1; then
    "$ICTAL" eval --help 2>&1 | grep -q -- "--ref-format" && {
        "$ICTAL" eval "$rec" "$tsv" --ref-format edf >"$tmp/eval.txt" 2>&1
        check '[ $? -eq 0 ]'
    }
fi

# JSON and EDF+.
"$ICTAL" detect "$rec" --out "$tmp" --format json --quiet; check '[ $? -eq 0 ]'
js="$tmp/chb05_06_excerpt_detections.json"
check 'jq -e ".channels | length == 18" "$js" >/dev/null'
check 'jq -e ".duration_s == 181" "$js" >/dev/null'
check 'jq -e ".hops == 361" "$js" >/dev/null'
check 'jq -e "[.events[] | .alarm_s >= .onset_s] | all" "$js" >/dev/null'
"$ICTAL" detect "$rec" --out "$tmp" --format edf --quiet; check '[ $? -eq 0 ]'
info=$("$ICTAL" info "$tmp/chb05_06_excerpt_detections.edf"); check '[ $? -eq 0 ]'
check 'grep -q "Seizure prob" <<<"$info"'
n_events=$(jq '.events | length' "$js")
if [ "$n_events" -gt 0 ]; then check 'grep -q "seizure (ictal detect)" <<<"$info"'; fi

# Same model, same events, whatever the source of the model; the threshold matters.
"$ICTAL" detect "$rec" --out "$tmp/a" --model "$SRC/models/default.ictalmodel" --quiet
check '[ $? -eq 0 ]' # the output folder is created
check 'cmp -s "$tsv" "$tmp/a/chb05_06_excerpt_events.tsv"'
"$ICTAL" detect "$rec" --out "$tmp/b" --threshold 1.0 --quiet; check '[ $? -eq 0 ]'
check '[ "$(cut -f3 "$tmp/b/chb05_06_excerpt_events.tsv" | tail -1)" = "bckg" ]'
# Montages: wearable (4 channels), a custom list, and one that matches nothing.
out=$("$ICTAL" detect "$rec" --out "$tmp" --montage wearable); check '[ $? -eq 0 ]'
check 'grep -q "4 channels at 256 Hz" <<<"$out"'
out=$("$ICTAL" detect "$rec" --out "$tmp" --montage "F7-T7,T7-P7"); check '[ $? -eq 0 ]'
check 'grep -q "2 channels at 256 Hz" <<<"$out"'
err=$("$ICTAL" detect "$rec" --out "$tmp" --montage "Xx1-Yy2" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ]'
check 'grep -q "no usable EEG channel" <<<"$err"'

# The built-in model is models/default.ictalmodel, byte for byte.
"$ICTAL" model c-array "$SRC/models/default.ictalmodel" --name ictal_default_model >"$tmp/dm.c"
check '[ $? -eq 0 ]'
check 'diff <(grep "^    0x" "$tmp/dm.c") <(grep "^    0x" "$SRC/src/cli/default_model.c") >/dev/null'
# The C array works as firmware would use it.
cat >"$tmp/fw.c" <<'EOF'
#include <stdio.h>
#include "ictal/model.h"
#include "dm.c"
int main(void) {
    ictal_model m;
    if (ictal_model_parse(&m, ictal_default_model, ictal_default_model_len, NULL) != 0) return 1;
    float x[32] = {0};
    float p = ictal_model_predict(&m, x);
    printf("%d %.6f\n", (int)m.info.n_features, (double)p);
    return !(p >= 0.0f && p <= 1.0f);
}
EOF
# Built from libictal's sources, as a firmware project would (no sanitizer runtime).
if cc -std=c11 -I"$SRC/include" -I"$tmp" "$tmp/fw.c" "$SRC/src/core/model.c" \
    "$SRC/src/core/error.c" -lm -o "$tmp/fw" 2>"$tmp/cc.txt"; then
    "$tmp/fw" >/dev/null; check '[ $? -eq 0 ]'
else
    bad "firmware C array does not compile: $(cat "$tmp/cc.txt")"
fi
out=$("$ICTAL" model info "$SRC/models/default.ictalmodel"); check '[ $? -eq 0 ]'
check 'grep -q "model, feature set 1" <<<"$out"'
check 'grep -q "models/README.md" <<<"$out"'
"$ICTAL" model info "$SRC/models/default.ictalmodel" --json | jq -e '.n_features == 22' >/dev/null
check '[ $? -eq 0 ]'

# Bad input.
"$ICTAL" detect >/dev/null 2>&1; check '[ $? -eq 2 ]'
"$ICTAL" detect "$rec" --format xml >/dev/null 2>&1; check '[ $? -eq 2 ]'
"$ICTAL" detect "$rec" --threshold 2 >/dev/null 2>&1; check '[ $? -eq 2 ]'
"$ICTAL" detect "$tmp/missing.edf" --out "$tmp" >/dev/null 2>&1; check '[ $? -eq 3 ]'
"$ICTAL" detect "$rec" --out "$SRC/data/chb05_06_excerpt.edf/x" >/dev/null 2>&1; check '[ $? -eq 3 ]'
head -c 3000 "$rec" >"$tmp/cut.edf"
"$ICTAL" detect "$tmp/cut.edf" --out "$tmp" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 1 -o $rc -eq 0 ]' # a cut file: an error or the records that are there
printf 'not a model at all' >"$tmp/bad.ictalmodel"
err=$("$ICTAL" detect "$rec" --model "$tmp/bad.ictalmodel" 2>&1); rc=$?
check '[ $rc -eq 1 ]'
check 'grep -q "magic" <<<"$err"'
"$ICTAL" model info "$tmp/bad.ictalmodel" >/dev/null 2>&1; check '[ $? -eq 1 ]'
"$ICTAL" model c-array "$SRC/models/default.ictalmodel" --name "9bad" >/dev/null 2>&1; check '[ $? -eq 2 ]'
# Without a file: the default model that detect uses; a missing file is exit 3.
"$ICTAL" model info --json | jq -e '.n_features == 22 and (.file | endswith("default.ictalmodel"))' >/dev/null; check '[ $? -eq 0 ]'
"$ICTAL" model info "$tmp/no-such.ictalmodel" >/dev/null 2>&1; check '[ $? -eq 3 ]'
"$ICTAL" detect --model "$tmp/no-such.ictalmodel" "$SRC/data/chb05_06_excerpt.edf" --out "$tmp" >/dev/null 2>&1; check '[ $? -eq 3 ]'

# Every EDF/BDF file under ../shared/data: processed, or refused with a reason; never a
# crash.
if [ -d "$SHARED/data" ]; then
    n=0
    while IFS= read -r f; do
        err=$("$ICTAL" detect "$f" --out "$tmp" --quiet 2>&1); rc=$?
        n=$((n + 1))
        check '[ $rc -eq 0 -o \( $rc -eq 1 -a -n "$err" \) ]'
        if [ $rc -eq 0 ]; then
            b=$(basename "$f"); b=${b%.*}
            check '[ -s "$tmp/${b}_events.tsv" ]'
        fi
    done < <(find "$SHARED/data" \( -iname '*.edf' -o -iname '*.bdf' \) | sort)
    check '[ $n -ge 30 ]'
    # Recordings in other formats (ictal/recording.h): the consumer-headset CSVs (the
    # wearable montage is derived from the Emotiv electrodes), Bonn single-channel text
    # (as recorded), CHB-MIT NumPy windows.
    for f in "$SHARED"/data/guinea-bissau-epilepsy/signal-*.csv.gz; do
        out=$("$ICTAL" detect "$f" --out "$tmp"); rc=$?
        check '[ $rc -eq 0 ]'
        check 'grep -q "4 channels at 128 Hz" <<<"$out"'
    done
    for set in S Z O N F; do
        f=$(ls "$SHARED/data/bonn/$set/" | head -1)
        out=$("$ICTAL" detect "$SHARED/data/bonn/$set/$f" --montage as-is --out "$tmp")
        check '[ $? -eq 0 ]'
        check 'grep -q "1 channel at 173.61 Hz" <<<"$out"'
    done
    "$ICTAL" detect "$SHARED/data/bonn/S/S001.txt" --out "$tmp" >/dev/null 2>&1
    check '[ $? -eq 1 ]' # one unnamed channel: no montage unless asked for as-is
    out=$("$ICTAL" detect "$SHARED"/data/chbmit-windows/chb01/ictal/chb01_03_ictal.npy --out "$tmp")
    check '[ $? -eq 0 ]'
    check 'grep -q "18 channels at 256 Hz" <<<"$out"'
else
    echo "SKIP part: ../shared absent"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
