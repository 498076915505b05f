#!/bin/bash
# `ictal train` end to end on real recordings: usage errors, determinism (same data, same
# model bytes, for both model kinds), patient-specific training on top of a generic model,
# and a leave-one-record-out run with its report. Needs ../shared (skips).
set -u
ICTAL=${ICTAL:?}
DATA=${ICTAL_SHARED:-}/data
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

"$ICTAL" train --help > "$T/help"
check "--help exits 0" "[ $? -eq 0 ] && grep -q -- '--protocol' '$T/help'"
"$ICTAL" train > /dev/null 2>&1
check "no data: usage error" "[ $? -eq 2 ]"
"$ICTAL" train --type forest --out x > /dev/null 2>&1
check "bad --type: usage error" "[ $? -eq 2 ]"
"$ICTAL" train --mode patient --out x y.edf > /dev/null 2>&1
check "--mode patient without --patient: usage error" "[ $? -eq 2 ]"
check "--help documents --unit segment" "grep -q -- '--unit hop|segment' '$T/help'"
"$ICTAL" train --unit cell --cv kfold --data x > /dev/null 2>&1
check "bad --unit: usage error" "[ $? -eq 2 ]"
"$ICTAL" train --unit segment --data x --out y > /dev/null 2>&1
check "--unit segment without --cv, with --out: usage error" "[ $? -eq 2 ]"
"$ICTAL" train --unit segment --cv kfold --data x --out y > /dev/null 2>&1
check "--unit segment writes no model: usage error" "[ $? -eq 2 ]"
for opt in "--window 8" "--feature-set 2" "--features all" "--unit segment" "--init m"; do
    "$ICTAL" train --select $opt --cv kfold --data x > /dev/null 2> "$T/err"
    check "--select with $opt: usage error" "[ $? -eq 2 ] && grep -q 'chooses the feature set' '$T/err'"
done
"$ICTAL" train --out "$T/x" /nonexistent/rec.edf > /dev/null 2> "$T/err"
check "missing recording: I/O error naming it" "[ $? -eq 3 ] && grep -q rec.edf '$T/err'"

if [ -z "${ICTAL_SHARED:-}" ] || [ ! -f "$DATA/chbmit-continuous/chb05_06_excerpt.edf" ]; then
    echo "../shared absent: real-data part skipped"; exit $fail
fi
EXC=$DATA/chbmit-continuous/chb05_06_excerpt.edf
cp "$EXC" "$T/chb05_06.edf"
cp "$EXC" "$T/chb07_01.edf"
RECS="$T/chb05_06.edf $T/chb07_01.edf $DATA/eegmat-rest/Subject00_1.edf $DATA/eegmat-rest/Subject01_1.edf"
for kind in xgb logreg; do
    "$ICTAL" train -q --type $kind --out "$T/a.$kind" $RECS > /dev/null 2>&1
    r1=$?
    "$ICTAL" train -q --type $kind --out "$T/b.$kind" $RECS > /dev/null 2>&1
    check "$kind: trains" "[ $r1 -eq 0 ] && [ -s '$T/a.$kind' ]"
    check "$kind: same data, same bytes" "cmp -s '$T/a.$kind' '$T/b.$kind'"
    check "$kind: ictal model file" "[ \"\$(head -c 8 '$T/a.$kind')\" = ICTALMDL ]"
done
# patient-specific on top of the generic model: the generic trees plus new ones
"$ICTAL" train -q --mode patient --patient chb05 --init "$T/a.xgb" --rounds 10 --out "$T/p.xgb" $RECS > /dev/null 2> "$T/err"
check "patient-specific from the generic model" "[ $? -eq 0 ] && [ \$(stat -c %s '$T/p.xgb') -gt \$(stat -c %s '$T/a.xgb') ]"
# ... and keeps the generic model's decisions: one patient cannot tune a threshold
"$ICTAL" train -q --threshold 0.93 --out "$T/g93.xgb" $RECS > /dev/null 2>&1
"$ICTAL" train -q --mode patient --patient chb05 --init "$T/g93.xgb" --rounds 10 --out "$T/p93.xgb" $RECS > /dev/null 2>&1
check "patient-specific keeps the initial model's threshold" \
    "\"$ICTAL\" model info '$T/p93.xgb' | grep -q 'decisions: on 0.93,'"
"$ICTAL" train -q --mode patient --patient chb05 --init "$T/g93.xgb" --threshold 0.8 --rounds 10 --out "$T/p80.xgb" $RECS > /dev/null 2>&1
check "... unless --threshold is given" "\"$ICTAL\" model info '$T/p80.xgb' | grep -q 'decisions: on 0.8,'"
# --exclude-patient: a generic model that never saw the patient
"$ICTAL" train -q --exclude-patient chb05 --no-tune --out "$T/x.xgb" $RECS > /dev/null 2>&1
check "--exclude-patient trains without the patient" \
    "\"$ICTAL\" model info '$T/x.xgb' | grep -q ' 3 recordings'"
