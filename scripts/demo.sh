#!/usr/bin/env bash
# Live monitoring demo: starts `ictal serve`, prints the dashboard URL, and streams the
# bundled CHB-MIT recording (data/chb05_06_excerpt.edf, a seizure 37 s in) from
# simulated devices at SPEED x real time (default 4), so the alarm shows within a
# minute. The server keeps running (Ctrl-C stops it). PORT (8080), DEVICES (3).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-8080}
[ -x build/ictal ] || bash scripts/setup.sh
if [ ! -d web/node_modules ] && command -v npm >/dev/null; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
model=$(ls models/*.model 2>/dev/null | head -n 1 || true)
if [ -z "$model" ]; then
  model=tests/fixtures/server/linelength.model
  echo "demo: no trained model in models/; using the test model $model (not a clinical model)"
fi
data=${DATA:-$(mktemp -d /tmp/ictal-demo-XXXXXX)}
build/ictal serve --listen "127.0.0.1:$port" --data "$data" --model "$model" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT INT TERM
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/api/health" >/dev/null 2>&1 && break; sleep 0.1; done
echo
echo "  dashboard: http://127.0.0.1:$port/#token=$(cat "$data/admin.token")"
echo
build/ictal replay data/chb05_06_excerpt.edf --url "ws://127.0.0.1:$port" --speed "${SPEED:-4}" \
  --devices "${DEVICES:-3}" --device-prefix chb05 || true
echo "demo: replay finished; the server keeps running (Ctrl-C to stop)"
wait $server
