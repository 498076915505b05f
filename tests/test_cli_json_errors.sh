#!/usr/bin/env bash
# Every command with --json reports a failure as the same JSON error object on stdout
# (README, "JSON output"): "code" the ICTAL_E* number, "name" its symbol, "text"
# ictal_strerror, "message" the diagnostic, and where. Checked on real failing inputs:
# the bundled EDF+ cut inside its header, for each such command. Needs jq.
set -u
ICTAL=${ICTAL:?set ICTAL to the ictal binary}
SRC=${ICTAL_SOURCE_DIR:?set ICTAL_SOURCE_DIR}
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
. "$(dirname "$0")/check.sh"
jqe() { jq -e "$@" >/dev/null; }

# The commands whose --help offers --json: each must be checked below, so that a new
# one cannot be added without its error object being tested.
tested="info eval model"
for c in $("$ICTAL" --help | awk '/^commands:/ {on = 1; next} on && !NF {exit} on {print $1}'); do
    if "$ICTAL" "$c" --help 2>&1 | grep -q -- '--json'; then
        case " $tested " in
        *" $c "*) ok ;;
        *) ko "ictal $c has --json but its error object is not tested here" ;;
        esac
    fi
done

# The bundled CHB-MIT excerpt cut at 5,000 bytes: its header says 24 signals (6,400
# bytes of header), so every reader stops at the header with ICTAL_ETRUNC (-5).
cut=$TMP/cut.edf
head -c 5000 "$SRC/data/chb05_06_excerpt.edf" >"$cut"
printf 'onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n40.00\t20.00\tsz\t0.90\tn/a\tn/a\t181.00\n' >"$TMP/hyp_events.tsv"
# $1 a description, $2 the jq path of the error object in $TMP/out, $3 the ICTAL_E*
# number, $4 its name, $5 a piece of the message.
check_error() {
    expect "$1: stdout is one JSON document" jqe . "$TMP/out"
    expect "$1: code is the number $3" jqe --argjson c "$3" "$2.code == \$c and (\$c | type) == \"number\"" "$TMP/out"
    expect "$1: name $4" jqe --arg n "$4" "$2.name == \$n" "$TMP/out"
    expect "$1: text" jqe "$2.text | type == \"string\" and length > 0" "$TMP/out"
    expect "$1: message" jqe --arg m "$5" "$2.message | contains(\$m)" "$TMP/out"
    expect "$1: location fields present" jqe "$2 | has(\"source\") and has(\"field\") and has(\"offset\") and has(\"record\") and has(\"signal\") and has(\"line\")" "$TMP/out"
    expect "$1: the diagnostic also on stderr" grep -qF -- "$5" "$TMP/err"
}

run 1 "$ICTAL" info --json "$cut"
check_error "info" ".files[0].error" -5 ICTAL_ETRUNC "6400-byte header but the file has 5000 bytes"
expect "info: entry names the file" jqe --arg p "$cut" '.files[0].path == $p and .files[0].ok == false' "$TMP/out"
expect "info: where" jqe '.files[0].error.offset == 252 and .files[0].error.field == "number of signals"' "$TMP/out"

run 1 "$ICTAL" eval --json --ref-format edf "$cut" "$TMP/hyp_events.tsv"
check_error "eval (EDF+ reference)" ".error" -5 ICTAL_ETRUNC "6400-byte header but the file has 5000 bytes"
expect "eval: ok false, no scores" jqe '.ok == false and (has("event") | not)' "$TMP/out"
expect "eval: source is the reference" jqe --arg p "$cut" '.error.source == $p' "$TMP/out"

run 1 "$ICTAL" model info --json "$cut"
check_error "model info (an EDF given as a model)" ".error" -4 ICTAL_EFORMAT "not an ictal model"
expect "model info: ok false" jqe '.ok == false and (has("kind") | not)' "$TMP/out"
# A real model cut short: ICTAL_ETRUNC too.
head -c 100 "$SRC/models/default.ictalmodel" >"$TMP/cut.ictalmodel"
run 1 "$ICTAL" model info --json "$TMP/cut.ictalmodel"
expect "model info (cut model): ICTAL_ETRUNC" jqe '.error.code == -5 and .error.name == "ICTAL_ETRUNC"' "$TMP/out"

# A missing file: ICTAL_ENOENT or ICTAL_EIO, exit 3, the same object.
for args in "info --json" "eval --json --ref-format edf" "model info --json"; do
    # shellcheck disable=SC2086
    run 3 "$ICTAL" $args "$TMP/missing.edf" $([ "${args#eval}" != "$args" ] && echo "$TMP/hyp_events.tsv")
    expect "$args missing file: code" jqe '[.. | objects | select(has("error")) | .error][0] | (.code == -8 or .code == -3) and (.name | startswith("ICTAL_E"))' "$TMP/out"
done

# An empty dataset tree (eval --dataset): ICTAL_EFORMAT, exit 1.
mkdir -p "$TMP/empty"
run 1 "$ICTAL" eval --dataset --json "$TMP/empty" "$TMP/empty"
check_error "eval --dataset (no recording)" ".error" -4 ICTAL_EFORMAT "no sub-*/**/*_events.tsv file"

# Success is unchanged: no error object.
run 0 "$ICTAL" info --json "$SRC/data/chb05_06_excerpt.edf"
expect "info ok" jqe '.files[0].ok == true and (.files[0] | has("error") | not)' "$TMP/out"
run 0 "$ICTAL" model info --json
expect "model info ok" jqe 'has("kind") and (has("error") | not)' "$TMP/out"

summary
