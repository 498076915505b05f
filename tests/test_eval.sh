#!/bin/bash
# ictal eval, end to end: the table, --json checked against the reference's golden
# outputs (tests/fixtures/scoring), options, warnings and exit codes. Needs jq.
set -u
ICTAL=${ICTAL:?set ICTAL to the ictal binary}
FIX=${ICTAL_FIXTURES:?set ICTAL_FIXTURES}/scoring
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
. "$(dirname "$0")/check.sh"
jqe() { jq -e "$@" >/dev/null; }
rel() { echo "sub-$1/ses-01/eeg/sub-$1_ses-01_task-szMonitoring_run-00_events.tsv"; }

# --- one recording: the table and JSON -------------------------------------------------
E=$FIX/edges
run 0 "$ICTAL" eval --help
expect "help text" grep -q "usage: ictal eval" "$TMP/out"
run 0 "$ICTAL" eval "$E/ref/$(rel 06)" "$E/hyp/$(rel 06)"
expect "table event row" grep -Eq "^event \(10 Hz\) +1 +1 +2 +1\.0000 +0\.3333 +0\.5000 +48\.00" "$TMP/out"
expect "table sample row" grep -Eq "^sample \(1 Hz\) +60 +60 +740 " "$TMP/out"
expect "table latency" grep -q "median -100.0 s" "$TMP/out"
run 0 "$ICTAL" eval --json "$E/ref/$(rel 06)" "$E/hyp/$(rel 06)"
expect "json one recording" jqe '.event.refTrue == 1 and .event.tp == 1 and .event.fp == 2
    and .event.numSamples == 36000 and .sample.fp == 740 and .sample.tp == 60
    and .event.sensitivity == 1 and (.event.f1 - 0.5 | fabs) < 1e-12
    and .latency.count == 1 and .latency.values_s[0] == -100
    and .parameters.toleranceStart == 30 and .parameters.maxEventDuration == 300' "$TMP/out"

# --- parameters change the outcome: 30 s early is a hit, not with 20 s of tolerance ------
run 0 "$ICTAL" eval --json "$E/ref/$(rel 02)" "$E/hyp/$(rel 02)"
expect "default tolerance hit" jqe '.event.tp == 1 and .latency.values_s[0] == -30' "$TMP/out"
run 0 "$ICTAL" eval --json --tolerance-start 20 "$E/ref/$(rel 02)" "$E/hyp/$(rel 02)"
expect "--tolerance-start 20 misses" jqe '.event.tp == 0 and .event.fp == 1' "$TMP/out"
run 0 "$ICTAL" eval --json --min-gap=60 "$E/ref/$(rel 07)" "$E/hyp/$(rel 07)"
expect "--min-gap 60 keeps two detections apart" jqe '.event.tp == 1 and .event.fp == 1' "$TMP/out"
run 0 "$ICTAL" eval --json --max-event-duration 1000 "$E/ref/$(rel 06)" "$E/hyp/$(rel 06)"
expect "--max-event-duration 1000 does not split" jqe '.event.fp == 0' "$TMP/out"

# --- a dataset: every count and metric of the golden outputs -------------------------------
for set in edges set1 set2; do
    run 0 "$ICTAL" eval --dataset --json "$FIX/$set/ref" "$FIX/$set/hyp"
    cp "$TMP/out" "$TMP/$set.json"
    expect "$set: per-file counts" jqe -n --slurpfile got "$TMP/$set.json" \
        --slurpfile exp "$FIX/$set/expected.json" '
        ($exp[0].per_file | length) == ($got[0].per_file | length) and
        ([$exp[0].per_file | to_entries[] | .key as $k |
          .value.event == $got[0].per_file[$k].event and
          .value.sample == $got[0].per_file[$k].sample] | all)'
    if jqe 'has("avg_per_subject")' "$FIX/$set/expected.json" >/dev/null; then
        expect "$set: averages and pooled metrics" jqe -n --slurpfile got "$TMP/$set.json" \
            --slurpfile exp "$FIX/$set/expected.json" '
            def close($a; $b): if $a == null then $b == null else (($a - $b) | fabs) < 1e-9 end;
            [ ("avg_per_subject", "cumulative") as $agg | ("event_results", "sample_results") as $m |
              $exp[0][$agg][$m] | to_entries[] | close(.value; $got[0][$agg][$m][.key]) ] | all'
    fi
