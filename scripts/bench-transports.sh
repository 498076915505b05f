#!/usr/bin/env bash
# Device ingest over WebSocket, MQTT and NATS JetStream, as fast as acks allow
# (docs/server.md, Figures). Starts its own mosquitto, nats-server (docs/nats-server.conf,
# other ports) and ictal processes on 127.0.0.1 in a temporary directory.
#   scripts/bench-transports.sh [build/ictal] [devices (20)] [runs (3)]
#   MANY=1 scripts/bench-transports.sh build/ictal 200   # serve vs 1 worker vs 2 workers
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
ictal=$(realpath "${1:-$src/build/ictal}")
n=${2:-20}
runs=${3:-3}
edf=$src/data/chb05_06_excerpt.edf
model=$src/tests/fixtures/server/linelength.model
d=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$d"; }
trap cleanup EXIT
lim="--model $model --max-speed 10000 --max-frames-per-s 100000 --quiet"
sed "s|/var/lib/nats|$d/js|; s|127.0.0.1:4222|127.0.0.1:14333|" "$src/docs/nats-server.conf" >"$d/nats.conf"
nats-server -c "$d/nats.conf" >"$d/nats.log" 2>&1 & pids+=($!)
nats=nats://127.0.0.1:14333
replay() { # device id prefix, then replay's transport options: prints the seconds
    local prefix=$1$RANDOM
    shift
    "$ictal" replay "$edf" "$@" --devices "$n" --speed 0 --quiet --timeout 600 \
        --device-prefix "$prefix" | sed -n 's/.*, \([0-9.]*\) s$/\1/p'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A times
if [ -z "${MANY:-}" ]; then
    printf 'listener 14334 127.0.0.1\nallow_anonymous true\n' >"$d/mq.conf"
    mosquitto -c "$d/mq.conf" >"$d/mq.log" 2>&1 & pids+=($!)
    sleep 0.5
    "$ictal" serve --listen 127.0.0.1:14335 --data "$d/data" $lim --mqtt 127.0.0.1:14334 \
        --nats $nats --partitions all >/dev/null & pids+=($!)
    sleep 1
    for r in $(seq "$runs"); do
        times[ws]+="$(replay ws --url ws://127.0.0.1:14335) "
        times[mqtt]+="$(replay mq --mqtt 127.0.0.1:14334) "
        times[nats]+="$(replay nt --nats $nats) "
    done
    modes="ws mqtt nats"
else
    sleep 0.5
    for r in $(seq "$runs"); do
        "$ictal" serve --listen 127.0.0.1:14335 --data "$d/ws$r" $lim >/dev/null & p=$!; sleep 0.7
        times[ws]+="$(replay ws --url ws://127.0.0.1:14335) "
        kill $p; wait $p || true
        "$ictal" worker --listen 127.0.0.1:14336 --data "$d/n1$r" --nats $nats --partitions all $lim >/dev/null & p=$!; sleep 0.7
        times[nats1]+="$(replay na --nats $nats) "
        kill $p; wait $p || true
        "$ictal" worker --listen 127.0.0.1:14336 --data "$d/n2a$r" --nats $nats --partitions 0-7 $lim >/dev/null & p=$!
        "$ictal" worker --listen 127.0.0.1:14337 --data "$d/n2b$r" --nats $nats --partitions 8-15 $lim >/dev/null & q=$!; sleep 0.7
        times[nats2]+="$(replay nb --nats $nats) "
        kill $p $q; wait $p $q || true
    done
    modes="ws nats1 nats2"
fi
frames=$(( n * 724 ))   # the excerpt is 724 frames of 250 ms
for m in $modes; do
    med=$(tr ' ' '\n' <<<"${times[$m]}" | grep . | median)
    printf '%-6s runs: %s median %s s, %.0f frames/s (%d frames)\n' "$m" "${times[$m]}" "$med" \
        "$(awk -v f="$frames" -v m="$med" 'BEGIN {print f / m}')" "$frames"
done
