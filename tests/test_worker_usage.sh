#!/usr/bin/env bash
# ictal worker refuses what its --help rules out, with exit 2 (usage), before it
# connects anywhere or creates its data directory: no --nats or no --partitions, a
# malformed partition list or count, NATS options without --nats on ictal serve,
# --add-user. An unreachable NATS server is an error naming it (exit 1 or more, not 2).
set -uo pipefail
ictal=${ICTAL:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
expect() { # expected exit status, the command (worker or serve), then its arguments
    local want=$1
    shift
    timeout 20 "$ictal" "$@" --data "$tmp/data" >"$tmp/out" 2>&1
    local rc=$?
    if [ "$rc" != "$want" ]; then
        echo "FAIL: ictal $* exited $rc, expected $want:"
        cat "$tmp/out"
        fail=1
    fi
}
n=nats://127.0.0.1:9
expect 2 worker
expect 2 worker --nats $n
expect 2 worker --partitions all
expect 2 worker --nats $n --partitions 3-1
expect 2 worker --nats $n --partitions 0-3,2
expect 2 worker --nats $n --partitions 16
expect 2 worker --nats $n --partitions 4 --partition-count 4
expect 2 worker --nats $n --partitions 0, --partition-count 4
expect 2 worker --nats $n --partitions all --partition-count 0
expect 2 worker --nats $n --partitions all --partition-count 2000
expect 2 worker --nats $n --partitions all --nats-ack-wait-s 0
expect 2 worker --nats $n --partitions all --add-user someone
expect 2 worker --nats $n --partitions all --nats-password-file /dev/null
expect 2 serve --partitions 0-3
expect 2 serve --nats-creds /dev/null
[ -e "$tmp/data" ] && { echo "FAIL: a refused command line created the data directory"; fail=1; }
grep -q "partition 4 is not in 0..3" <(timeout 20 "$ictal" worker --nats $n --partitions 4 \
    --partition-count 4 --data "$tmp/data" 2>&1) || { echo "FAIL: no clear partition error"; fail=1; }
timeout 20 "$ictal" worker --help | grep -q -- "--partitions LIST" || { echo "FAIL: --help"; fail=1; }
# a valid command line gets past the checks and fails on the unreachable server, saying so
out=$(timeout 20 "$ictal" worker --nats $n --partitions all --data "$tmp/data" --listen 127.0.0.1:0 2>&1)
rc=$?
if [ "$rc" = 0 ] || [ "$rc" = 2 ] || ! grep -q "nats" <<<"$out"; then
    echo "FAIL: unreachable NATS: exit $rc: $out"
    fail=1
fi
[ "$fail" = 0 ] && echo "ok"
exit "$fail"
