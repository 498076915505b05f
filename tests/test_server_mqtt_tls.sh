#!/usr/bin/env bash
# ictal serve --mqtt over TLS with broker credentials: a real mosquitto (TLS listener,
# self-signed certificate made here, a password file, anonymous clients refused); the
# server connects with --mqtt-ca/--mqtt-user/--mqtt-password-file, `ictal replay --mqtt
# --ca` streams a real recording through it. A wrong broker password leaves the server
# running and unconnected (ictal_mqtt_connected 0), and a device without credentials
# cannot publish.
set -euo pipefail
mosq=$(command -v mosquitto || ls /usr/sbin/mosquitto 2>/dev/null || true)
[ -n "$mosq" ] || { echo "SKIP: the mosquitto broker is not installed (Debian package mosquitto)"; exit 77; }
command -v mosquitto_passwd >/dev/null && command -v openssl >/dev/null && command -v curl >/dev/null ||
  { echo "SKIP: mosquitto_passwd, openssl or curl missing"; exit 77; }
ictal=${ICTAL:?}
src="${ICTAL_SOURCE_DIR:?}/data/chb05_06_excerpt.edf"
dir=$(mktemp -d /tmp/ictal-mqtt-tls-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" \
  -days 1 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
touch "$dir/passwd"
chmod 0600 "$dir/passwd"
mosquitto_passwd -b "$dir/passwd" ictal-server server-secret-1 >/dev/null
mosquitto_passwd -b "$dir/passwd" dev-0 device-secret-1 >/dev/null
# user: as root, mosquitto would switch to the user "mosquitto", who cannot read $dir.
cat > "$dir/mosquitto.conf" <<CONF
user $(id -un)
listener $port 127.0.0.1
allow_anonymous false
password_file $dir/passwd
certfile $dir/cert.pem
keyfile $dir/key.pem
CONF
"$mosq" -c "$dir/mosquitto.conf" >"$dir/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

metric() { # metric PORT NAME: the value of NAME in /metrics
  curl -fsS -H "Authorization: Bearer $(cat "$dir/$3/admin.token")" "http://127.0.0.1:$1/metrics" |
    awk -v n="$2" '$1 == n {print $2}'
}
start_server() { # start_server DATA PASSWORD_FILE: sets sport
  "$ictal" serve --listen 127.0.0.1:0 --data "$dir/$1" --port-file "$dir/$1.port" --quiet \
    --model none --mqtt "127.0.0.1:$port" --mqtt-ca "$dir/cert.pem" --mqtt-user ictal-server \
    --mqtt-password-file "$2" --mqtt-client-id "ictal-$1" >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$dir/$1.port" ] && break; sleep 0.05; done
  sport=$(cat "$dir/$1.port")
}

echo server-secret-1 > "$dir/server.pw"
start_server good "$dir/server.pw"
for _ in $(seq 100); do [ "$(metric "$sport" ictal_mqtt_connected good)" = 1 ] && break; sleep 0.1; done
[ "$(metric "$sport" ictal_mqtt_connected good)" = 1 ] || { echo "FAIL: server not connected over TLS"; exit 1; }
echo device-secret-1 > "$dir/device.pw"
out=$("$ictal" replay "$src" --mqtt "127.0.0.1:$port" --ca "$dir/cert.pem" --mqtt-user dev-0 \
  --mqtt-password-file "$dir/device.pw" --device-prefix dev --speed 0 --timeout 60 --quiet)
echo "$out" | grep -q "1 device(s) done, 724 frames sent" || { echo "FAIL: replay over MQTT+TLS: $out"; exit 1; }
[ "$(metric "$sport" ictal_frames_total good)" = 724 ] || { echo "FAIL: frames stored"; exit 1; }
# Without credentials the broker refuses the device: nothing is acknowledged.
if "$ictal" replay "$src" --mqtt "127.0.0.1:$port" --ca "$dir/cert.pem" --device-prefix anon \
  --speed 0 --timeout 3 --quiet >/dev/null 2>&1; then
  echo "FAIL: an anonymous device got through"; exit 1
fi
# A wrong broker password: the server runs (HTTP answers) but is not connected.
echo wrong-password > "$dir/wrong.pw"
start_server bad "$dir/wrong.pw"
sleep 1.5
[ "$(metric "$sport" ictal_mqtt_connected bad)" = 0 ] || { echo "FAIL: connected with a wrong password"; exit 1; }
[ "$(metric "$sport" ictal_mqtt_connects_total bad)" = 0 ] || { echo "FAIL: connects counted"; exit 1; }
echo "mqtt tls: ok"
