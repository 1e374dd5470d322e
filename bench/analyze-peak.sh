#!/usr/bin/env bash
# bench/analyze-peak.sh IMAGE [PROFILE] - peak RSS of the real analyze path on one image.
#
# Starts a runner of its own (target/<PROFILE>/customs-local, default debug: queue prefix
# `peak-`, bucket `peak-staging`, database `customs_peak`, API on 127.0.0.1:8258) against the
# running stack (`make up`; the environment of `eval "$(make -s env)"`), adds IMAGE through
# the API and polls until it is analysed. The runner process runs every handler (API,
# analyze with its stage-layer fan-out into LocalStack S3, evaluate...), so its VmHWM
# (/proc/<pid>/status, reset through clear_refs just before the add) is the peak of the
# analysis. Prints one JSON line; stops what it started.
#
#   python3 bench/synth-image.py /tmp/synth 2.25
#   skopeo copy --dest-tls-verify=false oci:/tmp/synth:latest docker://127.0.0.1:5000/customs-bench/synth:latest
#   bench/analyze-peak.sh 127.0.0.1:5000/customs-bench/synth:latest
set -euo pipefail
IMAGE=${1:?usage: analyze-peak.sh IMAGE [PROFILE]}
PROFILE=${2:-debug}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/target/$PROFILE/customs-local
[ -x "$BIN" ] || { echo "no $BIN (cargo build --workspace)" >&2; exit 2; }
: "${DATABASE_URL:?run eval \"\$(make -s env)\" first}"
ADDR=127.0.0.1:8258
PASS=peak-$(head -c 9 /dev/urandom | base64 | tr -d '/+=')
LOG=${TMPDIR:-/tmp}/analyze-peak.log
base=${DATABASE_URL%/*}
psql "$DATABASE_URL" -qAtc 'DROP DATABASE IF EXISTS customs_peak WITH (FORCE)' >/dev/null
psql "$DATABASE_URL" -qAtc 'CREATE DATABASE customs_peak' >/dev/null
export DATABASE_URL=$base/customs_peak CUSTOMS_QUEUE_PREFIX=peak- CUSTOMS_BUCKET=peak-staging \
  CUSTOMS_API_ADDR=$ADDR CUSTOMS_ADMIN_PASSWORD=$PASS CUSTOMS_S3_FORCE_PATH_STYLE=true
for v in CUSTOMS_FEED_OSV_URLS CUSTOMS_FEED_DEBIAN_URLS CUSTOMS_FEED_ALPINE_URLS CUSTOMS_FEED_NVD_URL \
         CUSTOMS_FEED_REDHAT_URLS CUSTOMS_FEED_KEV_URL CUSTOMS_FEED_EPSS_URL; do export "$v=off"; done
"$BIN" provision >"$LOG" 2>&1
"$BIN" migrate >>"$LOG" 2>&1
# A bucket left by an earlier run would make this a re-analysis of staged layers: empty it.
aws_s3() { python3 - "$@" <<'EOF'
import sys, urllib.request, xml.etree.ElementTree as ET, os
ep = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
bucket = sys.argv[1]
ns = {"s": "http://s3.amazonaws.com/doc/2006-03-01/"}
try:
    root = ET.fromstring(urllib.request.urlopen(f"{ep}/{bucket}?list-type=2").read())
except Exception:
    sys.exit(0)
for k in root.findall("s:Contents/s:Key", ns):
    urllib.request.urlopen(urllib.request.Request(f"{ep}/{bucket}/{k.text}", method="DELETE")).read()
EOF
}
aws_s3 peak-staging
setsid "$BIN" serve >>"$LOG" 2>&1 </dev/null &
PID=$!
trap 'kill "$PID" 2>/dev/null || true' EXIT
for _ in $(seq 150); do curl -fsS -o /dev/null "http://$ADDR/v1" 2>/dev/null && break; sleep 1; done
hwm() { awk '/VmHWM/ {print $2}' "/proc/$PID/status"; }
idle=$(hwm)
echo 5 >"/proc/$PID/clear_refs"
start=$(date +%s.%N)
curl -fsS -o /dev/null -u "admin:$PASS" -H 'Content-Type: application/json' \
  -d "{\"tag\": \"$IMAGE\"}" "http://$ADDR/v1/images"
status=
for _ in $(seq 3600); do
  status=$(curl -fsS -u "admin:$PASS" "http://$ADDR/v1/images?fulltag=$IMAGE" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["analysis_status"])')
  case $status in analyzed|analysis_failed) break ;; esac
  sleep 1
done
end=$(date +%s.%N)
peak=$(hwm)
printf '{"image": "%s", "profile": "%s", "status": "%s", "seconds": %.1f, "idle_kib": %s, "peak_kib": %s}\n' \
  "$IMAGE" "$PROFILE" "$status" "$(echo "$end - $start" | bc)" "$idle" "$peak"
