#!/usr/bin/env bash
# ictal replay refuses what its --help rules out, with exit 2 (usage), before it
# connects anywhere: --devices outside 1..10000, none or two of --url, --mqtt and --nats,
# --reorder with --mqtt or --nats, --nats-creds without --nats.
set -uo pipefail
ictal=${ICTAL:?}
rec=${ICTAL_SOURCE_DIR:?}/data/chb05_06_excerpt.edf
fail=0
expect() { # expected exit status, then the arguments
    local want=$1
    shift
    timeout 20 "$ictal" replay "$@" >/dev/null 2>&1
    local rc=$?
    if [ "$rc" != "$want" ]; then
        echo "FAIL: ictal replay $* exited $rc, expected $want"
        fail=1
    fi
}
expect 2 "$rec" --url ws://127.0.0.1:9 --devices 0
expect 2 "$rec" --url ws://127.0.0.1:9 --devices -3
expect 2 "$rec" --url ws://127.0.0.1:9 --devices 10001
expect 2 "$rec"
expect 2 "$rec" --url ws://127.0.0.1:9 --mqtt 127.0.0.1:9
expect 2 "$rec" --mqtt 127.0.0.1:9 --reorder 0.1   # WebSocket only: refused, not ignored
expect 2 "$rec" --nats nats://127.0.0.1:9 --url ws://127.0.0.1:9
expect 2 "$rec" --nats nats://127.0.0.1:9 --mqtt 127.0.0.1:9
expect 2 "$rec" --nats nats://127.0.0.1:9 --reorder 0.1
expect 2 "$rec" --url ws://127.0.0.1:9 --nats-creds /dev/null
expect 0 --help
# a valid command line gets past the checks: nothing listens on port 9, so it times out (1)
expect 1 "$rec" --url ws://127.0.0.1:9 --devices 1 --timeout 1 --quiet
expect 1 "$rec" --nats nats://127.0.0.1:9 --devices 1 --timeout 1 --quiet
[ "$fail" = 0 ] && echo "ok"
exit "$fail"