"$ICTAL" train -q --exclude-patient chb99 --out "$T/y.xgb" $RECS > /dev/null 2> "$T/err"
check "--exclude-patient of an unknown patient: usage error" "[ $? -eq 2 ] && grep -q chb99 '$T/err'"
"$ICTAL" train -q --type logreg --init "$T/a.xgb" --out "$T/q" $RECS > /dev/null 2> "$T/err"
check "--init with logreg refused" "[ $? -ne 0 ] && grep -q 'tree model' '$T/err'"
# --feature-set 2: a model of set 2 (25 features) that ictal detect runs; deterministic;
# an initial model of the other set refused
"$ICTAL" train --feature-set 3 --out x y.edf > /dev/null 2>&1
check "bad --feature-set: usage error" "[ $? -eq 2 ]"
check "--help documents --feature-set" "grep -q -- '--feature-set N' '$T/help'"
"$ICTAL" train -q --feature-set 2 --out "$T/s2a" $RECS > /dev/null 2>&1
r1=$?
"$ICTAL" train -q --feature-set 2 --out "$T/s2b" $RECS > /dev/null 2>&1
check "set 2: trains, same bytes twice" "[ $r1 -eq 0 ] && cmp -s '$T/s2a' '$T/s2b'"
check "set 2: the model says feature set 2 (25 features)" \
    "\"$ICTAL\" model info '$T/s2a' | grep -q 'feature set 2 (25 features)'"
check "set 1 by default" "\"$ICTAL\" model info '$T/a.xgb' | grep -q 'feature set 1 (22 features)'"
"$ICTAL" detect "$T/chb05_06.edf" --model "$T/s2a" --quiet --out "$T/det2" > /dev/null 2> "$T/err"
check "set 2: ictal detect runs the model" "[ $? -eq 0 ] && ls '$T/det2' | grep -q ."
"$ICTAL" train -q --mode patient --patient chb05 --init "$T/a.xgb" --feature-set 2 --rounds 5 --out "$T/q" $RECS > /dev/null 2> "$T/err"
check "--init of another feature set refused, naming it" "[ $? -ne 0 ] && grep -q 'feature set 1' '$T/err'"
# leave one record out, report with every figure
"$ICTAL" train -q --cv loro --report "$T/r.md" $RECS > "$T/out" 2>&1
check "loro runs" "[ $? -eq 0 ] && grep -q 'Leave-one-record-out' '$T/r.md'"
check "loro: both seizures alarmed" "[ \$(grep -cE '^\| chb0[57]_0[16] \| chb0[57] \| 37.0 \| 152.0 \| [0-9.]+ \|' '$T/r.md') -eq 2 ]"
"$ICTAL" train -q --select --cv loro $RECS > /dev/null 2> "$T/err"
check "--select on recordings that are not labelled segments: usage error naming one" \
    "[ $? -eq 2 ] && grep -q 'labelled segments.*chb05_06' '$T/err'"
# segment model over multi-channel recordings: one row per channel, aggregated per segment
"$ICTAL" train -q --unit segment --cv loro --report "$T/s.md" $RECS > "$T/out" 2>&1
check "segment model, loro, 4 recordings" "[ $? -eq 0 ] && grep -q '^| all | 4 | 2 | 2 |' '$T/s.md'"
check "segment model: per data set line" "grep -q '^files: segment model accuracy' '$T/out'"

# the Bonn segment model: deterministic, every segment scored, every error listed
if [ -d "$DATA/bonn/S" ]; then
    for k in 1 2; do
        "$ICTAL" train --data "$DATA" --sets bonn --cv kfold --folds 10 --features all \
            --unit segment --report "$T/b$k.md" > "$T/o$k" 2> "$T/e$k"
        check "bonn segment run $k" "[ $? -eq 0 ]"
    done
    check "bonn segment: same figures twice" "cmp -s <(grep -v training '$T/o1') <(grep -v training '$T/o2')"
    # (the first stderr line gives the time taken: compare the error lines)
    check "bonn segment: same errors twice" "cmp -s <(grep misclassified '$T/e1') <(grep misclassified '$T/e2')"
    check "bonn segment: same report twice" "cmp -s <(grep -vE 'Training took|^Reproduce' '$T/b1.md') <(grep -vE 'Training took|^Reproduce' '$T/b2.md')"
    n_ok=$(sed -n 's/^bonn: segment model accuracy [0-9.]* (\([0-9]*\) of 400).*/\1/p' "$T/o1")
    check "bonn segment: 400 segments scored" "[ -n '$n_ok' ] && grep -q '^| all | 400 | 80 | 320 | $n_ok |' '$T/b1.md'"
    check "bonn segment: every error in the report and on stderr" \
        "[ \$(grep -cE '^\| [ZONFS][0-9]{3} \| bonn \|' '$T/b1.md') -eq \$((400 - n_ok)) ] && [ \$(grep -c 'misclassified by the segment model' '$T/e1') -eq \$((400 - n_ok)) ]"
    check "bonn segment: per series Z O N F S" "[ \$(grep -cE '^\| bonn [ZONFS] \| 80 \|' '$T/b1.md') -eq 5 ]"
fi
exit $fail