done
expect "set1: one missing hypothesis" jqe '[.per_file[] | select(.hypMissing)] | length == 1' "$TMP/set1.json"
expect "set1: subjects and latency" jqe '(.subjects | length) == 6 and .latency.count > 0
    and .subjects["sub-03"].event.sensitivity == 1' "$TMP/set1.json"
run 0 "$ICTAL" eval --dataset "$FIX/set2/ref" "$FIX/set2/hyp"
expect "dataset table" grep -Eq "^pooled +0\.5556 +0\.4167 +0\.4762 +40\.76" "$TMP/out"
expect "dataset table latency" grep -q "^latency (all recordings): " "$TMP/out"
expect "dataset table header" grep -q "^19 recordings, 6 subjects; scored as no detection: " "$TMP/out"

# --- a hypothesis of another length: warning, strict, tolerance ----------------------------
sed 's/3600\.00$/3590.00/; s/3600\.00\t/3590.00\t/' "$E/hyp/$(rel 01)" >"$TMP/short_events.tsv"
run 0 "$ICTAL" eval --json "$E/ref/$(rel 01)" "$TMP/short_events.tsv"
expect "length warning" grep -q "warning: .*short_events.tsv.*duration tolerance" "$TMP/err"
expect "ignored hypothesis" jqe '.hypIgnored and .event.tp == 0' "$TMP/out"
run 1 "$ICTAL" eval --strict "$E/ref/$(rel 01)" "$TMP/short_events.tsv"
run 0 "$ICTAL" eval --json --duration-tolerance 10 "$E/ref/$(rel 01)" "$TMP/short_events.tsv"
expect "padded within tolerance" jqe '(.hypIgnored | not) and .event.tp == 1 and .sample.tp == 60' "$TMP/out"

# --- a reference in a dataset's own format (CHB-MIT summary, PhysioNet .seizures) -------
CHB=${ICTAL_FIXTURES}/annotations/chbmit/chb01
if [ -f "$CHB/chb01-summary.txt" ]; then
    printf 'onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n3000.00\t20.00\tsz\t0.90\tn/a\tn/a\t3600.00\n' >"$TMP/chb01_03_events.tsv"
    run 0 "$ICTAL" eval --json --ref-format chbmit-summary --record chb01_03.edf "$CHB/chb01-summary.txt" "$TMP/chb01_03_events.tsv"
    expect "summary reference" jqe '.event.tp == 1 and .sample.refTrue == 40 and .sample.tp == 20 and .latency.values_s == [4]' "$TMP/out"
    run 0 "$ICTAL" eval --json --ref-format=seizures "$CHB/chb01_03.edf.seizures" "$TMP/chb01_03_events.tsv"
    expect ".seizures reference (length from the hypothesis)" jqe '.event.tp == 1 and .event.numSamples == 36000 and .sample.refTrue == 40 and .latency.values_s == [4]' "$TMP/out"
    run 0 "$ICTAL" eval --json --ref-format seizures --recording-duration 3500 "$CHB/chb01_03.edf.seizures" "$TMP/chb01_03_events.tsv"
    expect "--recording-duration" jqe '.hypIgnored and .event.numSamples == 35000' "$TMP/out"
    run 2 "$ICTAL" eval --ref-format chbmit-summary "$CHB/chb01-summary.txt" "$TMP/chb01_03_events.tsv"
    run 3 "$ICTAL" eval --ref-format chbmit-summary --record chb01_99.edf "$CHB/chb01-summary.txt" "$TMP/chb01_03_events.tsv"
    expect "record not listed" grep -q "chb01_99.edf" "$TMP/err"
    run 2 "$ICTAL" eval --dataset --ref-format seizures "$FIX/set1/ref" "$FIX/set1/hyp"
    run 2 "$ICTAL" eval --ref-format edf+ a b
    # No --ref-format: the format is taken from the file's name and content.
    run 0 "$ICTAL" eval --json --record chb01_03.edf "$CHB/chb01-summary.txt" "$TMP/chb01_03_events.tsv"
    expect "summary reference, format guessed" jqe '.event.tp == 1 and .sample.refTrue == 40' "$TMP/out"
    run 0 "$ICTAL" eval --json "$CHB/chb01_03.edf.seizures" "$TMP/chb01_03_events.tsv"
    expect ".seizures reference, format guessed" jqe '.event.tp == 1 and .sample.refTrue == 40' "$TMP/out"
