#!/usr/bin/env bash
# `ictal info` on the bundled recording, the committed fixtures and (when ../shared is
# there) every EDF/BDF file under ../shared/data: exit codes, the human report and the
# JSON report (checked with jq).
set -u
ICTAL=${ICTAL:-build/ictal}
SRC=${ICTAL_SOURCE_DIR:-.}
FIX=${ICTAL_FIXTURES:-$SRC/tests/fixtures}
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$1"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out=$("$ICTAL" info "$SRC/data/chb05_06_excerpt.edf"); rc=$?
check '[ $rc -eq 0 ]'
check 'grep -q "EDF+C" <<<"$out"'
check 'grep -q "181 of 1 s" <<<"$out"'
check 'grep -Eq "FP1-F7 +Fp1-F7 +256" <<<"$out"'
check 'grep -Eq "37.0000 s +115.0000 s +seizure" <<<"$out"'
check 'grep -q "warnings     none" <<<"$out"'

# Usage and I/O errors.
"$ICTAL" info >/dev/null 2>&1; check '[ $? -eq 2 ]'
"$ICTAL" info --bogus "$SRC/data/chb05_06_excerpt.edf" >/dev/null 2>&1; check '[ $? -eq 2 ]'
"$ICTAL" info "$tmp/missing.edf" >/dev/null 2>&1; check '[ $? -eq 3 ]'
"$ICTAL" info --help | grep -q "usage: ictal info"; check '[ $? -eq 0 ]'
# The version is the build's (CMakeLists.txt project()).
"$ICTAL" --version | grep -Eqx "ictal [0-9]+\.[0-9]+\.[0-9]+"; check '[ $? -eq 0 ]'

# A deviation: record count -1 is a warning, an error with --strict.
cp "$FIX/edf/subsecond_starttime.edf" "$tmp/minus1.edf"
chmod u+w "$tmp/minus1.edf"
printf -- '-1      ' | dd of="$tmp/minus1.edf" bs=1 seek=236 conv=notrunc status=none
out=$("$ICTAL" info "$tmp/minus1.edf" 2>&1); rc=$?
check '[ $rc -eq 0 ]'
check 'grep -q "header says -1" <<<"$out"'
check 'grep -q "number of data records" <<<"$out"'
err=$("$ICTAL" info --strict "$tmp/minus1.edf" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ]'
check 'grep -q "byte 236, field .number of data records." <<<"$err"'
# Malformed: not an EDF file at all.
head -c 300 /dev/zero > "$tmp/zero.edf"
"$ICTAL" info "$tmp/zero.edf" >/dev/null 2>&1; check '[ $? -eq 1 ]'

if command -v jq >/dev/null; then
    j=$("$ICTAL" info --json "$FIX/edf/MB0400FU.EDF" "$FIX/edf/subsecond_starttime.edf" \
        "$FIX/edf/test_bdf_stim_channel.bdf" "$tmp/zero.edf"); rc=$?
    check '[ $rc -eq 1 ]'
    check '[ "$(jq -r ".files[0].variant" <<<"$j")" = "EDF+D" ]'
    check '[ "$(jq -r ".files[0].records" <<<"$j")" = "29" ]'
    check '[ "$(jq -r ".files[0].gaps | length" <<<"$j")" = "0" ]'
    check '[ "$(jq -r ".files[0].annotations[3].text" <<<"$j")" = "A1+A2 OFF" ]'
    check '[ "$(jq -r ".files[1].start" <<<"$j")" = "2020-01-24T04:05:56.394531" ]'
    check '[ "$(jq -r ".files[1].signals[0].normalized" <<<"$j")" = "Fp1" ]'
    check '[ "$(jq -r ".files[2].variant" <<<"$j")" = "BDF" ]'
    check '[ "$(jq -r ".files[2].signals[3].label" <<<"$j")" = "Status" ]'
    check '[ "$(jq -r ".files[3].ok" <<<"$j")" = "false" ]'
    check '[ "$(jq -r ".files[3].error.field" <<<"$j")" = "version" ]'
    # A path that is not UTF-8 still gets its entry (non-ASCII bytes as '?').
    bad=$(printf 'x\377.edf')
    cp "$FIX/edf/subsecond_starttime.edf" "$tmp/$bad"
    j=$("$ICTAL" info --json "$tmp/$bad" "$tmp/missing$bad" 2>/dev/null)
    check '[ "$(jq -r ".files | length" <<<"$j")" = "2" ]'
    check '[ "$(jq -r ".files[0].path" <<<"$j")" = "$tmp/x?.edf" ]'
    check '[ "$(jq -r ".files[1].ok" <<<"$j")" = "false" ]'
    check 'jq -r ".files[1].error.message" <<<"$j" | grep -q "missingx?.edf: cannot open"'
else
    echo "jq not installed: JSON checks skipped"
fi

# Every EDF/BDF file under ../shared/data, when it is there.
if [ -n "${ICTAL_SHARED:-}" ] && [ -d "$ICTAL_SHARED/data" ]; then
    n=0
    while IFS= read -r f; do
        n=$((n + 1))
        "$ICTAL" info "$f" >/dev/null 2>"$tmp/err"; rc=$?
        check '[ $rc -eq 0 ]' || cat "$tmp/err" >&2
        if command -v jq >/dev/null; then
            j=$("$ICTAL" info --json "$f")
            check '[ "$(jq -r ".files[0].ok" <<<"$j")" = "true" ]'
            check '[ "$(jq -r ".files[0].records > 0" <<<"$j")" = "true" ]'
        fi
    done < <(find "$ICTAL_SHARED/data" -type f \( -iname '*.edf' -o -iname '*.bdf' \) | sort)
    check '[ $n -ge 32 ]'
    if command -v jq >/dev/null; then
        j=$("$ICTAL" info --json "$ICTAL_SHARED/data/eegmmidb-S001/S001R03.edf")
        check '[ "$(jq -r ".files[0].warnings | length" <<<"$j")" = "2" ]'
        check 'jq -r ".files[0].warnings[1]" <<<"$j" | grep -q "byte 14216, signal 64, field .prefiltering."'
        check '[ "$(jq -r ".files[0].signals[63].normalized" <<<"$j")" = "Iz" ]'
    fi
    echo "ictal info read $n files from ../shared/data"
else
    echo "../shared/data absent: shared files skipped"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
