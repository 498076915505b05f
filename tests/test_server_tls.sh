#!/usr/bin/env bash
# ictal serve with --tls-cert/--tls-key: the API answers over https:// (self-signed
# certificate made here), and plain http:// on that port gets no answer.
set -euo pipefail
command -v openssl >/dev/null && command -v curl >/dev/null || { echo "SKIP: openssl or curl missing"; exit 77; }
ictal=${ICTAL:?}
dir=$(mktemp -d /tmp/ictal-tls-XXXXXX)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" \
  -days 1 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
"$ictal" serve --listen 127.0.0.1:0 --data "$dir/data" --port-file "$dir/port" --quiet \
  --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem" >/dev/null &
pid=$!
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
port=$(cat "$dir/port")
body=$(curl -fsS --cacert "$dir/cert.pem" "https://127.0.0.1:$port/api/health")
echo "$body" | grep -q '"status":"ok"' || { echo "FAIL: https health: $body"; exit 1; }
token=$(cat "$dir/data/admin.token")
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$dir/cert.pem" \
  -H "Authorization: Bearer $token" "https://127.0.0.1:$port/api/alarms")
[ "$code" = 200 ] || { echo "FAIL: https /api/alarms gave $code"; exit 1; }
if curl -fsS -m 3 "http://127.0.0.1:$port/api/health" >/dev/null 2>&1; then
  echo "FAIL: plain http answered on the TLS port"; exit 1
fi
# A device over wss://, trusting the self-signed certificate.
"$ictal" replay "${ICTAL_SOURCE_DIR:?}/data/chb05_06_excerpt.edf" --url "wss://127.0.0.1:$port" \
  --ca "$dir/cert.pem" --speed 0 --channels F7-T7,T7-P7,F8-T8,T8-P8 --timeout 30 --quiet \
  | grep -q "1 device(s) done, 724 frames sent" || { echo "FAIL: replay over wss"; exit 1; }
# Without trusting it, the device cannot connect (and gives up at the timeout).
if "$ictal" replay "$ICTAL_SOURCE_DIR/data/chb05_06_excerpt.edf" --url "wss://127.0.0.1:$port" \
  --speed 0 --timeout 2 --quiet >/dev/null 2>&1; then
  echo "FAIL: replay trusted an unknown certificate"; exit 1
fi
# Only one of the two files is refused.
if "$ictal" serve --listen 127.0.0.1:0 --data "$dir/d2" --tls-cert "$dir/cert.pem" >/dev/null 2>&1; then
  echo "FAIL: --tls-cert without --tls-key was accepted"; exit 1
fi
echo "tls: ok"