fi

# --- the seizure annotated in the bundled real EDF+ excerpt of CHB-MIT chb05_06 ----------
EDF=${ICTAL_SOURCE_DIR:?}/data/chb05_06_excerpt.edf
printf 'onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n40.00\t20.00\tsz\t0.90\tn/a\tn/a\t181.00\n' >"$TMP/chb05_06_events.tsv"
run 0 "$ICTAL" eval --json --ref-format edf "$EDF" "$TMP/chb05_06_events.tsv"
expect "EDF+ reference" jqe '.event.refTrue == 1 and .event.tp == 1 and .event.fp == 0
    and .sample.refTrue == 115 and .sample.tp == 20 and .event.numSamples == 1810
    and .latency.values_s == [3]' "$TMP/out"
run 0 "$ICTAL" eval --json "$EDF" "$TMP/chb05_06_events.tsv"
expect "EDF+ reference, format guessed" jqe '.event.refTrue == 1 and .event.tp == 1' "$TMP/out"

# --- exit codes ---------------------------------------------------------------------------
run 2 "$ICTAL" eval
run 2 "$ICTAL" eval a b c
run 2 "$ICTAL" eval --bogus a b
run 2 "$ICTAL" eval --tolerance-end abc a b
run 2 "$ICTAL" eval --max-event-duration 0 "$E/ref/$(rel 01)" "$E/hyp/$(rel 01)"
run 3 "$ICTAL" eval "$TMP/none_events.tsv" "$E/hyp/$(rel 01)"
expect "missing file named" grep -q "none_events.tsv" "$TMP/err"
run 3 "$ICTAL" eval "$TMP/none.txt" "$E/hyp/$(rel 01)"   # no format in the name: not found
expect "missing reference named" grep -q "none.txt: cannot open" "$TMP/err"
cp "$E/ref/$(rel 01)" "$TMP/r$(printf '\377')_events.tsv"   # a path that is not UTF-8
run 0 "$ICTAL" eval --json "$TMP/r$(printf '\377')_events.tsv" "$E/hyp/$(rel 01)"
expect "non-UTF-8 path kept" jqe --arg p "$TMP/r?_events.tsv" '.reference == $p' "$TMP/out"
run 3 "$ICTAL" eval --dataset "$TMP/nodir" "$FIX/set1/hyp"
mkdir -p "$TMP/empty/sub-01"
run 1 "$ICTAL" eval --dataset "$TMP/empty" "$FIX/set1/hyp"
expect "empty dataset" grep -q "no sub-\*/\*\*/\*_events.tsv file" "$TMP/err"
expect "subject without files" grep -q "warning: .*sub-01 has no \*_events.tsv file" "$TMP/err"
mkdir -p "$TMP/none"   # no subject directory at all
run 1 "$ICTAL" eval --dataset "$TMP/none" "$FIX/set1/hyp"
expect "no subject" grep -q "no sub-\*/\*\*/\*_events.tsv file" "$TMP/err"
printf 'onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n0\t0.5\tbckg\tn/a\tn/a\tn/a\t0.5\n' >"$TMP/tiny_events.tsv"
run 1 "$ICTAL" eval "$TMP/tiny_events.tsv" "$TMP/tiny_events.tsv"
expect "too short a recording" grep -q "shorter than one sample" "$TMP/err"
printf 'onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n1\tx\tsz\tn/a\tn/a\tn/a\t60\n' >"$TMP/bad_events.tsv"
run 1 "$ICTAL" eval "$TMP/bad_events.tsv" "$E/hyp/$(rel 01)"
expect "bad file and line named" grep -q "bad_events.tsv: line 2, field 'duration'" "$TMP/err"
mkdir -p "$TMP/ds/ref/sub-01/eeg" "$TMP/ds/hyp/sub-01/eeg"
cp "$E/ref/$(rel 01)" "$TMP/ds/ref/sub-01/eeg/a_events.tsv"
cp "$TMP/bad_events.tsv" "$TMP/ds/hyp/sub-01/eeg/a_events.tsv"
run 1 "$ICTAL" eval --dataset "$TMP/ds/ref" "$TMP/ds/hyp"
expect "bad hypothesis in a dataset named" grep -q "hyp/sub-01/eeg/a_events.tsv: line 2" "$TMP/err"

summary
