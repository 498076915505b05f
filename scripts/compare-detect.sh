#!/bin/bash
# Runs two ictal binaries over every EDF/BDF file in ../shared/data and tests/fixtures,
# in every output format, with the default model and any models given, and checks that
# every output byte (files, stdout, stderr, exit status) is the same: a speed change
# must not change what `ictal detect` says.
#
#   scripts/compare-detect.sh OLD_ICTAL NEW_ICTAL [MODEL...]
#   (ICTAL_SHARED = the shared folder, default ../shared beside the source tree;
#    ICTAL_EXTRA_EDF = more files, space-separated, e.g. bench_detect_edf's hour)
set -u
old=$(realpath "$1") new=$(realpath "$2")
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)
shared=${ICTAL_SHARED:-$src/../shared}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mapfile -t files < <(find "$shared/data" "$src/tests/fixtures" -type f \
    \( -iname '*.edf' -o -iname '*.bdf' \) | sort)
files+=(${ICTAL_EXTRA_EDF:-})
models=(default "$@")
n=0 bad=0
for m in "${models[@]}"; do
    margs=()
    [ "$m" = default ] || margs=(--model "$m")
    for fmt in tsv edf json; do
        for f in "${files[@]}"; do
            for side in old new; do
                bin=$old; [ $side = new ] && bin=$new
                rm -rf "$work/run" && mkdir -p "$work/run"
                (cd "$work/run" && "$bin" detect "$f" --out "$work/run" --format $fmt \
                    "${margs[@]}" >"$work/$side.out" 2>"$work/$side.err"
                 echo "exit $?" >>"$work/$side.out")
                # The summary line and the JSON state the CPU time taken, and the
                # binary's path may appear in messages: nothing else may differ.
                sed -i -e "s#$bin#ICTAL#g" -e 's/[0-9.]* s CPU ([0-9]*x real time)/CPU/' \
                    "$work/$side.out" "$work/$side.err"
                for j in "$work"/run/*.json; do
                    [ -e "$j" ] && sed -i 's/"cpu_s": [0-9.e+-]*/"cpu_s": CPU/' "$j"
                done
                rm -rf "$work/$side" && mv "$work/run" "$work/$side"
            done
            n=$((n + 1))
            if ! diff -r "$work/old" "$work/new" >/dev/null ||
               ! cmp -s "$work/old.out" "$work/new.out" ||
               ! cmp -s "$work/old.err" "$work/new.err"; then
                [ -n "${VERBOSE:-}" ] && diff -r "$work/old" "$work/new"; [ -n "${VERBOSE:-}" ] && diff "$work/old.out" "$work/new.out"
                echo "DIFFERS: $f ($fmt, model $m)"
                bad=$((bad + 1))
            fi
        done
    done
done
echo "${#files[@]} files x 3 formats x ${#models[@]} models: $n runs, $bad differ"
[ $bad -eq 0 ]
