#!/usr/bin/env bash
# The README's first command (scripts/run.sh): the server starts, simulated devices
# replay the bundled seizure, and an alarm is raised live (--once stops there).
set -uo pipefail
src=${ICTAL_SOURCE_DIR:?}
command -v curl >/dev/null && command -v jq >/dev/null || { echo "SKIP: curl or jq missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# run.sh takes a fixed port: pick one below the kernel's ephemeral range (where other
# tests' client sockets cannot hold it) and try another if it is taken all the same.
for attempt in 1 2 3; do
    port=$((10000 + RANDOM % 20000))
    out=$(ICTAL=${ICTAL:?} PORT=$port DATA=$tmp SPEED=8 TIMEOUT=120 bash "$src/scripts/run.sh" --once 2>&1)
    rc=$?
    grep -q 'cannot listen' <<<"$out" || break
    echo "port $port taken, trying another"
    rm -rf "${tmp:?}"/*
done
echo "$out"
fail=0
check() { if eval "$1"; then :; else echo "FAILED: $1"; fail=$((fail + 1)); fi; }
check '[ $rc -eq 0 ]'
check 'grep -q "dashboard: http://127.0.0.1:$port/#token=" <<<"$out"'
check 'grep -Eq "ALARM [0-9]+: device chb05-[0-9]" <<<"$out"'
check 'grep -q "seizure detected live" <<<"$out"'
# The alarm is stored: the server is gone, the database stays.
check '[ -f "$tmp/ictal.db" ]'
# ictal serve's model: a missing file is an I/O error (exit 3) before anything starts.
"${ICTAL:?}" serve --listen 127.0.0.1:0 --data "$tmp/d2" --model "$tmp/no-such.ictalmodel" >/dev/null 2>&1
check '[ $? -eq 3 ]'
check '[ ! -e "$tmp/d2/ictal.db" ]'
# A taken port: a clear error naming the address (not the model loaded before it).
"${ICTAL:?}" serve --listen 127.0.0.1:0 --data "$tmp/d3" --port-file "$tmp/port" >/dev/null 2>&1 &
first=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
"${ICTAL:?}" serve --listen "127.0.0.1:$(cat "$tmp/port")" --data "$tmp/d4" >/dev/null 2>"$tmp/err"
second=$?
kill $first 2>/dev/null; wait $first 2>/dev/null
check '[ $second -ne 0 ] && grep -q "^ictal serve: cannot listen on 127.0.0.1:" "$tmp/err"'
[ $fail -eq 0 ] && echo "8 passed, 0 failed" || echo "$((8 - fail)) passed, $fail failed"
[ $fail -eq 0 ]
