#!/usr/bin/env bash
# ictal worker over TLS with NATS credentials: a real nats-server (TLS, a self-signed
# certificate made here, users with passwords, anonymous clients refused, JetStream and
# the mapping of docs/nats-server.conf); the worker connects with --nats-ca, --nats-user
# and --nats-password-file, `ictal replay --nats --ca --nats-user` streams a real
# recording through it. A device without credentials gets nothing acknowledged, and a
# worker with a wrong password refuses to start, saying why.
set -euo pipefail
nats=$(command -v nats-server || true)
[ -n "$nats" ] || { echo "SKIP: nats-server is not installed (Debian package nats-server)"; exit 77; }
command -v openssl >/dev/null && command -v curl >/dev/null || { echo "SKIP: openssl or curl missing"; exit 77; }
ictal=${ICTAL:?}
src="${ICTAL_SOURCE_DIR:?}/data/chb05_06_excerpt.edf"
dir=$(mktemp -d /tmp/ictal-nats-tls-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" \
  -days 1 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$dir/nats.conf" <<CONF
listen: 127.0.0.1:$port
tls { cert_file: "$dir/cert.pem", key_file: "$dir/key.pem" }
jetstream { store_dir: "$dir/js", max_memory_store: 64M }
mappings = {
  "ictal.v1.dev.*.*": "ictal.v1.p.{{partition(4,1)}}.{{wildcard(1)}}.{{wildcard(2)}}"
}
authorization {
  users = [
    { user: ictal-worker, password: worker-secret-1 }
    { user: dev-0, password: device-secret-1 }
  ]
}
CONF
"$nats" -c "$dir/nats.conf" >"$dir/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

echo worker-secret-1 > "$dir/worker.pw"
"$ictal" worker --listen 127.0.0.1:0 --data "$dir/w" --port-file "$dir/w.port" --quiet \
  --model none --nats "nats://127.0.0.1:$port" --nats-ca "$dir/cert.pem" --nats-user ictal-worker \
  --nats-password-file "$dir/worker.pw" --partitions all --partition-count 4 >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -s "$dir/w.port" ] && break; sleep 0.05; done
[ -s "$dir/w.port" ] || { echo "FAIL: the worker did not start over TLS"; cat "$dir/nats.log"; exit 1; }
wport=$(cat "$dir/w.port")
metric() { # metric NAME: the value of NAME in the worker's /metrics
  curl -fsS -H "Authorization: Bearer $(cat "$dir/w/admin.token")" "http://127.0.0.1:$wport/metrics" |
    awk -v n="$1" '$1 == n {print $2}'
}
[ "$(metric ictal_nats_connected)" = 1 ] || { echo "FAIL: worker not connected over TLS"; exit 1; }
echo device-secret-1 > "$dir/device.pw"
out=$("$ictal" replay "$src" --nats "nats://127.0.0.1:$port" --ca "$dir/cert.pem" --nats-user dev-0 \
  --nats-password-file "$dir/device.pw" --device-prefix dev --speed 0 --timeout 60 --quiet)
echo "$out" | grep -q "1 device(s) done, 724 frames sent" || { echo "FAIL: replay over NATS+TLS: $out"; exit 1; }
[ "$(metric ictal_frames_total)" = 724 ] || { echo "FAIL: frames stored"; exit 1; }
# Without credentials NATS refuses the device: nothing is acknowledged.
if "$ictal" replay "$src" --nats "nats://127.0.0.1:$port" --ca "$dir/cert.pem" --device-prefix anon \
  --speed 0 --timeout 3 --quiet >/dev/null 2>&1; then
  echo "FAIL: an anonymous device got through"; exit 1
fi
# A wrong password: the worker refuses to start, naming the cause.
echo wrong-password > "$dir/wrong.pw"
set +e
err=$("$ictal" worker --listen 127.0.0.1:0 --data "$dir/bad" --quiet --model none \
  --nats "nats://127.0.0.1:$port" --nats-ca "$dir/cert.pem" --nats-user ictal-worker \
  --nats-password-file "$dir/wrong.pw" --partitions all --partition-count 4 2>&1 >/dev/null)
rc=$?
set -e
if [ "$rc" = 0 ] || [ "$rc" = 2 ] || ! grep -qi "nats.*author" <<<"$err"; then
  echo "FAIL: wrong password: exit $rc: $err"; exit 1
fi
echo "nats tls: ok"
