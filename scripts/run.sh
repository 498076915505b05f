#!/usr/bin/env bash
# The first command: sets ictal up and shows its main job, live. It starts the
# monitoring server (`ictal serve`, SQLite and recordings in a fresh data folder,
# 127.0.0.1:PORT), prints the dashboard URL, and streams the bundled real recording
# (data/chb05_06_excerpt.edf: CHB-MIT chb05, 23 channels, a seizure 37 s in) from
# simulated devices at SPEED x real time, so the seizure is detected within a minute.
# Each alarm is printed as the server raises it. The server then keeps running for
# the dashboard until Ctrl-C.
#
#   scripts/run.sh [--once]     --once: stop after the first alarm (exit 1 if none
#                               comes within TIMEOUT seconds)
#   env: PORT (8080), SPEED (4), DEVICES (3), TIMEOUT (90), DATA (a new temp folder),
#        ICTAL (a built ictal binary: skips the setup)
set -euo pipefail
cd "$(dirname "$0")/.."
once=0
[ "${1:-}" = "--once" ] && once=1
if [ -z "${ICTAL:-}" ]; then
  bash scripts/setup.sh
  ICTAL=build/ictal
fi
port=${PORT:-8080}
data=${DATA:-$(mktemp -d /tmp/ictal-run-XXXXXX)}
url="http://127.0.0.1:$port"

"$ICTAL" serve --listen "127.0.0.1:$port" --data "$data" \
  >"$data/serve.log" 2>&1 &
server=$!
replay=
cleanup() {
  [ -n "$replay" ] && kill "$replay" 2>/dev/null
  kill "$server" 2>/dev/null
  wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 100); do
  curl -fs "$url/api/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "run: ictal serve did not start:" >&2; cat "$data/serve.log" >&2; exit 1; }
  sleep 0.1
done
token=$(cat "$data/admin.token")
echo
echo "  ictal is watching 3 simulated devices that replay a real recorded seizure."
echo "  dashboard: $url/#token=$token"
echo "  data:      $data (server log: serve.log)"
echo

"$ICTAL" replay data/chb05_06_excerpt.edf --url "ws://127.0.0.1:$port" --speed "${SPEED:-4}" \
  --devices "${DEVICES:-3}" --device-prefix chb05 --quiet &
replay=$!

# Print each alarm once, as it appears in GET /api/alarms.
seen=" "
start=$SECONDS
while :; do
  alarms=$(curl -fs -H "Authorization: Bearer $token" "$url/api/alarms" || echo '[]')
  while IFS=$'\t' read -r id device onset alarm prob; do
    [ -z "$id" ] && continue
    case "$seen" in *" $id "*) continue ;; esac
    seen="$seen$id "
    printf '  ALARM %s: device %s, seizure from %s s into the recording (raised at %s s), probability %s\n' \
      "$id" "$device" "$onset" "$alarm" "$prob"
  done < <(jq -r '.[] | [.id, .device_id, .onset_s, .alarm_s, (.peak_prob * 100 | round / 100)]
                  | @tsv' <<<"$alarms")
  if [ "$once" = 1 ] && [ "$seen" != " " ]; then
    echo "run: seizure detected live after $((SECONDS - start)) s"
    exit 0
  fi
  if [ $((SECONDS - start)) -ge "${TIMEOUT:-90}" ] && [ "$seen" = " " ]; then
    echo "run: no alarm within ${TIMEOUT:-90} s" >&2
    exit 1
  fi
  if ! kill -0 "$replay" 2>/dev/null && [ "$once" = 0 ] && [ -z "${replay_done:-}" ]; then
    replay_done=1
    echo "  replay finished; the server keeps running for the dashboard (Ctrl-C to stop)"
  fi
  sleep 0.5
done
