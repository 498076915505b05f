#!/bin/bash
# `ictal train --protocol chbmit|siena DIR` on small trees laid out like the public data
# sets: CHB-MIT (chbNN/chbNN_MM.edf + chbNN-summary.txt) and Siena (PNxx/PNxx-N.edf +
# Seizures-list-PNxx.txt), built here from the epilepsy2bids header fixtures (random
# samples, 2 s) and the real chb05_06 excerpt renamed into two patients, with summary and
# seizure-list files written in each data set's own format. Needs ../shared (skips).
set -u
ICTAL=${ICTAL:?}
DATA=${ICTAL_SHARED:-}/data
if [ -z "${ICTAL_SHARED:-}" ] || [ ! -f "$DATA/chbmit-continuous/chb05_06_excerpt.edf" ]; then
    echo "../shared absent: skipped"; exit 77
fi
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
EXC=$DATA/chbmit-continuous/chb05_06_excerpt.edf

# --- CHB-MIT layout ------------------------------------------------------------------------
mkdir -p "$T/chbmit/chb01" "$T/chbmit/chb05" "$T/chbmit/chb07"
cp "$DATA/edf-synthetic-fixtures/chb01_01_sample.edf" "$T/chbmit/chb01/chb01_01.edf"
cp "$DATA/annotations/chbmit/chb01/chb01-summary.txt" "$T/chbmit/chb01/"
cp "$EXC" "$T/chbmit/chb05/chb05_06.edf"
cp "$EXC" "$T/chbmit/chb07/chb07_01.edf"
summary() { # patient record
    printf 'Data Sampling Rate: 256 Hz\n*************************\n\nFile Name: %s.edf\nFile Start Time: 22:21:25\nFile End Time: 22:24:26\nNumber of Seizures in File: 1\nSeizure Start Time: 37 seconds\nSeizure End Time: 152 seconds\n\n' "$2" > "$T/chbmit/$1/$1-summary.txt"
}
summary chb05 chb05_06
summary chb07 chb07_01
# a recording the summary does not list: skipped with a warning
cp "$EXC" "$T/chbmit/chb07/chb07_99.edf"

"$ICTAL" train --protocol chbmit "$T/chbmit" --neg-stride 1 --report "$T/chb.md" -q > "$T/chb.out" 2> "$T/chb.err"
rc=$?
cat "$T/chb.out"
check "chbmit protocol exits 0" "[ $rc -eq 0 ]"
check "unlisted recording skipped with a warning" "grep -q 'chb07_99.edf skipped' '$T/chb.err'"
check "report written" "[ -s '$T/chb.md' ]"
check "leave-one-patient-out, 3 folds" "grep -q 'Leave-one-patient-out' '$T/chb.md' && grep -q '3 folds' '$T/chb.md'"
check "3 recordings listed" "grep -q '^| chbmit | 3 |' '$T/chb.md'"
# each patient's seizure, held out, is alarmed by the model trained on the other patient
check "chb05_06 seizure alarmed" "grep -E '^\| chb05_06 \| chb05 \| 37.0 \| 152.0 \| [0-9.]+ \|' '$T/chb.md' >/dev/null"
check "chb07_01 seizure alarmed" "grep -E '^\| chb07_01 \| chb07 \| 37.0 \| 152.0 \| [0-9.]+ \|' '$T/chb.md' >/dev/null"
check "SzCORE columns" "grep -q 'SzCORE sens' '$T/chb.md'"

# --- Siena layout ----------------------------------------------------------------------------
mkdir -p "$T/siena/PN00" "$T/siena/PN05"
cp "$EXC" "$T/siena/PN00/PN00-1.edf"
cp "$DATA/edf-synthetic-fixtures/PN00-5_sample.edf" "$T/siena/PN00/PN00-5.edf"
cp "$EXC" "$T/siena/PN05/PN05-2.edf"
seizure_list() { # patient record
    printf '%s\r\n\r\nData Sampling Rate: 256 Hz\r\n\r\n\r\nSeizure n 1\r\nFile name: %s.edf\r\nRegistration start time: 10.00.00\r\nRegistration end time: 10.03.01\r\nSeizure start time: 10.00.37\r\nSeizure end time: 10.02.32\r\n\r\n' "$1" "$2" > "$T/siena/$1/Seizures-list-$1.txt"
}
seizure_list PN00 PN00-1
seizure_list PN05 PN05-2
"$ICTAL" train --protocol siena "$T/siena" --neg-stride 1 --report "$T/siena.md" -q > "$T/siena.out" 2> "$T/siena.err"
rc=$?
cat "$T/siena.out"
check "siena protocol exits 0" "[ $rc -eq 0 ]"
check "siena: 2 folds" "grep -q '2 folds' '$T/siena.md'"
check "siena: PN00-1 seizure at 37-152 s" "grep -qE '^\| PN00-1 \| PN00 \| 37.0 \| 152.0 \|' '$T/siena.md'"
check "siena: PN05-2 seizure alarmed" "grep -E '^\| PN05-2 \| PN05 \| 37.0 \| 152.0 \| [0-9.]+ \|' '$T/siena.md' >/dev/null"
check "siena: unlisted PN00-5 kept as seizure-free" "grep -q '^| siena | 3 |' '$T/siena.md'"

# --- errors ------------------------------------------------------------------------------------
mkdir -p "$T/empty"
"$ICTAL" train --protocol chbmit "$T/empty" -q > /dev/null 2> "$T/err"
rc=$?
check "empty tree: non-zero exit" "[ $rc -ne 0 ]"
check "empty tree: says why" "grep -q 'no recording' '$T/err'"
"$ICTAL" train --protocol tuh "$T/empty" > /dev/null 2>&1
check "unknown protocol: usage error" "[ $? -eq 2 ]"
exit $fail
